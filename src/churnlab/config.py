"""Paths and settings. Nothing here does work at import time: every value is computed on call."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from churnlab.errors import ChurnlabError
from churnlab.vocab import (
    DAYS_PER_DURATION_UNIT,
    DEFAULT_DATA,
    DEFAULT_EXPERIMENT,
    DRIVERS,
    FAMILIES,
    METRICS,
    NAME_PATTERN,
    SURVIVAL_FAMILIES,
    UPLIFT_FAMILIES,
    na_value_list,
    registered_model_name,
)

DEMO_DATA = Path(DEFAULT_DATA)


def project_root() -> Path:
    """The project root: ``CHURNLAB_HOME`` if set, else the nearest parent with a pyproject.toml
    that names churnlab, else the current directory."""
    env = os.environ.get("CHURNLAB_HOME")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.exists() and 'name = "churnlab"' in pyproject.read_text():
            return folder
    return here


def data_dir() -> Path:
    return project_root() / "data"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the local SQLite store in the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def threads() -> int:
    """Threads churnlab's engines use (LightGBM, DuckDB): ``CHURNLAB_THREADS``, a whole number
    of at least 1, else every core. On a shared machine, or with several churnlab processes at
    once, fewer threads than cores give more work per CPU second."""
    raw = os.environ.get("CHURNLAB_THREADS", "").strip()
    if not raw:
        return os.cpu_count() or 1
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CHURNLAB_THREADS={raw!r}: expected a whole number of threads, like 2")
    return int(raw)


def cache_dir() -> Path:
    """Where built feature tables are kept for reuse: ``CHURNLAB_CACHE`` if set, else
    ``data/cache`` in the project root (git-ignored with ``data/``)."""
    env = os.environ.get("CHURNLAB_CACHE")
    return Path(env).resolve() if env else data_dir() / "cache"


def artifact_root() -> Path:
    """Where a local SQLite tracking store keeps artifacts: ``mlartifacts/`` beside its
    database file, so the project root's for the default ``mlflow.db`` and the other folder's
    when ``MLFLOW_TRACKING_URI`` names a database elsewhere (a relative one resolves against
    the working directory, as MLflow resolves it). Other stores: the project root's."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
        return database.resolve().parent / "mlartifacts"
    return project_root() / "mlartifacts"


# ---------------------------------------------------------------------------------------------
# Experiment specs (experiments/*.yaml)
# ---------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventData(_Strict):
    """A dataset folder (or .duckdb file) in the five-table model."""

    path: Path
    engine: Literal["duckdb", "spark"] = "duckdb"


class TableData(_Strict):
    """A single customer table (CRM export): one row per customer and a churn label."""

    table: Path
    id: str
    label: str
    positive: str | None = Field(
        None,
        description="the label value that means churned, for labels in other words "
        "('Attrited Customer'); every other value is not churned",
    )
    duration: str | None = None
    duration_unit: Literal["days", "weeks", "months", "years"] = Field(
        "days",
        description="what the duration column counts; durations are converted to days, the "
        "unit of horizon_days, and survival families score and are evaluated at whole units",
    )
    mrr: str | None = Field(
        None, description="monthly revenue column, for revenue at risk (also a feature)"
    )
    encoding: str = Field(
        "utf-8", description="text encoding of a CSV/TSV table (e.g. latin-1, cp1252)"
    )
    na_values: tuple[str, ...] = Field(
        (),
        description="missing-value codes (e.g. [-1, '?'] or '-1,?'): read as missing in every "
        "column but the id and the label",
    )

    @field_validator("na_values", mode="before")
    @classmethod
    def _na_value_list(cls, value: Any) -> tuple[str, ...]:
        if value is not None and not isinstance(value, (str, int, float, list, tuple)):
            raise ValueError("a list of values (or one string of them separated by commas)")
        return na_value_list(value)

    @model_validator(mode="after")
    def _unit_needs_duration(self) -> TableData:
        if self.duration is None and self.duration_unit != "days":
            raise ValueError("duration_unit: set only with a duration column (data.duration)")
        return self


class SplitSpec(_Strict):
    """Out-of-time over cutoffs (event data) or stratified random (single tables).

    Out of time: test on the latest cutoff with complete labels, validate on the latest cutoff
    whose label window ends by the test cutoff, train on cutoffs whose label windows end by the
    validation cutoff (``purge``), so no label in an earlier part sees past a later part's cutoff.
    ``backtest_folds`` > 1 repeats this with the test cutoff stepped back (rolling origin).
    """

    kind: Literal["out_of_time", "random"] = "out_of_time"
    purge: bool = True
    backtest_folds: int = Field(1, ge=1, le=12)
    validation_size: float = Field(0.2, gt=0, lt=0.5)
    test_size: float = Field(0.2, gt=0, lt=0.5)
    refit: bool = Field(
        True,
        description="random splits (single tables): once the validation rows have chosen "
        "(preprocessing, boosting rounds) and calibrated, refit on training + validation rows",
    )
    pool_calibration: bool = Field(
        False,
        description="out of time: fit the calibration on every cutoff that is not a training "
        "cutoff and whose label window closed by the test cutoff, not the validation cutoff alone "
        "(best on validation cutoffs: bench/train.py --calibration-methods; opt-in, see "
        "docs/experiments.md)",
    )
    calibration_half_life_days: float | None = Field(
        None,
        gt=0,
        description="with pool_calibration: weight each pooled cutoff by 0.5 ** (days before "
        "the validation cutoff / this); None weighs them equally",
    )


class FeatureSelection(_Strict):
    drivers: list[str] | None = None
    include: list[str] = []
    exclude: list[str] = []

    @field_validator("drivers")
    @classmethod
    def _known_drivers(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(DRIVERS))
        if unknown:
            raise ValueError(f"unknown driver(s) {unknown}; expected some of {list(DRIVERS)}")
        return value


class ModelSpec(_Strict):
    family: Literal[FAMILIES + UPLIFT_FAMILIES]  # type: ignore[valid-type]
    params: dict[str, Any] = {}
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"


class SearchParam(_Strict):
    """One dimension of a tuning search space.

    ``int`` and ``float`` take ``low``/``high`` (optionally ``log: true`` or an int ``step``),
    ``log`` is a float on a log scale (``low`` > 0), ``categorical`` takes ``choices``.
    """

    type: Literal["int", "float", "log", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0)
    choices: list[str | int | float | bool | None] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None or self.log or self.step:
                raise ValueError("categorical takes only 'choices' (no low/high/log/step)")
            return self
        if self.choices is not None:
            raise ValueError(f"{self.type} takes low/high, not 'choices'")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} needs 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if (self.log or self.type == "log") and self.low <= 0:
            raise ValueError(f"a log scale needs 'low' > 0, not {self.low}")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("int bounds must be whole numbers")
        if self.step is not None and (self.log or self.type == "log"):
            raise ValueError("'step' cannot be combined with a log scale")
        return self


class TuningSpec(_Strict):
    """How ``churnlab tune`` searches: budget, pruner and what the objective averages over.

    ``objective: validation`` scores each trial on the validation cutoff; ``backtest`` on the
    mean over the rolling-origin folds' validation cutoffs (``split.backtest_folds``). The test
    cutoff is never part of the objective. ``pruner``: ``percentile`` stops a trial whose best
    score so far is not in the top quarter of earlier trials at the same boosting round,
    ``median`` one below their median (prunes less), ``hyperband`` runs successive halving
    brackets; on the demo ``percentile`` saved the most time at an equal best value
    (bench/results/tune.json).
    """

    trials: int = Field(50, ge=1)
    timeout: float | None = Field(None, gt=0)
    pruner: Literal["median", "percentile", "hyperband", "none"] = "percentile"
    objective: Literal["validation", "backtest"] = "validation"
    report_every: int = Field(10, ge=1, description="boosting rounds between pruning reports")


# what a customer-success team can do about each driver; a spec's ``reasons.hints`` edits them
DEFAULT_HINTS = {
    "engagement": "success call: find out what changed in how they use the product",
    "team": "help the admin bring inactive seats back (team training, seat review)",
    "onboarding": "onboarding help: walk them to the core action",
    "usability": "offer a training or how-to session on the slow tasks",
    "product_quality": "bug follow-up: update them on their open bugs",
    "support": "follow up on their open support tickets",
    "satisfaction": "follow up on their survey answer",
    "billing": "billing contact: check payment details and plan fit",
    "account": "success call with the account owner",
}


class ReasonsSpec(_Strict):
    """Which reasons scoring shows and what it suggests doing.

    A feature is a reason when it raises the account's risk by at least ``min_contribution``
    (on the model's log-odds or log-hazard scale: 0.1 is about 10% higher odds), and only for
    accounts in ``tiers``. ``hints``: a "what to do" line per driver, merged over the defaults
    (``churnlab.config.DEFAULT_HINTS``); an empty string shows no hint for that driver.

    Example::

        reasons:
          min_contribution: 0.1
          tiers: [high, medium]
          hints: {billing: "call finance: card expiring"}
    """

    min_contribution: float = Field(0.1, ge=0)
    tiers: list[Literal["high", "medium", "low"]] = ["high", "medium"]
    hints: dict[str, str] = {}

    @field_validator("hints")
    @classmethod
    def _known_drivers(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DRIVERS))
        if unknown:
            raise ValueError(f"unknown driver(s) {unknown}; expected some of {list(DRIVERS)}")
        return value

    def hint_map(self) -> dict[str, str]:
        """Driver -> hint: the defaults with this spec's edits."""
        return {**DEFAULT_HINTS, **self.hints}


def _yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file's top-level mapping; a missing file, bad YAML or another shape is a
    SpecError naming the file."""
    if not path.exists():
        raise SpecError(f"{path}: {what} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


def load_reasons(path: str | Path) -> ReasonsSpec:
    """Reason settings from a YAML file (its ``reasons`` section, or the file itself), to edit
    hints and thresholds at scoring time without retraining; errors name the key."""
    path = Path(path)
    raw = _yaml_mapping(path, "reasons file")
    try:
        return ReasonsSpec.model_validate(raw.get("reasons", raw))
    except ValidationError as exc:
        lines = [
            f"  reasons.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        ]
        raise SpecError(f"{path}: invalid reasons settings\n" + "\n".join(lines)) from None


class PopulationSpec(_Strict):
    """Which observations a model is about: applied to training rows, to scoring and to the
    report. ``plans``: only these plans (default: every plan); ``exclude_plans``: not these;
    ``min_tenure_days``: accounts at least this many days past sign-up; ``paying_only``:
    MRR above 0. A single customer table supports ``paying_only`` (with ``data.mrr``).

    Example (paid churn, trials apart)::

        population: {paying_only: true, exclude_plans: [trial]}
    """

    plans: list[str] | None = None
    exclude_plans: list[str] = []
    min_tenure_days: float = Field(0, ge=0)
    paying_only: bool = False

    @model_validator(mode="after")
    def _plans_overlap(self) -> PopulationSpec:
        both = sorted(set(self.plans or ()) & set(self.exclude_plans))
        if both:
            raise ValueError(f"plan(s) {both} both included and excluded")
        if self.plans is not None and not self.plans:
            raise ValueError("plans: an empty list selects nobody; leave it out for every plan")
        return self


class UpliftSpec(_Strict):
    """Uplift families: where the treatment status comes from, and the campaign economics
    scoring turns an uplift into an expected gain with (``uplift x MRR x value_months -
    contact_cost - offer_cost``; ``churnlab score`` options override them).

    An observation is randomized when its account had a campaign contact in the
    ``contact_window_days`` before its cutoff (``churnlab.features.treatment``); the others
    take no part in uplift training or evaluation.
    """

    contact_window_days: int = Field(7, ge=1)
    value_months: float = Field(12.0, gt=0)
    contact_cost: float = Field(1.0, ge=0)
    offer_cost: float = Field(50.0, ge=0)


class MonitoringSpec(_Strict):
    """When ``churnlab monitor`` says ``warn`` or ``retrain`` (and ``churnlab retrain``
    promotes). Defaults follow common practice, not any one dataset:

    * a feature has *drifted* when its PSI against the reference reaches ``feature_psi``
      (0.2: the conventional "significant shift"), and has *shifted* when its PSI against the
      previous batch does: a sudden change, where drift against the reference also collects
      slow, expected change such as a population growing older;
    * ``warn`` when ``warn_drifted_features`` or more features shifted since the previous
      batch, when ``warn_drifted_share`` of the features drifted from the reference (or
      ``warn_driver_share`` of one driver's, where it has at least 5: a price change moves
      the billing features, a handful among a hundred), when the
      score distribution's PSI reaches ``prediction_psi_warn`` (0.1: "moderate"), or when the
      estimated or realized ``metric`` fell by ``warn_drop`` (relative) from validation;
    * ``retrain`` when ``retrain_drifted_share`` of the features drifted, the score PSI reaches
      ``prediction_psi_retrain``, or the ``metric`` fell by ``retrain_drop``. A realized drop
      counts only when it also exceeds twice the standard error of the difference (bootstrap,
      batch and validation), so a small batch's noise is not a decline;
    * ``churnlab retrain`` promotes the challenger only if it beats the champion's ``metric``
      by ``promote_margin`` (absolute) and loses at most ``revenue_margin`` (absolute) of
      revenue captured in the top 10%.
    """

    # the ranking metrics confidence-based estimation can estimate before labels mature;
    # ROC-AUC by default: batches differ in churn rate (seasons, mix) and PR-AUC moves with it
    metric: Literal["pr_auc", "roc_auc"] = "roc_auc"
    feature_psi: float = Field(0.2, gt=0)
    warn_drifted_features: int = Field(1, ge=1)
    warn_drifted_share: float = Field(0.1, gt=0, le=1)
    warn_driver_share: float = Field(0.5, gt=0, le=1)
    retrain_drifted_share: float = Field(0.3, gt=0, le=1)
    prediction_psi_warn: float = Field(0.1, gt=0)
    prediction_psi_retrain: float = Field(0.25, gt=0)
    warn_drop: float = Field(0.05, ge=0, lt=1)
    retrain_drop: float = Field(0.10, ge=0, lt=1)
    promote_margin: float = Field(0.0, ge=0)
    revenue_margin: float = Field(0.01, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> MonitoringSpec:
        if self.prediction_psi_retrain < self.prediction_psi_warn:
            raise ValueError("prediction_psi_retrain must be at least prediction_psi_warn")
        if self.retrain_drifted_share < self.warn_drifted_share:
            raise ValueError("retrain_drifted_share must be at least warn_drifted_share")
        if self.retrain_drop < self.warn_drop:
            raise ValueError("retrain_drop must be at least warn_drop")
        return self


class QuickTune(_Strict):
    """``churnlab train`` with a quick study first (``tune: {trials: 20}``, or ``train --tune
    20``): an in-memory Optuna study of ``trials`` trials (pruned and searched as the
    ``tuning`` section says), then the final fit with the best params, logged and registered as
    ``<name>-tuned``. Nothing is kept in ``optuna.db``; ``churnlab tune`` runs resumable
    studies."""

    trials: int = Field(ge=1)
    timeout: float | None = Field(None, gt=0, description="stop starting trials after this")


ROLES = ("session_start", "core_action", "contact", "payment_failure", "ignore")


class EventRoles(_Strict):
    """Which event types play a part the built-in builders know: the start of a session, the
    product's core action (onboarding), customer-success contact, a failed payment, and types
    to ignore altogether. Every role is optional; a builder whose role is absent is skipped."""

    session_start: list[str] = []
    core_action: list[str] = []
    contact: list[str] = []
    payment_failure: list[str] = []
    ignore: list[str] = []


class EventsSpec(_Strict):
    """The optional ``events`` section of ``dataset.json`` (or of an experiment spec, which
    overrides it): roles, the inactivity gap that ends a derived session, and how the event
    vocabulary is fitted (at most ``max_event_types`` types, each used by at least
    ``min_account_share`` of the accounts). ``ratios`` are extra [numerator, denominator] pairs.

    Example::

        events:
          roles: {core_action: [post], session_start: [app_open], ignore: [heartbeat]}
          ratios: [[reply, post]]
          group: {page_view: ["page_view /products/*", "page_view /cart"]}
    """

    roles: EventRoles = EventRoles()
    session_gap_minutes: float = Field(30, gt=0)
    max_event_types: int = Field(30, ge=0)
    min_account_share: float = Field(0.01, ge=0, le=1)
    ratios: list[tuple[str, str]] = []
    # name -> patterns (``*`` any characters, ``?`` one): event types matching a pattern are
    # read as that name (``page_view: ["page_view /products/*"]``), the first match winning
    group: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _ignored_types_play_no_part(self) -> EventsSpec:
        """A type under ``ignore`` never becomes a feature: naming it in another role or a
        ratio contradicts that (and was silently half-honoured)."""
        ignored = set(self.roles.ignore)
        used = {f"roles.{r}": getattr(self.roles, r) for r in ROLES if r != "ignore"}
        used["ratios"] = [n for pair in self.ratios for n in pair]
        clash = {where: sorted(ignored & set(names)) for where, names in used.items()}
        clash = {w: n for w, n in clash.items() if n}
        if clash:
            listed = "; ".join(f"{w}: {n}" for w, n in clash.items())
            raise ValueError(
                f"type(s) under roles.ignore are also named in {listed}; an ignored type "
                "plays no part: remove it from one of them"
            )
        return self

    def names(self) -> dict[str, list[str]]:
        """Every event name the section mentions, by where it is mentioned."""
        out = {f"roles.{r}": list(getattr(self.roles, r)) for r in ROLES}
        out["ratios"] = [n for pair in self.ratios for n in pair]
        out["group"] = list(self.group)  # a name no type becomes: none of its patterns matched
        return out


def parse_events(raw: Any, source: str | Path | None = None) -> EventsSpec:
    """The ``events`` section, validated; errors name each offending key."""
    where = f"{source}: " if source else ""
    try:
        return EventsSpec.model_validate(raw or {})
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(['events', *(str(p) for p in e['loc'])])}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise SpecError(f"{where}invalid events section\n" + "\n".join(lines)) from None


class ExperimentSpec(_Strict):
    """One experiment: data, observations, split, features, model, ranking metric, registry name.

    Example (``experiments/lightgbm.yaml``)::

        name: lightgbm
        experiment: demo
        data: {path: data/demo}
        cutoffs: "2024-03-01:2025-12-01:1M"
        horizon_days: 90
        model: {family: lightgbm, params: {num_leaves: 15}}
    """

    name: str = Field(pattern=NAME_PATTERN)
    experiment: str = DEFAULT_EXPERIMENT
    description: str = ""
    data: Annotated[
        Annotated[EventData, Tag("events")] | Annotated[TableData, Tag("table")],
        Discriminator(
            lambda v: "table" if "table" in (v if isinstance(v, dict) else vars(v)) else "events"
        ),
    ]
    cutoffs: str | list[str] | None = None
    horizon_days: int = Field(90, ge=1)
    lead_days: int = Field(0, ge=0)
    split: SplitSpec = SplitSpec()
    features: FeatureSelection = FeatureSelection()
    model: ModelSpec
    metric: Literal[METRICS] = "pr_auc"  # type: ignore[valid-type]
    search_space: dict[str, SearchParam] | None = None
    tuning: TuningSpec = TuningSpec()
    monitoring: MonitoringSpec = MonitoringSpec()
    uplift: UpliftSpec | None = Field(
        None, description="uplift families: treatment window and campaign economics"
    )

    tune: QuickTune | None = Field(
        None, description="train: run a quick in-memory study before the final fit"
    )
    registered_model: str | None = None
    events: EventsSpec | None = Field(
        None, description="overrides the dataset's events section (roles, vocabulary)"
    )
    population: PopulationSpec = PopulationSpec()
    reasons: ReasonsSpec = ReasonsSpec()
    seed: int = 42
    source: Path | None = Field(None, exclude=True, description="the YAML file, when read from one")

    @field_validator("experiment")
    @classmethod
    def _experiment_name(cls, value: str) -> str:
        return check_experiment_name(value)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        if isinstance(self.data, EventData) and self.cutoffs is None:
            raise ValueError("cutoffs: required for event data (e.g. '2024-03-01:2025-12-01:1M')")
        if isinstance(self.data, EventData) and self.split.kind == "random":
            raise ValueError(
                "split.kind: 'random' would put one account's cutoffs in several parts and train "
                "on the future; event data are split out of time"
            )
        if self.tuning.objective == "backtest" and self.split.backtest_folds < 2:
            raise ValueError(
                "tuning.objective: 'backtest' averages over rolling-origin folds; "
                "set split.backtest_folds >= 2"
            )
        if (
            isinstance(self.data, TableData)
            and self.model.family in SURVIVAL_FAMILIES
            and not self.data.duration
        ):
            raise ValueError(
                f"data.duration: the {self.model.family} survival family needs the table's "
                "duration column (tenure or time to churn; --duration on the command line)"
            )
        if self.model.family in SURVIVAL_FAMILIES and self.lead_days:
            raise ValueError(
                f"lead_days: the {self.model.family} survival family scores churn within "
                "horizon_days of the cutoff; a lead gap is not supported for survival families"
            )
        if self.model.family in UPLIFT_FAMILIES:
            self._check_uplift()
        elif self.uplift is not None:
            raise ValueError(f"uplift: a section for the uplift families, not {self.model.family}")
        if isinstance(self.data, TableData) and self.split.kind == "out_of_time":
            object.__setattr__(self, "split", self.split.model_copy(update={"kind": "random"}))
        return self

    def _check_uplift(self) -> None:
        family = self.model.family
        if not isinstance(self.data, EventData):
            raise ValueError(
                f"model.family: {family} needs event data with a campaigns table (the treatment "
                "status of each observation); a single customer table has none"
            )
        if self.search_space or self.tune is not None:
            raise ValueError(f"search_space/tune: tuning is for the churn families, not {family}")
        if self.split.backtest_folds > 1:
            raise ValueError(f"split.backtest_folds: {family} trains on one out-of-time split")
        if self.uplift is None:
            object.__setattr__(self, "uplift", UpliftSpec())

    @model_validator(mode="after")
    def _population_fits_data(self) -> ExperimentSpec:
        pop = self.population
        if not isinstance(self.data, TableData):
            return self
        if pop.plans or pop.exclude_plans or pop.min_tenure_days:
            raise ValueError(
                "population: a single customer table has no plans or tenure; only paying_only "
                "applies (with data.mrr)"
            )
        if pop.paying_only and not self.data.mrr:
            raise ValueError("population.paying_only: needs the table's MRR column (data.mrr)")
        return self

    @property
    def model_name(self) -> str:
        """The registered model: ``churn-<experiment>`` unless the spec names one."""
        return self.registered_model or registered_model_name(self.experiment)

    @property
    def duration_unit(self) -> str:
        """What the data's durations count: a single table's ``data.duration_unit``, else days."""
        return self.data.duration_unit if isinstance(self.data, TableData) else "days"

    @property
    def model_horizon_days(self) -> float:
        """The horizon, in days, a model scores churn within: ``horizon_days``, or for a single
        table whose durations count weeks, months or years, rounded to whole units of it (at least
        one): 90 days is then 3 months (91.3 days), the time by which durations of 3 have
        churned, where 90 days would read the survival curve at 2 months."""
        unit = self.duration_unit
        if unit == "days":
            return self.horizon_days
        step = DAYS_PER_DURATION_UNIT[unit]
        return max(1, round(self.horizon_days / step)) * step

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain data (logged with each run)."""
        return self.model_dump(mode="json")


class SpecError(ChurnlabError):
    """An experiment spec that cannot be used, with every problem named by its key."""


def check_experiment_name(name: str) -> str:
    """``name`` if it can name an experiment (a folder under ``mlartifacts/``: letters, digits,
    ``_ . -``, not starting with a dot); a :class:`SpecError` before any work otherwise."""
    if not re.fullmatch(NAME_PATTERN, name or ""):
        raise SpecError(
            f"experiment name {name!r} is not allowed: use letters, digits, '_', '.' and '-' "
            "(starting with a letter or digit, at most 100 characters)"
        )
    return name


def load_spec(path: str | Path, **overrides: Any) -> ExperimentSpec:
    """Read and validate an experiment spec; errors name the offending key."""
    path = Path(path)
    raw = _yaml_mapping(path, "experiment spec")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return parse_spec(raw, source=path)


def parse_spec(raw: dict[str, Any], source: str | Path | None = None) -> ExperimentSpec:
    where = f"{source}: " if source else ""
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            # the data union's tags ("events", "table") are not keys of the spec
            parts = e["loc"]
            if len(parts) > 1 and parts[0] == "data" and parts[1] in ("events", "table"):
                parts = (parts[0], *parts[2:])
            loc = ".".join(str(p) for p in parts)
            lines.append(f"  {loc or '(spec)'}: {e['msg']}")
        raise SpecError(
            f"{where}invalid experiment spec\n" + "\n".join(dict.fromkeys(lines))
        ) from None
    if source is not None:
        object.__setattr__(spec, "source", Path(source))
    return spec


def _spec_file_with_options(
    spec_file: Path, given: dict[str, Any], overrides: dict[str, Any], tune: int | None
) -> ExperimentSpec:
    """The spec file with the few options that may override it; the others are an error."""
    clash = [flag for flag, value in given.items() if value is not None]
    if clash:
        raise SpecError(
            f"{', '.join(clash)}: set these in the spec file, not beside it "
            "(with a spec, only --experiment, --name, --seed, --horizon and --tune "
            "override it)"
        )
    spec = load_spec(spec_file, **overrides)
    if tune is not None:
        quick = spec.tune or QuickTune(trials=tune)
        spec = spec.model_copy(update={"tune": quick.model_copy(update={"trials": tune})})
    return spec


def _table_options(
    table: Path,
    id_col: str | None,
    label: str | None,
    positive: str | None,
    duration: str | None,
    duration_unit: str | None,
    mrr: str | None,
    encoding: str | None,
    na_values: str | None = None,
) -> dict[str, Any]:
    """The ``data`` section of a spec made from ``--table`` and its options."""
    if not (id_col and label):
        raise SpecError("--table needs --id and --label")
    return {
        "table": str(table),
        "id": id_col,
        "label": label,
        "positive": positive,
        "duration": duration,
        "duration_unit": duration_unit or "days",
        "mrr": mrr,
        "encoding": encoding or "utf-8",
        "na_values": na_values,
    }


def _no_table_options(positive: str | None, na_values: str | None) -> None:
    """A :class:`SpecError` for an option of ``--table`` given without one."""
    if positive is not None:
        raise SpecError("--positive applies to --table (the value of its --label column)")
    if na_values is not None:
        raise SpecError("--na-values applies to --table (a single customer table)")


def spec_from_options(
    spec_file: Path | None,
    *,
    data: Path | None,
    cutoffs: str | None,
    horizon: int | None,
    lead: int | None,
    table: Path | None,
    id_col: str | None,
    label: str | None,
    duration: str | None,
    mrr: str | None,
    model: str | None,
    positive: str | None = None,
    duration_unit: str | None = None,
    encoding: str | None = None,
    na_values: str | None = None,
    exclude: list[str] | None = None,
    experiment: str | None,
    name: str | None,
    seed: int | None,
    tune: int | None = None,
) -> ExperimentSpec:
    """A spec from a YAML file (command-line options override a few keys) or, without one,
    from the options alone (``churnlab train --data ... --model ...``). ``tune``: trials of a
    quick study before the final fit (the spec's ``tune`` key; overrides its trials)."""
    if spec_file is not None:
        given = {
            "--data": data, "--cutoffs": cutoffs, "--lead": lead, "--table": table,
            "--id": id_col, "--label": label, "--duration": duration, "--mrr": mrr,
            "--model": model, "--duration-unit": duration_unit, "--encoding": encoding,
            "--exclude": exclude or None, "--positive": positive, "--na-values": na_values,
        }  # fmt: skip
        overrides = {"experiment": experiment, "name": name, "seed": seed, "horizon_days": horizon}
        return _spec_file_with_options(spec_file, given, overrides, tune)
    if model is None:
        raise SpecError("give an experiment spec (SPEC.yaml) or --model with --data or --table")
    # a path typed on the command line is the shell's: relative to the working directory (a
    # spec file's paths are the project's, relative to its root)
    table = Path(table).absolute() if table is not None else None
    data = Path(data).absolute() if data is not None else None
    if table is None:
        _no_table_options(positive, na_values)
    if table is not None:
        source = _table_options(
            table, id_col, label, positive, duration, duration_unit, mrr, encoding, na_values
        )
    elif data is not None:
        if not cutoffs:
            raise SpecError("--data needs --cutoffs (e.g. 2024-03-01:2025-12-01:1M)")
        source = {"path": str(data)}
    else:
        raise SpecError("give --data DIR (event data) or --table FILE (single customer table)")
    raw = {
        "name": name or model,
        "data": source,
        "cutoffs": cutoffs,
        "horizon_days": horizon or ExperimentSpec.model_fields["horizon_days"].default,
        "lead_days": lead or 0,
        "model": {"family": model},
        "seed": ExperimentSpec.model_fields["seed"].default if seed is None else seed,
    }
    if experiment:
        raw["experiment"] = experiment
    if tune is not None:
        raw["tune"] = {"trials": tune}
    if exclude:
        raw["features"] = {"exclude": list(exclude)}
    return parse_spec(raw)
