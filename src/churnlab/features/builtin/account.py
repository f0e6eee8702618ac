"""Account: tenure, the account attributes churnlab knows (seats, segment, industry, country,
channel) and those a dataset names itself (``account_attributes`` in ``dataset.json``)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from churnlab.data import Dataset, Vocabulary, number_from_text
from churnlab.errors import ChurnlabError
from churnlab.features.builtin.common import KEYS, with_tenure
from churnlab.features.builtin.event_types import slug
from churnlab.features.observations import days_between
from churnlab.features.registry import Feature, feature_builder, static_names


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


ATTRIBUTE = "<attribute>"  # the catalogue's stand-in for each named attribute


def _attribute_names(vocabulary: Vocabulary) -> dict[str, str]:
    """Column -> feature name: the column's name as a slug (``Company Size`` ->
    ``company_size``), ``account_`` before it where a built-in feature has that name, ``_2``...
    on a clash between two columns."""
    taken = static_names()
    out: dict[str, str] = {}
    for col, _ in vocabulary.attributes:
        base = col if col == ATTRIBUTE else slug(col)
        base = f"account_{base}" if base in taken else base
        name, i = base, 2
        while name in out.values():
            name, i = f"{base}_{i}", i + 1
        out[col] = name
    return out


def _attribute_features(vocabulary: Vocabulary) -> list[Feature]:
    names = _attribute_names(vocabulary)
    out = []
    for col, kind in vocabulary.attributes:
        shown = col.replace("{", "{{").replace("}", "}}")
        if kind == "date":
            out.append(
                Feature(
                    names[col],
                    f"days since the account's {col} (null while it lies on or after the cutoff)",
                    "float",
                    reason=f"{shown} {{value:age}} ago",
                    context=True,
                )
            )
        elif kind == "number":
            out.append(
                Feature(
                    names[col],
                    f"the account's {col} (accounts table)",
                    "float",
                    reason=f"{shown} {{value:num}}",
                    context=True,
                )
            )
        else:
            out.append(
                Feature(
                    names[col],
                    f"the account's {col} (accounts table)",
                    "category",
                    reason=f"{shown} {{value:text}}",
                    context=True,
                )
            )
    return out


@feature_builder(
    "account_attributes",
    driver="account",
    description="the accounts table's own columns named in dataset.json (account_attributes)",
    requires=("accounts",),
    expand=_attribute_features,
    features=_attribute_features(Vocabulary(attributes=((ATTRIBUTE, "category"),))),
)
def account_attributes(ds: Dataset, keys: ir.Table, vocabulary: Vocabulary) -> ir.Table:
    acc = ds["accounts"]
    lacking = [c for c, _ in vocabulary.attributes if c not in acc.columns]
    if lacking:
        raise ChurnlabError(
            f"accounts: no column(s) {lacking}, which the features were built with "
            "(dataset.json account_attributes when the model was trained)"
        )
    names = _attribute_names(vocabulary)
    cols = [c for c, _ in vocabulary.attributes]
    t = keys.join(acc.select("account_id", *cols), "account_id")
    out: dict[str, ir.Value] = {}
    for col, kind in vocabulary.attributes:
        v = t[col]
        if kind == "date":  # point in time: a date on or after the cutoff is not known yet
            v = v.strip().nullif("").try_cast("timestamp") if v.type().is_string() else v
            v = v.cast("timestamp")
            out[names[col]] = ibis.ifelse(
                v < t.cutoff, days_between(t.cutoff, v), ibis.null("float64")
            )
        elif kind == "number":  # text read as the kind was decided (1,234, true, NA)
            out[names[col]] = (number_from_text(v) if v.type().is_string() else v).cast("float64")
        else:
            out[names[col]] = v.cast("string")
    return t.select(*KEYS, **out)
