"""The canonical data model: loading, validation, the single-table adapter and the simulator."""

from churnlab.data.io import (
    Dataset,
    DataValidationError,
    Problem,
    churned_accounts,
    load_dataset,
)
from churnlab.data.schema import TABLES, Column, TableSchema
from churnlab.data.simulate import SimulationParams, simulate
from churnlab.data.single_table import load_customer_table, map_label

__all__ = [
    "TABLES",
    "Column",
    "DataValidationError",
    "Dataset",
    "Problem",
    "SimulationParams",
    "TableSchema",
    "churned_accounts",
    "load_customer_table",
    "load_dataset",
    "map_label",
    "simulate",
]
