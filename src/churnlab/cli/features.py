"""`churnlab features` and `churnlab catalogue`: point-in-time feature tables, the catalogue."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnlab.cli.app import app, console, emit_json, err, errors_reported, fail, notices, styled
from churnlab.data.schema import DATASET_FILES
from churnlab.files import atomic_file, check_not_input, check_writable
from churnlab.vocab import DEFAULT_DATA


@app.command()
def features(
    data: Annotated[Path, typer.Option(help="dataset folder or .duckdb file")] = Path(DEFAULT_DATA),
    cutoffs: Annotated[
        str,
        typer.Option(help="dates (2024-03-01,2024-04-01) or START:END:STEP, STEP like 7D, 2W, 1M"),
    ] = ...,
    horizon: Annotated[
        int | None, typer.Option(min=1, help="label window in days [default: 90, or the model's]")
    ] = None,
    lead: Annotated[
        int | None,
        typer.Option(
            min=0, help="days between cutoff and label window [default: 0, or the model's]"
        ),
    ] = None,
    drivers: Annotated[str | None, typer.Option(help="only these drivers, comma-separated")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="build the columns this model reads (its builders and event vocabulary), "
            "for `score --features`: models:/NAME@ALIAS, a run's model or an exported folder"
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="duckdb (embedded) or spark (local or the active session)")
    ] = "duckdb",
    out: Annotated[Path, typer.Option(help="output .parquet or .csv (written atomically)")] = Path(
        "data/features.parquet"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Build point-in-time features at each cutoff into a file.

    One row per account active at each cutoff: its label, duration and features.
    The per-event-type features use the vocabulary fitted on events before the last cutoff;
    with --model, the model's own builders and vocabulary (a table `score --features` takes)."""
    from churnlab.data import fit_vocabulary, load_dataset
    from churnlab.features import (
        build_features,
        build_observations,
        feature_table,
        parse_cutoffs,
        summarize_written,
        write_table,
    )
    from churnlab.vocab import OBSERVATION_COLUMNS

    t0 = time.perf_counter()
    if model is not None and drivers is not None:
        fail("--drivers and --model: the model decides which features are built", code=2)
    with errors_reported():
        check_writable(out)
        check_not_input(out, {"--data": data}, DATASET_FILES)
        cut = parse_cutoffs(cutoffs)
        # rows a model scores may be dated at the data's end, as `score` dates them; training
        # rows (without --model) need a label window after their cutoff
        for_scoring = model is not None
        _check_named_end(data, cut, for_scoring)  # before loading the model or the data
        spec = None
        if model is not None:
            spec = _events_model(model)
            horizon = spec.horizon_days if horizon is None else horizon
            lead = spec.lead_days if lead is None else lead
        horizon = 90 if horizon is None else horizon
        with err.status(styled(f"loading {data}"), spinner="dots") as status:
            dataset = load_dataset(data, engine=engine)
            if spec is not None:  # the export's own events.group first, as score reads it
                from churnlab.scoring.features import batch_groups

                dataset = batch_groups(dataset, spec.vocabulary, [])
            status.update(styled(f"planning features at {len(cut)} cutoffs"))
            obs = build_observations(dataset, cut, horizon, lead or 0, for_scoring=for_scoring)
            if spec is not None:
                table, used = feature_table(dataset, obs, spec.builders, spec.vocabulary)
            else:
                table, used = build_features(
                    dataset,
                    obs,
                    drivers=drivers.split(",") if drivers else None,
                    vocabulary=fit_vocabulary(dataset, before=max(cut)),
                )
            n_features = len(table.columns) - len(OBSERVATION_COLUMNS)
            status.update(
                styled(f"building {n_features} features x {len(cut)} cutoffs on {engine}")
            )
            write_table(dataset, table, out)
    elapsed = time.perf_counter() - t0
    summary = {**summarize_written(dataset, out, used), "seconds": round(elapsed, 2)}
    if as_json:
        emit_json(summary)
        return
    notices(dataset.notices)
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


def _check_named_end(data: Path, cutoffs: list, for_scoring: bool) -> None:
    """Cutoffs past the end of observation that the folder's ``dataset.json`` names, refused
    before anything is loaded (a large log takes a while; a dataset that names no end ends at
    its latest event, known only once loaded)."""
    import pandas as pd

    from churnlab.data.load import read_manifest
    from churnlab.features import check_cutoffs_end

    named = read_manifest(data).get("observed_until") if data.is_dir() else None
    try:
        end = pd.Timestamp(named) if named is not None else None
    except (TypeError, ValueError):  # loading names what is wrong with it
        return
    if end is None or pd.isna(end):
        return
    if end.tzinfo is not None:  # the data are read in UTC
        end = end.tz_convert("UTC").tz_localize(None)
    check_cutoffs_end(cutoffs, end, for_scoring, f"{data}/dataset.json names it observed_until")


def _events_model(uri: str):
    """The feature spec of the model at ``uri``, with the builders that make its columns
    (:func:`~churnlab.scoring.features.model_builders`); a model trained on one customer
    table has no builders to replay."""
    from dataclasses import replace

    from churnlab.scoring import ScoringError, load_model
    from churnlab.scoring.features import model_builders

    loaded = load_model(uri)
    spec = loaded.model.feature_spec
    if spec.kind != "events":
        raise ScoringError(
            f"{uri} was trained on a single customer table: its columns come from that table, "
            "not from feature builders"
        )
    return replace(spec, builders=tuple(model_builders(loaded.model)))


@app.command()
def catalogue(
    fmt: Annotated[str, typer.Option("--format", help="json or md")] = "md",
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """Print or export the built-in feature catalogue.

    Every built-in feature with its driver, dtype and description."""
    from churnlab.features import catalogue_json, catalogue_markdown

    if fmt not in ("json", "md"):
        fail("--format must be json or md", code=2)
    text = catalogue_json() if fmt == "json" else catalogue_markdown()
    if out is None:
        typer.echo(text, nl=False)
    else:
        with errors_reported(), atomic_file(out) as tmp:
            tmp.write_text(text)
        console.print(f"wrote {out}")
