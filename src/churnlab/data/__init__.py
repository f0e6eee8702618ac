"""The canonical data model: loading, validation, the single-table adapter and the simulator."""

from churnlab.data.dataset import (
    Dataset,
    DataValidationError,
    Problem,
    churned_accounts,
    coverage_spells,
    in_force,
)
from churnlab.data.duplicates import distinct_events, log_notices
from churnlab.data.engines import Materializer, connect, materialize, spark_session
from churnlab.data.load import load_dataset, load_source, read_raw
from churnlab.data.schema import TABLES, Column, TableSchema
from churnlab.data.simulate import SimulationParams, simulate
from churnlab.data.single_table import (
    duration_unit_notice,
    load_customer_table,
    map_label,
    read_customer_rows,
)
from churnlab.data.validate import number_from_text
from churnlab.data.vocabulary import (
    Vocabulary,
    VocabularyError,
    account_attributes,
    describe_vocabulary,
    event_type_stats,
    events_section,
    fit_vocabulary,
    near_duplicate_types,
    numbered_types,
    spelling_key,
    spellings_notice,
    unused_account_columns,
    with_groups,
    with_names,
)

__all__ = [
    "TABLES",
    "Column",
    "DataValidationError",
    "Dataset",
    "Materializer",
    "Problem",
    "SimulationParams",
    "TableSchema",
    "Vocabulary",
    "VocabularyError",
    "account_attributes",
    "churned_accounts",
    "connect",
    "coverage_spells",
    "describe_vocabulary",
    "distinct_events",
    "duration_unit_notice",
    "event_type_stats",
    "events_section",
    "fit_vocabulary",
    "in_force",
    "load_customer_table",
    "load_dataset",
    "load_source",
    "log_notices",
    "map_label",
    "materialize",
    "near_duplicate_types",
    "number_from_text",
    "numbered_types",
    "read_customer_rows",
    "read_raw",
    "simulate",
    "spark_session",
    "spelling_key",
    "spellings_notice",
    "unused_account_columns",
    "with_groups",
    "with_names",
]
