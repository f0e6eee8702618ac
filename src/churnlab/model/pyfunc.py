"""The MLflow pyfunc model: everything scoring needs in one object.

It carries the feature spec (builders and parameters, or the customer-table columns, and the
population), the fitted estimator with its calibration (a ``training.CalibratedChurnModel``), the
risk-tier thresholds chosen on the validation cutoff (on expected loss, p x MRR, where the
training rows carry MRR; else on risk), the reason templates, driver map and reason settings
(threshold, tiers, hints), and the training MRR statistics. ``predict`` takes the feature table
(one row per account and cutoff) and returns per row: ``p_churn``, ``risk_tier``,
``health_score``, ``revenue_at_risk``, ``reason_1..3`` with ``driver_1..3``,
``contribution_1..3`` and ``hint_1..3``, ``context`` (account attributes that raise the risk),
and the model name and version. Survival families add ``p_churn_30d``,
``p_churn_60d``, ``p_churn_90d`` and ``expected_lifetime_days`` (restricted mean survival time
up to 180 days; see ``CalibratedChurnModel.extra_outputs``).

The registered version is not known when the model is logged, so it travels in the pyfunc's
``model_config`` (key ``model_version``): a batch job resolves it from the registry URI and
passes it to ``mlflow.pyfunc.load_model(..., model_config=...)``; an exported folder carries it
in its ``MLmodel`` file, so ``mlflow models serve`` on the folder reports it too.

``predict`` takes one parameter, ``reasons`` (default true): false skips the attributions for
risk-only scoring at full speed; the reason columns are then empty, the schema unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from churnlab.config import ReasonsSpec
from churnlab.evaluation.profiles import typical_values
from churnlab.explain import top_reasons
from churnlab.features import FeatureSpec
from churnlab.features.reasons import ReasonTemplate, column_template
from churnlab.features.registry import reason_templates
from churnlab.modeling import ChurnEstimator, unseen_categories
from churnlab.training import CalibratedChurnModel
from churnlab.vocab import DAYS_PER_MONTH

log = logging.getLogger(__name__)
UNSEEN_SHARE = 0.05  # a category column with this share of unknown values is warned about

REASONS = 3
REASON_COLUMNS = [
    *(
        f"{k}_{i}"
        for i in range(1, REASONS + 1)
        for k in ("reason", "driver", "contribution", "hint")
    ),
    "context",
]
# the pyfunc's model_config keys; only keys logged with the model can be set at load time
MODEL_CONFIG = {"model_version": None}
PARAMS = {"reasons": True}


class ChurnModel(mlflow.pyfunc.PythonModel):
    def __init__(
        self,
        estimator: CalibratedChurnModel,
        feature_spec: FeatureSpec,
        tier_thresholds: dict[str, float],
        descriptions: dict[str, str],
        drivers: dict[str, str],
        horizon_days: int,
        mrr_stats: dict[str, float],
        model_name: str,
        model_version: str | None = None,
        reasons: dict[str, ReasonTemplate] | None = None,
        reason_settings: ReasonsSpec | None = None,
        tier_basis: str = "risk",
        loss_thresholds: dict[str, float] | None = None,
        reference: dict[str, Any] | None = None,
    ):
        self.estimator = estimator
        self.feature_spec = feature_spec
        self.tier_thresholds = tier_thresholds
        self.descriptions = descriptions
        self.drivers = drivers
        self.horizon_days = horizon_days
        self.mrr_stats = mrr_stats
        self.model_name = model_name
        self.model_version = model_version
        self.reasons = reasons if reasons is not None else self._registry_templates()
        self.reason_settings = reason_settings or ReasonsSpec()
        self.tier_basis = tier_basis
        self.loss_thresholds = dict(loss_thresholds or {})
        # the validation rows' distribution profile (churnlab.evaluation.profiles): what
        # monitoring compares scored batches against
        self.reference = reference

    def _registry_templates(self) -> dict[str, ReasonTemplate]:
        """The registered builders' templates for this model's features (models logged
        before templates travelled with them); other columns read as name and value."""
        known = reason_templates(self.feature_spec.vocabulary)
        return {f: known.get(f) or column_template(f, categorical=False) for f in self.features}

    def _upgrade_templates(self) -> None:
        """A stored template with the same texts as its feature's registered one gains what
        templates learnt since (``if_low``: models logged before it read a recent cancel flow
        as "no 'Cancel Flow Started' for 5 days"); edited or unknown templates stay."""
        stored = [f for f, t in self.reasons.items() if not t.if_low and not t.context]
        if not stored or not self.feature_spec.builders:
            return
        known = reason_templates(self.feature_spec.vocabulary)
        for f in stored:
            new = known.get(f)
            if new is not None and new.if_low and new.templates == self.reasons[f].templates:
                self.reasons[f] = new

    def __setstate__(self, state: dict) -> None:
        # models logged before the feature spec was typed carry it as a plain dict
        if isinstance(state.get("feature_spec"), dict):
            state["feature_spec"] = FeatureSpec.from_dict(state["feature_spec"])
        # models logged before calibration left the estimators carry a calibrated estimator
        if isinstance(state.get("estimator"), ChurnEstimator):
            state["estimator"] = CalibratedChurnModel.from_legacy(state["estimator"])
        # models logged before monitoring carry no reference profile
        state.setdefault("reference", None)
        self.__dict__.update(state)
        # models logged before reasons had templates, settings and expected-loss tiers
        if "reasons" not in state:
            self.reasons = self._registry_templates()
        else:
            self._upgrade_templates()
        self.__dict__.setdefault("reason_settings", ReasonsSpec())
        self.__dict__.setdefault("tier_basis", "risk")
        self.__dict__.setdefault("loss_thresholds", {})

    def tiers(self, raw: np.ndarray, p: np.ndarray, mrr: np.ndarray) -> np.ndarray:
        """Risk tiers: by expected loss (p x MRR) where the model was tiered so and the row
        has MRR, else by the raw score."""
        t = self.tier_thresholds
        tier = np.where(raw >= t["high"], "high", np.where(raw >= t["medium"], "medium", "low"))
        if self.tier_basis != "expected_loss":
            return tier
        loss, lt = p * mrr, self.loss_thresholds
        by_loss = np.where(
            (loss >= lt["high"]) & (loss > 0),
            "high",
            np.where((loss >= lt["medium"]) & (loss > 0), "medium", "low"),
        )
        return np.where(np.isnan(mrr), tier, by_loss)

    @property
    def features(self) -> list[str]:
        return list(self.feature_spec.features)

    def input_columns(self) -> list[str]:
        return self.feature_spec.input_columns()

    def load_context(self, context) -> None:
        version = (context.model_config or {}).get("model_version")
        self.model_version = None if version in (None, "") else str(version)

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        reasons = (params or {}).get("reasons", True)
        return self.score(model_input, reasons=bool(reasons))

    def score(self, frame: pd.DataFrame, reasons: bool = True) -> pd.DataFrame:
        """Risk, tier, health, revenue at risk and (``reasons``) top reasons per row."""
        X = frame[self.features]
        n = len(frame)
        for c, (unseen, present, examples) in unseen_categories(self.estimator, X).items():
            if unseen >= UNSEEN_SHARE * present:
                log.warning(
                    "column %r: %d of %d values were never seen in training (e.g. %s): the "
                    "model reads them as missing; if the export spells them differently, "
                    "write them as training did",
                    c,
                    unseen,
                    present,
                    ", ".join(map(repr, examples)),
                )
        p, raw, values = self.estimator.score(X, contributions=reasons)
        mrr = (
            pd.to_numeric(frame["mrr"], errors="coerce").to_numpy(dtype=float)
            if "mrr" in frame
            else np.full(n, np.nan)
        )
        tier = self.tiers(raw, p, mrr)
        cols: dict[str, Any] = {
            "account_id": frame["account_id"].to_numpy(),
            "cutoff": frame["cutoff"].to_numpy() if "cutoff" in frame else np.full(n, pd.NaT),
            "p_churn": p,
            "risk_tier": tier,
            "health_score": np.round(100 * (1 - p), 1),
            "revenue_at_risk": p * mrr * self.horizon_days / DAYS_PER_MONTH,
        }
        cols.update(self._reason_columns(values, X, tier))
        cols["model_name"] = np.full(n, self.model_name, dtype=object)
        cols["model_version"] = np.full(n, self.model_version, dtype=object)
        for col, extra in self.estimator.extra_outputs(X).items():
            cols[col] = extra.to_numpy()
        return pd.DataFrame(cols)

    def _reason_columns(
        self, values: pd.DataFrame | None, X: pd.DataFrame, tier: np.ndarray
    ) -> dict[str, Any]:
        """``reason_i``, ``driver_i``, ``contribution_i``, ``hint_i`` and ``context`` from the
        attributions, for the tiers the reason settings name; empty (same types) when there
        are none (``reasons=False``)."""
        n = len(X)
        if values is None:
            return {
                c: np.full(n, np.nan)
                if c.startswith("contribution_")
                else np.full(n, None, dtype=object)
                for c in REASON_COLUMNS
            }
        top = top_reasons(
            values,
            X,
            self.reasons,
            self.drivers,
            k=REASONS,
            settings=self.reason_settings,
            tiers=tier,
            typical=typical_values(self.reference),
        )
        # missing texts are None, not NaN: pandas 3 infers a string dtype whose missing value is
        # NaN, which a Spark string column would turn into the text "nan"
        return {
            c: top[c].to_numpy(dtype=float)
            if c.startswith("contribution_")
            else top[c].astype(object).where(top[c].notna(), None).to_numpy(dtype=object)
            for c in REASON_COLUMNS
        }

    def output_example(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``score`` output as the signature should declare it: the version is unknown while
        logging, but a registered model's rows carry it as a string."""
        return self.score(frame).assign(model_version="")
