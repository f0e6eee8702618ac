"""Verdicts: ``ok``, ``warn`` or ``retrain`` for a batch, each with its reasons in words, from
the thresholds of the spec's ``monitoring:`` section (:class:`churnlab.config.MonitoringSpec`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from churnlab.config import MonitoringSpec

if TYPE_CHECKING:
    import pandas as pd

    from churnlab.tracking.monitoring import LoggedBatch

VERDICTS = ("ok", "warn", "retrain")
METRIC_NAMES = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC"}


def worst(levels: list[str]) -> str:
    return max(levels, key=VERDICTS.index, default="ok")


def _level(value: float, warn: float, retrain: float) -> str:
    if value >= retrain:
        return "retrain"
    if value >= warn:
        return "warn"
    return "ok"


def _mostly(summary: dict[str, Any]) -> str:
    return ", ".join(
        [f"{d['driver']} ({d['drifted']})" for d in summary["drivers"] if d["drifted"]][:3]
    )


DRIVER_MIN_FEATURES = 5  # a driver with fewer is judged with the others only


def _drift_reason(drift: dict[str, Any], s: MonitoringSpec) -> tuple[str, str] | None:
    k, n = drift["drifted"], drift["features"]
    level = _level(drift["drifted_share"], s.warn_drifted_share, s.retrain_drifted_share)
    if not n:
        return None
    if level == "ok":  # one driver's features moved together: a shift in that part of the business
        whole = [
            d
            for d in drift["drivers"]
            if d["features"] >= DRIVER_MIN_FEATURES
            and d["drifted"] >= s.warn_driver_share * d["features"]
        ]
        if not whole:
            return None
        said = ", ".join(f"{d['drifted']} of {d['features']} {d['driver']}" for d in whole)
        return "warn", (
            f"{said} features drifted from the reference (PSI >= {s.feature_psi:g}; "
            f"{k} of {n} in all)"
        )
    return level, (
        f"{k} of {n} features drifted from the reference (PSI >= {s.feature_psi:g}), mostly "
        f"{_mostly(drift)}"
    )


def _shift_reason(shifted: dict[str, Any] | None, s: MonitoringSpec) -> tuple[str, str] | None:
    if shifted is None or shifted["drifted"] < s.warn_drifted_features:
        return None
    return "warn", (
        f"{shifted['drifted']} of {shifted['features']} features changed since the previous "
        f"batch (PSI >= {s.feature_psi:g}), mostly {_mostly(shifted)}"
    )


def _prediction_reason(pred: dict[str, Any], s: MonitoringSpec) -> tuple[str, str] | None:
    level = _level(pred["prediction_psi"], s.prediction_psi_warn, s.prediction_psi_retrain)
    if level == "ok":
        return None
    return level, (
        f"the score distribution shifted (PSI {pred['prediction_psi']:.2f}): mean p "
        f"{pred['reference_mean_p']:.3f} at validation, {pred['mean_p']:.3f} now"
    )


def _estimated_reason(
    estimated: dict[str, Any], reference: dict[str, Any], s: MonitoringSpec
) -> tuple[str, str] | None:
    before = reference.get("expected", {}).get(s.metric)
    now = estimated[s.metric]
    if not before:
        return None
    level = _level((before - now) / before, s.warn_drop, s.retrain_drop)
    if level == "ok":
        return None
    return level, f"estimated {METRIC_NAMES[s.metric]} fell from {before:.2f} to {now:.2f}"


def _realized_reason(
    realized: dict[str, Any] | None, reference: dict[str, Any], s: MonitoringSpec
) -> tuple[str, str] | None:
    # against the out-of-time test metric (validation for models logged without it)
    before = reference.get("test_metrics", reference.get("metrics", {})).get(s.metric)
    if realized is None or not before:
        return None
    now = realized[s.metric]
    # the standard error of the difference: the batch's and the test rows' own noise
    se = float(
        np.hypot(
            realized.get(f"{s.metric}_se", 0.0),
            reference.get("test_metrics_se", {}).get(s.metric, 0.0),
        )
    )
    drop = before - now
    if se == se and drop <= 2 * se:  # within sampling noise
        return None
    level = _level(drop / before, s.warn_drop, s.retrain_drop)
    if level == "ok":
        return None
    return level, (
        f"realized {METRIC_NAMES[s.metric]} {now:.2f} against {before:.2f} on the test cutoff "
        f"({-drop / before:+.0%}; noise +/-{se:.2f})"
    )


SHARE_SUFFIX = "_share_30d"  # each event type the model reads has one: its column stem
EVENT_TYPES_SHOWN = 3


def event_type_reason(
    table: pd.DataFrame, reference: dict[str, Any], feature_psi: float
) -> str | None:
    """One reason naming the event types whose own features drifted most (at least two, and
    at least half of them, at or above ``feature_psi``), or ``None``. Each event type the
    model reads has a family of columns named by its stem (``n_<stem>_7d``, ``<stem>_share_30d``,
    ...); where a family moves together the log's vocabulary changed (a renamed or retired
    event reads 0 for everyone), not the customers, and a retrain cannot learn a new name
    until its labels mature: the fix is a mapping at scoring."""
    stems = sorted(
        (
            f[: -len(SHARE_SUFFIX)]
            for f in reference.get("features", {})
            if f.endswith(SHARE_SUFFIX)
        ),
        key=len,
        reverse=True,
    )
    if not stems or table.empty:
        return None
    per: dict[str, list[float]] = {}
    for f, value in zip(table.feature, table.psi.to_numpy(dtype=float), strict=True):
        stem = next((s for s in stems if _of_stem(str(f), s)), None)
        if stem is not None:
            per.setdefault(stem, []).append(value)
    moved = []
    for stem, values in per.items():
        psi = np.asarray(values, float)
        drifted = int((psi >= feature_psi).sum())
        if drifted >= 2 and drifted >= 0.5 * len(psi):
            moved.append((drifted, float(np.nanmax(psi)), stem, len(psi)))
    if not moved:
        return None
    moved.sort(reverse=True)
    said = ", ".join(
        f"{stem!r} ({k} of its {n} features, PSI up to {top:.2g})"
        for k, top, stem, n in moved[:EVENT_TYPES_SHOWN]
    )
    return (
        f"event type(s) whose own features drifted together: {said}: the log's event "
        "vocabulary likely changed (a renamed or retired event reads 0 for every account), not "
        "the customers, and a retrain cannot learn a new name until its labels mature; the "
        "batch's scoring notices (score --json) name the old and new names: map the new name "
        "onto the model's in the batch's dataset.json events.group and score again"
    )


def _of_stem(feature: str, stem: str) -> bool:
    """Whether ``feature`` is one of the columns of the event type with column stem ``stem``."""
    return (
        feature.startswith(f"{stem}_")
        or feature.startswith(f"n_{stem}_")
        or f"_{stem}_" in feature
        or feature.endswith(f"_{stem}")
    )


def batch_verdict(
    checks: dict[str, Any], reference: dict[str, Any], settings: MonitoringSpec
) -> tuple[str, list[str]]:
    """The batch's verdict and the reasons behind it (the worst reason decides)."""
    found = [
        _shift_reason(checks["shift"], settings),
        _drift_reason(checks["drift"], settings),
        _prediction_reason(checks["prediction"], settings),
        _estimated_reason(checks["estimated"], reference, settings),
        _realized_reason(checks["realized"], reference, settings),
    ]
    found = [r for r in found if r is not None]
    return worst([level for level, _ in found]), [text for _, text in found]


def repeat_reasons(batches: list[LoggedBatch]) -> dict[int, list[str]]:
    """Batch index -> warnings about how it was logged (each batch is the newest run of its
    date): the most recently logged run is dated no later than the run logged before it (a
    stale export, a job run twice, or a back-fill), or a date was logged again from identical
    data (the same data digest)."""
    runs = sorted(
        (r for b in batches for r in (b.run, *b.earlier) if r.logged_at is not None),
        key=lambda r: r.logged_at,
    )
    newest, before = (runs[-1], runs[-2]) if len(runs) > 1 else (None, None)
    out: dict[int, list[str]] = {}
    for i, batch in enumerate(batches):
        same = [
            r for r in batch.earlier if batch.data_digest and r.data_digest == batch.data_digest
        ]
        data = f" from the same data (digest {batch.data_digest})" if same else ""
        if (
            newest is not None
            and newest.run_id == batch.run_id
            and newest.batch_date <= before.batch_date
        ):
            if before.batch_date == batch.batch_date:
                text = (
                    f"logged again by {newest.describe()}{data}: {before.describe()} had "
                    "logged the same date, so the data end has not advanced since (a stale "
                    "export, or the job ran twice?); check the upstream export"
                )
            else:
                text = (
                    f"the newest batch, logged by {newest.describe()}, is not newer than "
                    f"{before.batch_date.date()}, logged before it by {before.describe()}: a "
                    "back-fill is fine; from a scheduled job it means the data did not advance"
                )
            out[i] = [text]
        elif same:
            out[i] = [
                f"logged {len(same) + 1} times{data} (the earlier: "
                + ", ".join(r.describe() for r in same)
                + "); the newest run is read"
            ]
    return out
