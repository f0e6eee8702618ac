"""Point-in-time treatment status: was an observation's account in a randomized retention
campaign just before its cutoff, and in which arm?

An observation (account_id, cutoff) is *randomized* when the ``campaigns`` table has a contact
of that account with ``ts`` in ``[cutoff - contact_window_days, cutoff)``: strictly before the
cutoff, so a contact at or after the cutoff never counts (it is the future). Its ``treated`` is
1 (offered) or 0 (held out as control); observations without a contact in the window are not
randomized (``treated`` null) and uplift training and evaluation leave them out. When an
account has several contacts in the window, the latest counts.

The default window, 7 days, fits campaigns that contact accounts in the last days before a
cutoff (the simulator contacts at noon on the month's last day; cutoffs are month starts): the
outcome window then starts right after the contact, and almost no churn happens in between,
which would otherwise break the randomization among the accounts still active at the cutoff.
A wider window admits older contacts whose survivors are no longer a random split.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.errors import ChurnlabError

DEFAULT_CONTACT_WINDOW_DAYS = 7
TREATMENT_COLUMNS = ("treated", "campaign", "contact_ts", "campaign_cost")


def treatment_status(
    dataset: Dataset,
    keys: ir.Table,
    contact_window_days: int = DEFAULT_CONTACT_WINDOW_DAYS,
) -> ir.Table:
    """``keys`` (a table with ``account_id`` and ``cutoff``, e.g. observations) with the
    treatment status of each row from the campaigns table, point in time:

    * ``treated``: 1 treated, 0 control, null when the account had no contact in
      ``[cutoff - contact_window_days, cutoff)`` (not randomized);
    * ``campaign``, ``contact_ts``: the contact's campaign and time (null when none);
    * ``campaign_cost``: the cost the contact recorded (0 for control rows as the simulator
      writes them; null when the table has no ``cost`` or there is no contact).

    Every row of ``keys`` is kept, in the order the caller sorts it.
    """
    if contact_window_days < 1:
        raise ValueError("contact_window_days must be at least 1")
    if dataset.kind == "customers":
        raise ChurnlabError(
            f"{dataset.source}: a single customer table has no campaigns, so no treatment "
            "status: uplift needs the event data model with a campaigns table (see the data "
            "model)"
        )
    if not dataset.has("campaigns"):
        raise ChurnlabError(
            f"{dataset.source}: no campaigns table, so no treatment status: uplift needs a "
            "campaigns table (account_id, ts, campaign, treated; see the data model)"
        )
    clash = [c for c in TREATMENT_COLUMNS if c in keys.columns]
    if clash:
        raise ValueError(f"keys already have {clash}")
    cp = dataset["campaigns"]
    cost = cp.cost.cast("float64") if "cost" in cp.columns else ibis.null("float64")
    contacts = cp.select(
        _account=cp.account_id,
        contact_ts=cp.ts,
        campaign=cp.campaign,
        _treated=cp.treated,
        campaign_cost=cost,
    )
    cells = keys.select("account_id", "cutoff").distinct()
    window = ibis.interval(days=int(contact_window_days))
    hits = cells.join(
        contacts,
        [
            cells.account_id == contacts._account,
            contacts.contact_ts >= cells.cutoff - window,
            contacts.contact_ts < cells.cutoff,
        ],
    )
    latest = ibis.window(
        group_by=["account_id", "cutoff"], order_by=[ibis.desc("contact_ts"), "campaign"]
    )
    status = (
        hits.mutate(_rank=ibis.row_number().over(latest))
        .filter(lambda t: t._rank == 0)
        .select(
            "account_id",
            "cutoff",
            treated=ibis._._treated.cast("int8"),
            campaign=ibis._.campaign,
            contact_ts=ibis._.contact_ts,
            campaign_cost=ibis._.campaign_cost,
        )
    )
    return keys.left_join(status, ["account_id", "cutoff"]).select(
        *keys.columns, *TREATMENT_COLUMNS
    )
