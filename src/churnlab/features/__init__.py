"""Point-in-time observations and feature builders, one definition for every engine."""

from churnlab.features.engine import build_features, select_builders, write_table
from churnlab.features.observations import build_observations, days_between, parse_cutoffs
from churnlab.features.registry import (
    DRIVERS,
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

__all__ = [
    "DRIVERS",
    "Feature",
    "FeatureBuilder",
    "build_features",
    "build_observations",
    "builders",
    "catalogue",
    "catalogue_json",
    "catalogue_markdown",
    "days_between",
    "driver_map",
    "feature_builder",
    "get_builder",
    "parse_cutoffs",
    "remove_builder",
    "select_builders",
    "write_table",
]
