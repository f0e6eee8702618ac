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

from churnlab.cli.app import app, console, emit_json, err, errors_reported, styled


@contextmanager
def interrupts_reported(
    resume: bool = False, nothing: str = "no run was started"
) -> Iterator[None]:
    """Ctrl-C or SIGTERM: one line saying what became of the run (``nothing``: what to say
    where no run was started; an interrupt carrying ``done`` says what was finished before
    it), exit 130."""

    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt as exc:
        run_id = getattr(exc, "run_id", None)
        what = f"run {run_id} was marked KILLED" if run_id else nothing
        what = getattr(exc, "done", None) or what
        kept = "; finished trials are kept in optuna.db, run the same command again to resume"
        err.print(
            styled(("interrupted:", "yellow"), f" {what}{kept if resume else ''}"),
            highlight=False,
            soft_wrap=True,  # a path is never cut
        )
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
    spec_files: Annotated[
        list[Path] | None,
        typer.Argument(help="experiment specs (YAML), trained one after the other", metavar="SPEC"),
    ] = None,
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
    positive: Annotated[
        str | None,
        typer.Option(
            metavar="VALUE",
            help="the --label value that means churned (e.g. 'Attrited Customer'); every other "
            "value is not churned (default: Yes/No, 1/0, true/false, ... are read)",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(help="tenure/duration column (also a classifier feature unless excluded)"),
    ] = None,
    duration_unit: Annotated[
        str | None,
        typer.Option(help="what --duration counts: days (default), weeks, months or years"),
    ] = None,
    mrr: Annotated[
        str | None, typer.Option(help="monthly revenue column (revenue at risk, and a feature)")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="text encoding of a CSV --table: utf-8 (default), latin-1, cp1252, ..."),
    ] = None,
    na_values: Annotated[
        str | None,
        typer.Option(
            metavar="VALUES",
            help="missing-value codes of a --table, separated by commas (e.g. '-1,?,999'): read "
            "as missing in every column but the id and the label (data.na_values in a spec)",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="model family: logistic, lightgbm, cox or lightgbm_survival"),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            metavar="COLUMN",
            help="leave this column (or feature) out of the features; repeat for more (no spec: "
            "features.exclude in a spec)",
        ),
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment name")] = None,
    name: Annotated[str | None, typer.Option(help="run name")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    tune_trials: Annotated[
        int | None,
        typer.Option(
            "--tune",
            min=1,
            metavar="N",
            help="first run a quick pruned Optuna study of N trials (in memory), then fit "
            "with the best params (spec key: tune: {trials: N})",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="train even if a finished run has the same spec, data, code and seed"),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the result as JSON (a list for several specs)")
    ] = False,
) -> None:
    """Train a spec, evaluate it out of time, log it to MLflow.

    Experiment specs (YAML; several are trained one after the other in this one process,
    the options applying to each), or options alone for a dataset folder (--data) or a
    customer table (--table); each run is explained (SHAP) and registered as a model version.
    A finished run of the same spec, data, code and seed is reused unless --force."""
    started = time.perf_counter()
    from churnlab.config import spec_from_options

    options = dict(
        data=data,
        cutoffs=cutoffs,
        horizon=horizon,
        lead=lead,
        table=table,
        id_col=id_col,
        label=label,
        positive=positive,
        duration=duration,
        duration_unit=duration_unit,
        mrr=mrr,
        encoding=encoding,
        na_values=na_values,
        model=model,
        exclude=exclude,
        experiment=experiment,
        name=name,
        seed=seed,
        tune=tune_trials,
    )
    outs = []
    with interrupts_reported(), errors_reported():
        if name and len(spec_files or ()) > 1:
            raise ValueError("--name names one run: give it one spec")
        # every spec is checked before the first one trains: a typo in the last one costs
        # nothing
        specs = [spec_from_options(f, **options) for f in spec_files or [None]]
        for spec in specs:
            result, out = _train(spec, started, force=force)
            outs.append(out)
            if not as_json:
                _print_run(spec, result, out)
            started = time.perf_counter()
    if as_json:
        emit_json(outs[0] if len(outs) == 1 else outs)


def _print_run(spec, result, out: dict) -> None:
    """The metrics table and the registered version of one trained spec (one line if reused)."""
    if getattr(result, "reused", False):
        console.print(reused_line(out["run_name"], result), soft_wrap=True)
        return
    grid = Table(
        title=f"{out['run_name']}: {spec.model.family}, run {out['run_id']}", title_justify="left"
    )
    grid.add_column("metric")
    grid.add_column("validation", justify="right")
    grid.add_column("test", justify="right")
    for k, v in out["test_metrics"].items():
        val = out["validation_metrics"].get(k)
        fmt = "{:,.0f}" if k == "rows" else "{:.4f}"
        grid.add_row(k, "" if val is None else fmt.format(val), fmt.format(v))
    console.print(grid)
    line = split_line(out.get("split") or {})
    if line:
        console.print(line, soft_wrap=True, highlight=False)
    if spec.tune:
        trials = out["trials"]
        console.print(
            f"tuned: {sum(trials.values())} trials ({trials['pruned']} pruned), best "
            f"validation {spec.metric} {out[f'best_validation_{spec.metric}']:.4f}"
        )
    console.print(
        styled(
            "registered ",
            (out["model_name"], "bold"),
            f" version {out['model_version']} in {out['seconds'].get('total', 0):.1f}s",
        )
    )


def split_line(split: dict[str, Any]) -> str | None:
    """Which cutoffs (and rows) trained, calibrated, validated and tested the model, on one
    line: ``split: train 2024-01-01..2025-01-01 (5 cutoffs, 8,120 rows); validation
    2025-04-01 (1,390 rows); test 2025-07-01 (1,402 rows)``; None without a split."""
    parts = []
    for part in ("train", "calibration", "validation", "test"):
        d = split.get(part)
        if not d:
            continue
        cutoffs = [str(c)[:10] for c in d.get("cutoffs") or []]
        rows = f"{d.get('rows', 0):,} rows"
        if len(cutoffs) > 1:
            parts.append(f"{part} {cutoffs[0]}..{cutoffs[-1]} ({len(cutoffs)} cutoffs, {rows})")
        elif cutoffs:
            parts.append(f"{part} {cutoffs[0]} ({rows})")
        else:
            parts.append(f"{part} {rows}")
    return f"split: {'; '.join(parts)}" if parts else None


def _train(spec, started: float, force: bool = False) -> tuple[Any, dict]:
    """Train (after a quick study when the spec asks for one) and log, or reuse a finished run
    of the same spec, data, code and seed unless ``force``; the run and the result as data,
    its ``seconds`` covering the whole command from ``started``."""
    text = spec.source.read_text() if spec.source else None
    t0 = time.perf_counter()
    # the deferred imports (MLflow, LightGBM, ...) are part of the command's cost
    if spec.tune:
        from churnlab.tracking.tuning import tune_and_log
    else:
        from churnlab.tracking import train_and_log
    imports = time.perf_counter() - t0
    with err.status(styled(f"training {spec.name}"), spinner="dots") as status:
        if spec.tune:
            tuned = tune_and_log(
                spec,
                spec_text=text,
                trials=spec.tune.trials,
                timeout=spec.tune.timeout,
                progress=lambda m: status.update(styled(m)),
                in_memory=True,
                force=force,
            )
            result, out = tuned.run, tuned.to_dict()
            name = f"{spec.name}-tuned"
        else:
            result = train_and_log(
                spec, spec_text=text, progress=lambda m: status.update(styled(m)), force=force
            )
            out, name = {}, spec.name
    result.seconds.update(imports=imports, total=time.perf_counter() - started)
    return result, {"run_name": name, **out, **result.to_dict()}


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
    """Tune a spec with Optuna and register the best model.

    Resumable: the study is kept in optuna.db beside mlflow.db. The best parameters are then
    trained, evaluated and registered as `train` does."""
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
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}", markup=False),
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
        styled(
            f"validation {spec.metric} {result.best_value:.4f}; test {spec.metric} "
            f"{out['test_metrics'].get(spec.metric, float('nan')):.4f}; registered ",
            (result.run.model_name, "bold"),
            f" version {result.run.model_version} (run {result.run.run_id})",
        )
    )
