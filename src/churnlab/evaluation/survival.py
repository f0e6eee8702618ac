"""Survival metrics and plots (scikit-survival and lifelines do the computing).

* ``c_index_harrell``: Harrell's concordance over all comparable test pairs.
* ``c_index_uno``: Uno's IPCW concordance, truncated at the horizon (the censoring
  distribution is estimated on the training targets).
* ``auc_<t>d``: cumulative/dynamic AUC at t days (churned by t vs still active at t); for a
  single table whose durations count weeks, months or years, at whole units of it instead
  (``auc_4w``/``auc_9w``/``auc_13w``, ``auc_1mo``/``auc_2mo``/``auc_3mo``: the 30, 60 and 90
  days rounded to the table's unit), since durations that step by a month have no churn
  between two whole months to rank.
* ``ibs``: integrated Brier score (IPCW) over daily times up to the horizon, and
  ``ibs_km_reference``: the same for the training Kaplan-Meier curve given to everyone
  (no covariates), the bar a useful model must beat.

The risk score for the rank metrics is 1 - S(horizon | x), so C-indices of every family
compare the same quantity. Times outside the test follow-up give NaN (scikit-survival needs
them inside the observed range), and so does an AUC time by which no test customer churned
(no case to rank: scikit-survival would divide by zero); each is logged as a warning naming
the reason, never dropped silently. Test rows
followed longer than any training row (where the training censoring distribution, which the
IPCW metrics weigh by, is unknown) are taken as censored just before the longest training
follow-up, with a warning: no metric at an earlier time changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from churnlab.vocab import DAYS_PER_DURATION_UNIT

log = logging.getLogger(__name__)
AUC_DAYS = (30, 60, 90)
# the evaluation times per duration unit of a single table: (times in the unit, name suffix)
AUC_TIMES = {
    "days": (AUC_DAYS, "d"),
    "weeks": ((4, 9, 13), "w"),
    "months": ((1, 2, 3), "mo"),
    "years": ((1, 2, 3), "y"),
}


def _surv(duration: np.ndarray, event: np.ndarray):
    from sksurv.util import Surv

    return Surv.from_arrays(event=np.asarray(event).astype(bool), time=np.asarray(duration, float))


def km_reference(train_duration, train_event, times: np.ndarray) -> np.ndarray:
    """The training Kaplan-Meier survival at ``times`` (lifelines)."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(np.asarray(train_duration, float), np.asarray(train_event))
    return km.survival_function_at_times(times).to_numpy()


def survival_metrics(
    train_duration: np.ndarray,
    train_event: np.ndarray,
    duration: np.ndarray,
    event: np.ndarray,
    survival_at: Callable[[np.ndarray], np.ndarray],
    horizon_days: float,
    unit: str = "days",
) -> dict[str, float]:
    """Survival metrics on the test rows. ``survival_at(times)`` gives S(t | x) for the test
    rows, shape (rows, len(times)); durations are in days, counted in ``unit`` by the data
    (a single table's ``duration_unit``), which sets the AUC times."""
    from sksurv.metrics import (
        concordance_index_censored,
        concordance_index_ipcw,
        cumulative_dynamic_auc,
        integrated_brier_score,
    )

    duration, event = np.asarray(duration, float), np.asarray(event).astype(bool)
    risk = 1.0 - survival_at(np.array([float(horizon_days)]))[:, 0]
    out = {"c_index_harrell": float(concordance_index_censored(event, duration, risk)[0])}
    # the IPCW metrics weigh by the training censoring distribution, unknown (zero) from the
    # longest training follow-up on: test rows followed longer are taken as censored just
    # before it, which changes no metric at an earlier time (such a row is still at risk then)
    duration, event = _within_training_follow_up(duration, event, train_duration)
    y_train, y_test = _surv(train_duration, train_event), _surv(duration, event)
    low, high = float(duration.min()), float(duration.max())
    tau = min(float(horizon_days), high - 1e-6)
    if (duration < tau).any():
        out["c_index_uno"] = float(concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0])
    else:  # every test row followed past the horizon (a table of long tenures): no pair to rank
        log.warning("c_index_uno: no test row ends before %g days, the horizon", tau)
        out["c_index_uno"] = float("nan")
    counts, suffix = AUC_TIMES[unit]
    for n in counts:
        name, t = f"auc_{n}{suffix}", n * DAYS_PER_DURATION_UNIT[unit]
        if not low <= t < high:
            log.warning("%s: %g days is outside the test follow-up [%g, %g)", name, t, low, high)
            out[name] = float("nan")
            continue
        if not (event & (duration <= t)).any():
            # no case to rank (scikit-survival divides by zero): whole-month tenures whose
            # shortest test duration is the first month, with no churner among those rows
            log.warning(
                "%s: no test customer churned within %g days (%d %s), so there is no churner to "
                "rank: not computed (NaN)",
                name, t, n, _unit_word(unit, n),
            )  # fmt: skip
            out[name] = float("nan")
            continue
        s = survival_at(np.array([float(t)]))[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):  # said below, not as numpy's
            out[name] = float(cumulative_dynamic_auc(y_train, y_test, 1 - s, [t])[0][0])
        if not np.isfinite(out[name]):
            log.warning("%s: scikit-survival gave no value at %g days (NaN)", name, t)
    grid = np.arange(max(1.0, np.ceil(low)), min(float(horizon_days), high - 1e-6) + 1e-9, 1.0)
    grid = grid[grid < high]
    if len(grid) < 2:
        log.warning("ibs: the test follow-up [%g, %g) is too short to integrate", low, high)
        out["ibs"] = out["ibs_km_reference"] = float("nan")
        return out
    out["ibs"] = float(integrated_brier_score(y_train, y_test, survival_at(grid), grid))
    km = np.tile(km_reference(train_duration, train_event, grid), (len(duration), 1))
    out["ibs_km_reference"] = float(integrated_brier_score(y_train, y_test, km, grid))
    return out


def _unit_word(unit: str, n: int) -> str:
    """``"month"``/``"months"`` (``unit`` is the plural) for ``n`` of them."""
    return unit if n != 1 else unit.removesuffix("s")


def _within_training_follow_up(
    duration: np.ndarray, event: np.ndarray, train_duration: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Test follow-up cut just before the longest training follow-up (censored there)."""
    limit = float(np.max(np.asarray(train_duration, float)))
    beyond = duration >= limit
    if not beyond.any():
        return duration, event
    log.warning(
        "%d test row(s) followed for %g days or longer (the longest training follow-up): taken "
        "as censored just before it for the IPCW metrics",
        int(beyond.sum()),
        limit,
    )
    cut = np.nextafter(limit, -np.inf)
    return np.where(beyond, cut, duration), np.where(beyond, False, event)


# ---------------------------------------------------------------------------------------------
# Plots: each takes ax=None and returns the axes
# ---------------------------------------------------------------------------------------------


def _ax(ax, size=(6.5, 4.5)):
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    return ax if ax is not None else plt.subplots(figsize=size)[1]


def decile_table(
    duration: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    survival: np.ndarray,
    times: np.ndarray,
    groups: int = 10,
) -> pd.DataFrame:
    """Per risk decile and time: mean predicted S(t) and the Kaplan-Meier estimate of the
    decile's rows (lifelines). Decile 10 is the highest risk."""
    from lifelines import KaplanMeierFitter

    decile = pd.qcut(pd.Series(risk).rank(method="first"), groups, labels=False) + 1
    rows = []
    for g in range(1, groups + 1):
        m = (decile == g).to_numpy()
        km = KaplanMeierFitter().fit(duration[m], event[m])
        observed = km.survival_function_at_times(times).to_numpy()
        predicted = survival[m].mean(axis=0)
        rows.append(
            pd.DataFrame(
                {"decile": g, "days": times, "predicted": predicted, "kaplan_meier": observed}
            )
        )
    return pd.concat(rows, ignore_index=True)


def plot_survival_by_decile(table: pd.DataFrame, ax=None, label: str = "model"):
    """Predicted (dashed) vs Kaplan-Meier (solid) survival per risk decile."""
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = _ax(ax, (7, 5))
    cmap = plt.get_cmap("viridis_r")
    n = int(table.decile.max())
    for g, d in table.groupby("decile"):
        color = cmap((g - 1) / max(n - 1, 1))
        ax.step(d.days, d.kaplan_meier, where="post", color=color, lw=1.2, label=f"D{g}")
        ax.plot(d.days, d.predicted, "--", color=color, lw=1.2)
    ax.set_xlabel("days after the cutoff")
    ax.set_ylabel("share still active")
    ax.set_title(f"{label}: predicted (dashed) vs Kaplan-Meier (solid) by risk decile")
    ax.legend(ncol=2, fontsize=7, title="decile (10 = riskiest)", title_fontsize=7)
    return ax


def plot_sample_curves(survival: np.ndarray, times: np.ndarray, labels: list[str], ax=None):
    """Predicted survival curves for a few customers."""
    ax = _ax(ax)
    for s, name in zip(survival, labels, strict=True):
        ax.plot(times, s, label=name)
    ax.set_xlabel("days after the cutoff")
    ax.set_ylabel("S(t): probability still active")
    ax.set_ylim(0, 1.02)
    ax.set_title("Predicted survival for sample customers")
    ax.legend(fontsize=7)
    return ax
