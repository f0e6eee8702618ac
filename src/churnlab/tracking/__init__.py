"""MLflow: run logging, dataset lineage, leaderboard, promotion by alias, export."""

from churnlab.tracking.registry import (
    CHAMPION,
    PREVIOUS,
    Promotion,
    RegistryError,
    export_model,
    leaderboard,
    promote,
)
from churnlab.tracking.runs import RunSummary, git_commit, tracked_run, train_and_log
from churnlab.tracking.store import connect, ensure_experiment

__all__ = [
    "CHAMPION",
    "PREVIOUS",
    "Promotion",
    "RegistryError",
    "RunSummary",
    "connect",
    "ensure_experiment",
    "export_model",
    "git_commit",
    "leaderboard",
    "promote",
    "tracked_run",
    "train_and_log",
]
