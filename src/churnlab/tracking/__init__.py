"""MLflow: run logging, dataset lineage, leaderboard, promotion by alias, export, model URIs.

The names below load their module on first use (PEP 562): ``churnlab compare`` needs the
registry, not the training stack that logging a trained model imports (2.3 s per process).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from churnlab.vocab import CHAMPION, PREVIOUS

if TYPE_CHECKING:
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

_MODULE = {
    "jsonable": "artifacts",
    "log_figure": "artifacts",
    "run_table": "artifacts",
    "Promotion": "registry",
    "champion_version": "registry",
    "export_model": "registry",
    "leaderboard": "registry",
    "log_leaderboard": "registry",
    "promote": "registry",
    "spec_metric": "registry",
    "RunSummary": "runs",
    "git_commit": "runs",
    "log_scoring_run": "runs",
    "run_tags": "runs",
    "tracked_run": "runs",
    "connect": "store",
    "ensure_experiment": "store",
    "log_and_summarize": "training",
    "log_result": "training",
    "train_and_log": "training",
    "ModelRef": "uris",
    "RegistryError": "uris",
    "model_name_of": "uris",
    "resolve_model": "uris",
}


def __getattr__(name: str):
    module = _MODULE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
