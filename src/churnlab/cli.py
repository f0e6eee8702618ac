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
    # the command line only writes plots to files; the library leaves the backend to its host
    # (a notebook's inline backend, a script's default)
    import matplotlib

    matplotlib.use("Agg")


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


def _spec_from_flags(
    spec_file: Path | None,
    *,
    data: Path | None,
    cutoffs: str | None,
    horizon: int | None,
    lead: int | None,
    table: Path | None,
    id_col: str | None,
    label: str | None,
    duration: str | None,
    mrr: str | None,
    model: str | None,
    experiment: str | None,
    name: str | None,
    seed: int | None,
):
    """A spec from a YAML file (flags override) or, without one, from the flags alone."""
    from churnlab.config import SpecError, load_spec, parse_spec

    if spec_file is not None:
        given = {
            "--data": data, "--cutoffs": cutoffs, "--lead": lead, "--table": table,
            "--id": id_col, "--label": label, "--duration": duration, "--mrr": mrr,
            "--model": model,
        }  # fmt: skip
        clash = [flag for flag, value in given.items() if value is not None]
        if clash:
            raise SpecError(
                f"{', '.join(clash)}: set these in the spec file, not beside it "
                "(with a spec, only --experiment, --name, --seed and --horizon override it)"
            )
        overrides = {"experiment": experiment, "name": name, "seed": seed, "horizon_days": horizon}
        return load_spec(spec_file, **overrides)
    if model is None:
        raise SpecError("give an experiment spec (SPEC.yaml) or --model with --data or --table")
    if table is not None:
        if not (id_col and label):
            raise SpecError("--table needs --id and --label")
        source = {
            "table": str(table),
            "id": id_col,
            "label": label,
            "duration": duration,
            "mrr": mrr,
        }
    elif data is not None:
        if not cutoffs:
            raise SpecError("--data needs --cutoffs (e.g. 2024-03-01:2025-12-01:1M)")
        source = {"path": str(data)}
    else:
        raise SpecError("give --data DIR (event data) or --table FILE (single customer table)")
    raw = {
        "name": name or model,
        "data": source,
        "cutoffs": cutoffs,
        "horizon_days": horizon or 90,
        "lead_days": lead or 0,
        "model": {"family": model},
        "seed": 42 if seed is None else seed,
    }
    if experiment:
        raw["experiment"] = experiment
    return parse_spec(raw)


@app.command()
def train(
    spec_file: Annotated[Path | None, typer.Argument(help="experiment spec (YAML)")] = None,
    data: Annotated[Path | None, typer.Option(help="event dataset folder (no spec)")] = None,
    cutoffs: Annotated[str | None, typer.Option(help="START:END:STEP or dates (no spec)")] = None,
    horizon: Annotated[int | None, typer.Option(min=1, help="label window in days")] = None,
    lead: Annotated[int | None, typer.Option(min=0, help="days between cutoff and window")] = None,
    table: Annotated[Path | None, typer.Option(help="single customer table (no spec)")] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="customer id column")] = None,
    label: Annotated[str | None, typer.Option(help="churn label column")] = None,
    duration: Annotated[str | None, typer.Option(help="tenure/duration column")] = None,
    mrr: Annotated[str | None, typer.Option(help="monthly revenue column")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="model family: logistic, lightgbm, cox or lightgbm_survival"),
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    name: Annotated[str | None, typer.Option(help="run name")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Train an experiment, evaluate it out of time, explain it and log it to MLflow."""
    from churnlab.config import SpecError
    from churnlab.data import DataValidationError
    from churnlab.tracking import train_and_log
    from churnlab.training.split import SplitError

    try:
        spec = _spec_from_flags(
            spec_file,
            data=data,
            cutoffs=cutoffs,
            horizon=horizon,
            lead=lead,
            table=table,
            id_col=id_col,
            label=label,
            duration=duration,
            mrr=mrr,
            model=model,
            experiment=experiment,
            name=name,
            seed=seed,
        )
        text = spec.source.read_text() if spec.source else None
        with err.status(f"training {spec.name}", spinner="dots") as status:
            result = train_and_log(spec, spec_text=text, progress=lambda m: status.update(m))
    except (SpecError, SplitError, DataValidationError, FileNotFoundError) as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    out = result.to_dict()
    if as_json:
        _emit_json(out)
        return
    grid = Table(
        title=f"{spec.name}: {spec.model.family}, run {result.run_id}", title_justify="left"
    )
    grid.add_column("metric")
    grid.add_column("validation", justify="right")
    grid.add_column("test", justify="right")
    for k, v in out["test_metrics"].items():
        val = out["validation_metrics"].get(k)
        fmt = "{:,.0f}" if k == "rows" else "{:.4f}"
        grid.add_row(k, "" if val is None else fmt.format(val), fmt.format(v))
    console.print(grid)
    console.print(
        f"registered [bold]{result.model_name}[/] version {result.model_version} "
        f"in {out['seconds'].get('total', 0):.1f}s"
    )


@app.command()
def tune(
    spec_file: Annotated[Path, typer.Argument(help="experiment spec (YAML)")],
    trials: Annotated[
        int | None, typer.Option(min=1, help="trial budget of the study (default: the spec's)")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="stop starting trials after this many seconds")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (sampler and model)")] = None,
    fresh: Annotated[
        bool, typer.Option(help="delete the spec's stored study and start over")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Tune the spec's model with Optuna (resumable; optuna.db beside mlflow.db), then train,
    evaluate and register the best model like `train` does."""
    from churnlab.config import SpecError, load_spec
    from churnlab.data import DataValidationError
    from churnlab.tracking.tuning import tune_and_log
    from churnlab.training.split import SplitError
    from churnlab.training.tuning import TuningError

    try:
        spec = load_spec(spec_file, experiment=experiment, seed=seed)
        budget = trials or spec.tuning.trials
        text = spec.source.read_text() if spec.source else None
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            console=err,
            transient=as_json,
        )

        def on_trial(study, trial) -> None:
            finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
            done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in finished)
            try:
                best = (
                    f"best {spec.metric} {study.best_value:.4f} (trial {study.best_trial.number})"
                )
            except ValueError:
                best = ""
            bar.update(task, completed=min(done, budget), best=best)

        with bar:
            task = bar.add_task(f"tuning {spec.name}", total=budget, best="")
            result = tune_and_log(
                spec,
                spec_text=text,
                trials=trials,
                timeout=timeout,
                callbacks=[on_trial],
                progress=lambda m: bar.update(task, description=m),
                fresh=fresh,
            )
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted:[/] finished trials are kept in optuna.db; "
            "run the same command again to resume the study"
        )
        raise typer.Exit(130) from None
    except (SpecError, SplitError, DataValidationError, TuningError, FileNotFoundError) as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    out = result.to_dict()
    if as_json:
        _emit_json(out)
        return
    grid = Table(
        title=f"{spec.name}: best params of {sum(result.counts.values())} trials "
        f"({result.counts['pruned']} pruned, {result.counts['fail']} failed)",
        title_justify="left",
    )
    grid.add_column("param")
    grid.add_column("value", justify="right")
    for k, v in result.best_params.items():
        grid.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(grid)
    console.print(
        f"validation {spec.metric} {result.best_value:.4f}; test {spec.metric} "
        f"{out['test_metrics'].get(spec.metric, float('nan')):.4f}; registered "
        f"[bold]{result.run.model_name}[/] version {result.run.model_version} "
        f"(run {result.run.run_id})"
    )


@app.command()
def compare(
    experiment: Annotated[str, typer.Option(help="MLflow experiment name")] = "demo",
    metric: Annotated[
        str | None, typer.Option(help="ranking metric (default: the specs' metric)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the leaderboard as JSON")] = False,
) -> None:
    """Leaderboard: every finished training run with its test metrics, best first."""
    from churnlab.tracking import RegistryError
    from churnlab.tracking.registry import log_leaderboard, spec_metric

    try:
        metric = metric or spec_metric(experiment)
        board = log_leaderboard(experiment, metric)
    except RegistryError as exc:
        _fail(str(exc))
    if as_json:
        _emit_json(json.loads(board.to_json(orient="records", date_format="iso")))
        return
    grid = Table(title=f"{experiment}: test metrics, ranked by {metric}", title_justify="left")
    shown = {
        "rank": "#", "run_name": "run", "model_version": "v", "pr_auc": "PR-AUC",
        "roc_auc": "ROC-AUC", "ece": "ECE", "lift_top10": "lift@10",
        "revenue_capture_top10": "MRR@10", "oracle_roc_auc": "oracle",
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
    (console if console.is_terminal else Console(width=140)).print(grid)


@app.command()
def promote(
    experiment: Annotated[str, typer.Option(help="MLflow experiment name")] = "demo",
    metric: Annotated[
        str | None,
        typer.Option(help="metric the candidate must beat the champion on (default: the specs')"),
    ] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="registered model name")] = None,
    force: Annotated[bool, typer.Option(help="promote the best even if it does not win")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Point the alias 'champion' at the best version if it beats the current champion."""
    from dataclasses import asdict

    from churnlab.tracking import RegistryError
    from churnlab.tracking import promote as do_promote
    from churnlab.tracking.registry import spec_metric

    try:
        metric = metric or spec_metric(experiment)
        outcome = do_promote(experiment, model_name or f"churn-{experiment}", metric, force)
    except RegistryError as exc:
        _fail(str(exc))
    if as_json:
        _emit_json(asdict(outcome))
        return
    console.print(
        ("[green]promoted:[/] " if outcome.promoted else "[yellow]kept:[/] ") + outcome.message
    )


@app.command()
def export(
    model: Annotated[str, typer.Option(help="model URI, e.g. models:/churn-demo@champion")] = (
        "models:/churn-demo@champion"
    ),
    out: Annotated[Path | None, typer.Option(help="output folder (default models/NAME)")] = None,
) -> None:
    """Write a registered model to a self-contained MLflow model folder (atomically)."""
    from churnlab.tracking import RegistryError, export_model

    if out is None:
        name = model.removeprefix("models:/").split("@")[0].split("/")[0]
        out = Path("models") / name
    try:
        path = export_model(model, out)
    except RegistryError as exc:
        _fail(str(exc))
    console.print(f"exported {model} to {path}")


@app.command()
def score(
    model: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or an exported folder")
    ] = "models:/churn-demo@champion",
    data: Annotated[Path | None, typer.Option(help="event dataset folder (raw data)")] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="score accounts active on this date (default: data's end)"),
    ] = None,
    features: Annotated[
        Path | None, typer.Option(help="score a prepared feature table instead of raw data")
    ] = None,
    out: Annotated[Path, typer.Option(help="output .parquet or .csv (written atomically)")] = Path(
        "data/scores.parquet"
    ),
    engine: Annotated[str, typer.Option(help="feature engine: duckdb or spark")] = "duckdb",
    log: Annotated[bool, typer.Option("--log", help="record the job as its own MLflow run")] = (
        False
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Score every account active at --as-of (or a prepared table) with a registered model."""
    from churnlab.data import DataValidationError
    from churnlab.scoring import ScoringError, score_job

    try:
        with err.status(f"scoring with {model}", spinner="dots"):
            job = score_job(
                model,
                data=data,
                as_of=as_of,
                features=features,
                out=out,
                engine=engine,
                log_run=log,
            )
    except (ScoringError, DataValidationError, FileNotFoundError) as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    summary = {**job.summary, "out": str(job.out), "run_id": job.run_id}
    if as_json:
        _emit_json(summary)
        return
    ver = summary["model_version"] or "?"
    console.print(
        f"{summary['accounts']:,} accounts scored with [bold]{summary['model_name']}[/] "
        f"version {ver} as of {', '.join(summary['cutoffs']) or '-'}"
    )
    grid = Table()
    for col in ("tier", "accounts", "revenue at risk", "mean p(churn)"):
        grid.add_column(col, justify="left" if col == "tier" else "right")
    for tier, d in summary["tiers"].items():
        mean = "-" if d["mean_p_churn"] is None else f"{d['mean_p_churn']:.1%}"
        grid.add_row(tier, f"{d['accounts']:,}", f"{d['revenue_at_risk']:,.0f}", mean)
    console.print(grid)
    if summary["high_tier_drivers"]:
        console.print(
            "top drivers in the high tier: "
            + ", ".join(f"{d['driver']} ({d['share']:.0%})" for d in summary["high_tier_drivers"])
        )
    secs = summary["seconds"]
    console.print(
        f"wrote [bold]{job.out}[/] in {secs['total']:.1f}s (features "
        f"{secs.get('features', 0):.1f}s, scoring {secs.get('scoring', 0):.1f}s)"
        + (f"; logged run {job.run_id}" if job.run_id else "")
    )


@app.command()
def serve(
    model: Annotated[
        str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION or an exported folder")
    ] = "models:/churn-demo@champion",
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 5001,
    workers: Annotated[int, typer.Option(min=1, help="server worker processes")] = 1,
) -> None:
    """Serve the model over REST (mlflow models serve): POST rows to /invocations."""
    import os

    from churnlab.scoring import ScoringError
    from churnlab.scoring.serve import serve_command
    from churnlab.tracking import RegistryError, resolve_model

    try:
        ref = resolve_model(model)
    except (ScoringError, RegistryError) as exc:
        _fail(str(exc))
    cmd, env = serve_command(ref, host, port, workers)
    err.print(f"serving {ref.name} version {ref.version} on http://{host}:{port}/invocations")
    os.execvpe(cmd[0], cmd, env)


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
    """Write a self-contained HTML report (data, retention, leaderboard, model, SHAP, profit)."""
    from churnlab.analytics.report import ReportError, build_report
    from churnlab.config import SpecError
    from churnlab.data import DataValidationError
    from churnlab.evaluation.profit import CampaignParams
    from churnlab.tracking import RegistryError

    if run is None and experiment is None:
        experiment = "demo"
    try:
        campaign = CampaignParams(offer_cost, acceptance_rate, value_months, contact_cost)
        with err.status("rendering the report"):
            path = build_report(
                run_id=run,
                experiment=experiment,
                out=out,
                data=data,
                campaign=campaign,
                danger_feature=danger_feature,
                log_to_run=log_to_run,
            )
    except (ReportError, RegistryError, SpecError, DataValidationError, ValueError) as exc:
        _fail(str(exc))
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
    """Execute the notebooks top to bottom with the project's Python (settings: CHURNLAB_NB_*)."""
    from churnlab.notebooks import execute_notebooks

    try:
        seconds = execute_notebooks(out, paths or None)
    except Exception as exc:  # a failing cell: nbclient's error names the cell and the traceback
        _fail(f"{type(exc).__name__}: {exc}")
    for name, sec in seconds.items():
        console.print(f"executed {name} in {sec:.1f}s -> {out / (name + '.ipynb')}")


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
