"""`churnlab report` and `churnlab notebooks`: the HTML report, the executed notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from churnlab.cli.app import app, console, err, errors_reported, fail, styled
from churnlab.vocab import DEFAULT_EXPERIMENT


@app.command()
def report(
    run: Annotated[str | None, typer.Option("--run", help="MLflow run id to report on")] = None,
    experiment: Annotated[
        str | None, typer.Option(help="report on this experiment's champion (default: demo)")
    ] = None,
    out: Annotated[Path, typer.Option(help="output folder for the HTML file")] = Path("reports"),
    data: Annotated[
        Path | None, typer.Option(help="dataset for the analytics (default: the run's)")
    ] = None,
    offer_cost: Annotated[float, typer.Option(min=0, help="cost of an accepted offer")] = 50.0,
    acceptance_rate: Annotated[
        float, typer.Option(min=0, max=1, help="share of would-be churners who accept")
    ] = 0.3,
    value_months: Annotated[
        float, typer.Option(min=0.1, help="customer value = MRR x this many months")
    ] = 12.0,
    contact_cost: Annotated[float, typer.Option(min=0, help="cost of one contact")] = 1.0,
    danger_feature: Annotated[
        str, typer.Option(help="engagement feature for the danger zone")
    ] = "active_days_30d",
    log_to_run: Annotated[
        bool, typer.Option("--log/--no-log", help="log the HTML to the run as an artifact")
    ] = True,
) -> None:
    """Write a self-contained HTML report of a run.

    Data, retention, leaderboard, model, SHAP, example customers and campaign profit, for a
    run or an experiment's champion."""
    from churnlab.analytics.report import build_report
    from churnlab.evaluation.profit import CampaignParams

    if run is None and experiment is None:
        experiment = DEFAULT_EXPERIMENT
    with errors_reported():
        campaign = CampaignParams(offer_cost, acceptance_rate, value_months, contact_cost)
        with err.status(styled("rendering the report")):
            path = build_report(
                run_id=run,
                experiment=experiment,
                out=out,
                data=data,
                campaign=campaign,
                danger_feature=danger_feature,
                log_to_run=log_to_run,
            )
    console.print(f"wrote {path}")


@app.command()
def notebooks(
    out: Annotated[Path, typer.Option(help="folder for the executed .ipynb copies")] = Path(
        "reports/notebooks"
    ),
    paths: Annotated[
        list[Path] | None, typer.Argument(help="notebook .py files (default: all, in order)")
    ] = None,
) -> None:
    """Execute the notebooks top to bottom.

    With the project's Python; settings come from the CHURNLAB_NB_* environment variables."""
    from churnlab.notebooks import execute_notebooks

    try:
        seconds = execute_notebooks(out, paths or None)
    except Exception as exc:  # a failing cell: nbclient's error names the cell and the traceback
        fail(f"{type(exc).__name__}: {exc}")
    for name, sec in seconds.items():
        console.print(f"executed {name} in {sec:.1f}s -> {out / (name + '.ipynb')}")
