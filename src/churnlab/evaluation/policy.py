"""Contact policies for a retention campaign: whom to contact, and what it earns.

A policy ranks accounts and contacts the top ``k`` share. The policies compared here:

* ``risk``: churn probability ``p``;
* ``expected_loss``: ``p x MRR``;
* ``uplift``: estimated uplift (reduction in churn probability if contacted, see
  ``churnlab.evaluation.uplift`` for the sign convention);
* ``profit``: expected incremental profit,
  ``uplift x MRR x value_months - contact_cost - offer_cost`` (``CampaignParams``; every
  contacted account is counted as taking the offer, which errs on the side of cost; the
  acceptance rate is already inside a measured uplift, so it is not applied again);
* ``random``: a seeded random order, the floor;
* ``oracle`` (simulated data only): the profit ranking with the true uplift, the ceiling.

**Realized value** of contacting a set S of evaluation rows is the MRR it retains,
``retained_mrr = sum over S of uplift_i x MRR_i``, and its
``net_profit = retained_mrr x value_months - |S| x (contact_cost + offer_cost)``. The uplift
used is never the policy's own estimate:

* with the true uplift (the simulator), it is used directly;
* on real randomized data, each row's uplift is the inverse-propensity (transformed-outcome)
  estimate ``z_i = y_i x ((1 - T_i) / (1 - e_i) - T_i / e_i)`` (Athey & Imbens 2015), where
  ``e_i`` is the probability the row was treated (by default the treated share of the rows:
  a campaign randomized with one probability). ``E[z_i | x] = uplift(x)``, so the sum over S is
  an unbiased (Horvitz-Thompson) estimate of the churns S's contact prevents, for any S chosen
  without looking at the outcomes; it is noisy on a few hundred rows, so read it beside
  ``random``. Only rows of a randomized campaign (treated and control) may be evaluated so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.evaluation.profit import CampaignParams
from churnlab.evaluation.uplift import check_uplift_inputs

POLICIES = ("risk", "expected_loss", "uplift", "profit", "random", "oracle")
CURVE_COLUMNS = ("policy", "k", "contacts", "spend", "retained_mrr", "net_profit")


def _mrr(mrr, n: int) -> np.ndarray:
    mrr = np.asarray(mrr, float)
    if mrr.shape != (n,):
        raise ValueError(f"mrr has {mrr.shape} values for {n} rows: one per row needed")
    bad = ~np.isfinite(mrr) | (mrr < 0)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"mrr has {int(bad.sum())} missing or negative values (rows {rows})")
    return mrr


def expected_incremental_profit(uplift, mrr, params: CampaignParams | None = None) -> np.ndarray:
    """Expected incremental profit of contacting each account:
    ``uplift x MRR x value_months - contact_cost - offer_cost``."""
    params = params or CampaignParams()
    uplift = np.asarray(uplift, float)
    mrr = _mrr(mrr, len(uplift))
    return uplift * mrr * params.value_months - params.contact_cost - params.offer_cost


def policy_scores(
    mrr,
    p=None,
    uplift=None,
    params: CampaignParams | None = None,
    true_uplift=None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The ranking score of each policy the inputs allow, higher = contact first: ``risk`` and
    ``expected_loss`` from the churn probability ``p``, ``uplift`` and ``profit`` from the
    estimated ``uplift``, ``oracle`` from ``true_uplift``, and always ``random`` (``seed``)."""
    mrr = np.asarray(mrr, float)
    out: dict[str, np.ndarray] = {}
    if p is not None:
        p = np.asarray(p, float)
        out["risk"] = p
        out["expected_loss"] = p * mrr
    if uplift is not None:
        out["uplift"] = np.asarray(uplift, float)
        out["profit"] = expected_incremental_profit(uplift, mrr, params)
    out["random"] = np.random.default_rng(seed).permutation(len(mrr)).astype(float)
    if true_uplift is not None:
        out["oracle"] = expected_incremental_profit(true_uplift, mrr, params)
    return out


def ipw_uplift(y, treated, propensity=None) -> np.ndarray:
    """Per-row inverse-propensity estimate of the uplift (reduction in churn probability):
    ``y x ((1 - T) / (1 - e) - T / e)``, unbiased for each row's uplift under randomization.
    ``propensity`` (``e``): the probability each row was treated, a number or one per row;
    by default the treated share of the rows."""
    y, t, _ = check_uplift_inputs(y, treated, np.zeros(len(np.asarray(y))))
    e = np.broadcast_to(np.asarray(t.mean() if propensity is None else propensity, float), y.shape)
    if not ((e > 0) & (e < 1)).all():
        raise ValueError("propensity must lie strictly between 0 and 1 for every row")
    return y * ((~t) / (1 - e) - t / e)


def policy_curves(
    scores: dict[str, np.ndarray],
    mrr,
    params: CampaignParams | None = None,
    *,
    true_uplift=None,
    y=None,
    treated=None,
    propensity=None,
    points: int = 200,
) -> pd.DataFrame:
    """Realized value of contacting the top ``k`` share under each policy, for k from 0 to 1.

    ``scores``: policy name -> ranking score (e.g. ``policy_scores``). The value is counted
    with ``true_uplift`` when given, else with the inverse-propensity estimate from the
    randomized outcomes ``y`` and ``treated`` (``ipw_uplift``). Returns a tidy frame,
    one row per policy and k: ``policy``, ``k`` (share contacted), ``contacts``, ``spend``,
    ``retained_mrr``, ``net_profit``; k = 0 (nobody contacted, all 0) is always a row. At most
    ``points`` + 1 values of k, evenly spaced; ``points`` >= the number of rows gives every k
    (what ``best_k_under_budget`` needs to be exact)."""
    params = params or CampaignParams()
    n = len(np.asarray(mrr))
    mrr = _mrr(mrr, n)
    if true_uplift is not None:
        tau = np.asarray(true_uplift, float)
        if tau.shape != (n,) or not np.isfinite(tau).all():
            raise ValueError(f"true_uplift needs {n} finite values, one per row")
    elif y is not None and treated is not None:
        tau = ipw_uplift(y, treated, propensity)
    else:
        raise ValueError("give true_uplift, or the randomized outcomes y and treated")
    value = tau * mrr
    cost = params.contact_cost + params.offer_cost
    ks = np.unique(np.linspace(0, n, min(points, n) + 1).astype(int))
    frames = []
    for name, score in scores.items():
        score = np.asarray(score, float)
        if score.shape != (n,):
            raise ValueError(f"policy {name!r} has {score.shape} scores for {n} rows")
        if not np.isfinite(score).all():
            rows = np.flatnonzero(~np.isfinite(score))[:5].tolist()
            raise ValueError(f"policy {name!r} has missing scores (rows {rows})")
        order = np.argsort(-score, kind="stable")
        retained = np.r_[0.0, np.cumsum(value[order])][ks]
        frames.append(
            pd.DataFrame(
                {
                    "policy": name,
                    "k": ks / max(n, 1),
                    "contacts": ks,
                    "spend": ks * cost,
                    "retained_mrr": retained,
                    "net_profit": retained * params.value_months - ks * cost,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def best_k_under_budget(
    curves: pd.DataFrame, max_contacts: int | None = None, max_spend: float | None = None
) -> pd.DataFrame:
    """Per policy, the row of ``policy_curves`` with the highest net profit among those
    within the budget (at most ``max_contacts`` contacts and ``max_spend`` spend; k = 0 always
    qualifies). Same columns, one row per policy, best net profit first."""
    ok = pd.Series(True, index=curves.index)
    if max_contacts is not None:
        ok &= curves.contacts <= max_contacts
    if max_spend is not None:
        ok &= curves.spend <= max_spend
    within = curves[ok]
    best = within.loc[within.groupby("policy", sort=False).net_profit.idxmax()]
    return best.sort_values("net_profit", ascending=False, kind="stable").reset_index(drop=True)


def compare_policies(
    mrr,
    p=None,
    uplift=None,
    params: CampaignParams | None = None,
    *,
    true_uplift=None,
    y=None,
    treated=None,
    propensity=None,
    max_contacts: int | None = None,
    max_spend: float | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The policy comparison in one call: ``policy_scores``, then ``policy_curves`` at every k
    (valued with ``true_uplift``, else by inverse propensity from ``y`` and ``treated``), then
    ``best_k_under_budget``. Returns (curves, best).

    Example::

        curves, best = compare_policies(test.mrr, p=test.p, uplift=test.uplift, params=params,
                                        y=test.y, treated=test.treated, max_contacts=500)
        plot_policy_curves(curves).figure
    """
    scores = policy_scores(mrr, p, uplift, params, true_uplift, seed)
    n = len(np.asarray(mrr))
    curves = policy_curves(
        scores,
        mrr,
        params,
        true_uplift=true_uplift,
        y=y,
        treated=treated,
        propensity=propensity,
        points=n,
    )
    return curves, best_k_under_budget(curves, max_contacts, max_spend)


def plot_policy_curves(curves: pd.DataFrame, ax=None, value: str = "net_profit", title=None):
    """``net_profit`` (or ``retained_mrr``) against the share contacted, one line per policy,
    each best point marked; takes and returns matplotlib axes."""
    import matplotlib.pyplot as plt  # deferred: importing it costs about a second

    ax = ax if ax is not None else plt.subplots(figsize=(6.5, 4.5))[1]
    for name, part in curves.groupby("policy", sort=False):
        i = part[value].idxmax()
        style = "--" if name in ("random", "oracle") else "-"
        line = ax.plot(
            part.k * 100,
            part[value],
            style,
            label=f"{name}; best {part.k[i]:.0%}: {part[value][i]:,.0f}",
        )[0]
        ax.scatter([part.k[i] * 100], [part[value][i]], color=line.get_color(), zorder=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("% of accounts contacted")
    ax.set_ylabel(value.replace("_", " "))
    ax.set_title(title or "Contact policies")
    ax.legend(loc="best", fontsize=8)
    return ax
