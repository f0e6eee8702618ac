"""`churnlab monitor`: drift, realized and estimated performance of the logged batches, and a
verdict a scheduler can branch on (exit 0 for ok or warn, 3 for retrain)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from churnlab.cli.app import app, console, emit_json, err, errors_reported
from churnlab.vocab import DEFAULT_DATA, champion_uri

STYLE = {"ok": "green", "warn": "yellow", "retrain": "bold red"}


def _fmt(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def _table(batches: list[dict[str, Any]], metric: str) -> Table:
    grid = Table(title="logged batches", title_justify="left")
    heads = ("batch", "rows", "drifted", "score PSI", "mean p", f"est. {metric}",
             f"real. {metric}", "verdict")  # fmt: skip
    for head in heads:
        grid.add_column(head, justify="left" if head in ("batch", "verdict") else "right")
    for b in batches:
        realized = b["realized"][metric] if b["realized"] else None
        grid.add_row(
            b["batch_date"],
            f"{b['rows']:,}",
            f"{b['drift']['drifted']}/{b['drift']['features']}",
            _fmt(b["prediction"]["prediction_psi"]),
            _fmt(b["prediction"]["mean_p"]),
            _fmt(b["estimated"][metric]),
            _fmt(realized),
            Text(b["verdict"], style=STYLE[b["verdict"]]),
        )
    return grid


def _in_sample_line(overall: dict[str, Any]) -> str:
    """One line naming the batches left out as in-sample."""
    inside = overall["in_sample"]
    dates = ", ".join(f"{b['batch_date']} (run {b['run_id']})" for b in inside["batches"])
    return (
        f"left out {len(inside['batches'])} in-sample batch(es), dated on or before "
        f"{inside['until']}, the latest cutoff version {overall['model']['version']} was "
        f"trained or validated on: {dates}"
    )


def _partial_labels(batches: list[dict[str, Any]], data: Path | None) -> list[str]:
    """One line per matured batch some of whose accounts have no label in ``data`` (within
    the tolerance; beyond it monitor refuses)."""
    return [
        f"batch {b['batch_date']}: realized on {c['labelled']:,} of its {c['batch_rows']:,} "
        f"scored accounts; {c['missing']:,} have no label in {data} (e.g. account_id "
        f"{', '.join(c['missing_examples'])})"
        for b in batches
        if (c := b.get("labels")) and c["missing"]
    ]


@app.command()
def monitor(
    model: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS or models:/NAME/VERSION")
    ] = champion_uri(),
    data: Annotated[
        Path | None, typer.Option(help="event dataset folder: realized labels of matured batches")
    ] = Path(DEFAULT_DATA),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="monitor as of this date (default: the data's end)"),
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="record the pass in the 'monitoring' experiment")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Check the logged batches of a model for drift and decay.

    Every logged batch against the model's reference profile: data drift per feature and driver, prediction drift, realized performance where labels
    have matured, estimated performance where they have not. Exit code 0 for ok or warn,
    3 for retrain, 1 on an error (among them a matured batch whose accounts are not in
    --data)."""
    from churnlab.cli.train import interrupts_reported
    from churnlab.monitoring import monitor as run_monitor

    with (
        interrupts_reported(nothing="no monitoring run was logged"),
        errors_reported(),
        err.status(f"monitoring {model}", spinner="dots"),
    ):
        result = run_monitor(model, data=data, as_of=as_of, log_run=log)
    overall = result.overall
    if as_json:
        emit_json({"overall": overall, "batches": result.batches, "run_id": result.run_id})
    else:
        metric = overall["settings"]["metric"]
        # the console prints without markup (names and reasons are user text): styles as Text;
        # piped, a wide table rather than cut dates
        wide = console if console.is_terminal else Console(width=140, markup=False, emoji=False)
        wide.print(_table(result.batches, metric))
        verdict = overall["verdict"]
        console.print(
            Text.assemble(
                f"{overall['model']['name']} version {overall['model']['version']}: ",
                (verdict, STYLE[verdict]),
                f" ({overall['batches']} batches, {overall['matured']} with realized labels)",
            )
        )
        for reason in overall["reasons"]:
            console.print(f"  - {reason}")
        for line in _partial_labels(result.batches, data):
            console.print(line, soft_wrap=True)
        if overall.get("in_sample"):
            console.print(_in_sample_line(overall), soft_wrap=True)
        if result.run_id:
            console.print(f"logged run {result.run_id} (experiment 'monitoring')")
    raise typer.Exit(result.exit_code)


@app.command()
def retrain(
    spec_file: Annotated[Path, typer.Argument(help="experiment spec (YAML)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Train a challenger; promote it only if it wins.

    Champion/challenger: the challenger is trained on the spec's newest complete cutoffs, and
    both are scored on the same out-of-time window, and promote the challenger only if it beats the
    champion on the spec's metric without losing revenue captured (margins: the spec's
    monitoring section)."""
    from churnlab.cli.train import interrupts_reported
    from churnlab.config import load_spec
    from churnlab.monitoring.retrain import retrain as run_retrain

    with interrupts_reported(), errors_reported():
        spec = load_spec(spec_file)
        with err.status("training the challenger", spinner="dots") as status:
            result = run_retrain(
                spec, spec_file.read_text(), progress=lambda msg: status.update(msg)
            )
    if as_json:
        emit_json(result.as_dict())
        return
    verb = "promoted" if result.promoted else "kept the champion"
    compared = (
        f"compared on {result.window} ({result.extra['rows']:,} accounts)"
        if result.challenger
        else "not compared"
    )
    console.print(
        f"{result.model_name}: champion version {result.champion_version}, challenger version "
        f"{result.challenger_version}, {compared}: {verb}"
    )
    console.print(f"  {result.message}")
