"""The leaderboard over an experiment's runs, promotion by alias, and export of a registered
model to a self-contained folder under ``models/``."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnlab.files import replace_folder, temp_folder
from churnlab.tracking.runs import LEAK_TAG, STRONG_TAG, tracked_run
from churnlab.tracking.store import connect, end_stale_runs, ensure_experiment, store_lock
from churnlab.tracking.uris import RegistryError, resolve_model, stamp_version
from churnlab.vocab import BOARD_METRICS, CHAMPION, KIND_TAG, LOWER_IS_BETTER, MODEL_TAG, PREVIOUS


def leaderboard(experiment: str, metric: str = "pr_auc") -> pd.DataFrame:
    """Finished training runs of ``experiment`` with their test metrics, best first."""
    connect()
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        raise RegistryError(f"no MLflow experiment named {experiment!r}; train one first")
    end_stale_runs(MlflowClient(), exp.experiment_id)
    runs = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"tags.`{KIND_TAG}` = 'training' and attributes.status = 'FINISHED'",
        output_format="pandas",
    )
    if runs.empty:
        raise RegistryError(f"experiment {experiment!r} has no finished training runs")
    board = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "run_name": runs.get("tags.mlflow.runName"),
            "family": runs.get("tags.churnlab.family"),
            "model_version": runs.get("tags.churnlab.model_version"),
            "registered_model": runs.get(f"tags.{MODEL_TAG}"),
            "started": runs["start_time"],
            # the ranking metric the run's spec chose (runs logged without one: missing)
            "spec_metric": runs.get("params.metric"),
        }
    )
    for m in BOARD_METRICS:
        col = f"metrics.test_{m}"
        board[m] = runs[col] if col in runs else float("nan")
    key = metric if metric in board else None
    if key is None:
        raise RegistryError(f"unknown metric {metric!r}; expected one of {list(BOARD_METRICS)}")
    board = board.sort_values(
        [key, "started"], ascending=[metric in LOWER_IS_BETTER, False], na_position="last"
    )
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.reset_index(drop=True)


def metric_notice(board: pd.DataFrame, metric: str, given: bool) -> str | None:
    """One line naming the metric that ranks ``board`` and the runs whose spec chose another
    (they were tuned and early-stopped for it); None when every spec chose ``metric``."""
    chose = board.get("spec_metric", pd.Series(dtype=object))
    other = board[chose.notna() & (chose != metric)]
    if other.empty:
        return None
    named = [
        f"{r.run_name or r.run_id}"
        + (f" v{r.model_version}" if isinstance(r.model_version, str) else "")
        + f" ({r.spec_metric})"
        for r in other.itertuples()
    ]
    shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
    why = "--metric" if given else "the metric of the latest run's spec"
    return (
        f"ranked by {metric} ({why}); {len(named)} of {len(board)} run(s) chose another "
        f"metric in their spec: {shown}; --metric ranks by another"
    )


@dataclass
class Promotion:
    model_name: str
    promoted: bool
    version: str
    previous: str | None
    metric: str
    value: float
    champion_value: float | None
    message: str
    notices: list[str] = field(default_factory=list)


def champion_version(client: MlflowClient, model_name: str) -> ModelVersion | None:
    """The version the ``champion`` alias points at, or None (no alias, no such model)."""
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def suspect_refusal(tags: dict[str, str]) -> str | None:
    """Why a training run's model must not become champion unasked, from its tags: the
    columns that alone separated churners (:data:`LEAK_TAG`, from ROC-AUC 0.99) or ranked
    them almost perfectly (:data:`STRONG_TAG`, from 0.95), named with their ROC-AUC and the
    command that leaves them out; None for a run with neither."""
    suspects = {
        **json.loads(tags.get(LEAK_TAG) or "{}"),
        **json.loads(tags.get(STRONG_TAG) or "{}"),
    }
    if not suspects:
        return None
    named = ", ".join(f"{c!r} (ROC-AUC {a:.3f})" for c, a in suspects.items())
    exclude = " ".join(f"--exclude {shlex.quote(c)}" for c in suspects)
    return (
        f"column(s) that alone separate churners from the others, or nearly: {named}; in a "
        "customer table that is nearly always a value recorded after the outcome, so its "
        "test metrics say nothing about new customers. Retrain without them "
        f"({exclude}, or features.exclude in a spec)"
    )


def _better(a: float, b: float, metric: str) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def promote(
    experiment: str,
    model_name: str,
    metric: str = "pr_auc",
    force: bool = False,
    metric_given: bool = True,
) -> Promotion:
    """Point ``champion`` at the best version by test ``metric`` if it beats the current
    champion (or ``force``); the replaced champion keeps the alias ``previous``. Its
    ``notices`` name the candidates whose spec chose another metric (:func:`metric_notice`;
    ``metric_given``: the caller chose ``metric``, rather than taking the latest spec's).

    Promotions are serialised (a lock beside the store): each one reads the champion, decides
    and moves the aliases before the next reads, so none is lost and ``previous`` is always
    the champion it displaced."""
    client = connect()
    with store_lock("promote"):
        return _promote(client, experiment, model_name, metric, force, metric_given)


def _promote(
    client: MlflowClient,
    experiment: str,
    model_name: str,
    metric: str,
    force: bool,
    metric_given: bool,
) -> Promotion:
    board = leaderboard(experiment, metric)
    board = board[board.model_version.notna() & (board.registered_model == model_name)]
    if board.empty:
        raise RegistryError(
            f"experiment {experiment!r} has no runs registered as versions of {model_name!r}"
        )
    outcome = _decide(client, board, model_name, metric, force)
    notice = metric_notice(board, metric, metric_given)
    outcome.notices = [notice] if notice else []
    return outcome


def _decide(
    client: MlflowClient, board: pd.DataFrame, model_name: str, metric: str, force: bool
) -> Promotion:
    best = board.iloc[0]
    version, value = str(best.model_version), float(best[metric])
    if not force and (refusal := suspect_refusal(client.get_run(best.run_id).data.tags)):
        raise RegistryError(
            f"version {version} ({best.run_name}, {metric} {value:.4f}) was trained on "
            f"{refusal}, or promote it anyway with --force"
        )
    current = champion_version(client, model_name)
    champion_value = None
    if current is not None:
        if str(current.version) == version:
            return Promotion(
                model_name,
                False,
                version,
                None,
                metric,
                value,
                value,
                f"version {version} is already the champion ({metric} {value:.4f})",
            )
        run = client.get_run(current.run_id)
        champion_value = run.data.metrics.get(f"test_{metric}")
        if not force and champion_value is not None and not _better(value, champion_value, metric):
            return Promotion(
                model_name,
                False,
                version,
                current.version,
                metric,
                value,
                champion_value,
                f"version {version} ({metric} {value:.4f}) does not beat champion version "
                f"{current.version} ({metric} {champion_value:.4f}); kept the champion "
                "(use --force to promote anyway)",
            )
        client.set_registered_model_alias(model_name, PREVIOUS, str(current.version))
    client.set_registered_model_alias(model_name, CHAMPION, version)
    prev = str(current.version) if current is not None else None
    was = f"; version {prev} is now '{PREVIOUS}'" if prev else ""
    return Promotion(
        model_name,
        True,
        version,
        prev,
        metric,
        value,
        champion_value,
        f"version {version} ({best.run_name}, {metric} {value:.4f}) is now '{CHAMPION}'{was}",
    )


def export_model(model_uri: str, out: str | Path, force: bool = False) -> Path:
    """Copy a registered model (e.g. ``models:/churn-demo@champion``) to ``out``, atomically:
    downloaded beside it, then swapped in; an existing export is replaced only on success, and
    only if churnlab made it (``force``: even with files added since)."""
    connect()
    with temp_folder(out, force) as tmp:
        try:
            # resolved first: the folder holds, and names, the version the alias meant then
            ref = resolve_model(model_uri) if str(model_uri).startswith("models:/") else None
            source = ref.pinned if ref is not None else model_uri
            local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(tmp))
            if not (Path(local) / "MLmodel").exists():
                raise RegistryError(f"{model_uri} is not an MLflow model (no MLmodel file)")
            if ref is not None and ref.name and ref.version:
                stamp_version(local, ref.name, ref.version)
        except MlflowException as exc:
            raise RegistryError(f"cannot export {model_uri}: {exc.message}") from exc
        return replace_folder(local, out, force)


LEADERBOARDS = "-leaderboards"


def leaderboard_experiment(experiment: str) -> str:
    """Where ``compare`` logs the leaderboards of ``experiment``: ``<experiment>-leaderboards``,
    an experiment of its own, so the training experiment lists only training runs."""
    return f"{experiment[: 100 - len(LEADERBOARDS)]}{LEADERBOARDS}"


def log_leaderboard(experiment: str, metric: str = "pr_auc") -> pd.DataFrame:
    """The leaderboard, also logged (JSON and CSV) as a run of
    :func:`leaderboard_experiment`, never as a run of ``experiment`` itself."""
    board = leaderboard(experiment, metric)
    client = connect(create=True)
    exp_id = ensure_experiment(client, leaderboard_experiment(experiment))
    tags = {KIND_TAG: "leaderboard", "metric": metric, "churnlab.experiment": experiment}
    with tracked_run(exp_id, f"{experiment}-by-{metric}", tags):
        table = board.assign(started=board.started.astype(str))
        mlflow.log_table(table, "leaderboard.json")
        mlflow.log_text(table.to_csv(index=False), "leaderboard.csv")
    return board


def spec_metric(experiment: str, default: str = "pr_auc") -> str:
    """The ranking metric the experiment's latest finished training run was specified with."""
    connect()
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return default
    runs = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"tags.`{KIND_TAG}` = 'training' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0].data.params.get("metric", default) if runs else default
