"""`churnlab simulate` and `churnlab validate`: make demo data, check a dataset."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnlab.cli.app import app, console, emit_json, err, errors_reported, fail, notices, styled
from churnlab.vocab import DEFAULT_DATA, SIMULATOR_PROFILES, SIMULATOR_SCENARIOS

# the choices of --profile, one home for the names (churnlab.vocab)
Profile = Enum("Profile", {name: name for name in SIMULATOR_PROFILES}, type=str)
DEFAULT_PROFILE = Profile(SIMULATOR_PROFILES[0])
Scenario = Enum("Scenario", {name: name for name in SIMULATOR_SCENARIOS}, type=str)
NO_SCENARIO = Scenario(SIMULATOR_SCENARIOS[0])


@app.command()
def simulate(
    out: Annotated[
        Path, typer.Option(help="output folder (replaced atomically, only if churnlab made it)")
    ] = Path(DEFAULT_DATA),
    accounts: Annotated[int, typer.Option(min=1, help="number of accounts")] = 5000,
    months: Annotated[int, typer.Option(min=1, help="months of history")] = 24,
    seed: Annotated[int, typer.Option(help="random seed; same seed, same bytes")] = 42,
    start: Annotated[str, typer.Option(help="first day of the simulated history")] = "2024-01-01",
    profile: Annotated[
        Profile, typer.Option(help="product: its event vocabulary, sessions and churn drivers")
    ] = DEFAULT_PROFILE,
    scenario: Annotated[
        Scenario,
        typer.Option(
            help="what changes at --change-at (b2b_saas): none, price_increase, "
            "product_redesign or new_channel (docs: monitoring)"
        ),
    ] = NO_SCENARIO,
    change_at: Annotated[
        str | None,
        typer.Option("--change-at", help="date of the scenario's change (default: two thirds in)"),
    ] = None,
    campaigns: Annotated[
        bool,
        typer.Option(
            "--campaigns/--no-campaigns",
            help="monthly randomized retention campaigns (b2b_saas; docs: data model)",
        ),
    ] = True,
    force: Annotated[
        bool, typer.Option(help="replace a churnlab-made --out even if files were added to it")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
) -> None:
    """Simulate a demo business into a dataset folder.

    B2B SaaS, a consumer social app or a streaming service: accounts, subscriptions, events,
    tickets, surveys, retention campaigns (B2B SaaS), the simulator's truth and the event
    mapping in dataset.json. A folder
    that already holds the same simulation, untouched, is kept as it is."""
    from churnlab.data.simulate import SimulationParams
    from churnlab.data.simulate import simulate as run_simulation

    params = SimulationParams(
        accounts=accounts,
        months=months,
        seed=seed,
        start=start,
        profile=profile.value,
        scenario=scenario.value,
        change_at=change_at,
        campaigns=campaigns,
    )
    t0 = time.perf_counter()
    with (
        errors_reported(),
        Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=as_json,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("accounts", total=accounts)
        manifest = run_simulation(
            out,
            params,
            progress=lambda done, _: bar.update(task, completed=done),
            force=force,
            reuse=True,
        )
    elapsed = time.perf_counter() - t0
    if as_json:
        emit_json({**manifest, "out": str(out), "seconds": round(elapsed, 2)})
        return
    rows = manifest["rows"]
    if manifest.get("reused"):
        console.print(
            f"kept {out}: it already holds this simulation (same seed, parameters "
            f"and simulator), {rows['events']:,} events; delete it to simulate again",
            soft_wrap=True,
        )
        return
    console.print(
        styled(
            "wrote ",
            (str(out), "bold"),
            ": "
            + ", ".join(f"{name} {n:,}" for name, n in rows.items())
            + f" rows in {elapsed:.1f}s ({rows['events'] / elapsed:,.0f} events/s)",
        )
    )


@app.command()
def validate(
    data: Annotated[Path | None, typer.Argument(help="dataset folder or .duckdb file")] = None,
    table: Annotated[
        Path | None, typer.Option(help="a single customer table (.csv[.gz|.zst], .tsv, .parquet)")
    ] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="id column of --table")] = None,
    label: Annotated[str | None, typer.Option(help="churn label column of --table")] = None,
    positive: Annotated[
        str | None,
        typer.Option(metavar="VALUE", help="the --label value that means churned"),
    ] = None,
    duration: Annotated[str | None, typer.Option(help="duration column of --table")] = None,
    mrr: Annotated[
        str | None, typer.Option(help="monthly revenue column of --table (a number >= 0)")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="text encoding of CSV files: utf-8 (default; a folder's dataset.json may set "
            "it), latin-1, cp1252, ..."
        ),
    ] = None,
    duration_unit: Annotated[
        str | None,
        typer.Option(help="what --duration counts: days (default), weeks, months or years"),
    ] = None,
    na_values: Annotated[
        str | None,
        typer.Option(
            metavar="VALUES",
            help="missing-value codes of --table, separated by commas (e.g. '-1,?,999'): read "
            "as missing in every column but the id and the label",
        ),
    ] = None,
    observed_until: Annotated[
        str | None,
        typer.Option("--end", help="end of observation (default: manifest or last event)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Check a dataset and list every problem at once.

    A dataset folder (or .duckdb file) in the five-table model, or one customer table with
    --table; prints a summary when the data is clean."""
    from churnlab.data import (
        DataValidationError,
        describe_vocabulary,
        events_section,
        load_customer_table,
        load_dataset,
        log_notices,
        near_duplicate_types,
        numbered_types,
    )

    _check_sources(data, table, id_col, label, duration, duration_unit, positive, mrr, na_values)
    with errors_reported():
        try:
            if table is not None:
                dataset = load_customer_table(
                    table,
                    id_col=id_col,
                    label_col=label,
                    positive=positive,
                    duration_col=duration,
                    encoding=encoding or "utf-8",
                    duration_unit=duration_unit or "days",
                    mrr_col=mrr,
                    na_values=na_values,
                )
            else:
                dataset = load_dataset(data, observed_until=observed_until, encoding=encoding)
            summary = dataset.summary()
            if dataset.kind == "customers":
                from churnlab.training.data import table_column_notices

                dataset.notices.extend(table_column_notices(dataset))
            if dataset.kind == "events":
                dataset.notices.extend(log_notices(dataset))
                summary["vocabulary"] = describe_vocabulary(dataset)
                rows = summary["vocabulary"]
                types = [v["event_type"] for v in rows]
                groups = events_section(dataset).group
                for notice in (near_duplicate_types(rows), numbered_types(types, groups)):
                    if notice:
                        dataset.notices.append(notice)
        except DataValidationError as exc:
            if not as_json:
                raise
            emit_json({"valid": False, "problems": [str(p) for p in exc.problems]})
            raise typer.Exit(1) from None
    if as_json:
        emit_json({"valid": True, **summary, "notices": dataset.notices})
        return
    notices(dataset.notices)
    _print_summary(summary)
    if summary.get("vocabulary"):
        _print_vocabulary(summary["vocabulary"])


def _check_sources(
    data: Path | None,
    table: Path | None,
    id_col: str | None,
    label: str | None,
    duration: str | None,
    duration_unit: str | None,
    positive: str | None,
    mrr: str | None = None,
    na_values: str | None = None,
) -> None:
    """Usage errors of ``validate`` (exit 2)."""
    if (data is None) == (table is None):
        fail("give either a dataset folder (DATA) or --table FILE --id COL --label COL", code=2)
    if positive is not None and table is None:
        fail("--positive applies to --table (the value of its --label column)", code=2)
    if mrr is not None and table is None:
        fail("--mrr applies to --table (a folder's MRR is the subscriptions' mrr)", code=2)
    if na_values is not None and table is None:
        fail("--na-values applies to --table (a single customer table)", code=2)
    if table is not None and not (id_col and label):
        fail("--table needs --id and --label", code=2)
    if duration_unit is not None and duration is None:
        fail("--duration-unit needs --duration (the column it applies to)", code=2)
    if duration_unit not in (None, "days", "weeks", "months", "years"):
        fail(
            f"--duration-unit must be days, weeks, months or years, not {duration_unit!r}",
            code=2,
        )


VOCABULARY_OTHERS = 10  # types neither kept nor given a role that validate prints


def _print_vocabulary(rows: list[dict[str, Any]]) -> None:
    """Every kept type and every type with a role, and the most used of the others: a log
    whose event names carry ids or URLs has thousands of types, and --json lists them all."""
    others = [r for r in rows if not r["kept"] and not r["role"]]
    shown = {id(r) for r in others[:VOCABULARY_OTHERS]}
    listed = [r for r in rows if r["kept"] or r["role"] or id(r) in shown]
    left = len(rows) - len(listed)
    caption = (
        f"{left:,} more event type(s) not expanded into features, each used by fewer accounts "
        "(churnlab validate --json lists every type)"
        if left
        else None
    )
    grid = Table(title="event vocabulary", title_justify="left", caption=caption)
    for col in ("event type", "events", "accounts", "role", "features"):
        grid.add_column(col, justify="right" if col in ("events", "accounts") else "left")
    for r in listed:
        grid.add_row(
            r["event_type"],
            f"{r['events']:,}",
            f"{r['accounts']:,}",
            r["role"] or "",
            "yes" if r["kept"] else "no",
        )
    console.print(grid)


def _print_summary(summary: dict[str, Any]) -> None:
    # the path on a line of its own, never wrapped: a table title wraps at the console width
    # (80 columns when stdout is not a terminal), cutting long paths mid-word
    console.print(f"valid: {summary['source']}", soft_wrap=True, highlight=False, markup=False)
    grid = Table(show_header=False)
    for name, n in summary["rows"].items():
        grid.add_row(f"{name} rows", f"{n:,}")
        if name == "events" and "events" in summary:  # rows of a rolled-up log, and events
            grid.add_row("events (sum of count)", f"{summary['events']:,}")
    if "start" in summary:
        grid.add_row("date range", f"{summary['start'][:10]} .. {summary['observed_until'][:10]}")
        grid.add_row("accounts", f"{summary['accounts']:,}")
        if summary["subscribed_accounts"] != summary["accounts"]:
            grid.add_row("ever subscribed", f"{summary['subscribed_accounts']:,}")
        grid.add_row("churned accounts", f"{summary['churned_accounts']:,}")
    else:
        grid.add_row("customers", f"{summary['customers']:,}")
        grid.add_row("churned customers", f"{summary['churned_customers']:,}")
        if "duration" in summary:
            d = summary["duration"]
            span = "" if d["max"] is None else f" (median {d['median']:g}, max {d['max']:g})"
            grid.add_row(f"duration {d['column']}", f"in {d['unit']}{span}")
    of = " of those ever subscribed" * (
        summary.get("subscribed_accounts", 0) != summary.get("accounts", 0)
    )
    grid.add_row("churn rate", f"{summary['churn_rate']:.1%}{of}")
    paying = summary.get("paying_accounts")
    if paying and paying != summary.get("subscribed_accounts"):  # trial-only accounts apart
        churned = summary["paying_churned_accounts"]
        grid.add_row(
            "paid churn", f"{churned / paying:.1%} ({churned:,} of {paying:,} ever paying)"
        )
    if "mrr" in summary:
        m = summary["mrr"]
        grid.add_row("MRR (paying rows)", f"median {m['median']:,.2f}, max {m['max']:,.2f}")
    if "campaigns" in summary:
        c = summary["campaigns"]
        grid.add_row(
            "campaigns",
            f"{c['campaigns']:,} ({c['rows']:,} contacts of {c['accounts']:,} accounts, "
            f"{c['treated_share']:.0%} treated, {c['first'][:10]} .. {c['last'][:10]})",
        )
    console.print(grid)
