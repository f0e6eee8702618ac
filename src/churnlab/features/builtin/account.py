"""Account: tenure and the account attributes (seats, segment, industry, country, channel)."""

from __future__ import annotations

import ibis.expr.types as ir

from churnlab.data import Dataset
from churnlab.features.builtin.common import KEYS, with_tenure
from churnlab.features.registry import Feature, feature_builder


@feature_builder(
    "tenure",
    driver="account",
    description="days since sign-up",
    requires=("accounts",),
    features=[
        Feature(
            "tenure_days",
            "days since sign-up",
            "float",
            reason="customer for {value:age}",
            context=True,
        )
    ],
)
def tenure(ds: Dataset, keys: ir.Table) -> ir.Table:
    return with_tenure(ds, keys).select(*KEYS, "tenure_days")


def _account_attribute(column: str, dtype: str, description: str, reason: str) -> None:
    def build(ds: Dataset, keys: ir.Table) -> ir.Table:
        t = keys.join(ds["accounts"].select("account_id", column), "account_id")
        value = t[column].cast("string") if dtype == "category" else t[column].cast("float64")
        return t.select(*KEYS, **{column: value})

    feature_builder(
        column,
        driver="account",
        description=description,
        requires=(f"accounts.{column}",),
        features=[Feature(column, description, dtype, reason=reason, context=True)],
    )(build)


for _col, _dtype, _desc, _reason in (
    ("seats", "float", "team size (licensed seats)", "{value:int} seat{value:s}"),
    ("segment", "category", "customer segment", "segment {value:text}"),
    ("industry", "category", "the account's industry (accounts table)", "industry {value:text}"),
    ("country", "category", "the account's country (accounts table)", "country {value:text}"),
    (
        "acquisition_channel",
        "category",
        "how the account was acquired",
        "acquired through {value:text}",
    ),
):
    _account_attribute(_col, _dtype, _desc, _reason)
