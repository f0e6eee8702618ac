"""Team: how many of the licensed seats are active, now and before."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.builtin.common import KEYS, with_tenure
from churnlab.features.cube import user_windows
from churnlab.features.registry import Feature, feature_builder


@feature_builder(
    "seat_activity",
    driver="team",
    description="share of seats active now vs 8 weeks ago",
    requires=("events.user_id", "accounts.seats"),
    features=[
        Feature(
            "active_seat_share_2w",
            "distinct active users in the last 2 weeks / seats",
            "float",
            reason=(
                "{active_seat_share_2w*seats:int} of {seats:int} seats active in the last 2 weeks",
                "{value:pct} of seats active in the last 2 weeks",
            ),
            window=14,
        ),
        Feature(
            "active_seat_share_2w_8w_ago",
            "the same share 8 weeks earlier (weeks 9-10 before the cutoff; null before 10 weeks of tenure)",
            "float",
            reason="{value:pct} of seats were active 8 weeks ago",
            window=70,
        ),
        Feature(
            "active_seat_share_trend",
            "active seat share now minus 8 weeks ago",
            "float",
            reason=(
                "[value<0] active seats fell from {active_seat_share_2w_8w_ago*seats:int} to "
                "{active_seat_share_2w*seats:int} in 8 weeks",
                "[value>0] active seats rose from {active_seat_share_2w_8w_ago*seats:int} to "
                "{active_seat_share_2w*seats:int} in 8 weeks",
                "active seat share {value:points} in 8 weeks",
            ),
            window=70,
        ),
        Feature(
            "active_users_change_8w",
            "active users in the last 2 weeks / in the same 2 weeks 8 weeks earlier (+1 smoothing; null before 10 weeks of tenure)",
            "float",
            reason="active users {value:ratio} vs 8 weeks earlier",
            window=70,
        ),
    ],
)
def seat_activity(ds: Dataset, keys: ir.Table) -> ir.Table:
    users = user_windows(ds, keys).select(*KEYS, now="users_14d", then="users_8w_ago")
    t = with_tenure(ds, keys, "seats").left_join(users, KEYS)
    t = t.select(*KEYS, "seats", "tenure_days", now=t.now.fill_null(0), then=t.then.fill_null(0))
    denom = ibis.ifelse(t.seats > 0, t.seats.cast("float64"), ibis.null("float64"))
    share_now = t.now / denom
    share_then = ibis.ifelse(t.tenure_days >= 70, t.then / denom, ibis.null("float64"))
    return t.select(
        *KEYS,
        active_seat_share_2w=share_now,
        active_seat_share_2w_8w_ago=share_then,
        active_seat_share_trend=share_now - share_then,
        active_users_change_8w=ibis.ifelse(
            t.tenure_days >= 70, (t.now + 1).cast("float64") / (t.then + 1), ibis.null("float64")
        ),
    )
