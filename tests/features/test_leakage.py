"""Point-in-time correctness: nothing on or after a cutoff changes a feature at that cutoff."""

from __future__ import annotations

import duckdb
import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnlab.data import Vocabulary, fit_vocabulary, load_dataset
from churnlab.features import build_features, build_observations
from tests.conftest import tiny_frames, write_frames

KEYS = ["account_id", "cutoff"]
LABELS = ["churned_within_h", "duration_days", "event", "label_complete", "mrr"]


# every event type of the tiny data and the property test, the role-based builders, and
# sessions both from session-start events and from inactivity gaps
ROLES = {
    "core_action": ("create_report",),
    "contact": ("csm_call",),
    "payment_failure": ("payment_failed",),
}
TYPES = ("login", "create_report", "export", "payment_failed", "csm_call")
VOCABULARIES = (
    Vocabulary(types=TYPES, roles=ROLES, ratios=(("export", "login"),)),
    Vocabulary(types=TYPES, roles={**ROLES, "session_start": ("login",)}),
)


def _features(ds, keys: pd.DataFrame, vocabulary: Vocabulary) -> pd.DataFrame:
    table, _ = build_features(ds, ibis.memtable(keys[KEYS]), vocabulary=vocabulary)
    return ds.con.execute(table).set_index(KEYS).sort_index()


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and a.index.equals(b.index)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=0, atol=1e-9, err_msg=col
            )
        else:
            assert x.astype(object).where(x.notna()).equals(y.astype(object).where(y.notna())), col


def _truncate(src, dst, cutoff: str) -> None:
    """The dataset as it was known at ``cutoff``: later rows dropped, later ends still open."""
    dst.mkdir()
    c = f"TIMESTAMP '{cutoff}'"
    queries = {
        "accounts": f"select * from '{src}/accounts.parquet' where signup_at <= {c}",
        "subscriptions": f"""select * replace (
                case when ended_at > {c} then null else ended_at end as ended_at,
                case when ended_at > {c} then null else end_reason end as end_reason)
            from '{src}/subscriptions.parquet' where started_at <= {c}""",
        "events": f"select * from '{src}/events.parquet' where ts < {c}",
        "tickets": f"""select * replace (case when resolved_at >= {c} then null else resolved_at end as resolved_at)
            from '{src}/tickets.parquet' where created_at < {c}""",
        "surveys": f"select * from '{src}/surveys.parquet' where ts < {c}",
    }
    for name, sql in queries.items():
        duckdb.sql(f"copy ({sql}) to '{dst}/{name}.parquet' (format parquet)")


@pytest.mark.parametrize("cutoff", ["2024-08-01", "2025-02-01"])
def test_features_equal_on_data_truncated_at_cutoff(small_sim, tmp_path, cutoff):
    full = load_dataset(small_sim)
    obs = full.con.execute(build_observations(full, [cutoff], horizon_days=60))
    assert len(obs) > 300
    _truncate(small_sim, tmp_path / "cut", cutoff)
    known = load_dataset(tmp_path / "cut", observed_until=cutoff)
    fitted = fit_vocabulary(full, before=pd.Timestamp(cutoff))
    for vocab in (fitted, Vocabulary(types=fitted.types, roles=ROLES)):
        _assert_same(_features(full, obs, vocab), _features(known, obs, vocab))


CUTOFF = pd.Timestamp("2024-04-15")
AFTER = st.integers(min_value=0, max_value=76 * 24 * 60).map(
    lambda m: CUTOFF + pd.Timedelta(minutes=m)
)


@st.composite
def later_changes(draw):
    """Arbitrary events, tickets, surveys and subscription changes on or after the cutoff."""
    n_events = draw(st.integers(0, 6))
    events = pd.DataFrame(
        {
            "account_id": draw(
                st.lists(st.sampled_from([1, 2, 3]), min_size=n_events, max_size=n_events)
            ),
            "user_id": draw(
                st.lists(
                    st.sampled_from([1001, 1002, 3001, 3005]), min_size=n_events, max_size=n_events
                )
            ),
            "ts": draw(st.lists(AFTER, min_size=n_events, max_size=n_events)),
            "event_type": draw(
                st.lists(
                    st.sampled_from(
                        ["login", "create_report", "export", "payment_failed", "csm_call"]
                    ),
                    min_size=n_events,
                    max_size=n_events,
                )
            ),
            "duration_s": draw(st.lists(st.floats(1, 5000), min_size=n_events, max_size=n_events)),
        }
    )
    n_t = draw(st.integers(0, 3))
    tickets = pd.DataFrame(
        {
            "account_id": draw(st.lists(st.sampled_from([1, 3]), min_size=n_t, max_size=n_t)),
            "ticket_id": list(range(100, 100 + n_t)),
            "created_at": draw(st.lists(AFTER, min_size=n_t, max_size=n_t)),
            "resolved_at": [pd.NaT] * n_t,
            "category": draw(
                st.lists(
                    st.sampled_from(["bug", "usability", "billing"]), min_size=n_t, max_size=n_t
                )
            ),
            "severity": ["critical"] * n_t,
        }
    )
    surveys = pd.DataFrame(
        {"account_id": [3], "ts": [draw(AFTER)], "nps": [draw(st.integers(0, 10))]}
    )
    # a plan ending exactly at the cutoff means the account is not active at it (that is a
    # change at the cutoff, not after it), so cancellations come at least a minute later
    churn_account_1_at = draw(st.one_of(st.none(), AFTER.filter(lambda t: t > CUTOFF)))
    resolve_open_ticket_at = draw(st.one_of(st.none(), AFTER))
    # account 1 asks to cancel its open plan at or after the cutoff (canceled_at): not seen
    request_cancel_1_at = draw(st.one_of(st.none(), AFTER))
    return (
        events,
        tickets,
        surveys,
        churn_account_1_at,
        resolve_open_ticket_at,
        request_cancel_1_at,
    )


# Each example is WORLDS copies of the tiny data (account, user and ticket ids shifted per
# copy), each with its own later changes: one feature build checks WORLDS draws (a build, not
# the data, is the cost), and a change in one copy must not move another copy's features either.
WORLDS = 3
_BEFORE: list = []  # the unchanged data's observations and features: the same in every example


def _copy(w: int) -> dict[str, pd.DataFrame]:
    """The tiny data's copy ``w``: account ids + 100 w, user ids + 100,000 w, ticket ids
    + 1,000 w (copy 0 is the tiny data itself)."""
    frames = tiny_frames()
    # the optional canceled_at: account 3 asked before the cutoff to cancel its open annual
    frames["subscriptions"]["canceled_at"] = [pd.NaT, pd.NaT, pd.NaT, pd.Timestamp("2024-04-01")]
    for df in frames.values():
        df["account_id"] += 100 * w
    frames["events"]["user_id"] += 100_000 * w
    frames["tickets"]["ticket_id"] += 1_000 * w
    return frames


def _worlds(copies: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    return {name: pd.concat([c[name] for c in copies], ignore_index=True) for name in copies[0]}


def _before(tmp_path_factory):
    if not _BEFORE:
        ds = load_dataset(
            write_frames(
                _worlds([_copy(w) for w in range(WORLDS)]), tmp_path_factory.mktemp("before")
            ),
            observed_until="2024-07-01",
        )
        keys = ds.con.execute(build_observations(ds, [CUTOFF], horizon_days=30))
        features = [_features(ds, keys, vocab) for vocab in VOCABULARIES]
        _BEFORE.append((keys, keys.set_index(KEYS), features))
    return _BEFORE[0]


def _changed(w: int, changes) -> dict[str, pd.DataFrame]:
    """Copy ``w`` with its later changes applied."""
    events, tickets, surveys, churn_at, resolve_at, request_at = changes
    frames, shift = _copy(w), 100 * w
    events = events.assign(
        account_id=events.account_id + shift, user_id=events.user_id + 1000 * shift
    )
    tickets = tickets.assign(
        account_id=tickets.account_id + shift, ticket_id=tickets.ticket_id + 10 * shift
    )
    frames["events"] = pd.concat([frames["events"], events], ignore_index=True)
    frames["tickets"] = pd.concat([frames["tickets"], tickets], ignore_index=True)
    frames["surveys"] = pd.concat(
        [frames["surveys"], surveys.assign(account_id=surveys.account_id + shift)],
        ignore_index=True,
    )
    if churn_at is not None:  # account 1 cancels its open plan after the cutoff
        subs = frames["subscriptions"]
        subs.loc[
            subs.account_id.eq(1 + shift) & subs.ended_at.isna(), ["ended_at", "end_reason"]
        ] = [
            churn_at,
            "too_expensive",
        ]
    if request_at is not None:  # no later than the end it asks for
        subs = frames["subscriptions"]
        asked = request_at if churn_at is None else min(request_at, churn_at)
        subs.loc[
            subs.account_id.eq(1 + shift) & subs.started_at.eq(pd.Timestamp("2024-03-01")),
            "canceled_at",
        ] = asked
    if resolve_at is not None:  # the ticket open at the cutoff gets resolved later
        frames["tickets"].loc[frames["tickets"].ticket_id == 11 + 10 * shift, "resolved_at"] = (
            resolve_at
        )
    return frames


# each example checks one of the vocabularies (a feature build per example is the cost)
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.lists(later_changes(), min_size=WORLDS, max_size=WORLDS),
    which=st.sampled_from(range(len(VOCABULARIES))),
)
def test_appending_rows_after_cutoff_changes_no_feature(tmp_path_factory, changes, which):
    keys, labels_before, features_before = _before(tmp_path_factory)
    assert features_before[which].cancellation_scheduled.sum() == WORLDS  # account 3's
    frames = _worlds([_changed(w, c) for w, c in enumerate(changes)])
    after = load_dataset(
        write_frames(frames, tmp_path_factory.mktemp("after")), observed_until="2024-07-01"
    )

    _assert_same(features_before[which], _features(after, keys, VOCABULARIES[which]))

    labels_after = after.con.execute(
        build_observations(after, [CUTOFF], horizon_days=30)
    ).set_index(KEYS)
    assert labels_before.index.equals(labels_after.index)  # who is active at the cutoff
    for w, (_, _, _, churn_at, _, _) in enumerate(changes):
        accounts = labels_after.index.get_level_values("account_id")
        mine = (accounts >= 100 * w) & (accounts < 100 * (w + 1))
        if churn_at is None or churn_at > CUTOFF + pd.Timedelta(days=30):
            # labels depend only on (cutoff, cutoff + horizon]
            assert labels_before.churned_within_h[mine].equals(labels_after.churned_within_h[mine])
        else:
            assert labels_after.loc[(1 + 100 * w, CUTOFF), "churned_within_h"]


@pytest.mark.parametrize(
    ("renewed_at", "plan"),
    [("2024-04-15", True), ("2024-04-15 00:00:01", False), ("2024-05-01", True)],
)
def test_a_renewal_from_the_cutoff_on_changes_no_feature(tmp_path, renewed_at, plan):
    """A renewal paid before the last period ends replaces that period from its start (the
    earlier row is read as ending there): one dated at or after the cutoff changes no feature
    and no row at it, with plan names and without."""
    frames = tiny_frames()
    if not plan:
        frames["subscriptions"] = frames["subscriptions"].drop(columns="plan")
    before = load_dataset(write_frames(frames, tmp_path / "before"), observed_until="2024-07-01")
    keys = before.con.execute(build_observations(before, [CUTOFF], horizon_days=30))
    subs = frames["subscriptions"]
    renewal = subs[subs.account_id == 2].assign(
        started_at=pd.Timestamp(renewed_at), ended_at=pd.Timestamp("2024-06-20"), end_reason=None
    )
    frames["subscriptions"] = pd.concat([subs, renewal], ignore_index=True)
    after = load_dataset(write_frames(frames, tmp_path / "after"), observed_until="2024-07-01")
    assert any("renewed before they end" in n for n in after.notices)
    again = after.con.execute(build_observations(after, [CUTOFF], horizon_days=30))
    assert keys[KEYS].equals(again[KEYS]) and keys.mrr.equals(again.mrr)
    _assert_same(_features(before, keys, VOCABULARIES[0]), _features(after, keys, VOCABULARIES[0]))
