"""Profile ``b2b_saas``: a SaaS business sold per seat (the default demo data source).

Accounts sign up in monthly cohorts that grow, try or buy a plan, use the product with their
team, hit bugs and usability friction, answer NPS surveys, get proactive customer-success calls,
change plans, fail payments and cancel. Each account carries a latent product fit and a weekly
latent satisfaction; both drive engagement and the weekly hazard of deciding to leave.

How churn happens (the mechanisms churn practice reports):

* **Onboarding.** Trial sign-ups that are "one and done" (roughly half; likelier with low fit)
  have a single first session of well under a minute and never return. Accounts that stay have
  first sessions of several minutes and log in far more often in their first days.
* **Activity churn.** A decision to leave is abrupt for ``abrupt_share`` of deciders (they are
  still active when they cancel); the others enter a *disengaging* phase in which the share of
  active seats decays each week until they cancel (``disengage_exit`` per week).
* **Billing.** Annual customers can only leave at their renewal date (a decision during the
  contract year is held until then). Monthly payments fail at random (more on small plans, and
  far more in the quarter after a failure: the card keeps failing); unrecovered failures end the
  subscription with ``payment_failed`` (involuntary churn).
  Satisfied accounts upgrade, unhappy ones downgrade (new subscription rows).
* **Product quality and usability.** Bugs arrive at random and are ticketed; each lowers
  satisfaction in proportion to its severity and how slowly it is resolved, and hurts low-fit
  accounts more (an interaction a linear model misses). A per-account friction factor stretches
  time-on-task for every task, raises usability tickets and lowers satisfaction.
* **Customer success.** Covered accounts get proactive calls (more when at risk), which lift
  satisfaction and cut the hazard for a few weeks.
* **Satisfaction.** Quarterly NPS surveys (partial response) read latent satisfaction.
* **Time.** The hazard is higher in the first months of tenure and in January (budget resets).
* **Retention campaigns.** Each month-end, monthly-billed accounts with low seat activity are
  randomized into an offer (a discount) or a control group; the offer scales the hazard of
  deciding to leave by the account's effect segment, from 0.4 (persuadable) to 2.0 (do not
  disturb) (:mod:`churnlab.data.simulate.campaigns`; ``SimulationParams.campaigns``).

Scenarios (``SimulationParams.scenario``; the change happens on ``change_at``, by default the
first day of the month two thirds into the history):

* ``none``: nothing changes (the demo).
* ``price_increase``: list prices rise by ``PRICE_RISE``. Every monthly subscription in force is
  re-priced on that day (a new subscription row; the old one ends with ``price_change``), and
  later sign-ups, conversions and plan changes pay the new price; annual contracts keep theirs.
  Price-sensitive accounts (monthly, on the basic plan or with at most 5 seats) are
  ``PRICE_SENSITIVITY`` likelier (logit) to decide to leave from then on, mostly saying
  ``too_expensive``. Drift shows in billing; churn rises.
* ``product_redesign``: sessions after the change are shorter (``REDESIGN_SESSION``), hold more
  events (``REDESIGN_EVENTS``) and a different mix of tasks (``REDESIGN_TASK_PROBS``: dashboards
  replace search), whose time on task halves. Churn does not change: drift in engagement and
  usability without a change in risk.
* ``new_channel``: a new acquisition channel, ``marketplace``, doubles the monthly rate of
  sign-ups from the change on (the number of accounts stays ``accounts``, so fewer sign up
  before it); half of the sign-ups after it come from the new channel: trial accounts on the basic plan with at most
  3 seats and a product fit ``MARKETPLACE_FIT`` lower. Drift shows in account attributes and
  onboarding; churn of the new accounts is high.

``truth`` holds, per account and week, the probability that the account's subscription ended
in that week given its latent state at the start of the week (``hazard``), the latent
satisfaction and whether it was disengaging: P(churn in a window) = 1 - prod(1 - hazard) is the
oracle score no model can beat.

Everything is vectorized over accounts (a loop runs over weeks, not accounts) and generated in
fixed-size account chunks streamed to Parquet, so memory stays bounded and the same seed gives
byte-identical files whatever the machine.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from churnlab.data.simulate._common import (
    Clock,
    Rows,
    SimulationParams,
    change_day,
    dictionary,
    sigmoid,
)
from churnlab.data.simulate.campaigns import (
    EFFECT_SEGMENTS,
    RISK_LOOKBACK_WEEKS,
    CampaignBook,
    effect_segments,
)

PLANS = ("trial", "basic", "pro", "enterprise")
TRIAL, BASIC, PRO, ENTERPRISE = range(4)
SEGMENTS = ("smb", "mid_market", "enterprise")
INDUSTRIES = ("software", "retail", "finance", "healthcare", "education", "manufacturing", "media")
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "BR", "IN", "JP")
CHANNELS = ("organic", "paid_search", "partner", "referral", "sales")
# product events; ``create_report`` is the core action, ``login`` opens a session
TASK_TYPES = (
    "view_dashboard",
    "create_report",
    "edit_report",
    "share_report",
    "export",
    "search",
    "invite_user",
    "configure_integration",
)
TASK_PROBS = np.array([0.30, 0.0, 0.17, 0.09, 0.08, 0.30, 0.03, 0.03])  # core share set per account
TASK_SECONDS = np.array([25.0, 240.0, 150.0, 40.0, 35.0, 15.0, 60.0, 420.0])
EVENT_TYPES = ("login", *TASK_TYPES, "csm_call", "payment_failed")
SEVERITIES = ("low", "medium", "high", "critical")
CHURN_REASONS = (
    "too_expensive",
    "not_using",
    "product_issues",
    "switched_competitor",
    "business_closed",
)
# subscriptions.end_reason codes: voluntary churn reasons, then involuntary, then plan changes
END_REASONS = (*CHURN_REASONS, "payment_failed", "upgrade", "downgrade", "trial_expired")
PAYMENT_FAILED, UPGRADE, DOWNGRADE, TRIAL_EXPIRED = (END_REASONS.index(r) for r in END_REASONS[5:])
# scenarios (see the module docstring)
PRICE_CHANGE = len(END_REASONS)  # end_reason of a subscription re-priced by price_increase
PRICE_RISE = 0.25
PRICE_SENSITIVITY = 1.0
REDESIGN_SESSION = 0.6
REDESIGN_EVENTS = 1.6
REDESIGN_TASK_PROBS = np.array([0.55, 0.0, 0.17, 0.09, 0.08, 0.05, 0.03, 0.03])
MARKETPLACE_FIT = -0.9


def end_reasons(scenario: str) -> tuple[str, ...]:
    return (*END_REASONS, "price_change") if scenario == "price_increase" else END_REASONS


def channels(scenario: str) -> tuple[str, ...]:
    return (*CHANNELS, "marketplace") if scenario == "new_channel" else CHANNELS


EVENT_MAPPING = {
    "roles": {
        "session_start": ["login"],
        "core_action": ["create_report"],
        "contact": ["csm_call"],
        "payment_failure": ["payment_failed"],
    },
    "session_gap_minutes": 30,
}


def simulate_chunk(
    p: SimulationParams,
    clock: Clock,
    first_id: int,
    signup: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, pa.Table]:
    n = len(signup)
    W = clock.weeks
    T = clock.days
    account_id = np.arange(first_id, first_id + n, dtype=np.int64)

    # ---- account attributes -------------------------------------------------------------
    t_change = change_day(p, clock)
    channel = rng.choice(len(CHANNELS), size=n, p=[0.35, 0.25, 0.12, 0.13, 0.15])
    market = np.zeros(n, bool)
    if p.scenario == "new_channel":
        market = (signup >= t_change) & (rng.random(n) < 0.5)
        channel = np.where(market, len(CHANNELS), channel)
    fit = (
        rng.normal(0.0, 1.0, n) + np.array([0.0, -0.35, 0.25, 0.35, 0.2, MARKETPLACE_FIT])[channel]
    )
    paid_plan = 1 + rng.choice(3, size=n, p=list(p.plan_mix))
    paid_plan = np.where(market, BASIC, paid_plan)
    paid_plan = np.where(channel == CHANNELS.index("sales"), np.maximum(paid_plan, PRO), paid_plan)
    seats_lo = np.array([0, 1, 5, 20])[paid_plan]
    seats_hi = np.array([0, 5, 25, 150])[paid_plan]
    seats = np.round(np.exp(rng.uniform(np.log(seats_lo), np.log(seats_hi + 1)))).astype(np.int64)
    seats = np.clip(seats, seats_lo, seats_hi)
    seats = np.where(market, np.minimum(seats, 3), seats)
    segment = np.array([0, 0, 1, 2])[paid_plan]
    segment = np.where((paid_plan == PRO) & (seats > 15), 1, np.where(paid_plan == PRO, 0, segment))
    industry = rng.choice(len(INDUSTRIES), size=n)
    country = rng.choice(
        len(COUNTRIES), size=n, p=[0.4, 0.1, 0.1, 0.07, 0.07, 0.05, 0.05, 0.06, 0.06, 0.04]
    )
    friction = np.exp(rng.normal(0.0, 0.35, n))  # time-on-task multiplier
    is_trial = ((rng.random(n) < p.trial_share) & (channel != CHANNELS.index("sales"))) | market
    one_and_done = is_trial & (rng.random(n) < sigmoid(0.05 - 1.4 * fit))
    annual = rng.random(n) < np.array([0, *p.annual_share])[paid_plan]
    cs_covered = (paid_plan == ENTERPRISE) | ((paid_plan == PRO) & (seats >= 12))
    core_share = 0.14 * np.exp(0.35 * fit)
    effect_segment = effect_segments(~annual, paid_plan == BASIC, seats, fit)
    # the campaigns draw from their own generator: the other draws stay where they were
    book = CampaignBook(clock, effect_segment, rng.spawn(1)[0], enabled=p.campaigns)

    signup_week = np.floor(signup / 7).astype(int)
    trial_end = np.where(is_trial, signup + p.trial_days, -np.inf)
    price = np.array([0.0, *p.price_per_seat])
    discount = np.where(annual, 1 - p.annual_discount, 1.0)

    # ---- mutable state ------------------------------------------------------------------
    status = np.zeros(n, np.int8)  # 0 not signed up, 1 subscribed, 2 churned
    plan = np.where(is_trial, TRIAL, paid_plan)
    mrr = np.where(is_trial, 0.0, price[paid_plan] * seats * discount)
    sub_start = signup.copy()
    sat = 0.6 * fit + rng.normal(0, 0.3, n)
    bug_load = np.zeros(n)
    cs_boost = np.zeros(n)
    cs_protect = np.zeros(n)
    phase = np.zeros(n, np.int8)  # 1: disengaging
    weeks_in_phase = np.zeros(n)
    will_not_renew = np.zeros(n, bool)
    churn_day = np.full(n, np.inf)
    churn_reason = np.full(n, -1)
    card_trouble = np.zeros(n)  # weeks left of a payment method that keeps failing
    cancels_in_app = np.zeros(n, bool)  # abrupt self-serve cancellation: a last session that day
    reason_bias = np.zeros(n, int)  # index into CHURN_REASONS that the state suggests

    sessions = np.zeros((n, W), np.int32)
    active_users = np.zeros((n, W), np.int32)
    sat_w = np.zeros((n, W), np.float32)

    subs, tickets, surveys, truth, sys_events = Rows(), Rows(), Rows(), Rows(), Rows()

    def end_subscription(idx: np.ndarray, day: np.ndarray, reason: np.ndarray) -> None:
        subs.add(
            account=idx, plan=plan[idx], mrr=mrr[idx], annual=annual[idx] & (plan[idx] != TRIAL),
            start=sub_start[idx], end=day, reason=reason,
        )  # fmt: skip

    for t in range(signup_week.min(), W):
        w0 = 7.0 * t
        status[(signup_week == t) & (status == 0)] = 1
        act = status == 1
        if not act.any():
            continue
        age = t - signup_week
        idx = np.flatnonzero(act)
        cal_month = clock.week_calendar_month[t]
        week_hi = min(w0 + 7.0, T)
        price_hit = np.zeros(n, bool)
        if p.scenario == "price_increase" and w0 <= t_change < w0 + 7.0:
            price = price * (1 + PRICE_RISE)  # the new list price for everything after
            rp = act & (plan != TRIAL) & ~annual & ~np.isfinite(churn_day) & (sub_start < t_change)
            rp_idx = np.flatnonzero(rp)
            end_subscription(
                rp_idx, np.full(len(rp_idx), t_change), np.full(len(rp_idx), PRICE_CHANGE)
            )
            mrr[rp_idx] = price[plan[rp_idx]] * seats[rp_idx] * discount[rp_idx]
            sub_start[rp_idx] = t_change
        if p.scenario == "price_increase" and w0 >= t_change:
            price_hit = ~annual & ((plan == BASIC) | (seats <= 5))

        # -- product quality: bugs and their tickets --------------------------------------
        n_bugs = rng.poisson(np.full(len(idx), p.bug_rate))
        bug_load *= 0.7
        if n_bugs.sum():
            b_acc = np.repeat(idx, n_bugs)
            b_day = np.maximum(w0 + rng.random(len(b_acc)) * (week_hi - w0), signup[b_acc])
            sev = rng.choice(4, size=len(b_acc), p=[0.4, 0.35, 0.2, 0.05])
            res_days = np.exp(rng.normal(np.log(2.5) + 0.4 * (sev >= 2), 1.0))
            impact = np.array([0.4, 0.8, 1.5, 2.6])[sev] * np.sqrt(res_days / 2.5)
            bug_load += np.bincount(b_acc, weights=impact, minlength=n)
            tickets.add(
                account=b_acc, day=b_day, cat=np.zeros(len(b_acc), int), sev=sev, res=res_days
            )

        # -- usability and how-to tickets ----------------------------------------------------
        u_rate = 0.015 * friction[idx] ** 3 + np.where(age[idx] < 4, 0.12, 0.01)
        n_u = rng.poisson(u_rate)
        if n_u.sum():
            u_acc = np.repeat(idx, n_u)
            usability = rng.random(len(u_acc)) < (
                friction[u_acc] ** 3 / (friction[u_acc] ** 3 + 1.5)
            )
            tickets.add(
                account=u_acc,
                day=np.maximum(w0 + rng.random(len(u_acc)) * (week_hi - w0), signup[u_acc]),
                cat=np.where(usability, 1, 2),
                sev=rng.choice(4, size=len(u_acc), p=[0.55, 0.35, 0.09, 0.01]),
                res=np.exp(rng.normal(np.log(1.0), 0.8, len(u_acc))),
            )

        # -- customer success: proactive calls ----------------------------------------------
        at_risk = (sat < -0.4) | (phase == 1)
        call = act & cs_covered & (rng.random(n) < p.cs_contact_rate * np.where(at_risk, 3.0, 1.0))
        cs_boost = 0.8 * cs_boost + 0.5 * call
        cs_protect = np.where(call, 4.0, np.maximum(cs_protect - 1, 0))
        if call.any():
            c_idx = np.flatnonzero(call)
            sys_events.add(
                account=c_idx,
                day=np.maximum(w0 + rng.random(len(c_idx)) * (week_hi - w0), signup[c_idx]),
                type=np.full(len(c_idx), EVENT_TYPES.index("csm_call")),
                dur=np.full(len(c_idx), 1800.0),
            )

        # -- latent satisfaction ----------------------------------------------------------------
        target = 0.8 * fit - 1.2 * np.log(friction) + cs_boost
        sat = np.where(
            act,
            0.82 * sat
            + 0.18 * target
            - 0.22 * bug_load * (1 + 0.8 * np.maximum(-fit, 0))
            + rng.normal(0, 0.22, n),
            sat,
        )

        # -- hazard of deciding to leave ---------------------------------------------------------
        tenure = 0.9 * np.exp(-np.maximum(age, 0) / 12.0)
        logit = (
            p.hazard_intercept
            - 1.25 * sat
            + 0.45 * bug_load * (1 + 0.8 * np.maximum(-fit, 0))
            + tenure
            + np.array([0.0, 0.35, 0.0, -0.5])[plan]
            + (0.45 if cal_month == 1 else 0.0)
            + 0.5 * (seats <= 2) * (fit < -0.5)
            - 0.8 * (cs_protect > 0)
            + PRICE_SENSITIVITY * price_hit
        )
        decide_p = sigmoid(logit)
        # a retention offer in force scales the chance of deciding to leave (campaigns.py)
        decide_now = np.minimum(decide_p * book.multiplier_now(t), 1.0)
        hazard = np.zeros(n)

        paid = act & (plan != TRIAL)
        monthly = paid & ~annual
        # monthly billing: a charge in this week may fail
        months_in = np.floor((w0 + 7.0 - sub_start) / 30.44)
        charge_day = sub_start + 30.44 * months_in
        charge_now = monthly & (charge_day >= w0) & (charge_day < week_hi) & (months_in >= 1)
        pf = np.array([0.0, *p.payment_fail])[plan] * np.where(card_trouble > 0, 8.0, 1.0)
        involuntary = np.where(charge_now, pf * (1 - p.payment_recover), 0.0)
        hazard += involuntary
        healthy = phase == 0
        hazard += np.where(monthly & healthy, decide_now * p.abrupt_share, 0.0)
        hazard += np.where(monthly & ~healthy, p.disengage_exit, 0.0)
        contract_years = np.floor((w0 + 7.0 - sub_start) / 365.0)
        renewal_day = sub_start + 365.0 * contract_years
        renewal_now = (
            paid & annual & (contract_years >= 1) & (renewal_day >= w0) & (renewal_day < week_hi)
        )
        hazard += np.where(renewal_now, np.where(will_not_renew, 1.0, decide_now), 0.0)
        trial_end_now = act & (plan == TRIAL) & (trial_end >= w0) & (trial_end < week_hi)
        p_convert = np.where(one_and_done, 0.0, sigmoid(0.9 + 1.3 * fit + 0.6 * sat))
        hazard += np.where(trial_end_now, 1 - p_convert, 0.0)
        truth.add(
            account=idx, week=np.full(len(idx), t), hazard=np.minimum(hazard[idx], 1.0),
            sat=sat[idx], phase=phase[idx], decide=np.where(monthly, decide_p, 0.0)[idx],
            involuntary=involuntary[idx],
        )  # fmt: skip

        u = rng.random(n)
        # disengaging monthly accounts cancel
        leave = monthly & ~healthy & (rng.random(n) < p.disengage_exit)
        # new decisions
        decide = paid & healthy & ~will_not_renew & (u < decide_now)
        abrupt = decide & (rng.random(n) < p.abrupt_share)
        leave |= monthly & abrupt
        phase = np.where(decide & ~abrupt, 1, phase).astype(np.int8)
        will_not_renew |= decide & annual
        leave_annual = renewal_now & will_not_renew
        reason_bias = np.where(
            bug_load > 1.0, 2, np.where(sat < -0.8, 1, np.where(plan == BASIC, 0, 3))
        )
        reason_bias = np.where(price_hit, 0, reason_bias)
        if leave.any() or leave_annual.any():
            day = np.where(leave_annual, renewal_day, w0 + rng.random(n) * (week_hi - w0))
            day = np.maximum(day, sub_start + 1e-3)
            mask = (leave | leave_annual) & (day < T)
            pick = rng.random(n) < 0.55
            reason = np.where(pick, reason_bias, rng.choice(len(CHURN_REASONS), size=n))
            churn_day = np.where(mask, day, churn_day)
            churn_reason = np.where(mask, reason, churn_reason)
            cancels_in_app |= mask & abrupt & monthly

        # involuntary: failed charge not recovered
        fail = charge_now & (rng.random(n) < pf) & ~np.isfinite(churn_day)
        if fail.any():
            f_idx = np.flatnonzero(fail)
            sys_events.add(
                account=f_idx, day=charge_day[f_idx],
                type=np.full(len(f_idx), EVENT_TYPES.index("payment_failed")),
                dur=np.full(len(f_idx), np.nan),
            )  # fmt: skip
            billing_ticket = f_idx[rng.random(len(f_idx)) < 0.5]
            tickets.add(
                account=billing_ticket, day=np.minimum(charge_day[billing_ticket] + 0.5, week_hi - 1e-3),
                cat=np.full(len(billing_ticket), 3), sev=np.full(len(billing_ticket), 1),
                res=np.full(len(billing_ticket), 1.0),
            )  # fmt: skip
            card_trouble = np.where(fail, 13.0, card_trouble)
            lost = fail & (rng.random(n) >= p.payment_recover)
            churn_day = np.where(lost, np.maximum(charge_day, sub_start + 1e-3), churn_day)
            churn_reason = np.where(lost, PAYMENT_FAILED, churn_reason)

        # trial ends: convert to the paid plan or expire
        if trial_end_now.any():
            convert = trial_end_now & (rng.random(n) < p_convert)
            expire = trial_end_now & ~convert
            c_idx = np.flatnonzero(convert)
            end_subscription(c_idx, trial_end[c_idx], np.full(len(c_idx), UPGRADE))
            plan[c_idx] = paid_plan[c_idx]
            mrr[c_idx] = price[paid_plan[c_idx]] * seats[c_idx] * discount[c_idx]
            sub_start[c_idx] = trial_end[c_idx]
            churn_day = np.where(expire, trial_end, churn_day)
            churn_reason = np.where(expire, TRIAL_EXPIRED, churn_reason)

        # plan changes of accounts that stay
        stay = paid & ~np.isfinite(churn_day) & healthy
        up = stay & (plan < ENTERPRISE) & (rng.random(n) < 0.004 * np.exp(0.6 * sat))
        down = stay & ~up & (plan > BASIC) & (rng.random(n) < 0.003 * np.exp(-0.8 * sat))
        for mask, step, reason in ((up, 1, UPGRADE), (down, -1, DOWNGRADE)):
            if mask.any():
                m_idx = np.flatnonzero(mask)
                day = np.maximum(
                    w0 + rng.random(len(m_idx)) * (week_hi - w0), sub_start[m_idx] + 1.0
                )
                ok = day < T
                m_idx, day = m_idx[ok], day[ok]
                end_subscription(m_idx, day, np.full(len(m_idx), reason))
                plan[m_idx] += step
                mrr[m_idx] = price[plan[m_idx]] * seats[m_idx] * discount[m_idx]
                sub_start[m_idx] = day

        # -- engagement this week -----------------------------------------------------------------
        decline = np.where(phase == 1, p.disengage_decay**weeks_in_phase, 1.0)
        p_active = sigmoid(0.3 + 1.1 * sat + 0.5 * fit) * decline
        p_active = np.where(one_and_done, 0.0, p_active)
        a = rng.binomial(np.where(act, seats, 0), np.clip(p_active, 0, 1))
        lam = p.sessions_per_user_week * np.exp(0.3 * sat)
        lam = np.where(age < 2, lam * 1.5 * np.exp(0.6 * fit), lam)
        sessions[:, t] = rng.poisson(a * lam)
        active_users[:, t] = a
        sat_w[:, t] = sat

        # -- retention campaigns: contacts on the month's last day --------------------------------
        lo = max(t + 1 - RISK_LOOKBACK_WEEKS, 0)
        weeks_live = np.clip(t + 1 - np.maximum(lo, signup_week), 1, None)
        book.contact(
            t,
            eligible=act & (plan != TRIAL) & ~annual,
            active_share=active_users[:, lo : t + 1].sum(axis=1)
            / (np.maximum(seats, 1) * weeks_live),
            since=sub_start,
            leaves_on=churn_day,
            mrr=mrr,
        )

        # -- NPS survey every 13 weeks of tenure -------------------------------------------------
        survey = act & (age > 0) & (age % 13 == 0) & (rng.random(n) < p.survey_response)
        if survey.any():
            s_idx = np.flatnonzero(survey)
            nps = np.clip(np.round(7.2 + 2.0 * sat[s_idx] + rng.normal(0, 1.2, len(s_idx))), 0, 10)
            surveys.add(
                account=s_idx,
                day=np.maximum(w0 + rng.random(len(s_idx)) * (week_hi - w0), signup[s_idx]),
                nps=nps.astype(np.int64),
            )

        weeks_in_phase = np.where(phase == 1, weeks_in_phase + 1, 0)
        card_trouble = np.maximum(card_trouble - 1, 0)
        # accounts whose churn day falls in this week stop after it
        done = act & np.isfinite(churn_day)
        if done.any():
            d_idx = np.flatnonzero(done)
            reason = churn_reason[d_idx]
            end_subscription(d_idx, churn_day[d_idx], reason)
            status[d_idx] = 2

    # still subscribed at the end of observation
    open_idx = np.flatnonzero(status == 1)
    end_subscription(open_idx, np.full(len(open_idx), np.inf), np.full(len(open_idx), -1))

    last_day = np.minimum(churn_day, T)
    ev = _events(p, clock, rng, account_id, signup, last_day, seats, fit, friction, one_and_done,
                 core_share, sessions, active_users, sat_w, sys_events, cancels_in_app,
                 t_change)  # fmt: skip

    # ---- assemble tables --------------------------------------------------------------------
    r_code = subs.get("reason", int)
    sub_acc = subs.get("account", int)
    sub_order = np.lexsort((subs.get("start", float), sub_acc))
    accounts_tbl = pa.table(
        {
            "account_id": pa.array(account_id),
            "signup_at": clock.timestamps(signup),
            "segment": dictionary(segment, SEGMENTS),
            "industry": dictionary(industry, INDUSTRIES),
            "country": dictionary(country, COUNTRIES),
            "acquisition_channel": dictionary(channel, channels(p.scenario)),
            "seats": pa.array(seats),
        }
    )
    subs_tbl = pa.table(
        {
            "account_id": pa.array(account_id[sub_acc]),
            "plan": dictionary(subs.get("plan", int), PLANS),
            "mrr": pa.array(np.round(subs.get("mrr", float), 2)),
            "billing_period": dictionary(
                subs.get("annual", bool).astype(int), ("monthly", "annual")
            ),
            "started_at": clock.timestamps(subs.get("start", float)),
            "ended_at": clock.nullable_timestamps(subs.get("end", float)),
            "end_reason": dictionary(
                np.maximum(r_code, 0), end_reasons(p.scenario), mask=r_code < 0
            ),
        }
    ).take(pa.array(sub_order))
    # tickets and surveys of the churn week may fall after the cancellation: drop those
    t_acc = tickets.get("account", int)
    t_day = tickets.get("day", float)
    t_res = t_day + tickets.get("res", float)
    t_order = np.lexsort((t_day, t_acc))
    t_order = t_order[t_day[t_order] < last_day[t_acc[t_order]]]
    tickets_tbl = pa.table(
        {
            "account_id": pa.array(account_id[t_acc]),
            "ticket_id": pa.array(np.zeros(len(t_acc), np.int64)),
            "created_at": clock.timestamps(t_day),
            "resolved_at": clock.nullable_timestamps(np.where(t_res < T, t_res, np.inf)),
            "category": dictionary(
                tickets.get("cat", int), ("bug", "usability", "how_to", "billing")
            ),
            "severity": dictionary(tickets.get("sev", int), SEVERITIES),
        }
    ).take(pa.array(t_order))
    s_acc = surveys.get("account", int)
    s_day = surveys.get("day", float)
    s_order = np.lexsort((s_day, s_acc))
    s_order = s_order[s_day[s_order] < last_day[s_acc[s_order]]]
    surveys_tbl = pa.table(
        {
            "account_id": pa.array(account_id[s_acc]),
            "ts": clock.timestamps(surveys.get("day", float)),
            "nps": pa.array(surveys.get("nps", np.int64)),
        }
    ).take(pa.array(s_order))
    tr_acc = truth.get("account", int)
    truth_tbl = pa.table(
        {
            "account_id": pa.array(account_id[tr_acc]),
            "week_start": clock.timestamps(truth.get("week", float) * 7.0),
            "hazard": pa.array(truth.get("hazard", float).astype(np.float32)),
            "satisfaction": pa.array(truth.get("sat", float).astype(np.float32)),
            "disengaging": pa.array(truth.get("phase", int).astype(bool)),
            "decide_hazard": pa.array(truth.get("decide", float).astype(np.float32)),
            "involuntary_hazard": pa.array(truth.get("involuntary", float).astype(np.float32)),
            "effect": pa.array(book.multiplier[tr_acc].astype(np.float32)),
            "effect_segment": dictionary(effect_segment[tr_acc], EFFECT_SEGMENTS),
        }
    )
    campaigns = {"campaigns": book.table(clock, account_id)} if p.campaigns else {}
    return {
        "accounts": accounts_tbl,
        "subscriptions": subs_tbl,
        "events": ev,
        "tickets": tickets_tbl,
        "surveys": surveys_tbl,
        "truth": truth_tbl,
        **campaigns,
    }


def _events(
    p: SimulationParams,
    clock: Clock,
    rng: np.random.Generator,
    account_id: np.ndarray,
    signup: np.ndarray,
    last_day: np.ndarray,
    seats: np.ndarray,
    fit: np.ndarray,
    friction: np.ndarray,
    one_and_done: np.ndarray,
    core_share: np.ndarray,
    sessions: np.ndarray,
    active_users: np.ndarray,
    sat_w: np.ndarray,
    sys_events: Rows,
    cancels_in_app: np.ndarray,
    t_change: float,
) -> pa.Table:
    """Expand per-account-week session counts into sessions, then into events (no row loops)."""
    n = len(signup)
    acc, week = np.nonzero(sessions)
    per_cell = sessions[acc, week]
    lo = np.maximum(week * 7.0, signup[acc])
    hi = np.minimum(week * 7.0 + 7.0, last_day[acc])
    keep = hi > lo
    acc, week, per_cell, lo, hi = acc[keep], week[keep], per_cell[keep], lo[keep], hi[keep]
    s_acc = np.repeat(acc, per_cell)
    s_start = np.repeat(lo, per_cell) + rng.random(len(s_acc)) * np.repeat(hi - lo, per_cell)
    s_sat = np.repeat(sat_w[acc, week], per_cell)
    offset = np.repeat(rng.integers(0, 1 << 30, len(acc)), per_cell)
    a_cell = np.repeat(np.maximum(active_users[acc, week], 1), per_cell)
    s_user = (offset + rng.integers(0, 1 << 30, len(s_acc)) % a_cell) % seats[s_acc]
    s_len = np.exp(rng.normal(np.log(600.0) + 0.2 * s_sat, 0.6))

    # the first session at sign-up: the onboarding signal
    first_len = np.where(
        one_and_done,
        np.exp(rng.normal(np.log(25.0), 0.45, n)),
        np.exp(rng.normal(np.log(300.0) + 0.7 * fit, 0.5, n)),
    )
    # abrupt self-serve cancellations happen in a session on the last day
    c_acc = np.flatnonzero(cancels_in_app)
    c_start = np.maximum(last_day[c_acc] - rng.uniform(0.01, 0.5, len(c_acc)), signup[c_acc])
    s_acc = np.concatenate([np.arange(n), s_acc, c_acc])
    s_start = np.concatenate([signup + rng.random(n) * 0.01, s_start, c_start])
    s_user = np.concatenate([np.zeros(n, np.int64), s_user, np.zeros(len(c_acc), np.int64)])
    s_len = np.concatenate([first_len, s_len, np.full(len(c_acc), 240.0)])
    s_sat = np.concatenate(
        [
            np.zeros(n),
            s_sat,
            sat_w[c_acc, np.minimum(last_day[c_acc] // 7, sat_w.shape[1] - 1).astype(int)],
        ]
    )
    redesigned = np.zeros(len(s_acc), bool)
    if p.scenario == "product_redesign":
        redesigned = s_start >= t_change
        redesigned[:n] = False  # the sign-up session keeps its onboarding shape
        s_len = np.where(redesigned, s_len * REDESIGN_SESSION, s_len)
    rate = p.events_per_session * np.where(redesigned, REDESIGN_EVENTS, 1.0)
    n_tasks = rng.poisson(rate * np.exp(0.25 * s_sat))
    n_tasks[:n] = np.where(one_and_done, 1, 3)

    # tasks within sessions
    t_sess = np.repeat(np.arange(len(s_acc)), n_tasks)
    t_acc = s_acc[t_sess]
    is_core = rng.random(len(t_sess)) < core_share[t_acc]
    other = rng.choice(len(TASK_TYPES), size=len(t_sess), p=TASK_PROBS / TASK_PROBS.sum())
    if p.scenario == "product_redesign":
        new_mix = rng.choice(
            len(TASK_TYPES), size=len(t_sess), p=REDESIGN_TASK_PROBS / REDESIGN_TASK_PROBS.sum()
        )
        other = np.where(redesigned[t_sess], new_mix, other)
    t_type = np.where(is_core, TASK_TYPES.index("create_report"), other)
    t_dur = TASK_SECONDS[t_type] * friction[t_acc] * np.exp(rng.normal(0, 0.3, len(t_sess)))
    t_dur = np.where(redesigned[t_sess], 0.5 * t_dur, t_dur)
    # tasks are spread over the session in order
    frac = rng.random(len(t_sess))
    t_ts = s_start[t_sess] + frac * s_len[t_sess] / 86_400.0

    sys_acc = sys_events.get("account", int)
    ev_acc = np.concatenate([s_acc, t_acc, sys_acc])
    ev_ts = np.concatenate([s_start, t_ts, sys_events.get("day", float)])
    ev_type = np.concatenate(
        [
            np.zeros(len(s_acc), np.int32),
            (1 + t_type).astype(np.int32),
            sys_events.get("type", int).astype(np.int32),
        ]
    )
    ev_dur = np.concatenate([s_len, t_dur, sys_events.get("dur", float)])
    ev_user = np.concatenate([s_user, s_user[t_sess], np.full(len(sys_acc), -1)])
    ok = ev_ts < last_day[ev_acc]
    ev_acc, ev_ts, ev_type, ev_dur, ev_user = (
        ev_acc[ok],
        ev_ts[ok],
        ev_type[ok],
        ev_dur[ok],
        ev_user[ok],
    )
    order = np.lexsort((ev_ts, ev_acc))
    ev_acc, ev_ts, ev_type, ev_dur, ev_user = (
        ev_acc[order], ev_ts[order], ev_type[order], ev_dur[order], ev_user[order]
    )  # fmt: skip
    aid = account_id[ev_acc]
    return pa.table(
        {
            "account_id": pa.array(aid),
            "user_id": pa.array(aid * 1000 + ev_user, mask=ev_user < 0),
            "ts": clock.timestamps(ev_ts),
            "event_type": dictionary(ev_type, EVENT_TYPES),
            "duration_s": pa.array(np.round(ev_dur, 1), mask=~np.isfinite(ev_dur)),
        }
    )
