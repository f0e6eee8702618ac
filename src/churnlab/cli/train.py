"""`churnlab train` and `churnlab tune`: fit, evaluate, explain and register a spec."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnlab.cli.app import app, console, emit_json, err, errors_reported


@contextmanager
def interrupts_reported(resume: bool = False) -> Iterator[None]:
    """Ctrl-C or SIGTERM: one line saying what became of the run, exit 130."""

    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt as exc:
        run_id = getattr(exc, "run_id", None)
        what = f"run {run_id} was marked KILLED" if run_id else "no run was started"
        kept = "; finished trials are kept in optuna.db, run the same command again to resume"
        err.print(f"[yellow]interrupted:[/] {what}{kept if resume else ''}", highlight=False)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def reused_line(name: str, run: Any) -> str:
    """The one line a reused run gets instead of a training table."""
    return (
        f"{name}: reused run {run.run_id} ({run.model_name} version {run.model_version}): same "
        "spec, data, code and seed; --force trains again"
    )


@app.command()
def train(
    spec_file: Annotated[Path | None, typer.Argument(help="experiment spec (YAML)")] = None,
    data: Annotated[Path | None, typer.Option(help="event dataset folder (no spec)")] = None,
    cutoffs: Annotated[str | None, typer.Option(help="START:END:STEP or dates (no spec)")] = None,
    horizon: Annotated[int | None, typer.Option(min=1, help="label window in days")] = None,
    lead: Annotated[int | None, typer.Option(min=0, help="days between cutoff and window")] = None,
    table: Annotated[
        Path | None,
        typer.Option(help="single customer table: .csv[.gz|.zst], .tsv or .parquet (no spec)"),
    ] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="customer id column")] = None,
    label: Annotated[str | None, typer.Option(help="churn label column")] = None,
    duration: Annotated[
        str | None,
        typer.Option(help="tenure/duration column (also a classifier feature unless excluded)"),
    ] = None,
    duration_unit: Annotated[
        str | None,
        typer.Option(help="what --duration counts: days (default), weeks or months"),
    ] = None,
    mrr: Annotated[
        str | None, typer.Option(help="monthly revenue column (revenue at risk, and a feature)")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="model family: logistic, lightgbm, cox or lightgbm_survival"),
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    name: Annotated[str | None, typer.Option(help="run name")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    force: Annotated[
        bool,
        typer.Option(help="train even if a finished run has the same spec, data, code and seed"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Train an experiment, evaluate it out of time, explain it and log it to MLflow (a
    finished run of the same spec, data, code and seed is reused unless --force)."""
    started = time.perf_counter()
    from churnlab.config import spec_from_options
    from churnlab.tracking import train_and_log

    imports = time.perf_counter() - started

    with interrupts_reported(), errors_reported():
        spec = spec_from_options(
            spec_file,
            data=data,
            cutoffs=cutoffs,
            horizon=horizon,
            lead=lead,
            table=table,
            id_col=id_col,
            label=label,
            duration=duration,
            duration_unit=duration_unit,
            mrr=mrr,
            model=model,
            experiment=experiment,
            name=name,
            seed=seed,
        )
        text = spec.source.read_text() if spec.source else None
        with err.status(f"training {spec.name}", spinner="dots") as status:
            result = train_and_log(
                spec, spec_text=text, progress=lambda m: status.update(m), force=force
            )
    # the whole command: the deferred imports (MLflow, LightGBM, ...) are part of its cost
    result.seconds.update(imports=imports, total=time.perf_counter() - started)
    out = result.to_dict()
    if as_json:
        emit_json(out)
        return
    if result.reused:
        console.print(reused_line(spec.name, result), soft_wrap=True)
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
    force: Annotated[
        bool,
        typer.Option(
            help="train and register the best model again even if a finished tuned run has "
            "the same spec, data, code, seed and trials"
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Tune the spec's model with Optuna (resumable; optuna.db beside mlflow.db), then train,
    evaluate and register the best model like `train` does."""
    from churnlab.config import load_spec
    from churnlab.tracking.tuning import reused_tuning, tune_and_log

    with interrupts_reported(resume=True), errors_reported():
        spec = load_spec(spec_file, experiment=experiment, seed=seed)
        reused = None if force or fresh else reused_tuning(spec, trials=trials)
        if reused is not None:
            if as_json:
                emit_json(reused.to_dict())
            else:
                console.print(reused_line(f"{spec.name}-tuned", reused.run), soft_wrap=True)
            return
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
                force=force,
            )
    out = result.to_dict()
    if as_json:
        emit_json(out)
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
