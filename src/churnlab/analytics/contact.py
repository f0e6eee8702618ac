"""Whom to contact: the contact policies of a logged uplift run, with the churn scores of a
churn run for the risk policies.

An uplift run logs its test rows (``predictions/test.json``: keys, MRR, outcome, arm, the
estimated uplift and, on simulated data, the true uplift) and its campaign economics (the
spec's ``uplift`` section). :func:`contact_policies` compares the policies on those rows
(:func:`churnlab.evaluation.compare_policies`): by churn risk and expected loss (when a churn
run on the same data and horizon scored the same accounts at the same cutoffs), by estimated
uplift and expected incremental profit, at random and, on simulated data, by the oracle.
Realized value is counted with the true uplift where known, else by inverse propensity from
the randomized outcomes. Used by notebook 06 and by the report's "whom to contact" section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from churnlab.evaluation import CampaignParams, compare_policies
from churnlab.tracking import champion_version, connect, run_table
from churnlab.vocab import UPLIFT_FAMILIES

KIND_FILTER = "tags.`churnlab.kind` = 'training' and attributes.status = 'FINISHED'"


@dataclass
class ContactComparison:
    run_id: str
    params: CampaignParams
    rows: pd.DataFrame  # the test rows the policies rank (with ``p`` when a churn run matched)
    curves: pd.DataFrame
    best: pd.DataFrame
    max_contacts: int
    valued_with: str  # "true uplift" or "inverse propensity"
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """One sentence per policy: its best contact list under the budget, or that its
        best is to contact nobody."""
        out = []
        for r in self.best.itertuples():
            if r.contacts == 0:
                out.append(f"{r.policy}: best is to contact nobody (no list in budget earns money)")
            else:
                out.append(
                    f"{r.policy}: best is to contact {r.contacts:,} of {len(self.rows):,} "
                    f"({r.k:.0%}) for a net profit of {r.net_profit:,.0f}"
                )
        return out


def find_uplift_run() -> str | None:
    """The run of the registered uplift model's champion, else the latest finished uplift
    run of any experiment; None when the project has no uplift run."""
    import mlflow

    client = connect()
    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string=KIND_FILTER, output_format="pandas"
    )
    family = runs.get("tags.churnlab.family")
    if runs.empty or family is None:
        return None
    runs = runs[family.isin(UPLIFT_FAMILIES)].sort_values("start_time", ascending=False)
    if runs.empty:
        return None
    for name in runs.get("tags.churnlab.registered_model", pd.Series(dtype=str)).dropna().unique():
        champion = champion_version(client, str(name))
        if champion is not None and champion.run_id in set(runs.run_id):
            return str(champion.run_id)
    return str(runs.run_id.iloc[0])


def _same_data(uplift_run: str, churn_run: str) -> bool:
    import mlflow

    a, b = (mlflow.get_run(r).data.params for r in (uplift_run, churn_run))
    keys = ("data.path", "data.table", "horizon_days")
    return all(a.get(k) == b.get(k) for k in keys)


def contact_policies(
    uplift_run: str, churn_run: str | None = None, budget_share: float = 0.2, seed: int = 0
) -> ContactComparison:
    """Compare the contact policies on the uplift run's test rows, at most ``budget_share``
    of them contacted. ``churn_run``: a churn run whose test predictions give the risk
    policies their ``p`` (used only if it was trained on the same data and horizon and scored
    every one of these rows)."""
    import mlflow

    params_ = mlflow.get_run(uplift_run).data.params
    params = CampaignParams(
        value_months=float(params_.get("uplift.value_months", CampaignParams.value_months)),
        contact_cost=float(params_.get("uplift.contact_cost", CampaignParams.contact_cost)),
        offer_cost=float(params_.get("uplift.offer_cost", CampaignParams.offer_cost)),
    )
    rows = run_table(uplift_run, "predictions/test.json")
    rows["cutoff"] = pd.to_datetime(rows.cutoff)
    notes = []
    if churn_run is not None and _same_data(uplift_run, churn_run):
        churn = run_table(churn_run, "predictions/test.json")[["account_id", "cutoff", "p"]]
        churn["cutoff"] = pd.to_datetime(churn.cutoff)
        joined = rows.merge(churn, on=["account_id", "cutoff"], how="left")
        if joined.p.notna().all():
            rows = joined
        else:
            notes.append(
                f"the churn run {churn_run[:8]} scored {int(joined.p.notna().sum())} of "
                f"{len(rows)} uplift test rows: no risk policies"
            )
    elif churn_run is not None:
        notes.append(f"the churn run {churn_run[:8]} has other data or horizon: no risk policies")
    else:
        notes.append("no churn model to rank by risk: no risk policies")
    truth = rows["oracle_uplift"].to_numpy() if "oracle_uplift" in rows else None
    max_contacts = int(budget_share * len(rows))
    curves, best = compare_policies(
        rows.mrr.fillna(0.0).to_numpy(dtype=float),
        p=rows.p.to_numpy() if "p" in rows else None,
        uplift=rows.uplift.to_numpy(),
        params=params,
        true_uplift=truth,
        y=rows.y.to_numpy(),
        treated=rows.treated.to_numpy(),
        max_contacts=max_contacts,
        seed=seed,
    )
    return ContactComparison(
        run_id=uplift_run,
        params=params,
        rows=rows,
        curves=curves,
        best=best,
        max_contacts=max_contacts,
        valued_with="true uplift" if truth is not None else "inverse propensity",
        notes=notes,
    )
