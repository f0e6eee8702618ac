"""Shared names: keys, drivers, model families, metric names, aliases and defaults.

The one place every layer takes these from; nothing here imports churnlab or does work.
"""

from __future__ import annotations

# the key of every observation, feature and score row
KEYS = ("account_id", "cutoff")
# observation columns: keys, targets and MRR; never model inputs
OBSERVATION_COLUMNS = (
    "account_id",
    "cutoff",
    "churned_within_h",
    "duration_days",
    "event",
    "label_complete",
    "mrr",
)

# what a feature measures; reasons and SHAP roll-ups are grouped by these
DRIVERS = (
    "engagement",
    "team",
    "onboarding",
    "usability",
    "product_quality",
    "support",
    "satisfaction",
    "billing",
    "account",
)

FAMILIES = ("logistic", "lightgbm", "cox", "lightgbm_survival")
SURVIVAL_FAMILIES = ("cox", "lightgbm_survival")
# uplift families: the effect of a retention contact on churn (``churnlab.modeling.uplift``)
UPLIFT_FAMILIES = ("uplift_t", "uplift_x", "uplift_dr")
# the simulator's product profiles (``churnlab simulate --profile``); the first is the default
SIMULATOR_PROFILES = ("b2b_saas", "consumer_social", "streaming")
# what changes in the simulated business at a date (``churnlab simulate --scenario``); the
# first is the default: nothing changes
SIMULATOR_SCENARIOS = ("none", "price_increase", "product_redesign", "new_channel")

# ranking metrics a spec may name
METRICS = ("pr_auc", "roc_auc", "log_loss", "brier", "ece", "lift_top10", "capture_top10")
# uplift models' metrics (churnlab.evaluation.uplift_metrics); the last three need the
# simulator's true uplift
UPLIFT_METRICS = (
    "qini",
    "auuc",
    "uplift_at_10",
    "uplift_at_30",
    "true_uplift_corr",
    "policy_value_vs_oracle",
    "oracle_qini",
)
# what the leaderboard shows and `compare` / `promote --metric` accept: the spec metrics, the
# metrics that need MRR (emp: expected maximum profit, Verbraken et al. 2013), the oracle's,
# the survival and the uplift metrics
BOARD_METRICS = (
    *METRICS,
    "revenue_capture_top10",
    "emp",
    "oracle_roc_auc",
    "c_index_harrell",
    "c_index_uno",
    "auc_90d",
    "ibs",
    *UPLIFT_METRICS,
)
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "ibs"})

# risk tiers: the top 10% of validation risk is high, the next 20% medium, the rest low
TIER_SHARES = {"high": 0.10, "medium": 0.20}
TIERS = ("high", "medium", "low")
DAYS_PER_MONTH = 365.25 / 12
# a single table's duration column may count days, weeks, months or years (a bank's tenure);
# churnlab works in days
DAYS_PER_DURATION_UNIT = {"days": 1.0, "weeks": 7.0, "months": DAYS_PER_MONTH, "years": 365.25}

# the registry: the alias scoring names, and the one a replaced champion keeps
CHAMPION, PREVIOUS = "champion", "previous"
DEFAULT_EXPERIMENT = "demo"
# spec and experiment names: they name folders (mlartifacts/NAME) and registered models, so
# no path separators, no leading dot
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
DEFAULT_DATA = "data/demo"

# MLflow tags churnlab reads back
KIND_TAG = "churnlab.kind"
MODEL_TAG = "churnlab.registered_model"
# a scoring run's batch date (its latest cutoff) and the digest of the data it scored (a
# training run's data digest has the same tag)
BATCH_DATE_TAG = "churnlab.batch_date"
DATA_DIGEST_TAG = "churnlab.data_digest"
# the absolute path of the data folder or feature table a scoring run scored
SCORED_FROM_TAG = "churnlab.scored_from"


def registered_model_name(experiment: str = DEFAULT_EXPERIMENT) -> str:
    """The registered model of an experiment unless its spec names one: ``churn-<experiment>``."""
    return f"churn-{experiment}"


def champion_uri(experiment: str = DEFAULT_EXPERIMENT) -> str:
    """``models:/churn-<experiment>@champion``: what scoring loads by default."""
    return f"models:/{registered_model_name(experiment)}@{CHAMPION}"


__all__ = [
    "BATCH_DATE_TAG",
    "BOARD_METRICS",
    "CHAMPION",
    "DATA_DIGEST_TAG",
    "DAYS_PER_MONTH",
    "DEFAULT_DATA",
    "DEFAULT_EXPERIMENT",
    "DRIVERS",
    "FAMILIES",
    "KEYS",
    "KIND_TAG",
    "LOWER_IS_BETTER",
    "METRICS",
    "MODEL_TAG",
    "NAME_PATTERN",
    "OBSERVATION_COLUMNS",
    "PREVIOUS",
    "SCORED_FROM_TAG",
    "SIMULATOR_PROFILES",
    "SIMULATOR_SCENARIOS",
    "SURVIVAL_FAMILIES",
    "TIERS",
    "TIER_SHARES",
    "UPLIFT_FAMILIES",
    "UPLIFT_METRICS",
    "champion_uri",
    "na_value_list",
    "registered_model_name",
]


def na_value_list(values: str | int | float | list | tuple | None) -> tuple[str, ...]:
    """The missing-value codes a user declared (``--na-values "-1,?"``; ``data.na_values``
    in a spec, a list or such a string), as text without spaces around, empty ones and
    repeats dropped: ``"-1, ?"`` and ``[-1, "?"]`` are ``("-1", "?")``."""
    if values is None:
        return ()
    items = values.split(",") if isinstance(values, str) else values
    if isinstance(items, (int, float)):
        items = [items]
    return tuple(dict.fromkeys(t for v in items if (t := str(v).strip())))
