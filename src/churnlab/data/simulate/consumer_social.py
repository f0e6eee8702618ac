"""Profile ``consumer_social``: a free social app with an optional paid, ad-free tier.

One person per account (``user_id`` is the account's one user). Vocabulary: ``app_open`` opens
a session; inside sessions people ``post``, ``like``, ``reply``, ``message``, see ads
(``ad_view``) and accept friends (``friend_added``); ``reply_received`` and ``friend_lost`` are
things that happen to the account (no acting user). No tickets and no surveys: a consumer app
rarely has either. Subscriptions: ``free`` (MRR 0) or ``plus`` (ad-free, 4.99 a month); an
account has churned when it deactivates (its subscription ends).

Session pattern: many short sessions (a few minutes) spread over the day, several a week.

How churn happens:

* **Conversation.** Replies received per post grow with the friend graph and the account's
  fit; satisfaction follows last week's replies received, so fewer replies means less
  satisfaction and a higher hazard.
* **Lost connections.** Friends are added (most in the first weeks) and lost; some accounts go
  through a spell in which their circle leaves the app (losses jump for about two months).
  Recent losses raise the hazard directly and shrink the graph that brings replies.
* **Ad load.** Free accounts see a personal number of ads per session, and an ad experiment now
  and then raises it for good; ads per post/session lower satisfaction and raise the hazard.
* **Declining posting.** A decision to leave is abrupt for ``ABRUPT_SHARE`` of deciders; the
  others disengage first: sessions decay each week and posting decays faster, until they
  deactivate (``DISENGAGE_EXIT`` a week).
* **Time.** The hazard is higher in the first weeks (a new user who finds no friends leaves).

``truth``: per account and week, the probability that the account deactivated in that week
given its state at the start of the week.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from churnlab.data.simulate._common import (
    Cells,
    Clock,
    Rows,
    SimulationParams,
    dictionary,
    events_table,
    sigmoid,
    subscriptions_table,
    truth_table,
)

PLANS = ("free", "plus")
PLUS_MRR = 4.99
PLUS_SHARE = 0.08
SEGMENTS = ("18_24", "25_34", "35_plus")
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "BR", "IN", "JP")
CHANNELS = ("organic", "app_store_ad", "friend_invite", "influencer")
EVENT_TYPES = (
    "app_open",
    "post",
    "like",
    "reply",
    "message",
    "ad_view",
    "friend_added",
    "reply_received",
    "friend_lost",
)
APP_OPEN, POST, LIKE, REPLY, MESSAGE, AD_VIEW, FRIEND_ADDED, REPLY_RECEIVED, FRIEND_LOST = range(9)
CHURN_REASONS = ("not_using", "too_many_ads", "friends_left", "privacy", "other_app")
NOT_USING, TOO_MANY_ADS, FRIENDS_LEFT = range(3)
HAZARD_INTERCEPT = -4.6  # weekly logit of deciding to leave at average state
ABRUPT_SHARE = 0.3
DISENGAGE_EXIT = 0.18
DISENGAGE_DECAY = 0.7
SESSIONS_PER_WEEK = 4.5
AD_EXPERIMENT_RATE = 0.006  # weekly chance that an account's ad load rises for good

EVENT_MAPPING = {
    "roles": {"session_start": ["app_open"], "core_action": ["post"]},
    "session_gap_minutes": 30,
    "ratios": [["reply_received", "post"], ["ad_view", "post"], ["friend_lost", "friend_added"]],
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

    channel = rng.choice(len(CHANNELS), size=n, p=[0.45, 0.25, 0.2, 0.1])
    fit = rng.normal(0.0, 1.0, n) + np.array([0.0, -0.4, 0.4, -0.2])[channel]
    segment = rng.choice(len(SEGMENTS), size=n, p=[0.4, 0.35, 0.25])
    country = rng.choice(len(COUNTRIES), size=n)
    plus = rng.random(n) < PLUS_SHARE * np.exp(0.5 * fit)
    ad_load = np.where(plus, 0.0, np.exp(rng.normal(np.log(1.2), 0.4, n)))
    friends = rng.poisson(np.where(channel == CHANNELS.index("friend_invite"), 8.0, 2.0)).astype(
        float
    )
    signup_week = np.floor(signup / 7).astype(int)

    status = np.zeros(n, np.int8)
    sat = 0.5 * fit + rng.normal(0, 0.3, n)
    phase = np.zeros(n, np.int8)
    weeks_in_phase = np.zeros(n)
    exodus = np.zeros(n)  # weeks left of a spell in which the account's circle leaves
    lost_recent = np.zeros(n)  # decayed count of recent friend losses
    churn_day = np.full(n, np.inf)
    churn_reason = np.full(n, -1)

    counts = {k: np.zeros((n, W), np.int32) for k in range(len(EVENT_TYPES))}
    sat_w = np.zeros((n, W), np.float32)
    truth, subs = Rows(), Rows()

    for t in range(signup_week.min(), W):
        w0 = 7.0 * t
        week_hi = min(w0 + 7.0, T)
        status[(signup_week == t) & (status == 0)] = 1
        act = status == 1
        if not act.any():
            continue
        idx = np.flatnonzero(act)
        age = t - signup_week

        # -- hazard of deciding to leave, from the state at the start of the week -------------
        logit = (
            HAZARD_INTERCEPT
            - 1.2 * sat
            + 0.35 * lost_recent
            + 0.35 * (ad_load - 1.2)
            + 1.0 * np.exp(-np.maximum(age, 0) / 4.0)
            - 0.4 * plus
        )
        decide_p = sigmoid(logit)
        healthy = phase == 0
        hazard = np.where(healthy, decide_p * ABRUPT_SHARE, DISENGAGE_EXIT)
        truth.add(
            account=idx, week=np.full(len(idx), t), hazard=hazard[idx], sat=sat[idx],
            phase=phase[idx],
        )  # fmt: skip
        leave = act & ~healthy & (rng.random(n) < DISENGAGE_EXIT)
        decide = act & healthy & (rng.random(n) < decide_p)
        abrupt = decide & (rng.random(n) < ABRUPT_SHARE)
        leave |= abrupt
        phase = np.where(decide & ~abrupt, 1, phase).astype(np.int8)
        if leave.any():
            day = np.maximum(w0 + rng.random(n) * (week_hi - w0), signup + 1e-3)
            mask = leave & (day < T)
            bias = np.where(
                lost_recent > 1.0,
                FRIENDS_LEFT,
                np.where(ad_load > 1.8, TOO_MANY_ADS, NOT_USING),
            )
            reason = np.where(rng.random(n) < 0.6, bias, rng.choice(len(CHURN_REASONS), size=n))
            churn_day = np.where(mask, day, churn_day)
            churn_reason = np.where(mask, reason, churn_reason)

        # -- this week's activity ---------------------------------------------------------------
        decline = np.where(phase == 1, DISENGAGE_DECAY**weeks_in_phase, 1.0)
        early = np.where(age < 3, 1.4, 1.0)
        lam = SESSIONS_PER_WEEK * np.exp(0.45 * sat + 0.2 * fit) * decline * early
        sessions = rng.poisson(np.where(act, lam, 0.0))
        post_rate = 0.22 * np.exp(0.4 * sat) * decline**0.7  # posting fades faster
        posts = rng.poisson(sessions * post_rate)
        graph = friends / (friends + 6.0)
        replies_sent = rng.poisson(sessions * 0.35 * np.exp(0.35 * sat) * graph)
        received = rng.poisson(posts * 1.4 * graph * np.exp(0.3 * fit) + 0.1 * replies_sent)
        likes = rng.poisson(sessions * 1.0 * np.exp(0.2 * sat))
        messages = rng.poisson(sessions * 0.5 * graph * np.exp(0.3 * sat))
        ads = rng.poisson(sessions * ad_load)
        new_ad_load = act & ~plus & (rng.random(n) < AD_EXPERIMENT_RATE)
        ad_load = np.where(new_ad_load, ad_load * 1.8, ad_load)
        exodus = np.where(act & (exodus == 0) & (rng.random(n) < 0.008), 9.0, exodus)
        added = rng.poisson(
            np.where(
                sessions > 0, 0.35 * np.exp(0.4 * fit + 0.2 * sat) * np.where(age < 4, 4, 1), 0
            )
        )
        added = np.minimum(added, sessions * 3)
        lost = rng.poisson(np.where(act, 0.03 + friends * np.where(exodus > 0, 0.09, 0.004), 0.0))
        lost = np.minimum(lost, friends + added).astype(np.int64)
        friends = friends + added - lost
        for code, c in (
            (APP_OPEN, sessions), (POST, posts), (LIKE, likes), (REPLY, replies_sent),
            (MESSAGE, messages), (AD_VIEW, ads), (FRIEND_ADDED, added),
            (REPLY_RECEIVED, received), (FRIEND_LOST, lost),
        ):  # fmt: skip
            counts[code][:, t] = c
        sat_w[:, t] = sat

        # -- satisfaction follows what the week brought ------------------------------------------
        target = (
            0.5 * fit
            + 0.5 * (np.log1p(received) - 0.8)
            + 0.25 * (np.log1p(friends) - 2.0)
            - 0.45 * (ad_load - 1.2)
            - 0.2 * lost
        )
        sat = np.where(act, 0.8 * sat + 0.2 * target + rng.normal(0, 0.12, n), sat)
        lost_recent = 0.75 * lost_recent + lost
        exodus = np.maximum(exodus - 1, 0)
        weeks_in_phase = np.where(phase == 1, weeks_in_phase + 1, 0)
        done = act & np.isfinite(churn_day)
        status[done] = 2

    open_ = ~np.isfinite(churn_day)
    subs.add(
        account=np.arange(n), plan=plus.astype(int), mrr=np.where(plus, PLUS_MRR, 0.0),
        annual=np.zeros(n, bool), start=signup, end=churn_day,
        reason=np.where(open_, -1, churn_reason),
    )  # fmt: skip
    last_day = np.minimum(churn_day, T)
    events = _events(clock, rng, account_id, signup, last_day, counts, sat_w)
    accounts_tbl = pa.table(
        {
            "account_id": pa.array(account_id),
            "signup_at": clock.timestamps(signup),
            "segment": dictionary(segment, SEGMENTS),
            "country": dictionary(country, COUNTRIES),
            "acquisition_channel": dictionary(channel, CHANNELS),
        }
    )
    return {
        "accounts": accounts_tbl,
        "subscriptions": subscriptions_table(clock, account_id, subs, PLANS, CHURN_REASONS),
        "events": events,
        "truth": truth_table(clock, account_id, truth),
    }


def _events(
    clock: Clock,
    rng: np.random.Generator,
    account_id: np.ndarray,
    signup: np.ndarray,
    last_day: np.ndarray,
    counts: dict[int, np.ndarray],
    sat_w: np.ndarray,
) -> pa.Table:
    """Sessions from weekly counts; in-session actions at random points of a session of their
    week; things that happen to the account (replies received, friends lost) anywhere in it."""
    sess = Cells(rng, counts[APP_OPEN], signup, last_day)
    s_sat = sat_w[sess.row_acc, sess.week[sess.row_cell]]
    s_len = np.exp(rng.normal(np.log(200.0) + 0.25 * s_sat, 0.7))
    accs, days, types, durs, users = [sess.row_acc], [sess.row_day], [], [s_len], []
    types.append(np.full(len(sess.row_acc), APP_OPEN))
    users.append(np.zeros(len(sess.row_acc), np.int64))
    for code in (POST, LIKE, REPLY, MESSAGE, AD_VIEW, FRIEND_ADDED):
        row = sess.attach(rng, counts[code])
        accs.append(sess.row_acc[row])
        days.append(sess.row_day[row] + rng.random(len(row)) * s_len[row] / 86_400.0)
        types.append(np.full(len(row), code))
        seconds = {POST: 45.0, REPLY: 20.0, MESSAGE: 15.0, AD_VIEW: 6.0}.get(code, np.nan)
        durs.append(seconds * np.exp(rng.normal(0, 0.4, len(row))))
        users.append(np.zeros(len(row), np.int64))
    for code in (REPLY_RECEIVED, FRIEND_LOST):
        cells = Cells(rng, counts[code], signup, last_day)
        accs.append(cells.row_acc)
        days.append(cells.row_day)
        types.append(np.full(len(cells.row_acc), code))
        durs.append(np.full(len(cells.row_acc), np.nan))
        users.append(np.full(len(cells.row_acc), -1, np.int64))
    return events_table(
        clock,
        account_id,
        last_day,
        EVENT_TYPES,
        np.concatenate(accs),
        np.concatenate(days),
        np.concatenate(types).astype(np.int32),
        np.concatenate(durs),
        np.concatenate(users),
    )
