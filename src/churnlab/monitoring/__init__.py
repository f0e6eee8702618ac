"""Watching a champion in production: drift against the reference profile stored at training,
realized and estimated performance of scored batches, verdicts, and champion/challenger
retraining."""

from churnlab.monitoring.monitor import (
    EXIT_RETRAIN,
    MonitoringError,
    MonitorResult,
    monitor,
    settings_of,
)
from churnlab.monitoring.verdict import VERDICTS

__all__ = [
    "EXIT_RETRAIN",
    "VERDICTS",
    "MonitorResult",
    "MonitoringError",
    "monitor",
    "settings_of",
]
