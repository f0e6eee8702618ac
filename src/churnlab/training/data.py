"""The training frame of an experiment: observations + features as one pandas frame.

Event data go through the point-in-time builders on the dataset's engine; a single customer
table's columns are its features (id, label and duration removed).
"""

from __future__ import annotations

import difflib
import logging
import re
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from churnlab.config import EventData, ExperimentSpec, SpecError
from churnlab.data import (
    Dataset,
    Vocabulary,
    VocabularyError,
    fit_vocabulary,
    load_dataset,
    load_source,
)
from churnlab.data.single_table import written_with_decimal_comma
from churnlab.features import (
    BuilderRef,
    FeatureSpec,
    build_observations,
    builders,
    feature_frame,
    parse_cutoffs,
    select_builders,
    treatment_status,
)
from churnlab.features import cache as feature_cache
from churnlab.features.population import describe_population, population_mask
from churnlab.features.reasons import ReasonTemplate, column_template
from churnlab.features.registry import reason_templates
from churnlab.files import file_digest
from churnlab.modeling import is_categorical
from churnlab.training.split import SplitError, out_of_time_splits
from churnlab.vocab import DAYS_PER_DURATION_UNIT, KEYS, SURVIVAL_FAMILIES, UPLIFT_FAMILIES
from churnlab.vocab import OBSERVATION_COLUMNS as _OBSERVATION_COLUMNS

OBSERVATION_COLUMNS = list(_OBSERVATION_COLUMNS)
log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    frame: pd.DataFrame
    features: list[str]
    kind: str  # "events" or "customers"
    source: str
    data_digest: str
    feature_spec: FeatureSpec
    observed_until: pd.Timestamp | None = None
    truth_path: Path | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, ReasonTemplate] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # degenerate feature -> why
    # columns that alone separate churners on the training rows -> their ROC-AUC
    leaks: dict[str, float] = field(default_factory=dict)
    # columns that alone rank churners almost perfectly (from STRONG_AUC, below LEAK_AUC)
    strong: dict[str, float] = field(default_factory=dict)
    # columns left out of a survival family's features for tracking its duration -> |Spearman|
    duration_twins: dict[str, float] = field(default_factory=dict)

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.features if is_categorical(self.frame[c])]

    @property
    def y(self) -> pd.Series:
        return self.frame.churned_within_h


def select_features(spec: ExperimentSpec, available: dict[str, str]) -> list[str]:
    """Feature names the spec asks for, from ``available`` (name -> driver), in order."""
    sel = spec.features
    unknown = sorted(set(sel.include + sel.exclude) - set(available))
    if unknown:
        near = {u: difflib.get_close_matches(u, list(available), n=1) for u in unknown}
        hint = "; ".join(f"{u!r}: did you mean {m[0]!r}?" for u, m in near.items() if m)
        raise SpecError(
            f"features.include/exclude: unknown feature(s) {unknown}"
            + (f" ({hint})" if hint else "")
        )
    if sel.drivers is None and not sel.include:
        chosen = list(available)
    else:
        drivers = set(sel.drivers or ())
        chosen = [f for f, d in available.items() if d in drivers or f in sel.include]
    chosen = [f for f in chosen if f not in set(sel.exclude)]
    if not chosen:
        raise SpecError("features: the selection leaves no features")
    return chosen


def load_training_data(
    spec: ExperimentSpec, root: Path | None = None, check_split: bool = False
) -> TrainingData:
    """Build the experiment's frame. Relative data paths resolve against ``root``.

    Event data: observations and the features of every builder that can run on the data,
    built once per (data digest, cutoffs, horizon, lead, builders) and then read from the
    feature cache (:mod:`churnlab.features.cache`) by every spec that asks for them.
    ``check_split`` (training does): cutoffs that cannot be split out of time raise
    :class:`~churnlab.training.split.SplitError` before any feature is built; without it the
    frame is built all the same (an export at one cutoff, say)."""
    if isinstance(spec.data, EventData):
        path = _resolve(root, spec.data.path)
        if spec.model.family not in UPLIFT_FAMILIES:
            return _events(spec, path, check_split)
        _campaigns(spec, path)  # before any feature is built
        return with_treatment(spec, _events(spec, path, check_split))
    try:
        ds = load_source(spec.data, root)
    except FileNotFoundError as exc:
        raise SpecError(str(exc)) from None
    return _customers(spec, ds)


def data_digest(spec: ExperimentSpec, root: Path | None = None) -> str:
    """The digest of every byte of the spec's data (folder, .duckdb file or customer table),
    as :class:`TrainingData` carries it: the data part of what identifies a training run."""
    table = getattr(spec.data, "table", None)
    return file_digest(_resolve(root, Path(table if table is not None else spec.data.path)))


def _resolve(root: Path | None, path: Path) -> Path:
    root = root if root is not None else Path.cwd()
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise SpecError(f"data: {path} not found")
    return path


def _events(spec: ExperimentSpec, path: Path, check_split: bool = False) -> TrainingData:
    h, lead = spec.horizon_days, spec.lead_days
    try:
        cutoffs = parse_cutoffs(spec.cutoffs)
    except ValueError as exc:
        raise SpecError(f"cutoffs: {exc}") from exc
    digest = file_digest(path)
    key = feature_cache.frame_key(
        digest, cutoffs, h, lead, spec.data.engine, builders(), vocabulary_inputs(spec)
    )
    cached = feature_cache.load(key, required=("drivers", "vocabulary", "notices", "builders"))
    if cached is None:
        frame, meta = _build_events(spec, path, cutoffs, check_split)
        feature_cache.store(key, frame, meta)
    else:
        frame, meta = cached
    available = meta["drivers"]
    chosen = select_features(spec, available)
    frame = apply_population(spec, frame)
    fitted_before = meta["vocabulary"].get("fitted_before")
    dropped = degenerate_columns(frame, chosen, fitted_before)
    notices = list(meta["notices"])
    if dropped:
        notices.append(
            f"{len(dropped)} feature column(s) dropped, constant or missing in more than "
            f"{MAX_MISSING:.0%} of the training rows (cutoffs before {str(fitted_before)[:10]}): "
            + ", ".join(f"{c} ({why})" for c, why in dropped.items())
        )
        log.warning(notices[-1])
        chosen = [c for c in chosen if c not in dropped]
        if not chosen:
            raise SpecError("features: every selected feature is constant on the training rows")
    refs = [
        BuilderRef(name, dict(params))
        for name, params, outputs in meta["builders"]
        if any(f in chosen for f in outputs)
    ]
    truth = path / "truth.parquet"
    return TrainingData(
        frame=frame[OBSERVATION_COLUMNS + chosen],
        features=chosen,
        kind="events",
        source=str(path),
        data_digest=digest,
        feature_spec=FeatureSpec(
            kind="events",
            features=tuple(chosen),
            builders=tuple(refs),
            cutoffs=tuple(spec.cutoffs) if isinstance(spec.cutoffs, list) else spec.cutoffs,
            horizon_days=h,
            lead_days=lead,
            engine=spec.data.engine,
            vocabulary=Vocabulary.from_dict(meta["vocabulary"]),
            population=spec.population,
        ),
        observed_until=pd.Timestamp(meta["observed_until"]),
        truth_path=truth if truth.exists() else None,
        descriptions={n: meta["descriptions"][n] for n in chosen},
        drivers={n: available[n] for n in chosen},
        reasons=_templates(chosen, Vocabulary.from_dict(meta["vocabulary"]), frame),
        notices=notices,
        dropped=dropped,
    )


def with_treatment(spec: ExperimentSpec, data: TrainingData) -> TrainingData:
    """The randomized observations only, with their point-in-time treatment status
    (``treated``: 1 offered, 0 held out as control) from the dataset's campaigns table
    (:func:`churnlab.features.treatment_status`): what the uplift families train and are
    evaluated on. Rows without a contact in the window before their cutoff are left out."""
    ds = _campaigns(spec, Path(data.source))
    keys = data.frame[list(KEYS)]
    status = ds.con.to_pyarrow(
        treatment_status(ds, ibis.memtable(keys), spec.uplift.contact_window_days)
    ).to_pandas()
    status["cutoff"] = pd.to_datetime(status["cutoff"]).astype(keys["cutoff"].dtype)
    frame = data.frame.merge(
        status[[*KEYS, "treated"]], on=list(KEYS), how="left", validate="one_to_one"
    )
    frame = frame[frame.treated.notna()].reset_index(drop=True)
    if frame.empty:
        raise SpecError(
            f"{data.source}: no observation had a campaign contact in the "
            f"{spec.uplift.contact_window_days} days before its cutoff: nothing randomized to "
            "train an uplift model on (check cutoffs and uplift.contact_window_days)"
        )
    frame["treated"] = frame.treated.astype("int8")
    log.info("uplift: %d randomized observations of %d", len(frame), len(data.frame))
    return replace(data, frame=frame)


def _campaigns(spec: ExperimentSpec, path: Path) -> Dataset:
    """The dataset at ``path``, which must have a campaigns table for an uplift family."""
    ds = load_dataset(path, engine="duckdb")
    if not ds.has("campaigns"):
        raise SpecError(
            f"model.family: {spec.model.family} needs a campaigns table in {path} "
            "(account_id, ts, campaign, treated): the treatment status of each observation"
        )
    return ds


def _build_events(
    spec: ExperimentSpec, path: Path, cutoffs: list[pd.Timestamp], check_split: bool = False
) -> tuple[pd.DataFrame, dict]:
    """Observations and every runnable builder's features, and what training needs of them."""
    ds = load_dataset(path, engine=spec.data.engine)
    try:
        obs = build_observations(ds, cutoffs, spec.horizon_days, spec.lead_days)
    except ValueError as exc:
        raise SpecError(f"cutoffs: {exc}") from exc
    try:
        vocab = fit_vocabulary(ds, spec.events, vocabulary_cutoff(ds, obs, spec, check_split))
    except VocabularyError as exc:
        raise SpecError(str(exc)) from None
    runnable, notices = select_builders(ds, vocabulary=vocab)
    refs = [BuilderRef(b.name, dict(b.params)) for b in runnable]
    frame, used = feature_frame(ds, obs, refs, vocab)
    meta = {
        "source": str(path),
        "observed_until": ds.observed_until.isoformat(),
        "drivers": {f.name: b.driver_of(f) for b in runnable for f in b.outputs(vocab)},
        "descriptions": {f.name: f.description for b in used for f in b.outputs(vocab)},
        "builders": [
            [b.name, dict(b.params), [f.name for f in b.outputs(vocab)]] for b in runnable
        ],
        "notices": notices + ds.notices,
        "vocabulary": vocab.to_dict(),
    }
    return frame, meta


def _templates(
    chosen: list[str], vocabulary: Vocabulary, frame: pd.DataFrame
) -> dict[str, ReasonTemplate]:
    """Each chosen feature's reason template (a feature no builder declares one for reads as
    its name and value)."""
    known = reason_templates(vocabulary)
    return {n: known.get(n) or column_template(n, is_categorical(frame[n])) for n in chosen}


def apply_population(spec: ExperimentSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The observations inside the spec's population; a SpecError when none are."""
    try:
        keep = population_mask(frame, spec.population)
    except KeyError as exc:
        raise SpecError(
            f"population: {exc.args[0]}, which the data cannot provide (the plan and tenure "
            "builders need the subscriptions and accounts tables)"
        ) from None
    if keep.all():
        return frame
    log.info(
        "population %s: %d of %d observations",
        describe_population(spec.population),
        int(keep.sum()),
        len(frame),
    )
    if not keep.any():
        raise SpecError(
            f"population: no observation is inside it ({describe_population(spec.population)})"
        )
    return frame.loc[keep].reset_index(drop=True)


MAX_MISSING = 0.99


def degenerate_columns(
    frame: pd.DataFrame, features: list[str], before: str | None
) -> dict[str, str]:
    """Features constant, or missing in more than ``MAX_MISSING`` of the training rows (rows
    with complete labels at cutoffs before ``before``, the earliest validation cutoff; all
    complete rows if None): column -> "constant" or "n% missing"."""
    rows = frame.label_complete.astype(bool)
    if before is not None:
        rows &= pd.to_datetime(frame.cutoff) < pd.Timestamp(before)
    train = frame.loc[rows, features]
    if train.empty:
        return {}
    missing = train.isna().mean()
    out = {}
    for col in features:
        if missing[col] > MAX_MISSING:
            out[col] = f"{missing[col]:.1%} missing"
        elif train[col].nunique(dropna=False) <= 1:
            out[col] = "constant"
    return out


MIN_IDENTIFIER_VALUES = 50
# the last word of a column name that says it numbers rows or customers (RowNumber, AccountNo,
# member_id, CustomerKey)
ID_WORDS = frozenset({"id", "ids", "no", "nr", "num", "number", "code", "key", "index", "idx"})


def _named_like_an_id(name: str) -> bool:
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))
    return bool(words) and words[-1].lower() in ID_WORDS


def _numbered_rows(values: pd.Series, name: str) -> str | None:
    """Why a numeric column is a row number or a numeric id, or None: whole numbers, a
    different one in every row (more than ``MIN_IDENTIFIER_VALUES``), that either run almost
    without gaps (1, 2, 3 ... in some order) or sit in a column named like an id
    (``AccountNo``). A count or an amount is rarely distinct in every row, and an epoch time
    or a large total that is neither of these is kept."""
    present = values.dropna()
    if (
        len(present) <= MIN_IDENTIFIER_VALUES
        or not pd.api.types.is_numeric_dtype(present)
        or pd.api.types.is_bool_dtype(present)
    ):
        return None
    numbers = present.astype("float64")
    if not np.isfinite(numbers).all() or (numbers != np.floor(numbers)).any():
        return None
    if numbers.nunique() < len(numbers):
        return None
    if numbers.max() - numbers.min() < 1.1 * len(numbers):
        return (
            f"whole numbers {numbers.min():.0f}..{numbers.max():.0f}, a different one in each "
            "row: a row number or a sequential id"
        )
    if _named_like_an_id(name):
        return f"a different whole number in each of {len(numbers):,} rows: a numeric id"
    return None


# a category level seen fewer than RARE_LEVEL_ROWS times is learned from hardly at all: the
# churn rate of 9 customers has a standard error of about 0.13, LightGBM shrinks a level's
# statistics by cat_smooth=10 rows, and the logistic family folds levels under 20 rows into one
RARE_LEVEL_ROWS = 10
# a column is noise when rare levels hold more than this share of its rows; a city, region or
# product column puts most rows in levels common enough to learn from
MAX_RARE_SHARE = 0.5


def _mostly_rare(present: pd.Series) -> str | None:
    """Why a text column (its non-missing values) is mostly levels too rare to learn from, or
    None: the rows whose value occurs fewer than ``RARE_LEVEL_ROWS`` times are more than
    ``MAX_RARE_SHARE`` of them. A bank export's Surname (2,932 names in 10,000 rows, a few rows
    each) is such a column although it repeats too often for the distinct-value rule; a city
    with a few hundred levels, most customers in the large ones, is not."""
    counts = present.value_counts()
    rare = present.map(counts) < RARE_LEVEL_ROWS
    if rare.mean() <= MAX_RARE_SHARE:
        return None
    shown = ", ".join(repr(v) for v in present[rare].drop_duplicates().head(3))
    return (
        f"{rare.mean():.0%} of the rows hold a value seen fewer than {RARE_LEVEL_ROWS} times "
        f"(such as {shown}): too rare to learn a churn rate from, like a name or a street"
    )


def identifier_like(frame: pd.DataFrame, features: list[str]) -> dict[str, str]:
    """Text columns with more than ``MIN_IDENTIFIER_VALUES`` values and either a distinct value
    for at least half of their rows (e-mail addresses, free-text notes, a second id) or most
    rows in rare values (:func:`_mostly_rare`: surnames, streets). As a category nearly every
    level is seen a few times at most, so nothing learned from it applies to a new customer,
    yet a model still fits its noise and names it as a reason (``Surname: Name21``). Also
    numeric row numbers and ids (:func:`_numbered_rows`): a model splits on them as if their
    order meant something. column -> why."""
    out = {}
    for col in features:
        values = frame[col]
        if not is_categorical(values) or pd.api.types.is_bool_dtype(values):
            why = _numbered_rows(values, col)
            if why:
                out[col] = why
            continue
        present = values.dropna()
        distinct = present.nunique()
        if distinct <= MIN_IDENTIFIER_VALUES:
            continue
        if distinct >= 0.5 * len(present):
            why = "an identifier or text"
        elif rare := _mostly_rare(present):
            why = rare
        else:
            continue
        comma = written_with_decimal_comma(present)
        if comma.mean() > 0.5:  # numbers the reader could not take as such
            why = (
                f"numbers written with a decimal comma, such as {present[comma].iloc[0]!r}, "
                "not read as numbers: a table separated by commas, or one value with a "
                "decimal point, makes the comma ambiguous; save the table with semicolons "
                "between fields and decimal commas throughout"
            )
        out[col] = f"{distinct:,} distinct values in {len(present):,} rows: {why}"
    return out


def left_out_notice(table: str, dropped: dict[str, str]) -> str:
    """The notice naming a customer table's columns left out of the features, and why."""
    return (
        f"{len(dropped)} column(s) of {table} left out of the features: "
        + ", ".join(f"{c!r} ({why})" for c, why in dropped.items())
        + " (train --exclude COLUMN to name others; an id column is --id)"
    )


def leak_notice(leaks: dict[str, float], rows: str) -> str:
    """The warning naming columns that alone separate churners on ``rows`` (:func:`label_leaks`)."""
    return (
        f"{len(leaks)} column(s) alone separate churners from the others on {rows} (by "
        "their values, or by being filled or empty), which in a customer table is nearly "
        "always a value recorded after the outcome (a churn date or reason): "
        + ", ".join(f"{c!r} (ROC-AUC {auc:.3f})" for c, auc in leaks.items())
        + "; if so, leave them out (train --exclude COLUMN, or features.exclude in a spec), "
        "or the model will look perfect here and fail on new customers"
    )


def table_column_notices(dataset: Any) -> list[str]:
    """What training will say about a customer table's columns, said by ``validate --table``
    before any training: the columns left out, and those that alone separate churners (on
    every row here: nothing is chosen from it)."""
    roles = dataset.roles
    df = dataset.con.to_pyarrow(dataset["customers"]).to_pandas()
    features = [c for c in df.columns if c not in (roles["id"], roles["label"], roles["duration"])]
    frame = df[features].assign(
        churned_within_h=df[roles["label"]].astype(bool), label_complete=True
    )
    dropped = degenerate_columns(frame, features, None)
    dropped.update(identifier_like(frame, [c for c in features if c not in dropped]))
    kept = [c for c in features if c not in dropped]
    every = np.ones(len(frame), dtype=bool)
    leaks = label_leaks(frame, kept, every)
    strong = strong_columns(frame, kept, every, leaks)
    return [
        *([left_out_notice(Path(dataset.source).name, dropped)] if dropped else []),
        *([leak_notice(leaks, "the table's rows")] if leaks else []),
        *([strong_notice(strong, "the table's rows")] if strong else []),
    ]


LEAK_AUC = 0.99
MISSING_LEAK_AUC = 0.9
# a column this strong alone gets a notice (not a refusal): a near-copy of the label
STRONG_AUC = 0.95


def label_leaks(
    frame: pd.DataFrame, features: list[str], rows: np.ndarray, value_auc: float = LEAK_AUC
) -> dict[str, float]:
    """Columns that alone separate churners from the others on ``rows`` (the training rows):
    feature -> the ROC-AUC of its best single-column ranking (by value, missing values first
    or last; a text column by its levels' churn rates, or by being missing), when at least
    ``value_auc`` (:data:`LEAK_AUC`; by being filled or empty alone: :data:`MISSING_LEAK_AUC`). In a customer table that is almost always a value recorded after the
    outcome (a churn date or reason, a cancellation flag): the model then looks perfect and
    fails on every new customer."""
    from scipy.stats import rankdata

    y = frame.loc[rows, "churned_within_h"].astype(bool).to_numpy()
    n1, n0 = int(y.sum()), int((~y).sum())
    if not (n1 and n0 and features):
        return {}
    owner, rankings, by_missing = [], [], []
    numeric = [c for c in features if not is_categorical(frame[c])]
    if numeric:  # as one block: by value with missing values lowest, highest, and by missing
        v = frame.loc[rows, numeric].apply(pd.to_numeric, errors="coerce")
        v = v.to_numpy("float64", na_value=np.nan)
        missing = np.isnan(v)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value at all
            low, high = np.nanmin(v, axis=0) - 1.0, np.nanmax(v, axis=0) + 1.0
        # a column with no missing value ranks the same with them lowest or highest, and
        # being missing is then constant (ROC-AUC 0.5, never flagged): ranked once, by value
        some = missing.any(axis=0)
        gappy = [c for c, s in zip(numeric, some, strict=True) if s]
        blocks = (
            missing[:, some].astype(float),
            np.where(missing, low, v),
            np.where(missing, high, v)[:, some],
        )
        for i, (block, names) in enumerate(zip(blocks, (gappy, numeric, gappy), strict=True)):
            rankings += list(np.nan_to_num(block, nan=0.0).T)
            owner += names
            by_missing += [i == 0] * len(names)
    for col in (c for c in features if is_categorical(frame[c])):
        x = frame.loc[rows, col]
        levels = x.astype("string").fillna("\0missing")
        rate = pd.Series(y, index=levels.index).groupby(levels).mean()
        absent = x.isna().to_numpy()
        if absent.any():  # else constant: ROC-AUC 0.5
            rankings.append(absent.astype(float))
            owner.append(col)
            by_missing.append(True)
        rankings.append(levels.map(rate).to_numpy(dtype=float))
        owner.append(col)
        by_missing.append(False)
    # ROC-AUC of every ranking at once, from the ranks of the churners (ties averaged)
    ranks = rankdata(np.column_stack(rankings), axis=0)
    auc = (ranks[y].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)
    auc = np.maximum(auc, 1 - auc)
    # being filled or empty is a weaker sign than a value but a surer one of a value recorded
    # because of the outcome (a cancellation reason filled for 90% of churners and 1% of
    # the others): flagged from MISSING_LEAK_AUC
    flagged = np.where(np.array(by_missing), auc >= MISSING_LEAK_AUC, auc >= value_auc)
    best = pd.Series(np.where(flagged, auc, 0.0)).groupby(np.array(owner)).max()
    return {c: float(best[c]) for c in features if best[c] > 0}


def strong_columns(
    frame: pd.DataFrame, features: list[str], rows: np.ndarray, leaks: dict[str, float]
) -> dict[str, float]:
    """Columns other than ``leaks`` whose values alone rank churners at ROC-AUC of at least
    :data:`STRONG_AUC`: a near-copy of the label (a complaint flag that agrees with it on 97% of
    rows) stays under :data:`LEAK_AUC`, yet a column that strong alone is rare in data
    recorded before the outcome. A notice asks the user to check it; nothing is refused."""
    found = label_leaks(frame, [c for c in features if c not in leaks], rows, STRONG_AUC)
    return {c: auc for c, auc in found.items() if auc < LEAK_AUC}


def strong_notice(strong: dict[str, float], rows: str) -> str:
    """The notice naming columns that alone rank churners almost perfectly (:func:`strong_columns`)."""
    return (
        f"{len(strong)} column(s) alone rank churners on {rows} almost perfectly: "
        + ", ".join(f"{c!r} (ROC-AUC {auc:.3f})" for c, auc in strong.items())
        + "; check each is known before the outcome (not a complaint, status or flag written "
        "when the customer left), else leave it out (train --exclude COLUMN); promote will "
        "not make a model trained on them champion without --force"
    )


# a column whose ranks follow the duration's this closely (|Spearman|) is the duration again
DURATION_TWIN_RHO = 0.95
MIN_TWIN_ROWS = 30  # fewer rows than this (all, or still active) are not judged


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def duration_twins(
    frame: pd.DataFrame, features: list[str], rows: np.ndarray
) -> dict[str, tuple[float, str]]:
    """Number and date columns (dates are days since 1970-01-01) that nearly determine the
    duration on ``rows`` (the training rows): column -> (|Spearman| with ``duration_days``,
    the rows it was measured on), when at least :data:`DURATION_TWIN_RHO` on all the rows with
    both values or on those still active (censored, ``event`` 0). A CRM export's signup date is
    the export date minus the tenure for every active customer (and the churn date minus the
    tenure for a churner): on the active rows it ranks exactly against the duration, whatever
    the churners do. So are the tenure in another unit and a contract's end date. A survival
    family fitted on such a column learns its target back and its C-index says nothing; an age,
    a price or a count of recent logins relates to the duration far more loosely (below 0.9)."""
    duration = frame.loc[rows, "duration_days"].to_numpy(dtype="float64", na_value=np.nan)
    censored = frame.loc[rows, "event"].to_numpy() == 0
    out = {}
    for col in features:
        values = frame.loc[rows, col]
        if is_categorical(values) or pd.api.types.is_bool_dtype(values):
            continue
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        both = np.isfinite(x) & np.isfinite(duration)
        best = (0.0, "")
        for subset, where in (
            (both, "the training rows"),
            (both & censored, "the training rows still active (censored)"),
        ):
            if subset.sum() < MIN_TWIN_ROWS:
                continue
            rho = abs(_spearman(x[subset], duration[subset]))
            if rho == rho and rho > best[0]:
                best = (rho, where)
        if best[0] >= DURATION_TWIN_RHO:
            out[col] = best
    return out


def duration_twin_notice(twins: dict[str, tuple[float, str]], duration: str | None) -> str:
    """The notice naming the columns :func:`duration_twins` leaves out of a survival family."""
    said = f"the duration {duration!r}" if duration else "the duration"
    return (
        f"{len(twins)} column(s) left out of the survival model's features, for their values "
        f"nearly determine {said}, its target (a signup date is the export date minus the "
        "tenure): "
        + ", ".join(f"{c!r} (|Spearman| {rho:.3f} on {where})" for c, (rho, where) in twins.items())
        + f"; a column is left out from |Spearman| {DURATION_TWIN_RHO:g}. Classifiers keep them"
    )


def leave_out(data: TrainingData, gone: dict[str, str]) -> None:
    """In place: the columns ``gone`` (column -> why) out of ``data``'s features, frame and
    feature spec, and into its ``dropped`` (logged with the run)."""
    data.features = [c for c in data.features if c not in gone]
    if not data.features:
        raise SpecError(f"data.table: no column of {data.source} is usable as a feature")
    data.dropped.update(gone)
    data.frame = data.frame.drop(columns=[c for c in gone if c in data.frame])
    fs = data.feature_spec
    data.feature_spec = replace(
        fs,
        features=tuple(data.features),
        dates=tuple(c for c in fs.dates if c not in gone),
        date_orders=tuple((c, o) for c, o in fs.date_orders if c not in gone),
    )
    for held in (data.descriptions, data.drivers, data.reasons):
        for c in gone:
            held.pop(c, None)


def vocabulary_inputs(spec: ExperimentSpec) -> dict:
    """What the fitted vocabulary depends on besides the data: part of the feature cache key."""
    return {
        "events": None if spec.events is None else spec.events.model_dump(mode="json"),
        "backtest_folds": spec.split.backtest_folds,
        "purge": spec.split.purge,
    }


def vocabulary_cutoff(
    ds: Dataset, observations, spec: ExperimentSpec, check_split: bool = False
) -> pd.Timestamp:
    """The vocabulary is fitted on events dated before the earliest validation cutoff of the
    spec's out-of-time folds: no validation or test row's window contributes to which event
    types become features. (Training rows' labels already read up to that date.) Without an
    out-of-time split, or cutoffs that cannot be split, the earliest cutoff.

    With ``check_split``, cutoffs that cannot be split out of time raise :class:`SplitError`
    here, before any feature is built: the split of the training rows (a subset of these
    observations, by the population) would fail the same way after the build."""
    per_cutoff = ds.con.to_pyarrow(
        observations.group_by("cutoff").agg(label_complete=observations.label_complete.any())
    ).to_pandas()
    if spec.split.kind != "out_of_time":
        return pd.Timestamp(per_cutoff.cutoff.min())
    try:
        splits = out_of_time_splits(
            per_cutoff,
            spec.horizon_days,
            spec.lead_days,
            folds=spec.split.backtest_folds,
            purge=spec.split.purge,
        )
    except SplitError:
        if check_split:
            raise
        return pd.Timestamp(per_cutoff.cutoff.min())
    return min(pd.Timestamp(s.cutoffs["validation"][0]) for s in splits)


def _customers(spec: ExperimentSpec, ds: Dataset) -> TrainingData:
    """The single table's frame. Its duration column, converted to days (``duration_unit``),
    is the survival families' target and so not their feature; for a classifier it stays a
    feature (tenure usually predicts churn) unless ``features.exclude`` names it."""
    d, path = spec.data, Path(ds.source)
    # in id order: the engine may return a table's rows in any order (DuckDB scans in
    # parallel), and the seeded split picks rows by position; by id, the same customers give
    # the same split however the file orders them
    df = ds.con.to_pyarrow(ds["customers"].order_by(d.id)).to_pandas()
    dates = set(ds.manifest.get("date_columns", ()))
    orders = ds.manifest.get("date_orders", {})
    if d.mrr and d.mrr not in df.columns:
        raise SpecError(f"data.mrr: column {d.mrr!r} not in {path}")
    targets = {d.id, d.label}
    if spec.model.family in SURVIVAL_FAMILIES or d.duration in OBSERVATION_COLUMNS:
        targets.add(d.duration)
    available = {c: "account" for c in df.columns if c not in targets and c != "mrr"}
    chosen = select_features(spec, available)
    notices = list(ds.notices)  # e.g. durations that look like another unit
    for notice in notices:
        log.warning(notice)
    duration_days = float("nan")
    if d.duration:
        duration_days = df[d.duration] * DAYS_PER_DURATION_UNIT[d.duration_unit]
    frame = pd.DataFrame(
        {
            "account_id": df[d.id],
            "cutoff": pd.NaT,
            "churned_within_h": df[d.label].astype(bool),
            "duration_days": duration_days,
            "event": df[d.label].astype("int8"),
            "label_complete": True,
            "mrr": df[d.mrr].astype("float64") if d.mrr else float("nan"),
        }
    )
    frame = pd.concat([frame, df[chosen]], axis=1)
    frame = apply_population(spec, frame)
    # from the columns' values only (no label): the same on every split of the rows
    dropped = degenerate_columns(frame, chosen, None)
    dropped.update(identifier_like(frame, [c for c in chosen if c not in dropped]))
    if dropped:
        notices.append(left_out_notice(path.name, dropped))
        log.warning(notices[-1])
        chosen = [c for c in chosen if c not in dropped]
        if not chosen:
            raise SpecError(f"data.table: no column of {path} is usable as a feature")
        frame = frame.drop(columns=list(dropped))
    return TrainingData(
        frame=frame,
        features=chosen,
        dropped=dropped,
        kind="customers",
        source=str(path),
        data_digest=file_digest(path),
        feature_spec=FeatureSpec(
            kind="customers",
            features=tuple(chosen),
            roles={"id": d.id, "label": d.label, "duration": d.duration, "mrr": d.mrr},
            population=spec.population,
            dates=tuple(c for c in chosen if c in dates),
            date_orders=tuple((c, o) for c, o in orders.items() if c in chosen),
            encoding=d.encoding,
            na_values=tuple(d.na_values),
        ),
        descriptions={c: f"{c} (customer table column)" for c in chosen},
        drivers=dict.fromkeys(chosen, "account"),
        # the table's duration (tenure) and MRR describe the customer: context, not reasons
        reasons={
            c: column_template(
                c, is_categorical(frame[c]), context=c in (d.duration, d.mrr), date=c in dates
            )
            for c in chosen
        },
        notices=notices,
    )
