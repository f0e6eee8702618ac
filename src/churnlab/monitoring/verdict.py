"""Verdicts: ``ok``, ``warn`` or ``retrain`` for a batch, each with its reasons in words, from
the thresholds of the spec's ``monitoring:`` section (:class:`churnlab.config.MonitoringSpec`)."""

from __future__ import annotations

from typing import Any

from churnlab.config import MonitoringSpec

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


def _drift_reason(drift: dict[str, Any], s: MonitoringSpec) -> tuple[str, str] | None:
    k, n = drift["drifted"], drift["features"]
    if not n or k < s.warn_drifted_features:
        return None
    level = "retrain" if drift["drifted_share"] >= s.retrain_drifted_share else "warn"
    mostly = [f"{d['driver']} ({d['drifted']})" for d in drift["drivers"] if d["drifted"]][:3]
    return level, (
        f"{k} of {n} features drifted (PSI >= {s.feature_psi:g}), mostly {', '.join(mostly)}"
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
    before = reference.get("metrics", {}).get(s.metric)
    if realized is None or not before:
        return None
    now, se = realized[s.metric], realized.get(f"{s.metric}_se", 0.0)
    drop = before - now
    if se == se and drop <= 2 * se:  # within the batch's own sampling noise
        return None
    level = _level(drop / before, s.warn_drop, s.retrain_drop)
    if level == "ok":
        return None
    return level, (
        f"realized {METRIC_NAMES[s.metric]} {now:.2f} against {before:.2f} at validation "
        f"({-drop / before:+.0%}; noise +/-{se:.2f})"
    )


def batch_verdict(
    checks: dict[str, Any], reference: dict[str, Any], settings: MonitoringSpec
) -> tuple[str, list[str]]:
    """The batch's verdict and the reasons behind it (the worst reason decides)."""
    found = [
        _drift_reason(checks["drift"], settings),
        _prediction_reason(checks["prediction"], settings),
        _estimated_reason(checks["estimated"], reference, settings),
        _realized_reason(checks["realized"], reference, settings),
    ]
    found = [r for r in found if r is not None]
    return worst([level for level, _ in found]), [text for _, text in found]
