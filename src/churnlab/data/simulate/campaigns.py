"""Monthly randomized retention campaigns and the true effect of their offer (profile
``b2b_saas``; the machinery is profile-neutral, the segments use the profile's account traits).

The business story: every month the retention team takes the accounts that look at risk, holds
half of them out at random as a control group and offers the other half a discount. Whether
the offer keeps an account depends on why it would leave:

| segment | who (static account traits) | hazard multiplier |
|---|---|---|
| ``persuadable`` | price-sensitive (monthly billing, basic plan or at most 5 seats) with at least average product fit | ``0.4`` |
| ``lost_cause`` | poor product fit (fit < -0.5): a discount does not fix the product | ``1.0`` (no effect) |
| ``sure_thing`` | everyone else: not leaving over price, so the offer changes nothing (mostly low-risk accounts) | ``1.0`` (no effect) |
| ``do_not_disturb`` | monthly teams of 10+ seats with below-average fit (fit < -0.25), paying out of inertia: the call makes the buyer review the seat bill | ``2.0`` (contact raises churn) |

(``do_not_disturb`` takes precedence, then ``lost_cause``, then ``persuadable``.) Product fit
is latent; the segments show in the data only through its traces (usage, tickets, NPS, plan,
seats, billing), which is what an uplift model has to learn from.

How a campaign runs (:class:`CampaignBook`):

* **When.** At noon on the last day of each month, named ``retention-YYYY-MM``. Cutoffs are
  month starts, so a contact is 12 hours before the next cutoff: an observation at that cutoff
  sees it (``features.treatment_status``, window ``[cutoff - 7 days, cutoff)``).
* **Who (the risk rule).** Monthly-billed paying accounts active at the contact, on their
  current subscription since before it, not contacted (in either arm) in the previous ``EFFECT_WEEKS`` weeks, whose share
  of seats active over the last four weeks is below ``RISK_ACTIVE_SHARE``. The rule uses only
  what the company sees (usage); it picks many disengaging lost causes, as risk rules do.
  (The four simulated weeks include the whole week of the contact, up to six days past it: a
  simplification of the selection only; which selected accounts are treated is random.)
* **Randomized.** The month's selected accounts are split completely at random: half treated
  (an odd one out by a coin flip), half held out as control. A month with fewer than two
  selected accounts runs no campaign, so every campaign has both arms.
* **Offer and cost.** Treated accounts get ``OFFER`` (20% off for three months); the row's
  cost is ``CONTACT_COST`` plus the discount, ``DISCOUNT * DISCOUNT_MONTHS * MRR``. Control
  rows cost 0 and have no offer. The discount is booked as the campaign's cost; the
  subscriptions keep the list MRR.
* **Effect on the churn process.** For ``EFFECT_WEEKS`` weeks, starting with the first
  simulated week that begins after the contact, a treated account's weekly probability of
  *deciding* to leave is multiplied by its segment's multiplier (capped at 1). The decision
  draws are the ones an untreated account would make, so the offer only flips decisions near
  the margin. What is already decided is not undone: an account already disengaging, annual
  contracts (not contacted), failed payments and trial expiry are untouched. As the effect
  starts after the week of the contact, no churn between the contact and the cutoff depends on
  the arm, so treated and control accounts still active at the cutoff stay randomized.

``truth`` gains, per account and week, ``decide_hazard`` (the weekly probability that a healthy
monthly-billed account decides to leave, before any offer), ``involuntary_hazard`` (the chance
that a failed payment ends it that week), and per account ``effect`` (the multiplier) and
``effect_segment``; :func:`churnlab.data.simulate.oracle_uplift` turns them into the true
uplift of a contact. The multipliers come from the story above, not from how well any model
does; they are not tuned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from churnlab.data.simulate._common import Clock, Rows, dictionary

EFFECT_SEGMENTS = ("sure_thing", "persuadable", "lost_cause", "do_not_disturb")
SURE_THING, PERSUADABLE, LOST_CAUSE, DO_NOT_DISTURB = range(4)
EFFECT_MULTIPLIER = np.array([1.0, 0.4, 1.0, 2.0])
EFFECT_WEEKS = 13  # the offer's discount lasts three months
RISK_ACTIVE_SHARE = 0.5  # the risk rule: under half the seats active over the last four weeks
RISK_LOOKBACK_WEEKS = 4
OFFER = "discount_20pct_3m"
CONTACT_COST = 10.0
DISCOUNT = 0.2
DISCOUNT_MONTHS = 3


def effect_segments(
    monthly: np.ndarray, basic_plan: np.ndarray, seats: np.ndarray, fit: np.ndarray
) -> np.ndarray:
    """Each account's segment code (index into ``EFFECT_SEGMENTS``) from static traits."""
    price_sensitive = monthly & (basic_plan | (seats <= 5))
    return np.select(
        [monthly & (seats >= 10) & (fit < -0.25), fit < -0.5, price_sensitive & (fit >= 0.0)],
        [DO_NOT_DISTURB, LOST_CAUSE, PERSUADABLE],
        SURE_THING,
    )


class CampaignBook:
    """The campaigns of one chunk of accounts: contact schedule, who is under an offer's
    effect, and the rows of the ``campaigns`` table.

    ``rng`` is the campaigns' own generator, so the draws of the rest of the simulation do not
    shift when campaigns are on."""

    def __init__(
        self, clock: Clock, segment: np.ndarray, rng: np.random.Generator, enabled: bool = True
    ):
        n = len(segment)
        self.rng = rng
        self.multiplier = EFFECT_MULTIPLIER[segment]
        # contacts at noon on the last day of each month of the history
        days = clock.month_starts[1:] - 0.5 if enabled else np.array([])
        self.contact_day = days
        self.contact_week = np.floor(days / 7.0).astype(int)
        self.names = tuple(
            f"retention-{(clock.start + pd.DateOffset(months=k)):%Y-%m}" for k in range(len(days))
        )
        self.last_contact = np.full(n, -np.inf)
        self.effect_from = np.full(n, np.iinfo(np.int64).max)
        self.effect_until = np.full(n, -1)
        self.rows = Rows()

    def multiplier_now(self, week: int) -> np.ndarray:
        """Per account, the factor on the decision hazard this week (1 outside an offer)."""
        on = (self.effect_from <= week) & (week <= self.effect_until)
        return np.where(on, self.multiplier, 1.0)

    def contact(
        self,
        week: int,
        eligible: np.ndarray,
        active_share: np.ndarray,
        since: np.ndarray,
        leaves_on: np.ndarray,
        mrr: np.ndarray,
    ) -> None:
        """Run the campaigns whose contact falls in ``week``: select by the risk rule,
        randomize, record the rows and start the treated accounts' effect next week.

        ``eligible``: monthly-billed paying accounts active this week; ``active_share``: share
        of seats active over the last four weeks; ``since``: start of the subscription now in
        force, whose ``mrr`` the offer discounts (one that started after the contact, a trial
        converting or a plan changing later that week, waits for next month's campaign);
        ``leaves_on``: churn day (inf if none)."""
        for k in np.flatnonzero(self.contact_week == week):
            day = self.contact_day[k]
            picked = np.flatnonzero(
                eligible
                & (since <= day)
                & (leaves_on > day)
                & (self.last_contact < day - 7.0 * EFFECT_WEEKS)
                & (active_share < RISK_ACTIVE_SHARE)
            )
            if len(picked) < 2:
                continue
            n_treated = len(picked) // 2 + int(len(picked) % 2 and self.rng.random() < 0.5)
            treated = np.zeros(len(picked), bool)
            treated[self.rng.permutation(len(picked))[:n_treated]] = True
            self.last_contact[picked] = day
            self.effect_from[picked[treated]] = week + 1
            self.effect_until[picked[treated]] = week + EFFECT_WEEKS
            cost = np.where(treated, CONTACT_COST + DISCOUNT * DISCOUNT_MONTHS * mrr[picked], 0.0)
            self.rows.add(
                account=picked,
                day=np.full(len(picked), day),
                campaign=np.full(len(picked), k),
                treated=treated,
                cost=cost,
            )

    def table(self, clock: Clock, account_id: np.ndarray) -> pa.Table:
        """The ``campaigns`` rows of this chunk, sorted by (ts, account_id)."""
        acc = self.rows.get("account", int)
        treated = self.rows.get("treated", bool)
        order = np.lexsort((acc, self.rows.get("day", float)))
        return pa.table(
            {
                "account_id": pa.array(account_id[acc], type=pa.int64()),
                "ts": clock.timestamps(self.rows.get("day", float)),
                "campaign": dictionary(self.rows.get("campaign", int), self.names),
                "treated": pa.array(treated, type=pa.bool_()),
                "offer": dictionary(np.zeros(len(acc), int), (OFFER,), mask=~treated),
                "cost": pa.array(np.round(self.rows.get("cost", float), 2), type=pa.float64()),
            }
        ).take(pa.array(order))
