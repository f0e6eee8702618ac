"""The ``churnlab`` command line: thin commands that parse, call one function and print."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnlab import __version__

app = typer.Typer(
    name="churnlab",
    help="Predictive churn modeling workbench: who leaves, when, why, and what it is worth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"churnlab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log debug messages")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s")


def _emit_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="output folder (replaced atomically)")] = Path(
        "data/demo"
    ),
    accounts: Annotated[int, typer.Option(min=1, help="number of accounts")] = 5000,
    months: Annotated[int, typer.Option(min=1, help="months of history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same bytes")] = 42,
    start: Annotated[str, typer.Option(help="first day of the simulated history")] = "2024-01-01",
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
) -> None:
    """Simulate a SaaS business: accounts, subscriptions, events, tickets, surveys and truth."""
    from churnlab.data.simulate import SimulationParams
    from churnlab.data.simulate import simulate as run_simulation

    params = SimulationParams(accounts=accounts, months=months, seed=seed, start=start)
    t0 = time.perf_counter()
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=True,
    ) as bar:
        task = bar.add_task("accounts", total=accounts)
        manifest = run_simulation(
            out, params, progress=lambda done, _: bar.update(task, completed=done)
        )
    elapsed = time.perf_counter() - t0
    if as_json:
        _emit_json({**manifest, "out": str(out), "seconds": round(elapsed, 2)})
        return
    rows = manifest["rows"]
    console.print(
        f"wrote [bold]{out}[/]: "
        + ", ".join(f"{name} {n:,}" for name, n in rows.items())
        + f" rows in {elapsed:.1f}s ({rows['events'] / elapsed:,.0f} events/s)"
    )


@app.command()
def validate(
    data: Annotated[Path | None, typer.Argument(help="dataset folder or .duckdb file")] = None,
    table: Annotated[
        Path | None, typer.Option(help="a single customer table (CSV/Parquet)")
    ] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="id column of --table")] = None,
    label: Annotated[str | None, typer.Option(help="churn label column of --table")] = None,
    duration: Annotated[str | None, typer.Option(help="duration column of --table")] = None,
    observed_until: Annotated[
        str | None,
        typer.Option("--end", help="end of observation (default: manifest or last event)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Check a dataset and report every problem at once; print a summary when it is clean."""
    from churnlab.data import DataValidationError, load_customer_table, load_dataset

    if (data is None) == (table is None):
        _fail("give either a dataset folder (DATA) or --table FILE --id COL --label COL", code=2)
    try:
        if table is not None:
            if not id_col or not label:
                _fail("--table needs --id and --label", code=2)
            dataset = load_customer_table(
                table, id_col=id_col, label_col=label, duration_col=duration
            )
        else:
            dataset = load_dataset(data, observed_until=observed_until)
        summary = dataset.summary()
    except DataValidationError as exc:
        if as_json:
            _emit_json({"valid": False, "problems": [str(p) for p in exc.problems]})
            raise typer.Exit(1) from None
        _fail(str(exc))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    if as_json:
        _emit_json({"valid": True, **summary, "notices": dataset.notices})
        return
    for notice in dataset.notices:
        err.print(f"[yellow]notice:[/] {notice}", highlight=False)
    _print_summary(summary)


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="dataset folder or .duckdb file")] = Path("data/demo"),
    cutoffs: Annotated[
        str,
        typer.Option(help="dates (2024-03-01,2024-04-01) or START:END:STEP, STEP like 7D, 2W, 1M"),
    ] = ...,
    horizon: Annotated[int, typer.Option(min=1, help="label window in days")] = 90,
    lead: Annotated[int, typer.Option(min=0, help="days between cutoff and the label window")] = 0,
    drivers: Annotated[str | None, typer.Option(help="only these drivers, comma-separated")] = None,
    engine: Annotated[
        str, typer.Option(help="duckdb (embedded) or spark (local or the active session)")
    ] = "duckdb",
    out: Annotated[Path, typer.Option(help="output .parquet or .csv (written atomically)")] = Path(
        "data/features.parquet"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Build point-in-time observations and features at each cutoff and write them to a file."""
    from churnlab.data import DataValidationError, load_dataset
    from churnlab.features import build_features, build_observations, parse_cutoffs, write_table

    t0 = time.perf_counter()
    try:
        cut = parse_cutoffs(cutoffs)
        with err.status(f"loading {data}", spinner="dots") as status:
            dataset = load_dataset(data, engine=engine)
            status.update(f"planning features at {len(cut)} cutoffs")
            obs = build_observations(dataset, cut, horizon, lead)
            table, used = build_features(
                dataset, obs, drivers=drivers.split(",") if drivers else None
            )
            status.update(
                f"building {len(table.columns) - 7} features x {len(cut)} cutoffs on {engine}"
            )
            write_table(dataset, table, out)
    except DataValidationError as exc:
        _fail(str(exc))
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    elapsed = time.perf_counter() - t0
    con = dataset.con
    written = con.read_parquet(str(out)) if out.suffix == ".parquet" else con.read_csv(str(out))
    per_cutoff = con.execute(
        written.group_by("cutoff")
        .agg(
            rows=written.count(),
            complete=written.label_complete.sum(),
            positive_rate=written.churned_within_h.cast("float64").mean(
                where=written.label_complete
            ),
        )
        .order_by("cutoff")
    )
    summary = {
        "out": str(out),
        "rows": int(per_cutoff.rows.sum()),
        "accounts": int(con.execute(written.account_id.nunique())),
        "cutoffs": len(per_cutoff),
        "features": len(written.columns) - 7,
        "builders": [b.name for b in used],
        "seconds": round(elapsed, 2),
        "per_cutoff": [
            {
                "cutoff": str(r.cutoff.date()),
                "rows": int(r.rows),
                "label_complete": int(r.complete),
                "positive_rate": None if r.complete == 0 else round(float(r.positive_rate), 4),
            }
            for r in per_cutoff.itertuples()
        ],
    }
    if as_json:
        _emit_json(summary)
        return
    for notice in dataset.notices:
        err.print(f"[yellow]notice:[/] {notice}", highlight=False)
    grid = Table(
        title=f"{out}: positive rate per cutoff (horizon {horizon} days)", title_justify="left"
    )
    for col in ("cutoff", "rows", "label complete", "positive rate"):
        grid.add_column(col, justify="right")
    for r in summary["per_cutoff"]:
        rate = "-" if r["positive_rate"] is None else f"{r['positive_rate']:.1%}"
        grid.add_row(r["cutoff"], f"{r['rows']:,}", f"{r['label_complete']:,}", rate)
    console.print(grid)
    console.print(
        f"{summary['rows']:,} rows, {summary['accounts']:,} accounts, {summary['cutoffs']} cutoffs, "
        f"{summary['features']} features in {elapsed:.1f}s"
    )


@app.command()
def catalogue(
    fmt: Annotated[str, typer.Option("--format", help="json or md")] = "md",
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """The feature catalogue: every built-in feature with its driver, dtype and description."""
    from churnlab.features import catalogue_json, catalogue_markdown

    if fmt not in ("json", "md"):
        _fail("--format must be json or md", code=2)
    text = catalogue_json() if fmt == "json" else catalogue_markdown()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")


def _print_summary(summary: dict[str, Any]) -> None:
    grid = Table(title=f"valid: {summary['source']}", show_header=False, title_justify="left")
    for name, n in summary["rows"].items():
        grid.add_row(f"{name} rows", f"{n:,}")
    if "start" in summary:
        grid.add_row("date range", f"{summary['start'][:10]} .. {summary['observed_until'][:10]}")
        grid.add_row("accounts", f"{summary['accounts']:,}")
        grid.add_row("churned accounts", f"{summary['churned_accounts']:,}")
    else:
        grid.add_row("customers", f"{summary['customers']:,}")
        grid.add_row("churned customers", f"{summary['churned_customers']:,}")
    grid.add_row("churn rate", f"{summary['churn_rate']:.1%}")
    console.print(grid)


if __name__ == "__main__":
    app()
