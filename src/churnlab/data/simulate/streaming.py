"""Profile ``streaming``: a monthly video subscription shared by a household.

An account is a household with one to five profiles (``seats``; ``user_id`` is the profile).
Vocabulary: people ``browse`` and ``search``, ``play_start`` a title, which ends in a ``skip``
(stopped within minutes) or a ``play_complete`` (its ``duration_s`` is the time watched), and
``add_to_list`` or ``rate`` what they saw; ``payment_declined`` is a failed monthly charge and
``help_chat`` a conversation with support (no acting user on either). Play events carry
``title_id`` and ``genre`` (null on other events). There is no session event: sessions are
what the gaps between events make them. Tickets (playback bugs, billing) are sparse; a short
quarterly survey (NPS) is answered by few.

Session pattern: a few long evening sessions a week by one profile (start 19:00-23:30): a few
minutes of browsing, searching and adding to the list, then one to a few plays back to back.
A play's ``play_complete`` comes up to two hours after its ``play_start``, so the mapping's
``session_gap_minutes`` is 180.

How churn happens:

* **A narrowing catalogue.** Each household likes a few genres (broad tastes are likelier with
  good fit; a share signs up for one show and has one). Completing new titles uses up the
  titles it still wants in those genres; monthly releases refill them a little. As the unwatched
  pool shrinks, plays spread over fewer genres and turn to rewatches of a few favourites
  (fewer distinct titles), skips rise, completions fall and browsing/search grow: satisfaction
  falls and the hazard rises.
* **Skips and completions.** Satisfaction follows last week's share of plays skipped and the
  completions; a lower satisfaction raises the hazard.
* **Billing.** Higher plans cost more, and price-sensitive households on them leave more.
  Monthly charges fail at random, far more in the quarter after a failure; unrecovered failures
  end the subscription with ``payment_failed`` (involuntary churn).
* **Disengaging.** A decision to leave is abrupt for ``ABRUPT_SHARE`` of deciders; the others
  watch less each week until they cancel (``DISENGAGE_EXIT`` a week).
* **Quality.** Playback bugs (ticketed now and then) lower satisfaction for a few weeks.

``truth``: per account and week, the probability that the subscription ended in that week
given the household's state at the start of the week.
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

PLANS = ("basic_with_ads", "standard", "premium")
PLAN_MRR = np.array([7.99, 15.49, 22.99])
PLAN_MIX = [0.35, 0.45, 0.2]
COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "BR", "IN", "JP")
CHANNELS = ("organic", "paid_social", "bundle", "referral")
GENRES = (
    "drama", "comedy", "thriller", "documentary", "sci_fi", "animation", "reality", "crime",
    "romance", "kids", "horror", "sport",
)  # fmt: skip
MAX_GENRES = 6
EVENT_TYPES = (
    "browse",
    "search",
    "play_start",
    "skip",
    "play_complete",
    "add_to_list",
    "rate",
    "payment_declined",
    "help_chat",
)
BROWSE, SEARCH, PLAY_START, SKIP, PLAY_COMPLETE, ADD_TO_LIST, RATE, DECLINED, HELP = range(9)
CHURN_REASONS = ("too_expensive", "nothing_to_watch", "switched_service", "not_using")
TOO_EXPENSIVE, NOTHING_TO_WATCH = range(2)
END_REASONS = (*CHURN_REASONS, "payment_failed")
PAYMENT_FAILED = len(CHURN_REASONS)
HAZARD_INTERCEPT = -6.4
ABRUPT_SHARE = 0.25
DISENGAGE_EXIT = 0.2
DISENGAGE_DECAY = 0.65
SESSIONS_PER_WEEK = 2.5
TITLES_PER_GENRE = 14.0  # new titles a household wants per liked genre at sign-up
RELEASES_PER_GENRE = 1.2  # new wanted titles per liked genre each month
PAYMENT_FAIL = 0.025
PAYMENT_RECOVER = 0.55
SURVEY_RESPONSE = 0.08

EVENT_MAPPING = {
    "roles": {
        "core_action": ["play_complete"],
        "contact": ["help_chat"],
        "payment_failure": ["payment_declined"],
    },
    "session_gap_minutes": 180,  # a film runs up to two hours with no event
    "ratios": [["skip", "play_start"], ["play_complete", "play_start"], ["search", "play_start"]],
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

    channel = rng.choice(len(CHANNELS), size=n, p=[0.4, 0.3, 0.15, 0.15])
    fit = rng.normal(0.0, 1.0, n) + np.array([0.0, -0.3, 0.2, 0.3])[channel]
    country = rng.choice(len(COUNTRIES), size=n)
    profiles = 1 + rng.binomial(4, 0.35, n)
    plan = rng.choice(3, size=n, p=PLAN_MIX)
    plan = np.where((profiles >= 4) & (plan == 0), 1, plan)
    mrr = PLAN_MRR[plan]
    price_sensitivity = np.exp(rng.normal(0.0, 0.6, n))
    one_show = rng.random(n) < sigmoid(-1.2 - 0.8 * fit)
    breadth = np.where(
        one_show, 1, np.clip(1 + rng.poisson(2.0 * np.exp(0.3 * fit)), 1, MAX_GENRES)
    )
    # the household's genres in order of preference; slot g is liked if g < breadth
    liked = np.argsort(rng.random((n, len(GENRES))), axis=1)[:, :MAX_GENRES]
    slot_liked = np.arange(MAX_GENRES)[None, :] < breadth[:, None]
    pool = np.where(slot_liked, TITLES_PER_GENRE * np.exp(rng.normal(0, 0.4, (n, 1))), 0.0)
    pool[:, 0] = np.where(one_show, 4.0, pool[:, 0])
    signup_week = np.floor(signup / 7).astype(int)

    status = np.zeros(n, np.int8)
    sat = 0.5 * fit + rng.normal(0, 0.3, n)
    phase = np.zeros(n, np.int8)
    weeks_in_phase = np.zeros(n)
    bug_load = np.zeros(n)
    card_trouble = np.zeros(n)
    churn_day = np.full(n, np.inf)
    churn_reason = np.full(n, -1)

    counts = {k: np.zeros((n, W), np.int32) for k in (BROWSE, SEARCH, PLAY_START, ADD_TO_LIST)}
    sessions_w = np.zeros((n, W), np.int32)
    skips_w = np.zeros((n, W), np.int32)
    completes_w = np.zeros((n, W), np.int32)
    fresh_w = np.zeros((n, W), np.float32)  # share of plays that are new titles
    genres_w = np.zeros((n, W), np.int8)  # liked genres with titles left to watch
    truth, subs, tickets, surveys, sys_events = Rows(), Rows(), Rows(), Rows(), Rows()

    for t in range(signup_week.min(), W):
        w0 = 7.0 * t
        week_hi = min(w0 + 7.0, T)
        status[(signup_week == t) & (status == 0)] = 1
        act = status == 1
        if not act.any():
            continue
        idx = np.flatnonzero(act)
        age = t - signup_week
        if t > 0 and clock.week_calendar_month[t] != clock.week_calendar_month[t - 1]:
            pool += np.where(slot_liked, rng.poisson(RELEASES_PER_GENRE, pool.shape), 0.0)
        total = pool.sum(axis=1)
        match = total / (total + 6.0)

        # -- playback bugs ----------------------------------------------------------------------
        bug = act & (rng.random(n) < 0.01)
        bug_load = 0.7 * bug_load + bug
        if bug.any():
            b_idx = np.flatnonzero(bug)
            tickets.add(
                account=b_idx, day=np.maximum(w0 + rng.random(len(b_idx)) * (week_hi - w0), signup[b_idx]),
                cat=np.zeros(len(b_idx), int), sev=rng.choice(4, size=len(b_idx), p=[0.3, 0.4, 0.25, 0.05]),
            )  # fmt: skip

        # -- hazard -----------------------------------------------------------------------------
        logit = (
            HAZARD_INTERCEPT
            - 1.8 * sat
            + 3.0 * (1 - match)
            + 0.5 * price_sensitivity * (mrr - 12.0) / 10.0
            + 0.6 * np.exp(-np.maximum(age, 0) / 6.0)
            + 0.4 * bug_load
        )
        decide_p = sigmoid(logit)
        healthy = phase == 0
        months_in = np.floor((w0 + 7.0 - signup) / 30.44)
        charge_day = signup + 30.44 * months_in
        charge_now = act & (charge_day >= w0) & (charge_day < week_hi) & (months_in >= 1)
        pf = PAYMENT_FAIL * np.where(card_trouble > 0, 6.0, 1.0)
        hazard = np.where(healthy, decide_p * ABRUPT_SHARE, DISENGAGE_EXIT)
        hazard += np.where(charge_now, pf * (1 - PAYMENT_RECOVER), 0.0)
        truth.add(
            account=idx, week=np.full(len(idx), t), hazard=np.minimum(hazard[idx], 1.0),
            sat=sat[idx], phase=phase[idx],
        )  # fmt: skip
        leave = act & ~healthy & (rng.random(n) < DISENGAGE_EXIT)
        decide = act & healthy & (rng.random(n) < decide_p)
        abrupt = decide & (rng.random(n) < ABRUPT_SHARE)
        leave |= abrupt
        phase = np.where(decide & ~abrupt, 1, phase).astype(np.int8)
        if leave.any():
            day = np.maximum(w0 + rng.random(n) * (week_hi - w0), signup + 1e-3)
            mask = leave & (day < T)
            bias = np.where(match < 0.5, NOTHING_TO_WATCH, TOO_EXPENSIVE)
            reason = np.where(rng.random(n) < 0.6, bias, rng.choice(len(CHURN_REASONS), size=n))
            churn_day = np.where(mask, day, churn_day)
            churn_reason = np.where(mask, reason, churn_reason)
        fail = charge_now & (rng.random(n) < pf) & ~np.isfinite(churn_day)
        if fail.any():
            f_idx = np.flatnonzero(fail)
            sys_events.add(account=f_idx, day=charge_day[f_idx], type=np.full(len(f_idx), DECLINED))
            chat = f_idx[rng.random(len(f_idx)) < 0.3]
            chat_day = np.minimum(charge_day[chat] + 0.3, week_hi - 1e-3)
            sys_events.add(account=chat, day=chat_day, type=np.full(len(chat), HELP))
            tickets.add(
                account=chat, day=chat_day, cat=np.full(len(chat), 3), sev=np.full(len(chat), 1)
            )
            card_trouble = np.where(fail, 13.0, card_trouble)
            lost = fail & (rng.random(n) >= PAYMENT_RECOVER)
            churn_day = np.where(lost, np.maximum(charge_day, signup + 1e-3), churn_day)
            churn_reason = np.where(lost, PAYMENT_FAILED, churn_reason)

        # -- viewing this week ------------------------------------------------------------------
        decline = np.where(phase == 1, DISENGAGE_DECAY**weeks_in_phase, 1.0)
        lam = SESSIONS_PER_WEEK * np.sqrt(profiles) * np.exp(0.1 * sat) * decline
        sessions = rng.poisson(np.where(act, lam, 0.0))
        plays = sessions + rng.poisson(sessions * 0.8 * np.exp(0.2 * sat))
        p_skip = sigmoid(-1.8 + 2.4 * (1 - match) - 0.4 * sat)
        skips = rng.binomial(plays, p_skip)
        completes = rng.binomial(plays - skips, 0.85)
        fresh = np.clip(match, 0.05, 0.95)
        new_titles = rng.binomial(completes, fresh)
        # completing new titles uses up the pool, in proportion to what each genre has left
        share = pool / np.maximum(total, 1e-9)[:, None]
        pool = np.maximum(pool - new_titles[:, None] * share, 0.0)
        counts[BROWSE][:, t] = rng.poisson(sessions * (0.8 + 2.0 * (1 - match)))
        counts[SEARCH][:, t] = rng.poisson(sessions * (0.2 + 1.2 * (1 - match)))
        counts[PLAY_START][:, t] = plays
        counts[ADD_TO_LIST][:, t] = rng.poisson(sessions * 0.4 * match)
        sessions_w[:, t] = sessions
        skips_w[:, t] = skips
        completes_w[:, t] = completes
        fresh_w[:, t] = fresh
        genres_w[:, t] = np.maximum((pool >= 0.5).sum(axis=1), 1)

        # -- satisfaction follows the week's viewing -------------------------------------------
        skip_share = skips / np.maximum(plays, 1)
        target = (
            0.5 * fit
            + 1.0 * (match - 0.6)
            - 1.2 * (skip_share - 0.2)
            + 0.25 * (np.log1p(completes) - 1.2)
            - 0.5 * bug_load
        )
        sat = np.where(act, 0.75 * sat + 0.25 * target + rng.normal(0, 0.1, n), sat)
        weeks_in_phase = np.where(phase == 1, weeks_in_phase + 1, 0)
        card_trouble = np.maximum(card_trouble - 1, 0)

        survey = act & (age > 0) & (age % 13 == 0) & (rng.random(n) < SURVEY_RESPONSE)
        if survey.any():
            s_idx = np.flatnonzero(survey)
            nps = np.clip(np.round(7.0 + 2.0 * sat[s_idx] + rng.normal(0, 1.3, len(s_idx))), 0, 10)
            surveys.add(
                account=s_idx,
                day=np.maximum(w0 + rng.random(len(s_idx)) * (week_hi - w0), signup[s_idx]),
                nps=nps.astype(np.int64),
            )
        status[act & np.isfinite(churn_day)] = 2

    open_ = ~np.isfinite(churn_day)
    subs.add(
        account=np.arange(n), plan=plan, mrr=mrr, annual=np.zeros(n, bool), start=signup,
        end=churn_day, reason=np.where(open_, -1, churn_reason),
    )  # fmt: skip
    last_day = np.minimum(churn_day, T)
    events = _events(
        clock, rng, account_id, signup, last_day, profiles, liked, sessions_w, counts, skips_w,
        completes_w,
        fresh_w, genres_w, sys_events,
    )  # fmt: skip

    t_acc = tickets.get("account", int)
    t_day = tickets.get("day", float)
    t_res = t_day + np.exp(rng.normal(np.log(1.5), 0.8, len(t_acc)))
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
            "severity": dictionary(tickets.get("sev", int), ("low", "medium", "high", "critical")),
        }
    ).take(pa.array(t_order))
    s_acc = surveys.get("account", int)
    s_day = surveys.get("day", float)
    s_order = np.lexsort((s_day, s_acc))
    s_order = s_order[s_day[s_order] < last_day[s_acc[s_order]]]
    surveys_tbl = pa.table(
        {
            "account_id": pa.array(account_id[s_acc]),
            "ts": clock.timestamps(s_day),
            "nps": pa.array(surveys.get("nps", np.int64)),
        }
    ).take(pa.array(s_order))
    accounts_tbl = pa.table(
        {
            "account_id": pa.array(account_id),
            "signup_at": clock.timestamps(signup),
            "country": dictionary(country, COUNTRIES),
            "acquisition_channel": dictionary(channel, CHANNELS),
            "seats": pa.array(profiles.astype(np.int64)),
        }
    )
    return {
        "accounts": accounts_tbl,
        "subscriptions": subscriptions_table(clock, account_id, subs, PLANS, END_REASONS),
        "events": events,
        "tickets": tickets_tbl,
        "surveys": surveys_tbl,
        "truth": truth_table(clock, account_id, truth),
    }


def _events(
    clock: Clock,
    rng: np.random.Generator,
    account_id: np.ndarray,
    signup: np.ndarray,
    last_day: np.ndarray,
    profiles: np.ndarray,
    liked: np.ndarray,
    sessions_w: np.ndarray,
    counts: dict[int, np.ndarray],
    skips_w: np.ndarray,
    completes_w: np.ndarray,
    fresh_w: np.ndarray,
    genres_w: np.ndarray,
    sys_events: Rows,
) -> pa.Table:
    """Evening sessions of one profile: a few minutes of browsing, searching and adding to the
    list, then the session's plays one after another. Within a week's plays the first
    ``skips`` are skipped, the next ``completes`` completed (some then rated), the rest left
    unfinished; which session each lands in, and their order in it, is random."""
    sess = Cells(rng, sessions_w, signup, last_day)
    n_sess = len(sess.row_acc)
    # the evening of the uniform draw's day, 19:00-23:30
    day0 = np.floor(sess.row_day)
    s_start = np.maximum(day0 + (19.0 + 4.5 * rng.random(n_sess)) / 24.0, sess.row_day)
    s_user = rng.integers(0, 1 << 30, n_sess) % profiles[sess.row_acc]
    s_lead = rng.uniform(60.0, 900.0, n_sess)  # seconds of browsing before the first play

    p_sess = sess.attach(rng, counts[PLAY_START])
    n_play = len(p_sess)
    cell = sess.row_cell[p_sess]  # plays come grouped by cell
    a, w = sess.acc[cell], sess.week[cell]
    group = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if n_play else np.array([], int)
    k = np.arange(n_play) - np.repeat(group, np.diff(np.r_[group, n_play]))
    n_skip, n_done = skips_w[a, w], completes_w[a, w]
    outcome = np.where(k < n_skip, SKIP, np.where(k < n_skip + n_done, PLAY_COMPLETE, -1))
    slot = (rng.random(n_play) * genres_w[a, w]).astype(np.int64)
    genre = liked[sess.row_acc[p_sess], slot]
    fresh = rng.random(n_play) < fresh_w[a, w]
    title = genre * 1000 + np.where(
        fresh, rng.integers(10, 1000, n_play), rng.integers(0, 3, n_play)
    )  # a rewatch is one of a genre's few favourites
    runtime = np.exp(rng.normal(np.log(2700.0), 0.5, n_play))
    watched = np.where(outcome == SKIP, rng.uniform(20.0, 300.0, n_play), runtime)
    # plays follow each other in their session: start = lead + the plays before it
    seg = watched + rng.uniform(5.0, 120.0, n_play)
    order = np.lexsort((rng.random(n_play), p_sess))
    before = np.cumsum(seg[order]) - seg[order]
    first = (
        np.flatnonzero(np.r_[True, p_sess[order][1:] != p_sess[order][:-1]]) if n_play else order
    )
    before -= np.repeat(before[first], np.diff(np.r_[first, n_play]))
    start = np.empty(n_play)
    start[order] = s_start[p_sess[order]] + (s_lead[p_sess[order]] + before) / 86_400.0
    ended = outcome >= 0
    rated = (outcome == PLAY_COMPLETE) & (rng.random(n_play) < 0.15)

    def browsing(code: int) -> tuple[np.ndarray, np.ndarray]:
        rows = sess.attach(rng, counts[code])
        return rows, s_start[rows] + rng.random(len(rows)) * s_lead[rows] / 86_400.0

    rows_b, day_b = browsing(BROWSE)
    rows_s, day_s = browsing(SEARCH)
    rows_l, day_l = browsing(ADD_TO_LIST)
    sys_acc = sys_events.get("account", int)
    groups = [  # (session rows, play rows or None, type, time, duration)
        (p_sess, np.arange(n_play), np.full(n_play, PLAY_START), start, np.full(n_play, np.nan)),
        (p_sess[ended], np.flatnonzero(ended), outcome[ended],
         start[ended] + watched[ended] / 86_400.0, watched[ended]),
        (p_sess[rated], np.flatnonzero(rated), np.full(rated.sum(), RATE),
         start[rated] + (watched[rated] + 20.0) / 86_400.0, np.full(rated.sum(), np.nan)),
        (rows_b, None, np.full(len(rows_b), BROWSE), day_b,
         np.exp(rng.normal(np.log(90.0), 0.6, len(rows_b)))),
        (rows_s, None, np.full(len(rows_s), SEARCH), day_s,
         np.exp(rng.normal(np.log(40.0), 0.5, len(rows_s)))),
        (rows_l, None, np.full(len(rows_l), ADD_TO_LIST), day_l, np.full(len(rows_l), np.nan)),
    ]  # fmt: skip
    acc = np.concatenate([sess.row_acc[g[0]] for g in groups] + [sys_acc])
    day = np.concatenate([g[3] for g in groups] + [sys_events.get("day", float)])
    typ = np.concatenate([g[2] for g in groups] + [sys_events.get("type", int)]).astype(np.int32)
    dur = np.concatenate([g[4] for g in groups] + [np.full(len(sys_acc), np.nan)])
    usr = np.concatenate([s_user[g[0]] for g in groups] + [np.full(len(sys_acc), -1)])
    no_title = np.full(len(sys_acc), -1)
    title_all = np.concatenate(
        [title[g[1]] if g[1] is not None else np.full(len(g[0]), -1) for g in groups] + [no_title]
    )
    genre_all = np.concatenate(
        [genre[g[1]] if g[1] is not None else np.full(len(g[0]), -1) for g in groups] + [no_title]
    )
    return events_table(
        clock, account_id, last_day, EVENT_TYPES, acc, day, typ, dur, usr,
        extra={
            "title_id": pa.array(title_all.astype(np.int64), mask=title_all < 0),
            "genre": dictionary(np.maximum(genre_all, 0), GENRES, mask=genre_all < 0),
        },
    )  # fmt: skip
