"""Training orchestration: data -> split -> fit -> calibrate -> evaluate -> explain.

Returns results as data (``TrainResult``); ``churnlab.tracking`` logs them to MLflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnlab.config import EventData, ExperimentSpec
from churnlab.evaluation import classification_metrics, oracle_risk
from churnlab.evaluation.survival import survival_metrics
from churnlab.explain import Explanation, explain
from churnlab.modeling import UpliftEstimator, check_model_params, estimator_for
from churnlab.training.calibration import CalibratedChurnModel
from churnlab.training.data import (
    TrainingData,
    duration_twin_notice,
    duration_twins,
    label_leaks,
    leak_notice,
    leave_out,
    load_training_data,
    strong_columns,
    strong_notice,
)
from churnlab.training.split import (
    Split,
    check_classes,
    few_churners,
    out_of_time_splits,
    random_split,
    survival_targets,
)
from churnlab.training.uplift import check_arms, fit_uplift_fold
from churnlab.vocab import SURVIVAL_FAMILIES, TIER_SHARES, UPLIFT_FAMILIES

log = logging.getLogger(__name__)
TIERS = TIER_SHARES  # top 10% of validation risk, then the next 20%
EXPLAIN_ROWS = 20_000


@dataclass
class FoldResult:
    split: Split
    metrics: dict[str, dict[str, float]]
    best_iteration: int | None = None


@dataclass
class TrainResult:
    spec: ExperimentSpec
    data: TrainingData
    # the fitted estimator, calibrated on validation (an uplift family's is not calibrated)
    estimator: CalibratedChurnModel | UpliftEstimator
    folds: list[FoldResult]
    # part -> keys, y, p, mrr (and oracle on test); uplift families: y, treated, uplift
    predictions: dict[str, pd.DataFrame]
    explanation: Explanation | None  # None for uplift families
    tier_thresholds: dict[str, float]  # on the raw score (log-odds): high, medium
    seconds: dict[str, float] = field(default_factory=dict)
    # "expected_loss" when the validation rows carry MRR: tiers by p x MRR (loss_thresholds)
    tier_basis: str = "risk"
    loss_thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def uplift(self) -> bool:
        return self.spec.model.family in UPLIFT_FAMILIES

    @property
    def split(self) -> Split:
        return self.folds[0].split

    @property
    def metrics(self) -> dict[str, float]:
        """Flat metrics: ``validation_*``, ``test_*`` of the final model, and with backtests
        ``backtest_mean_*`` and ``fold<k>_test_*``."""
        out = {}
        for part, values in self.folds[0].metrics.items():
            out.update({f"{part}_{k}": v for k, v in values.items()})
        if len(self.folds) > 1:
            keys = self.folds[0].metrics["test"].keys()
            for k in keys:
                vals = [f.metrics["test"].get(k, np.nan) for f in self.folds]
                out[f"backtest_mean_test_{k}"] = float(np.nanmean(vals))
                out[f"backtest_std_test_{k}"] = float(np.nanstd(vals))
            for f in self.folds:
                out.update(
                    {f"fold{f.split.fold}_test_{k}": v for k, v in f.metrics["test"].items()}
                )
        return out


def fold_targets(
    frame: pd.DataFrame, split: Split, survival: bool
) -> dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """Per part: (row mask, duration, event). Classifiers use the split's masks and no
    durations; survival families train on every cutoff before the validation cutoff with
    follow-up censored at each next part's cutoff (:func:`survival_targets`)."""
    if survival:
        return survival_targets(frame, split)
    return {part: (mask, None, None) for part, mask in split.masks.items()}


def _fit_fold(
    spec: ExperimentSpec, data: TrainingData, split: Split
) -> tuple[
    CalibratedChurnModel | UpliftEstimator, dict[str, pd.DataFrame], dict[str, dict[str, float]]
]:
    """Fit the spec's family on one split and calibrate it on the validation rows; validation
    and test predictions and metrics (the survival metrics added to the test part's for
    survival families). Uplift families: :func:`fit_uplift_fold`."""
    if spec.model.family in UPLIFT_FAMILIES:
        return fit_uplift_fold(spec, data, split)
    frame, X = data.frame, data.frame[data.features]
    survival = spec.model.family in SURVIVAL_FAMILIES
    if survival and frame.duration_days.isna().all():
        raise ValueError(
            f"{spec.model.family} needs a duration per customer: give the single table's "
            "duration column (data.duration in the spec, --duration on the command line)"
        )
    # labels are null where churn fell in the lead gap; such rows are in no part
    y = frame.churned_within_h.fillna(False).astype(int)
    targets = fold_targets(frame, split, survival)
    model = _fit_calibrated(spec, X, y, targets, survival, calibration_rows(spec, frame, split))
    # validation rows are scored by the model fitted without them; test rows by the refit
    scored_by = {"validation": model}
    if spec.split.refit and not split.cutoffs:
        model = _refit(spec, model, X, y, targets, survival) or model
    scored_by["test"] = model
    preds, metrics = {}, {}
    for part in ("validation", "test"):
        m, d, e = targets[part]
        p = scored_by[part].predict_risk(X[m])
        pred = frame.loc[m, ["account_id", "cutoff", "mrr"]].assign(y=y[m].to_numpy(), p=p)
        if survival:
            pred = pred.assign(duration_days=d, event=e)
        preds[part] = pred
        mrr = pred.mrr.to_numpy() if data.kind == "events" or pred.mrr.notna().all() else None
        metrics[part] = classification_metrics(pred.y.to_numpy(), p, mrr)
        if data.truth_path is not None:
            metrics[part].update(_oracle(spec, data, pred, metrics[part]["roc_auc"]))
    if survival:
        _, d_tr, e_tr = targets["train"]
        te, d_te, e_te = targets["test"]
        X_test = X[te]
        metrics["test"].update(
            survival_metrics(
                d_tr,
                e_tr,
                d_te,
                e_te,
                lambda t: model.predict_survival(X_test, t),
                spec.model_horizon_days,
                spec.duration_unit,
            )
        )
    return model, preds, metrics


def calibration_rows(
    spec: ExperimentSpec, frame: pd.DataFrame, split: Split
) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows the calibration is fitted on and their weights: the validation rows, or the
    split's pooled calibration cutoffs (``split.pool_calibration``), weighted by recency when
    ``split.calibration_half_life_days`` is set (None: equal weights)."""
    if split.calibration is None:
        return split.masks["validation"], None
    half_life = spec.split.calibration_half_life_days
    if not half_life:
        return split.calibration, None
    newest = pd.Timestamp(split.cutoffs["validation"][0])
    age = (newest - pd.to_datetime(frame.cutoff[split.calibration])).dt.days.to_numpy()
    return split.calibration, 0.5 ** (age / half_life)


def _fit_calibrated(
    spec: ExperimentSpec,
    X: pd.DataFrame,
    y: pd.Series,
    targets: dict,
    survival: bool,
    calibration: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> CalibratedChurnModel:
    """The spec's estimator fitted on the training rows (early stopping on the validation
    rows) and calibrated on the validation rows (or ``calibration``: rows and weights)."""
    tr, d_tr, e_tr = targets["train"]
    va, d_va, e_va = targets["validation"]
    est = estimator_for(spec)
    if survival:
        log.info(
            "%s: %d training rows (%d events after censoring at the validation cutoff)",
            spec.model.family,
            int(tr.sum()),
            int(e_tr.sum()),
        )
        est.fit(X[tr], duration=d_tr, event=e_tr, eval_set=(X[va], y[va], d_va, e_va))
    else:
        est.fit(X[tr], y[tr], eval_set=(X[va], y[va]))
    rows, weights = calibration if calibration is not None else (va, None)
    return CalibratedChurnModel(est, spec.model.calibration).fit(X[rows], y[rows], weights)


def _refit(
    spec: ExperimentSpec,
    model: CalibratedChurnModel,
    X: pd.DataFrame,
    y: pd.Series,
    targets: dict,
    survival: bool,
) -> CalibratedChurnModel | None:
    """Single tables: the model refitted on the training and validation rows together, with
    what the validation rows chose fixed (preprocessing, boosting rounds scaled by the row
    ratio), carrying the calibration fitted on the validation rows; None for families that
    cannot be refitted so. A 20% hold-out costs a small table more than it gains it."""
    params = model.estimator.refit_params()
    if params is None:
        return None
    tr, d_tr, e_tr = targets["train"]
    va, d_va, e_va = targets["validation"]
    both = tr | va
    if "n_estimators" in params:
        ratio = both.sum() / tr.sum()
        params["n_estimators"] = max(1, round(params["n_estimators"] * ratio))
    est = estimator_for(spec, {**spec.model.params, **params})
    if survival:
        # the parts' rows, in frame order (the masks' order), with their own follow-up
        d = pd.Series(np.nan, index=X.index)
        e = pd.Series(0, index=X.index)
        d[tr], d[va], e[tr], e[va] = d_tr, d_va, e_tr, e_va
        est.fit(
            X[both], duration=d[both].to_numpy(), event=e[both].to_numpy(),
            eval_set=(X[va], y[va], d_va, e_va),
        )  # fmt: skip
    else:
        est.fit(X[both], y[both], eval_set=(X[va], y[va]))
    # the calibration was fitted on the first fit's raw score: the refit's score is put on
    # that scale first (a least-squares line from the refit's score to the first fit's over
    # the same rows, no label used), or a shifted intercept moves every probability (2
    # churners then 3 in a 300-row table: validation mean p 0.03, test 0.998)
    first, again = model.predict_raw(X[both]), est.predict_raw(X[both])
    if np.ptp(again) == 0:
        return None
    slope, intercept = np.polyfit(again, first, 1)
    if not (np.isfinite(slope) and np.isfinite(intercept) and slope > 0):
        return None
    refit = CalibratedChurnModel(est, model.method)
    refit.calibration_map_ = model.calibration_map_
    refit.alignment_ = (float(slope), float(intercept))
    refit.refit_ = {
        "rows": int(both.sum()),
        "fixed": params,
        "chosen_on_validation": model.estimator.fit_choices(),
        "score_alignment": {"slope": float(slope), "intercept": float(intercept)},
    }
    return refit


def _oracle(
    spec: ExperimentSpec, data: TrainingData, pred: pd.DataFrame, roc_auc: float
) -> dict[str, float]:
    """The simulator's oracle on the same rows (in place: ``pred['oracle']``) and the gap."""
    oracle = oracle_risk(data.truth_path, pred, spec.horizon_days, spec.lead_days)
    pred["oracle"] = oracle
    ok = np.isfinite(oracle)
    if not ok.any() or not 0 < pred.y[ok].mean() < 1:
        return {}
    o = classification_metrics(pred.y[ok].to_numpy(), oracle[ok])
    return {
        "oracle_roc_auc": o["roc_auc"],
        "oracle_pr_auc": o["pr_auc"],
        "oracle_gap_roc_auc": o["roc_auc"] - roc_auc,
    }


def make_splits(spec: ExperimentSpec, data: TrainingData) -> list[Split]:
    """The spec's splits, checked for churners and non-churners in every part."""
    y = data.frame.churned_within_h
    if isinstance(spec.data, EventData) and spec.split.kind == "out_of_time":
        splits = out_of_time_splits(
            data.frame,
            spec.horizon_days,
            spec.lead_days,
            folds=spec.split.backtest_folds,
            purge=spec.split.purge,
            pool_calibration=spec.split.pool_calibration,
        )
    else:
        complete = data.frame.label_complete.astype(bool).to_numpy()
        sub = random_split(
            y[complete].astype(int).reset_index(drop=True),
            spec.split.validation_size,
            spec.split.test_size,
            spec.seed,
        )
        masks = {}
        for part, m in sub.masks.items():
            full = np.zeros(len(y), dtype=bool)
            full[np.flatnonzero(complete)[m]] = True
            masks[part] = full
        splits = [Split(masks=masks)]
    for s in splits:
        check_classes(s, y)
        if spec.model.family in UPLIFT_FAMILIES:
            check_arms(s, data.frame.treated)
    return splits


def train(
    spec: ExperimentSpec,
    data: TrainingData | None = None,
    root: Path | None = None,
    progress: Callable[[str], Any] | None = None,
    splits: list[Split] | None = None,
) -> TrainResult:
    """Train the spec's model; raise before fitting anything if data, split or spec are bad."""
    say = progress or (lambda msg: log.info(msg))
    check_model_params(spec)
    seconds = {}
    t0 = time.perf_counter()
    if data is None:
        say("building observations and features")
        data = load_training_data(spec, root, check_split=True)
    seconds["data"] = time.perf_counter() - t0
    splits = splits if splits is not None else make_splits(spec, data)

    folds, final = [], None
    t1 = time.perf_counter()
    for s in splits:
        say(f"fitting {spec.model.family} (fold {s.fold + 1}/{len(splits)})")
        model, preds, metrics = _fit_fold(spec, data, s)
        folds.append(
            FoldResult(
                s, metrics, getattr(getattr(model, "estimator", None), "best_iteration_", None)
            )
        )
        if final is None:
            final = (model, preds)
    model, preds = final
    seconds["fit"] = time.perf_counter() - t1
    if isinstance(model, UpliftEstimator):  # no attributions or risk tiers
        seconds["total"] = time.perf_counter() - t0
        return TrainResult(spec, data, model, folds, preds, None, {}, seconds)

    say("explaining (SHAP)")
    t2 = time.perf_counter()
    X_test = data.frame.loc[folds[0].split.masks["test"], data.features]
    if len(X_test) > EXPLAIN_ROWS:
        X_test = X_test.sample(EXPLAIN_ROWS, random_state=spec.seed).sort_index()
    explanation = explain(model, X_test)
    seconds["explain"] = time.perf_counter() - t2

    # on the uncalibrated score: isotonic calibration ties many rows, the raw score does not
    val_raw = model.predict_raw(data.frame.loc[folds[0].split.masks["validation"], data.features])
    thresholds = _tier_thresholds(val_raw)
    basis, loss_thresholds = loss_tiers(preds["validation"])
    seconds["total"] = time.perf_counter() - t0
    return TrainResult(
        spec=spec,
        data=data,
        estimator=model,
        folds=folds,
        predictions=preds,
        explanation=explanation,
        tier_thresholds=thresholds,
        seconds=seconds,
        tier_basis=basis,
        loss_thresholds=loss_thresholds,
    )


def _tier_thresholds(values: np.ndarray) -> dict[str, float]:
    return {
        "high": float(np.quantile(values, 1 - TIERS["high"])),
        "medium": float(np.quantile(values, 1 - TIERS["high"] - TIERS["medium"])),
    }


def loss_tiers(validation: pd.DataFrame) -> tuple[str, dict[str, float]]:
    """Tiers by expected loss (p x MRR) where MRR exists: every validation row carries MRR
    and some pay; otherwise (a trial population, a table without MRR) by risk."""
    mrr = pd.to_numeric(validation["mrr"], errors="coerce").to_numpy(dtype=float)
    if not len(mrr) or np.isnan(mrr).any() or not (mrr > 0).any():
        return "risk", {}
    return "expected_loss", _tier_thresholds(validation["p"].to_numpy(dtype=float) * mrr)


def checked_data(
    spec: ExperimentSpec, root: Path, say: Callable[[str], Any]
) -> tuple[TrainingData, list[Split], float]:
    """Observations, features and splits of ``spec``, and the seconds the data took: what can
    be checked before anything is fitted or tracked (a bad spec or split raises here)."""
    check_model_params(spec)
    say("building observations and features")
    t0 = time.perf_counter()
    data = load_training_data(spec, root, check_split=True)
    splits = make_splits(spec, data)
    few = few_churners(splits[-1], data.frame.churned_within_h)
    if few:
        data.notices.append(few)
        log.warning(few)
    if data.kind == "customers":  # event features are point in time by construction
        if spec.model.family in SURVIVAL_FAMILIES:
            _leave_out_duration_twins(data, splits[0].masks["train"])
        _warn_of_leaks(data, splits[0].masks["train"])
    elif silence := _silence_notice(data, splits[-1].masks["test"]):
        data.notices.append(silence)
        log.warning(silence)
    seconds = time.perf_counter() - t0
    return data, splits, seconds


SILENCE_AUC = 0.75  # from here the silence already seen settles much of the label


def _silence_notice(data: TrainingData, rows: np.ndarray) -> str | None:
    """Where churn is read from N days without activity, an account silent for most of them
    at the cutoff churns almost surely: the label is then largely settled by the past, and a
    high ROC-AUC says little. A notice giving the ROC-AUC of the days since the last activity
    alone on the test rows (the baseline to beat) and the share of churners already silent
    for more than half the N days, when that ROC-AUC is at least :data:`SILENCE_AUC`."""
    from sklearn.metrics import roc_auc_score

    from churnlab.data.inactivity import churn_rule
    from churnlab.data.load import read_manifest

    try:
        rule, _ = churn_rule(read_manifest(Path(data.source)))
    except Exception:  # not a folder with a manifest (a .duckdb file): no rule to read
        return None
    column = "days_since_last_activity"
    if rule is None or not rule.inactive_days or column not in data.frame:
        return None
    y = data.y[rows].astype(bool).to_numpy()
    silent = data.frame.loc[rows, column].to_numpy(dtype=float, na_value=np.nan)
    silent = np.where(np.isnan(silent), np.nanmax(silent, initial=0.0) + 1.0, silent)
    if y.all() or not y.any():
        return None
    auc = float(roc_auc_score(y, silent))
    if auc < SILENCE_AUC:
        return None
    half = rule.inactive_days / 2
    settled = float((silent[y] > half).mean())
    return (
        f"churn is read from {rule.inactive_days} days without activity: on the test rows, "
        f"the days since the last activity alone rank churners at ROC-AUC {auc:.3f}, and "
        f"{settled:.0%} of the churners had been silent for more than {half:g} days at the "
        "cutoff, so much of the label is silence that had already happened; judge the model "
        f"against that baseline, or set lead: {rule.inactive_days} to predict churn not yet "
        "under way"
    )


def _leave_out_duration_twins(data: TrainingData, rows: np.ndarray) -> None:
    """A survival family's target is the duration: columns that nearly determine it on the
    training rows (:func:`~churnlab.training.data.duration_twins`: a signup date) are left out
    of its features, named in a notice and recorded (``dropped``, ``duration_twins``)."""
    twins = duration_twins(data.frame, data.features, rows)
    if not twins:
        return
    data.duration_twins = {c: rho for c, (rho, _) in twins.items()}
    data.notices.append(duration_twin_notice(twins, data.feature_spec.roles.get("duration")))
    log.warning(data.notices[-1])
    leave_out(
        data,
        {
            c: f"nearly determines the duration: |Spearman| {rho:.3f}"
            for c, (rho, _) in twins.items()
        },
    )


def _warn_of_leaks(data: TrainingData, rows: np.ndarray) -> None:
    leaks = label_leaks(data.frame, data.features, rows)
    data.leaks = dict(leaks)
    if leaks:
        data.notices.append(leak_notice(leaks, "the training rows"))
        log.warning(data.notices[-1])
    strong = strong_columns(data.frame, data.features, rows, leaks)
    data.strong = dict(strong)  # promote refuses the version without --force, as for leaks
    if strong:
        data.notices.append(strong_notice(strong, "the training rows"))
        log.warning(data.notices[-1])
