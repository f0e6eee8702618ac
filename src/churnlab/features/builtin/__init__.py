"""Built-in feature builders, one module per churn driver.

Every builder joins its table to the observation keys on ``account_id`` and keeps rows dated
strictly before the cutoff (``common.before``); windows count back from the cutoff. Population
statistics (task-time baselines, the danger-zone quartile) are computed from every account
active at the cutoff, never from the keys passed in, so scoring one account gives the same
value as training on all of them.

Importing this package registers the builders; the import order is the catalogue's order (and
the feature columns' order in every table).
"""

from churnlab.features.builtin import (  # noqa: F401  (registers the builders, in this order)
    account,
    billing,
    engagement,
    onboarding,
    product_quality,
    satisfaction,
    support,
    team,
    usability,
)
