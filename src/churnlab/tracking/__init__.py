"""MLflow: run logging, dataset lineage, leaderboard, promotion by alias, export, model URIs."""

from churnlab.tracking.artifacts import jsonable, log_figure, run_table
from churnlab.tracking.registry import (
    Promotion,
    champion_version,
    export_model,
    leaderboard,
    log_leaderboard,
    promote,
    spec_metric,
)
from churnlab.tracking.runs import (
    RunSummary,
    git_commit,
    log_scoring_run,
    run_tags,
    tracked_run,
)
from churnlab.tracking.store import connect, ensure_experiment
from churnlab.tracking.training import log_and_summarize, log_result, train_and_log
from churnlab.tracking.uris import ModelRef, RegistryError, model_name_of, resolve_model
from churnlab.vocab import CHAMPION, PREVIOUS

__all__ = [
    "CHAMPION",
    "PREVIOUS",
    "ModelRef",
    "Promotion",
    "RegistryError",
    "RunSummary",
    "champion_version",
    "connect",
    "ensure_experiment",
    "export_model",
    "git_commit",
    "jsonable",
    "leaderboard",
    "log_and_summarize",
    "log_figure",
    "log_leaderboard",
    "log_result",
    "log_scoring_run",
    "model_name_of",
    "promote",
    "resolve_model",
    "run_table",
    "run_tags",
    "spec_metric",
    "tracked_run",
    "train_and_log",
]
