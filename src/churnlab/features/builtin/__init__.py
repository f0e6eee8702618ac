"""Built-in feature builders, one module per churn driver.

Every builder joins its table to the observation keys on ``account_id`` and keeps rows dated
strictly before the cutoff (``common.before``); windows count back from the cutoff. Population
statistics (task-time baselines, the danger-zone quartile) are computed from every account
active at the cutoff, never from the keys passed in, so scoring one account gives the same
value as training on all of them.

Importing this package registers the builders; the import order is the catalogue's order (and
the feature columns' order in every table).
"""

from importlib import import_module

# registration order = catalogue order = column order of every feature table (changing it
# changes which columns LightGBM's column sampling draws, so models would differ)
DRIVER_MODULES = (
    "engagement",
    "event_types",
    "team",
    "onboarding",
    "usability",
    "product_quality",
    "support",
    "satisfaction",
    "billing",
    "account",
)
for _module in DRIVER_MODULES:
    import_module(f"{__name__}.{_module}")
