"""The population a model is about (a spec's ``population`` section): which observations it
trains on, which accounts scoring scores and which the report describes.

Paid churn and trial conversion are different decisions with different owners; a population
keeps them apart (``paying_only``, ``plans``/``exclude_plans``, ``min_tenure_days``). The
filter reads three columns of an observation or scoring frame: ``mrr`` (every frame has it),
``plan`` and ``tenure_days`` (made by the ``plan`` and ``tenure`` builders, which scoring adds
to the model's own builders when the population needs them).
"""

from __future__ import annotations

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from churnlab.config import PopulationSpec

# population column -> the builder that makes it
COLUMN_BUILDERS = {"plan": "plan", "tenure_days": "tenure"}


def needed_columns(population: PopulationSpec) -> list[str]:
    """The frame columns ``population`` reads."""
    out = []
    if population.paying_only:
        out.append("mrr")
    if population.plans is not None or population.exclude_plans:
        out.append("plan")
    if population.min_tenure_days:
        out.append("tenure_days")
    return out


def is_everyone(population: PopulationSpec) -> bool:
    return not needed_columns(population)


def population_mask(frame: pd.DataFrame, population: PopulationSpec) -> np.ndarray:
    """Rows of ``frame`` inside ``population`` (a KeyError names a column the frame lacks)."""
    keep = np.ones(len(frame), dtype=bool)
    missing = [c for c in needed_columns(population) if c not in frame.columns]
    if missing:
        raise KeyError(f"the population needs column(s) {missing}")
    if population.paying_only:
        keep &= pd.to_numeric(frame["mrr"], errors="coerce").fillna(0).to_numpy() > 0
    plan = frame["plan"].astype("string") if "plan" in frame.columns else None
    if population.plans is not None and plan is not None:
        keep &= plan.isin(population.plans).fillna(False).to_numpy(dtype=bool)
    if population.exclude_plans and plan is not None:
        keep &= ~plan.isin(population.exclude_plans).fillna(False).to_numpy(dtype=bool)
    if population.min_tenure_days:
        tenure = pd.to_numeric(frame["tenure_days"], errors="coerce").to_numpy(dtype=float)
        keep &= np.nan_to_num(tenure, nan=-1.0) >= population.min_tenure_days
    return keep


def population_filter(table: ir.Table, population: PopulationSpec) -> ir.Table:
    """The same filter as :func:`population_mask` on an Ibis table (Spark scoring)."""
    if population.paying_only:
        table = table.filter(table.mrr.fill_null(0) > 0)
    if population.plans is not None:
        table = table.filter(table.plan.isin(population.plans))
    if population.exclude_plans:
        table = table.filter(~table.plan.isin(population.exclude_plans) | table.plan.isnull())
    if population.min_tenure_days:
        table = table.filter(table.tenure_days >= population.min_tenure_days)
    return table


def extra_builders(population: PopulationSpec, have: set[str]) -> list[str]:
    """Builders a scoring job adds to a model's own so the population's columns exist."""
    names = [COLUMN_BUILDERS[c] for c in needed_columns(population) if c in COLUMN_BUILDERS]
    return [n for n in names if n not in have]


def describe_population(population: PopulationSpec) -> str:
    """In words: "paying accounts (MRR > 0), plans other than trial"."""
    parts = []
    if population.paying_only:
        parts.append("paying accounts (MRR > 0)")
    if population.plans is not None:
        parts.append(
            f"plan{'s' if len(population.plans) > 1 else ''} {', '.join(population.plans)}"
        )
    if population.exclude_plans:
        parts.append(f"plans other than {', '.join(population.exclude_plans)}")
    if population.min_tenure_days:
        parts.append(f"at least {population.min_tenure_days:g} days since sign-up")
    return "; ".join(parts) if parts else "every active account"
