"""`churnlab compare`, `promote` and `export`: the leaderboard, the champion alias, exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from churnlab.cli.app import app, console, emit_json, errors_reported, notices, styled
from churnlab.vocab import DEFAULT_EXPERIMENT, champion_uri, registered_model_name


@app.command()
def compare(
    experiment: Annotated[str, typer.Option(help="MLflow experiment name")] = DEFAULT_EXPERIMENT,
    metric: Annotated[
        str | None, typer.Option(help="ranking metric (default: the specs' metric)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the leaderboard as JSON")] = False,
) -> None:
    """Leaderboard of the experiment's finished training runs.

    Every finished training run with its test metrics, best first."""
    from churnlab.tracking import log_leaderboard, spec_metric
    from churnlab.tracking.registry import metric_notice

    with errors_reported():
        given = metric is not None
        metric = metric or spec_metric(experiment)
        board = log_leaderboard(experiment, metric)
    notice = metric_notice(board, metric, given)
    notices([notice] if notice else [])  # on stderr: --json's output stays the board
    if as_json:
        emit_json(json.loads(board.to_json(orient="records", date_format="iso")))
        return
    grid = Table(title=f"{experiment}: test metrics, ranked by {metric}", title_justify="left")
    shown = {
        "rank": "#", "run_name": "run", "model_version": "v", "pr_auc": "PR-AUC",
        "roc_auc": "ROC-AUC", "ece": "ECE", "lift_top10": "lift@10",
        "revenue_capture_top10": "MRR@10", "emp": "EMP", "oracle_roc_auc": "oracle",
        "c_index_harrell": "C", "ibs": "IBS",
    }  # fmt: skip
    for col, head in shown.items():
        grid.add_column(head, justify="left" if col == "run_name" else "right", no_wrap=True)
    for r in board.itertuples():
        cells = [getattr(r, c) for c in shown]
        grid.add_row(
            *[
                "" if v is None or v != v else f"{v:.3f}" if isinstance(v, float) else str(v)
                for v in cells
            ]
        )
    # piped or under make, rich assumes 80 columns and would cut every number to "0.…"
    (console if console.is_terminal else Console(width=140, markup=False, emoji=False)).print(grid)


@app.command()
def promote(
    experiment: Annotated[str, typer.Option(help="MLflow experiment name")] = DEFAULT_EXPERIMENT,
    metric: Annotated[
        str | None,
        typer.Option(help="metric the candidate must beat the champion on (default: the specs')"),
    ] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="registered model name")] = None,
    force: Annotated[bool, typer.Option(help="promote the best even if it does not win")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Make the best version 'champion' if it beats the current one.

    The alias moves only when the best version beats the current champion on the metric
    (--force moves it anyway)."""
    from dataclasses import asdict

    from churnlab.tracking import promote as do_promote
    from churnlab.tracking import spec_metric

    with errors_reported():
        given = metric is not None
        metric = metric or spec_metric(experiment)
        name = model_name or registered_model_name(experiment)
        outcome = do_promote(experiment, name, metric, force, metric_given=given)
    notices(outcome.notices)
    if as_json:
        emit_json(asdict(outcome))
        return
    console.print(
        styled(
            ("promoted:", "green") if outcome.promoted else ("kept:", "yellow"),
            " ",
            outcome.message,
        )
    )


@app.command()
def export(
    model: Annotated[str, typer.Option(help="model URI, e.g. models:/churn-demo@champion")] = (
        champion_uri()
    ),
    out: Annotated[
        Path | None,
        typer.Option(help="output folder (default models/NAME); replaced only if churnlab made it"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="replace a churnlab-made --out even if files were added to it")
    ] = False,
) -> None:
    """Export a registered model to a self-contained folder.

    An MLflow model folder, written atomically, that mlflow.pyfunc.load_model loads wherever
    churnlab is installed."""
    from churnlab.tracking import export_model, model_name_of

    with errors_reported():
        path = export_model(
            model, out if out is not None else Path("models") / model_name_of(model), force
        )
    console.print(f"exported {model} to {path}")
