"""Point-in-time observations and feature builders, one definition for every engine."""

# registers the built-in builders (after the registry exists; their order is the catalogue's)
from churnlab.features import builtin  # noqa: F401
from churnlab.features.engine import (
    build_features,
    select_builders,
    summarize_written,
    write_table,
)
from churnlab.features.frames import (
    default_refs,
    feature_frame,
    feature_table,
    observation_frame,
)
from churnlab.features.observations import (
    active_accounts,
    build_observations,
    check_cutoffs_end,
    cutoff_range,
    days_between,
    default_as_of,
    parse_cutoffs,
)
from churnlab.features.registry import (
    Feature,
    FeatureBuilder,
    builders,
    catalogue,
    catalogue_json,
    catalogue_markdown,
    driver_map,
    feature_builder,
    get_builder,
    remove_builder,
)
from churnlab.features.spec import BuilderRef, FeatureSpec
from churnlab.features.treatment import (
    DEFAULT_CONTACT_WINDOW_DAYS,
    TREATMENT_COLUMNS,
    treatment_status,
)
from churnlab.vocab import DRIVERS

__all__ = [
    "DEFAULT_CONTACT_WINDOW_DAYS",
    "DRIVERS",
    "TREATMENT_COLUMNS",
    "BuilderRef",
    "Feature",
    "FeatureBuilder",
    "FeatureSpec",
    "active_accounts",
    "build_features",
    "build_observations",
    "builders",
    "catalogue",
    "catalogue_json",
    "catalogue_markdown",
    "check_cutoffs_end",
    "cutoff_range",
    "days_between",
    "default_as_of",
    "default_refs",
    "driver_map",
    "feature_builder",
    "feature_frame",
    "feature_table",
    "get_builder",
    "observation_frame",
    "parse_cutoffs",
    "remove_builder",
    "select_builders",
    "summarize_written",
    "treatment_status",
    "write_table",
]
