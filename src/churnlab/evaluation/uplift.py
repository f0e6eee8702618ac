"""Uplift metrics and plots: how well a score ranks accounts by what a retention offer changes.

Sign convention (used everywhere in churnlab): the outcome ``y`` is 1 when the account churned
within the horizon, which is bad, so the **uplift** of an account is the reduction in its churn
probability if contacted,

    uplift = P(churn | control) - P(churn | treated),

positive when the offer keeps the account. A score is an estimated uplift on that scale:
higher means contact first. ``treated`` is 1 for accounts offered the treatment, 0 for the
randomized control group. Ranking metrics are computed over distinct score values (tied
scores enter the curves together), from the highest score down.

Definitions (Radcliffe 2007; Gutierrez & Gerardy 2017; Devriendt, Van Belle & Verbeke 2020),
for the top ``k`` rows with ``n_t``/``n_c`` treated/control rows and ``c_t``/``c_c``
churners among them (``N_t`` treated rows in all, ``N`` rows):

* Qini curve: ``Q(k) = c_c * n_t / n_c - c_t``, the churns prevented among the treated of the
  top k (the control group rescaled to the treated group's size; 0 while the top k has no
  control row). It equals the standard ``R_t - R_c * n_t / n_c`` on retained counts.
* ``qini`` (Qini coefficient): the area between the Qini curve, divided by ``N_t``, and the
  random-targeting line from (0, 0) to (1, Q(N) / N_t), over the share of rows targeted. Units:
  churn-rate reduction; 0 for a random ranking, negative for a ranking worse than random.
* Uplift curve: ``U(k) = (c_c / n_c - c_t / n_t) * k``; ``auuc`` is the area under U(k) / N
  over the share targeted (not baseline-subtracted: random targeting gives about half the
  overall uplift).
* ``uplift_at_k``: control churn rate - treated churn rate among the top ``k`` share of all
  rows (scikit-uplift's ``strategy="overall"``).

scikit-uplift implements these too, but its last release (0.5.1) dates from 2022 and calls
scikit-learn's ``stable_cumsum``, deprecated in 1.8 and removed in 1.10; the few array lines
here replace it (the curves were checked against scikit-uplift 0.5.1 on ``1 - y``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.evaluation.metrics import top_fraction

# the keys of ``uplift_metrics`` (also churnlab.vocab.UPLIFT_METRICS)
UPLIFT_AT = (0.1, 0.3)


def _binary(values: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(
            f"{name} must be 0/1; {int(bad.sum())} rows are not (rows {rows}: "
            f"{values[rows].tolist()})"
        )
    return values.astype(bool)


def _finite(values, name: str, n: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"{name} has {values.shape} values, y has {n}: one per row needed")
    bad = ~np.isfinite(values)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{name} has {int(bad.sum())} missing or infinite values (rows {rows})")
    return values


def check_uplift_inputs(y, treated, score, name: str = "score"):
    """``y`` and ``treated`` as bool arrays and ``score`` as floats, after checking one value
    per row, 0/1 labels and arms, finite scores, and treated and control rows both present.
    Raises ``ValueError`` naming the input and example rows."""
    y = np.asarray(y)
    n = len(y)
    treated = np.asarray(treated)
    if treated.shape != (n,):
        raise ValueError(f"treated has {treated.shape} values, y has {n}: one per row needed")
    y_b = _binary(y, "y")
    t_b = _binary(treated, "treated")
    s = _finite(score, name, n)
    if t_b.all() or not t_b.any():
        raise ValueError(
            f"uplift needs treated and control rows; got {int(t_b.sum())} treated and "
            f"{int((~t_b).sum())} control"
        )
    return y_b, t_b, s


def qini_curve(y, treated, score) -> pd.DataFrame:
    """The Qini and uplift curves at every distinct score, highest first.

    Columns: ``k`` (rows targeted), ``share_targeted``, ``n_treated``, ``n_control``,
    ``churned_treated``, ``churned_control`` (counts in the top k), ``qini`` (Q(k), churns
    prevented among the treated) and ``uplift_gain`` (U(k)), as defined on the docs page
    "Uplift metrics, policies & EMP". Row 0 is k = 0 (nobody targeted, both curves 0)."""
    y, t, s = check_uplift_inputs(y, treated, score)
    order = np.argsort(-s, kind="stable")
    y, t, s = y[order], t[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # each tie group's last row
    k = last + 1
    n_t = np.cumsum(t)[last]
    n_c = k - n_t
    c_t = np.cumsum(y & t)[last]
    c_c = np.cumsum(y & ~t)[last]
    both = (n_t > 0) & (n_c > 0)
    safe_t, safe_c = np.maximum(n_t, 1), np.maximum(n_c, 1)
    qini = np.where(n_c > 0, c_c * n_t / safe_c - c_t, 0.0)
    gain = np.where(both, (c_c / safe_c - c_t / safe_t) * k, 0.0)
    zero = np.zeros(1, int)
    return pd.DataFrame(
        {
            "k": np.r_[zero, k],
            "share_targeted": np.r_[0.0, k / len(s)],
            "n_treated": np.r_[zero, n_t],
            "n_control": np.r_[zero, n_c],
            "churned_treated": np.r_[zero, c_t],
            "churned_control": np.r_[zero, c_c],
            "qini": np.r_[0.0, qini],
            "uplift_gain": np.r_[0.0, gain],
        }
    )


def _qini_area(curve: pd.DataFrame) -> float:
    n_t = float(curve.n_treated.iloc[-1])
    x = curve.share_targeted.to_numpy()
    q = curve.qini.to_numpy() / n_t
    return float(np.trapezoid(q - x * q[-1], x))


def qini_coefficient(y, treated, score) -> float:
    """The Qini coefficient: area between the Qini curve (per treated row) and the random
    line, over the share of rows targeted (Radcliffe 2007). 0 for random, > 0 better."""
    return _qini_area(qini_curve(y, treated, score))


def auuc(y, treated, score) -> float:
    """Area under the uplift curve U(k) / N over the share of rows targeted (Gutierrez &
    Gerardy 2017); in churn-rate reduction, not baseline-subtracted."""
    curve = qini_curve(y, treated, score)
    n = float(curve.k.iloc[-1])
    return float(np.trapezoid(curve.uplift_gain / n, curve.share_targeted))


def uplift_at_k(y, treated, score, k: float = 0.1) -> float:
    """Control churn rate minus treated churn rate among the top ``k`` share of rows by
    score (ties broken by position); NaN when that top has no treated or no control row."""
    if not 0 < k <= 1:
        raise ValueError(f"k is a share of rows in (0, 1], got {k}")
    y, t, s = check_uplift_inputs(y, treated, score)
    top = top_fraction(s, k)
    yt, yc = y[top & t], y[top & ~t]
    if not len(yt) or not len(yc):
        return float("nan")
    return float(yc.mean() - yt.mean())


def uplift_by_decile(y, treated, score, true_uplift=None, bins: int = 10) -> pd.DataFrame:
    """Observed uplift per score decile (decile 1 = highest scores; equal-sized groups by
    rank, ties split by position).

    Columns: ``decile``, ``rows``, ``n_treated``, ``n_control``, ``churn_rate_treated``,
    ``churn_rate_control``, ``uplift`` (control minus treated churn rate; NaN where an arm is
    empty), ``mean_score``, and with ``true_uplift`` also ``mean_true_uplift``."""
    y, t, s = check_uplift_inputs(y, treated, score)
    n = len(s)
    rank = np.empty(n, int)
    rank[np.argsort(-s, kind="stable")] = np.arange(n)
    frame = pd.DataFrame({"decile": rank * bins // n + 1, "y": y.astype(float), "t": t, "score": s})
    if true_uplift is not None:
        frame["true"] = _finite(true_uplift, "true_uplift", n)
    arm = frame.assign(yt=frame.y.where(frame.t), yc=frame.y.where(~frame.t))
    g = arm.groupby("decile")
    out = pd.DataFrame(
        {
            "rows": g.size(),
            "n_treated": g.t.sum().astype(int),
            "n_control": g.size() - g.t.sum().astype(int),
            "churn_rate_treated": g.yt.mean(),
            "churn_rate_control": g.yc.mean(),
            "mean_score": g.score.mean(),
        }
    )
    out.insert(5, "uplift", out.churn_rate_control - out.churn_rate_treated)
    if true_uplift is not None:
        out["mean_true_uplift"] = g.true.mean()
    return out.reset_index()


def policy_value_vs_oracle(score, true_uplift) -> float:
    """Share of the oracle's value reached by treating the rows with a positive estimated
    uplift: sum(true uplift where score > 0) / sum(true uplift where true uplift > 0). 1 is
    the oracle; negative when the policy does harm; NaN when no row has a positive true
    uplift."""
    s = np.asarray(score, float)
    tau = _finite(true_uplift, "true_uplift", len(s))
    best = float(tau[tau > 0].sum())
    return float(tau[s > 0].sum() / best) if best > 0 else float("nan")


def true_uplift_corr(score, true_uplift) -> float:
    """Spearman rank correlation of the score with the true uplift (ranks, because a score is
    used to order accounts and learners differ in scale); NaN if either is constant."""
    from scipy.stats import spearmanr

    s = np.asarray(score, float)
    tau = _finite(true_uplift, "true_uplift", len(s))
    if np.ptp(s) == 0 or np.ptp(tau) == 0:
        return float("nan")
    return float(spearmanr(s, tau).statistic)


def uplift_metrics(y, treated, score, true_uplift=None) -> dict[str, float]:
    """The uplift metrics logged for every uplift model, by stable name.

    ``qini``, ``auuc``, ``uplift_at_10``, ``uplift_at_30`` on observed outcomes (randomized
    treated and control rows); with ``true_uplift`` (the simulator's oracle, on the uplift
    scale) also ``true_uplift_corr`` (Spearman), ``policy_value_vs_oracle`` and
    ``oracle_qini`` (the Qini coefficient of ranking by the true uplift on the same rows: the
    bar beside the model's ``qini``).

    Example::

        uplift_metrics(y_test, treated_test, model_uplift, true_uplift=oracle)["qini"]
    """
    curve = qini_curve(y, treated, score)
    out = {"qini": _qini_area(curve)}
    n = float(curve.k.iloc[-1])
    out["auuc"] = float(np.trapezoid(curve.uplift_gain / n, curve.share_targeted))
    for k in UPLIFT_AT:
        out[f"uplift_at_{round(k * 100)}"] = uplift_at_k(y, treated, score, k)
    if true_uplift is not None:
        out["true_uplift_corr"] = true_uplift_corr(score, true_uplift)
        out["policy_value_vs_oracle"] = policy_value_vs_oracle(score, true_uplift)
        out["oracle_qini"] = qini_coefficient(y, treated, true_uplift)
    return out


def plot_qini(y, treated, score, true_uplift=None, ax=None, label: str = "model"):
    """Qini curve of ``score`` with the random line and, given ``true_uplift``, the oracle's
    curve on the same rows; takes and returns matplotlib axes (``ax.figure`` to log)."""
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = ax if ax is not None else plt.subplots(figsize=(6, 4.5))[1]
    curve = qini_curve(y, treated, score)
    x = curve.share_targeted * 100
    ax.plot(x, curve.qini, label=f"{label} (Qini {_qini_area(curve):.4f})", color="tab:blue")
    if true_uplift is not None:
        oracle = qini_curve(y, treated, true_uplift)
        ax.plot(
            oracle.share_targeted * 100,
            oracle.qini,
            label=f"oracle (Qini {_qini_area(oracle):.4f})",
            color="tab:green",
        )
    end = float(curve.qini.iloc[-1])
    ax.plot([0, 100], [0, end], "--", color="grey", label="random")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("% of accounts targeted (highest estimated uplift first)")
    ax.set_ylabel("churns prevented among the treated")
    ax.set_title("Qini curve")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_uplift_by_decile(table: pd.DataFrame, ax=None, title: str | None = None):
    """Bars of the observed uplift per decile of ``uplift_by_decile``, with the mean
    estimated uplift (and the mean true uplift, when the table has it) as points; takes and
    returns matplotlib axes."""
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = ax if ax is not None else plt.subplots(figsize=(6, 4.5))[1]
    ax.bar(table.decile, table.uplift, color="tab:blue", alpha=0.7, label="observed uplift")
    ax.plot(table.decile, table.mean_score, "o-", color="tab:orange", label="mean estimate")
    if "mean_true_uplift" in table:
        ax.plot(table.decile, table.mean_true_uplift, "s--", color="tab:green", label="true")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(table.decile)
    ax.set_xlabel("decile of estimated uplift (1 = highest)")
    ax.set_ylabel("churn rate: control - treated")
    ax.set_title(title or "Uplift by decile")
    ax.legend(loc="best", fontsize=8)
    return ax
