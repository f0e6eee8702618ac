"""`churnlab score` and `churnlab serve`: batch scores with the champion, REST serving."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnlab.cli.app import (
    app,
    console,
    emit_json,
    err,
    errors_reported,
    fail,
    notices,
    styled,
)
from churnlab.vocab import champion_uri

# the uplift decision options `score` and `serve` share
UpliftModelOption = Annotated[
    str | None,
    typer.Option(
        "--uplift-model",
        help="an uplift model (models:/NAME@ALIAS, ...): adds uplift, expected_gain and "
        "action (contact/skip) to every row",
    ),
]
BudgetOption = Annotated[
    int | None, typer.Option(min=0, help="with --uplift-model: contact at most N accounts")
]
MinGainOption = Annotated[
    float | None,
    typer.Option("--min-gain", help="with --uplift-model: contact only gains >= X"),
]
ValueMonthsOption = Annotated[
    float | None, typer.Option(help="months of MRR a kept customer is worth (model's default)")
]
ContactCostOption = Annotated[
    float | None, typer.Option(help="cost of one contact (the uplift model's default)")
]
OfferCostOption = Annotated[
    float | None, typer.Option(help="cost of the offer (the uplift model's default)")
]


@app.command()
def score(
    model: Annotated[
        str,
        typer.Option(
            help="models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest, models:/m-ID or an exported folder"
        ),
    ] = champion_uri(),
    data: Annotated[Path | None, typer.Option(help="event dataset folder (raw data)")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="score accounts active on this date (default: the data's last day)"
        ),
    ] = None,
    features: Annotated[
        Path | None, typer.Option(help="score a prepared feature table instead of raw data")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="text encoding of a CSV --features table: latin-1, cp1252, ... (default: "
            "utf-8, else the encoding the model was trained from)"
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="output .parquet or .csv (written atomically)")] = Path(
        "data/scores.parquet"
    ),
    engine: Annotated[str, typer.Option(help="feature engine: duckdb or spark")] = "duckdb",
    log: Annotated[bool, typer.Option("--log", help="record the job as its own MLflow run")] = (
        False
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    reasons: Annotated[
        Path | None,
        typer.Option(
            "--reasons",
            help="YAML with a reasons section (min_contribution, tiers, hints) replacing the "
            "model's for this job",
        ),
    ] = None,
    uplift_model: UpliftModelOption = None,
    budget: BudgetOption = None,
    min_gain: MinGainOption = None,
    value_months: ValueMonthsOption = None,
    contact_cost: ContactCostOption = None,
    offer_cost: OfferCostOption = None,
) -> None:
    """Score every account active at a date with a model.

    The accounts active at --as-of (default: the data's last date), or a prepared feature
    table, scored with a registered or exported model."""

    from churnlab.cli.train import interrupts_reported
    from churnlab.config import load_reasons
    from churnlab.scoring import score_job

    unchanged = f"nothing was written ({out} is as it was)" if out else "nothing was written"
    with (
        interrupts_reported(nothing=unchanged),
        errors_reported(),
        err.status(styled(f"scoring with {model}"), spinner="dots"),
    ):
        settings = load_reasons(reasons) if reasons is not None else None
        policy = _policy(uplift_model, budget, min_gain, value_months, contact_cost, offer_cost)
        job = score_job(
            model,
            data=data,
            as_of=as_of,
            features=features,
            out=out,
            engine=engine,
            log_run=log,
            reason_settings=settings,
            uplift_model=uplift_model,
            contact_policy=policy,
            encoding=encoding,
        )
    summary = {**job.summary, "out": str(job.out), "run_id": job.run_id}
    if as_json:
        emit_json(summary)
        notices(summary["notices"])  # on stderr: a scheduled job's log shows them
        return
    ver = summary["model_version"] or "?"
    console.print(
        styled(
            f"{summary['accounts']:,} accounts scored with ",
            (summary["model_name"], "bold"),
            f" version {ver}"
            + (f" as of {', '.join(summary['cutoffs'])}" if summary["cutoffs"] else "")
            + f" (population: {summary['population']})",
        )
    )
    grid = Table()
    # no revenue at all (MRR unknown, as where churn is read from activity): no column of 0s
    revenue = any(d["revenue_at_risk"] for d in summary["tiers"].values())
    columns = ("tier", "accounts", *(["revenue at risk"] if revenue else []), "mean p(churn)")
    for col in columns:
        grid.add_column(col, justify="left" if col == "tier" else "right")
    for tier, d in summary["tiers"].items():
        mean = "-" if d["mean_p_churn"] is None else f"{d['mean_p_churn']:.1%}"
        at_risk = [f"{d['revenue_at_risk']:,.0f}"] if revenue else []
        grid.add_row(tier, f"{d['accounts']:,}", *at_risk, mean)
    console.print(grid)
    if summary["high_tier_drivers"]:
        console.print(
            "top drivers in the high tier: "
            + ", ".join(f"{d['driver']} ({d['share']:.0%})" for d in summary["high_tier_drivers"])
        )
    if "uplift" in summary:
        u = summary["uplift"]
        console.print(
            f"contact {u['contacts']:,} accounts (uplift model version "
            f"{u['model_version'] or '?'}): expected gain {u['expected_gain']:,.0f}"
        )
    secs = summary["seconds"]
    console.print(
        styled(
            "wrote ",
            (str(job.out), "bold"),
            f" in {secs['total']:.1f}s (features {secs.get('features', 0):.1f}s, scoring "
            f"{secs.get('scoring', 0):.1f}s)"
            + (f"; logged run {job.run_id}" if job.run_id else ""),
        )
    )
    notices(summary["notices"])


def _policy(uplift_model, budget, min_gain, value_months, contact_cost, offer_cost):
    """The contact policy of the options (None without an uplift model, where they are an
    error)."""
    from churnlab.scoring import ContactPolicy, ScoringError

    values = dict(
        budget=budget,
        min_gain=min_gain,
        value_months=value_months,
        contact_cost=contact_cost,
        offer_cost=offer_cost,
    )
    if uplift_model is None:
        given = [f"--{k.replace('_', '-')}" for k, v in values.items() if v is not None]
        if given:
            raise ScoringError(f"{', '.join(given)}: only with --uplift-model")
        return None
    return ContactPolicy(**values)


@app.command()
def serve(
    model: Annotated[
        str,
        typer.Option(
            help="models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest, models:/m-ID or an exported folder"
        ),
    ] = champion_uri(),
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 5001,
    workers: Annotated[int, typer.Option(min=1, help="server worker processes")] = 1,
    uplift_model: UpliftModelOption = None,
    budget: BudgetOption = None,
    min_gain: MinGainOption = None,
    value_months: ValueMonthsOption = None,
    contact_cost: ContactCostOption = None,
    offer_cost: OfferCostOption = None,
) -> None:
    """Serve a model over REST (POST /invocations).

    MLflow's request format; the same checks and scores as batch scoring; strict JSON out."""

    from churnlab.scoring.serve import serve_command
    from churnlab.tracking import resolve_model

    with errors_reported():
        ref = resolve_model(model)
        policy = _policy(uplift_model, budget, min_gain, value_months, contact_cost, offer_cost)
        uplift = resolve_model(uplift_model) if uplift_model else None
    _check_port(host, port)
    cmd, env = serve_command(ref, host, port, workers, uplift=uplift, policy=policy)
    err.print(f"serving {ref.name} version {ref.version} on http://{host}:{port}/invocations")
    os.execvpe(cmd[0], cmd, env)


def _check_port(host: str, port: int) -> None:
    """Fail before announcing the server when ``host:port`` cannot be bound (another server
    on it, or an address this machine does not have), as the server itself would bind it."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        reason = "is in use (another server?)" if exc.errno == errno.EADDRINUSE else str(exc)
        fail(f"cannot serve on {host}:{port}: the address {reason}; choose another --port", code=1)
