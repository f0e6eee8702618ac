"""Satisfaction: NPS level and change."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.builtin.common import KEYS, before
from churnlab.features.registry import Feature, feature_builder


@feature_builder(
    "nps",
    driver="satisfaction",
    description="latest NPS answer, its change and recency",
    requires=("surveys",),
    features=[
        Feature(
            "last_nps",
            "latest NPS score (0-10) before the cutoff",
            "float",
            reason="latest NPS answer {value:int} of 10",
            if_missing="no NPS answer yet",
        ),
        Feature(
            "nps_change",
            "latest NPS minus the one before",
            "float",
            reason="NPS {value:change} since the previous answer",
        ),
        Feature(
            "is_detractor",
            "latest NPS is 6 or below",
            "bool",
            reason=(
                "[value==1] NPS detractor (latest answer {last_nps:int} of 10)",
                "[value==1] NPS detractor",
            ),
        ),
        Feature(
            "days_since_last_survey",
            "days since the latest NPS answer",
            "float",
            reason="last NPS answer {value:days} ago",
            if_missing="no NPS answer yet",
        ),
        Feature(
            "surveys_answered",
            "NPS surveys answered before the cutoff",
            "int",
            0,
            reason="{value:int} NPS survey{value:s} answered",
        ),
    ],
)
def nps(ds: Dataset, keys: ir.Table) -> ir.Table:
    s = before(keys, ds["surveys"], "ts")
    s = s.mutate(rn=ibis.row_number().over(ibis.window(group_by=KEYS, order_by=ibis.desc("ts"))))
    g = s.group_by(KEYS).agg(
        last_nps=s.nps.max(where=s.rn == 0).cast("float64"),
        prev_nps=s.nps.max(where=s.rn == 1).cast("float64"),
        days_since_last_survey=s.age_days.min(),
        surveys_answered=s.count(),
    )
    return g.select(
        *KEYS,
        "last_nps",
        nps_change=g.last_nps - g.prev_nps,
        is_detractor=g.last_nps <= 6,
        days_since_last_survey=g.days_since_last_survey,
        surveys_answered=g.surveys_answered,
    )
