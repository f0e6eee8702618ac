"""The profit curve of a retention campaign: who to contact, and how many.

Following the expected-maximum-profit idea for churn (Verbeke et al., 2012): contacting a
customer costs ``contact_cost``; every contacted customer who accepts the offer costs
``offer_cost``. A would-be churner accepts with probability ``acceptance_rate`` and is then
retained, which is worth their customer value ``mrr x value_months``; a customer who would have
stayed is assumed to accept the (free) offer, costing ``offer_cost`` for nothing. So the expected
profit of contacting customer ``i`` with churn outcome ``c_i`` (a 0/1 label, or a probability) is

    c_i * acceptance_rate * (value_i - offer_cost) - (1 - c_i) * offer_cost - contact_cost

The curve adds this up over the top-k customers, ranked by risk (p) or by expected loss
(p x value), for every k; the best k is where the sum peaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RANKINGS = ("risk", "expected_loss")


@dataclass(frozen=True)
class CampaignParams:
    """Economics of a retention offer. ``value_months`` turns MRR into customer value."""

    offer_cost: float = 50.0
    acceptance_rate: float = 0.3
    value_months: float = 12.0
    contact_cost: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.acceptance_rate <= 1:
            raise ValueError(f"acceptance_rate must be in [0, 1], got {self.acceptance_rate}")
        if self.offer_cost < 0 or self.contact_cost < 0 or self.value_months <= 0:
            raise ValueError("offer_cost and contact_cost must be >= 0 and value_months > 0")


def contact_profit(outcome: np.ndarray, mrr: np.ndarray, params: CampaignParams) -> np.ndarray:
    """Expected profit of contacting each customer, given churn ``outcome`` (0/1 or probability)."""
    c = np.asarray(outcome, float)
    value = np.nan_to_num(np.asarray(mrr, float)) * params.value_months
    retained = c * params.acceptance_rate * (value - params.offer_cost)
    return retained - (1 - c) * params.offer_cost - params.contact_cost


def profit_curve(
    p: np.ndarray,
    mrr: np.ndarray,
    params: CampaignParams | None = None,
    churned: np.ndarray | None = None,
    points: int = 200,
) -> pd.DataFrame:
    """Cumulative campaign profit of contacting the top-k customers, for both rankings.

    ``p`` is the model's churn risk. Profit is counted on ``churned`` (the true labels, on a
    test set) when given, else on ``p`` itself (the expected profit the model promises).
    Columns: ``k``, ``share_contacted``, ``profit_by_risk``, ``profit_by_expected_loss``.
    Row 0 is k = 0 (nobody contacted, profit 0).
    """
    params = params or CampaignParams()
    p = np.asarray(p, float)
    mrr = np.asarray(mrr, float)
    if p.shape != mrr.shape:
        raise ValueError(f"p and mrr differ in length: {len(p)} vs {len(mrr)}")
    outcome = p if churned is None else np.asarray(churned, float)
    gain = contact_profit(outcome, mrr, params)
    scores = {"risk": p, "expected_loss": p * np.nan_to_num(mrr) * params.value_months}
    n = len(p)
    ks = np.unique(np.linspace(0, n, min(points, n) + 1).astype(int))
    out = {"k": ks, "share_contacted": ks / max(n, 1)}
    for name, score in scores.items():
        order = np.argsort(-score, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(gain[order])])
        out[f"profit_by_{name}"] = cum[ks]
    return pd.DataFrame(out)


# Verbraken et al. (2013) draw the acceptance rate from Beta(6, 14): mean 0.3, alpha + beta = 20
ACCEPTANCE_CONCENTRATION = 20.0


def emp_score(y, p, mrr, params: CampaignParams | None = None) -> dict[str, float]:
    """Expected maximum profit of a churn classifier (EMPC; Verbraken, Verbeke & Baesens 2013),
    by empulse's ``empc_score``: the profit per customer of the best campaign the scores allow
    (contacting the top share at the profit-maximising threshold), averaged over an uncertain
    acceptance rate. Higher is better; a useless model earns about 0 and a perfect one the most.

    The campaign is the one ``profit_curve`` counts (``CampaignParams``): a contacted
    churner accepts with rate gamma and is then worth CLV - ``offer_cost``, a contacted stayer
    costs ``offer_cost``, every contact ``contact_cost``. EMPC assumes one CLV for everyone:
    the mean finite ``mrr`` x ``value_months`` of these rows. gamma ~ Beta with mean
    ``acceptance_rate`` and alpha + beta = 20 (the paper's Beta(6, 14) at the default 0.3); an
    acceptance rate of exactly 0 or 1 uses the deterministic MPC instead.

    Returns ``emp`` (profit per customer, in MRR's currency) and ``emp_contact_share`` (the share
    of customers that campaign contacts); an empty dict when no row has a positive MRR.
    """
    from empulse.metrics import empc_score, mpc_score

    params = params or CampaignParams()
    mrr = np.asarray(mrr, float)
    known = mrr[np.isfinite(mrr)]
    if not len(known) or known.mean() <= 0:
        return {}
    costs = {
        "clv": float(known.mean() * params.value_months),
        "incentive_cost": params.offer_cost,
        "contact_cost": params.contact_cost,
    }
    rate = params.acceptance_rate
    if 0 < rate < 1:
        metric = empc_score
        costs.update(
            alpha=rate * ACCEPTANCE_CONCENTRATION, beta=(1 - rate) * ACCEPTANCE_CONCENTRATION
        )
    else:
        metric = mpc_score
        costs.update(accept_rate=rate)
    y, p = np.asarray(y, int), np.asarray(p, float)
    return {
        "emp": float(metric(y, p, **costs)),
        "emp_contact_share": float(metric.optimal_rate(y, p, **costs)),
    }


def largest_steps(
    p: np.ndarray,
    mrr: np.ndarray,
    params: CampaignParams | None = None,
    churned: np.ndarray | None = None,
    ranking: str = "risk",
    min_share: float = 0.1,
    n: int = 3,
) -> pd.DataFrame:
    """The single customers whose contact moves the profit curve by at least ``min_share`` of
    its range (and ten times a median customer's step): the near-vertical steps of the curve,
    largest first.

    A retained churner is worth MRR x ``value_months``, so one large account that churned at a
    low predicted risk makes a vertical step far down the risk ranking (on the demo: one
    account of MRR 7,980 at p = 0.035, 65% down the list). Columns: ``position`` (row index in
    the inputs), ``k`` (its rank, 1-based), ``share_contacted``, ``gain``, ``p``, ``mrr``.
    """
    params = params or CampaignParams()
    p = np.asarray(p, float)
    mrr = np.asarray(mrr, float)
    outcome = p if churned is None else np.asarray(churned, float)
    gain = contact_profit(outcome, mrr, params)
    score = p if ranking == "risk" else p * np.nan_to_num(mrr) * params.value_months
    order = np.argsort(-score, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(gain[order])])
    span = float(cum.max() - cum.min())
    ranked = gain[order]
    # large against the curve's range and against a typical customer's step
    floor = max(min_share * span, 10 * float(np.median(np.abs(ranked)))) if len(p) else 0.0
    big = np.flatnonzero(np.abs(ranked) >= floor) if span > 0 else np.array([], int)
    big = big[np.argsort(-np.abs(ranked[big]), kind="stable")][:n]
    return pd.DataFrame(
        {
            "position": order[big],
            "k": big + 1,
            "share_contacted": (big + 1) / max(len(p), 1),
            "gain": ranked[big],
            "p": p[order[big]],
            "mrr": mrr[order[big]],
        }
    )


def best_k(
    p: np.ndarray,
    mrr: np.ndarray,
    params: CampaignParams | None = None,
    churned: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """The profit-maximising number of customers to contact under each ranking (exact, every k)."""
    curve = profit_curve(p, mrr, params, churned, points=len(p))
    out = {}
    for name in RANKINGS:
        col = curve[f"profit_by_{name}"]
        i = int(col.idxmax())
        out[name] = {
            "k": int(curve.k[i]),
            "share_contacted": float(curve.share_contacted[i]),
            "profit": float(col[i]),
        }
    return out


def plot_profit_curve(curve: pd.DataFrame, ax=None, title: str | None = None):
    """Profit vs. share contacted for both rankings, each best k marked."""
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = ax if ax is not None else plt.subplots(figsize=(6.5, 4.5))[1]
    labels = {"risk": "top-k by risk (p)", "expected_loss": "top-k by expected loss (p x value)"}
    for name, color in zip(RANKINGS, ("tab:blue", "tab:red"), strict=True):
        col = curve[f"profit_by_{name}"]
        i = int(col.idxmax())
        share = curve.share_contacted[i]
        ax.plot(
            curve.share_contacted * 100,
            col,
            color=color,
            label=f"{labels[name]}; best: {curve.k[i]:,} ({share:.0%}), profit {col[i]:,.0f}",
        )
        ax.scatter([share * 100], [col[i]], color=color, zorder=3)
    ax.axhline(0, color="grey", lw=0.8)
    top = float(curve[[f"profit_by_{r}" for r in RANKINGS]].to_numpy().max())
    bottom = float(curve[[f"profit_by_{r}" for r in RANKINGS]].to_numpy().min())
    ax.set_ylim(min(bottom, 0) * 1.1 - 0.02 * abs(top), max(top, 0) * 1.15 + 1)
    ax.set_xlabel("% of customers contacted")
    ax.set_ylabel("campaign profit")
    ax.set_title(title or "Retention campaign profit curve")
    ax.legend(loc="lower right", fontsize=8)
    return ax
