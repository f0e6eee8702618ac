"""The HTML report: one self-contained file (images embedded) for people who would rather look.

It reads what a training run logged to MLflow (metrics, plots, SHAP summaries, example reasons,
test predictions), the experiment's leaderboard, and the run's dataset for the retention
analytics, renders ``templates/report.html.j2`` and logs the HTML back to the run
(``report/<file>.html``). Written atomically: a temp file beside the target, then renamed.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from churnlab import __version__, config
from churnlab.config import EventData, PopulationSpec, TableData
from churnlab.data import load_source
from churnlab.errors import ChurnlabError
from churnlab.features.population import describe_population, needed_columns, population_mask
from churnlab.files import atomic_file, check_writable
from churnlab.tracking import champion_version, connect, leaderboard, spec_metric

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"
SECTIONS = (
    ("data", "Data summary"),
    ("retention", "Retention analytics"),
    ("leaderboard", "Leaderboard"),
    ("model", "Chosen model"),
    ("explanations", "What drives churn (SHAP)"),
    ("customers", "Example customers"),
    ("profit", "Retention campaign profit"),
    ("contact", "Whom to contact"),
    ("monitoring", "Monitoring the model in production"),
)
EXAMPLES = 12
COUNT_METRICS = ("rows",)  # metrics that count things: shown as whole numbers


class ReportError(ChurnlabError):
    """The run or experiment to report on cannot be found or lacks what the report needs."""


@dataclass
class RunInfo:
    run_id: str
    run_name: str
    experiment: str
    model_name: str | None
    model_version: str | None
    aliases: list[str] = field(default_factory=list)


def figure_png(ax_or_fig: Any, dpi: int = 110) -> str:
    """A matplotlib figure (or an axes of one) as base64 PNG; the figure is closed."""
    fig = getattr(ax_or_fig, "figure", ax_or_fig)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _file_png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(value: Any, column: str, percent: tuple[str, ...], digits: int) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return ""
    if column in percent:
        return f"{value:.1%}"
    if column.endswith("p_value") or column.endswith("_p"):
        return "< 1e-300" if value == 0 else f"{value:.2g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float | np.floating):
        return f"{value:,.{digits}f}"
    return str(value)


def _html_table(
    frame: pd.DataFrame,
    percent: tuple[str, ...] = (),
    digits: int = 3,
    text: tuple[str, ...] | None = None,
) -> str:
    """A plain HTML table: numbers right-aligned, text left-aligned (or the ``text`` columns),
    everything escaped."""
    if text is None:
        text = tuple(
            c
            for c in frame.columns
            if not (
                pd.api.types.is_numeric_dtype(frame[c])
                or pd.api.types.is_datetime64_any_dtype(frame[c])
            )
        )
    cls = {c: ' class="text"' if c in text else "" for c in frame.columns}
    # a float column of whole numbers (money in whole units, counts that went float beside a
    # missing value) is shown without decimals: "5,400", not "5,400.00"
    places = {c: 0 if _whole(frame[c]) else digits for c in frame.columns}
    head = "".join(f"<th{cls[c]}>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = "".join(
            f"<td{cls[c]}>{escape(_cell(v, str(c), percent, places[c]))}</td>"
            for c, v in zip(frame.columns, rec, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _whole(column: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(column):
        return False
    values = column.dropna()
    return not values.empty and bool(np.all(np.isfinite(values) & (values == values.round())))


# -------------------------------------------------------------------------------------------
# locating the run


def resolve_run(run_id: str | None = None, experiment: str | None = None) -> RunInfo:
    """The run to report on: ``run_id``, else the champion of ``experiment``'s registered model,
    else the experiment's best run on the leaderboard."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = connect()
    if run_id is None:
        if experiment is None:
            raise ReportError("give a run id (--run) or an experiment (--experiment)")
        board = leaderboard(experiment, spec_metric(experiment))
        run_id = str(board.run_id.iloc[0])
        for name in board.registered_model.dropna().unique():
            champion = champion_version(client, str(name))
            if champion is not None and champion.run_id in set(board.run_id):
                run_id = champion.run_id
                break
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ReportError(f"no MLflow run {run_id!r}: {exc.message}") from exc
    exp = mlflow.get_experiment(run.info.experiment_id)
    tags = run.data.tags
    model_name, version = tags.get("churnlab.registered_model"), tags.get("churnlab.model_version")
    aliases: list[str] = []
    if model_name and version:
        try:
            aliases = list(client.get_model_version(model_name, version).aliases)
        except MlflowException:
            aliases = []
    if tags.get("churnlab.kind") != "training":
        raise ReportError(f"run {run_id} is not a churnlab training run")
    return RunInfo(
        run_id=run_id,
        run_name=run.info.run_name or run_id[:8],
        experiment=exp.name,
        model_name=model_name,
        model_version=version,
        aliases=aliases,
    )


def _download(run_id: str, dst: Path) -> Path:
    import mlflow

    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(dst))
    return Path(local)


def _read_table(path: Path) -> pd.DataFrame:
    raw = json.loads(path.read_text())
    return pd.DataFrame(raw["data"], columns=raw["columns"])


# -------------------------------------------------------------------------------------------
# sections


def _data_section(dataset) -> dict[str, Any]:
    s = dataset.summary()
    skip = {"truth", "accounts"}
    kpis = [
        {"label": f"{k} rows", "value": f"{v:,}"} for k, v in s["rows"].items() if k not in skip
    ]
    if "customers" in s:
        kpis = [
            {"label": "customers", "value": f"{s['customers']:,}"},
            {"label": "churned customers", "value": f"{s['churned_customers']:,}"},
            {"label": "churn rate", "value": f"{s['churn_rate']:.1%}"},
            {"label": "columns", "value": f"{s['columns']:,}"},
        ]
    if "accounts" in s:
        kpis = [
            {"label": "accounts", "value": f"{s['accounts']:,}"},
            {"label": "churned accounts", "value": f"{s['churned_accounts']:,}"},
            {"label": "churn rate (all time)", "value": f"{s['churn_rate']:.1%}"},
            {"label": "observed", "value": f"{s['start'][:10]} .. {s['observed_until'][:10]}"},
            *kpis,
        ]
    return {"kpis": kpis, "notices": list(dataset.notices), "blocks": []}


def _retention_section(dataset, spec: dict[str, Any], danger_feature: str) -> dict[str, Any]:
    from churnlab.analytics import danger_zone as dz
    from churnlab.analytics import onboarding as ob
    from churnlab.analytics import retention as rt
    from churnlab.analytics import survival_curves as sc
    from churnlab.features import observation_frame

    if dataset.kind != "events":
        return {
            "notices": ["single customer table: no subscription history for retention analytics"],
            "blocks": [],
        }
    blocks = []
    monthly = rt.monthly_retention(dataset)
    blocks.append(
        {
            "heading": "Churn, MRR churn, expansion and net revenue retention per month",
            "text": "Over accounts paying at the start of each month; MRR churn counts churned "
            "and contracted MRR. NRR above 100% is negative net churn.",
            "figures": [
                {"png": figure_png(rt.plot_churn_rates(monthly)), "caption": "monthly churn"},
                {"png": figure_png(rt.plot_nrr(monthly)), "caption": "net revenue retention"},
            ],
            "table": _html_table(
                monthly.tail(12)[
                    ["month", "paying_accounts", "churned_accounts", "start_mrr", "new_mrr",
                     "churned_mrr", "contraction_mrr", "expansion_mrr", "churn_rate",
                     "mrr_churn_rate", "nrr"]
                ],
                percent=("churn_rate", "mrr_churn_rate", "nrr"),
                digits=0,
            ),
        }
    )  # fmt: skip
    cohorts = rt.cohort_retention(dataset, "accounts")
    revenue = rt.cohort_retention(dataset, "revenue")
    blocks.append(
        {
            "heading": "Sign-up cohorts",
            "text": "Accounts: share of the cohort still subscribed k months after its sign-up "
            "month. Revenue: the cohort's MRR over its MRR at month 1 (above 100%: expansion).",
            "figures": [
                {
                    "png": figure_png(
                        rt.plot_cohort_heatmap(cohorts, title="Account retention (%)")
                    ),
                    "caption": "account retention by sign-up cohort",
                    "size": "wide",
                },
                {
                    "png": figure_png(
                        rt.plot_cohort_heatmap(revenue, title="Revenue retention (%)")
                    ),
                    "caption": "revenue retention by sign-up cohort",
                    "size": "wide",
                },
            ],
        }
    )
    table = sc.survival_table(dataset)
    groupings = [g for g in sc.GROUPINGS if g in table]
    tests = pd.DataFrame([sc.logrank(table, g) for g in groupings])
    blocks.append(
        {
            "heading": "Kaplan-Meier survival from sign-up",
            "text": "Plan and billing period of the first paid subscription ('trial': never paid).",
            "figures": [
                {"png": figure_png(sc.plot_km(table, g)), "caption": f"survival by {g}"}
                for g in groupings
            ],
            "table": _html_table(tests),
        }
    )
    population = PopulationSpec.model_validate(spec.get("population") or {})
    features = [danger_feature, "logins_first_10d", "first_session_min", "tenure_days"]
    features += [c for c in needed_columns(population) if c not in (*features, "mrr")]
    frame = observation_frame(dataset, spec["cutoffs"], int(spec["horizon_days"]), features)
    frame = frame.loc[population_mask(frame, population)]
    zone = dz.find_danger_zone(frame, danger_feature)
    z = zone.summary()
    blocks.append(
        {
            "heading": f"Engagement danger zone ({danger_feature}; the model's population)",
            "text": f"Threshold {z['threshold']:g} by {str(z['method']).replace('_', ' ')}: "
            f"{z['share_in_zone']:.0%} of observations are at or below it and churn at "
            f"{z['churn_rate_in_zone']:.1%} within {spec['horizon_days']} days, vs "
            f"{z['churn_rate_outside']:.1%} above it ({z['lift']:.1f}x).",
            "figures": [{"png": figure_png(dz.plot_danger_zone(zone)), "caption": "danger zone"}],
        }
    )
    onboarding = [ob.onboarding_table(frame, f) for f in ob.ONBOARDING_BINS]
    blocks.append(
        {
            "heading": "Onboarding red flags",
            "text": "Churn within the horizon for accounts up to 180 days old, by their onboarding.",
            "figures": [
                {"png": figure_png(ob.plot_onboarding(t)), "caption": t.columns[0]}
                for t in onboarding
            ],
        }
    )
    return {"blocks": blocks, "notices": []}


def _leaderboard_section(run: RunInfo) -> dict[str, Any]:
    metric = spec_metric(run.experiment)
    board = leaderboard(run.experiment, metric)
    board = board.assign(chosen=(board.run_id == run.run_id).map({True: "<<", False: ""}))
    cols = ["rank", "run_name", "family", "model_version", "pr_auc", "roc_auc", "log_loss",
            "brier", "ece", "lift_top10", "revenue_capture_top10", "emp", "oracle_roc_auc",
            "chosen"]  # fmt: skip
    return {
        "intro": f"Finished training runs of '{run.experiment}' by test {metric}.",
        # columns no run has (e.g. the oracle AUC, known only for simulated data) are left out
        "blocks": [
            {"table": _html_table(board[[c for c in cols if c in board]].dropna(axis=1, how="all"))}
        ],
        "notices": [],
    }


def _metric_text(name: str, value: float | None) -> str:
    """A metric as the table shows it: counts as whole numbers ("1,825"), scores to 3 places."""
    if value is None or pd.isna(value):
        return ""
    return f"{value:,.0f}" if name in COUNT_METRICS else f"{value:,.3f}"


def _model_section(run_dir: Path, metrics: dict[str, float], single_table: bool) -> dict[str, Any]:
    names = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "ece_floor", "lift_top10", "capture_top10",
             "revenue_capture_top10", "emp", "emp_contact_share", "oracle_roc_auc", "positive_rate",
             "rows"]  # fmt: skip
    rows = [
        {
            "metric": n,
            "validation": _metric_text(n, metrics.get(f"validation_{n}")),
            "test": _metric_text(n, metrics.get(f"test_{n}")),
        }
        for n in names
        if f"test_{n}" in metrics
    ]
    kpis = [
        {"label": f"test {n.replace('_', ' ')}", "value": f"{metrics[f'test_{n}']:.3f}"}
        for n in ("roc_auc", "pr_auc", "ece", "lift_top10")
        if f"test_{n}" in metrics
    ]
    plots = sorted((run_dir / "plots").glob("*.png"))
    return {
        "kpis": kpis,
        "blocks": [
            {"table": _html_table(pd.DataFrame(rows), text=("metric",))},
            {
                "heading": "Test-set plots" if single_table else "Test-cutoff plots",
                "figures": [
                    {"png": _file_png(p), "caption": p.stem.replace("_", " ")} for p in plots
                ],
            },
        ],
        "notices": [] if plots else ["the run logged no plots"],
    }


def _test_part(single_table: bool) -> str:
    """What the held-out test part is: a random share of a table's rows, or the latest cutoff."""
    return (
        "the test rows (a random held-out share of the table)"
        if single_table
        else "the test cutoff"
    )


def _shap_section(run_dir: Path, single_table: bool) -> dict[str, Any]:
    shap_dir = run_dir / "shap"
    per_driver = _read_table(shap_dir / "driver_importance.json")
    per_feature = _read_table(shap_dir / "feature_importance.json").head(15)
    figures = [
        {"png": _file_png(shap_dir / name), "caption": cap}
        for name, cap in (("drivers.png", "driver roll-up"), ("beeswarm.png", "beeswarm"))
        if (shap_dir / name).exists()
    ]
    dependence = [
        {"png": _file_png(p), "caption": p.stem.removeprefix("dependence_"), "size": "small"}
        for p in sorted(shap_dir.glob("dependence_*.png"))
    ]
    return {
        "intro": "Mean |SHAP| on the model's score (the log-odds of churn for classifiers, the "
        "log-hazard for survival families): per driver (its features summed) and per feature, "
        f"on {_test_part(single_table)}.",
        "blocks": [
            {"heading": "Global summary", "figures": figures},
            {"heading": "Drivers", "table": _html_table(per_driver, percent=("share",))},
            {"heading": "Top features", "table": _html_table(per_feature, percent=("share",))},
            {"heading": "Dependence of the top features", "figures": dependence},
        ],
        "notices": [],
    }


def _customers_section(run_dir: Path, examples: int, single_table: bool) -> dict[str, Any]:
    ex = _read_table(run_dir / "shap" / "example_reasons.json").head(examples)
    if "cutoff" in ex:  # a date, shown as one (right-aligned, never broken over two lines)
        ex["cutoff"] = pd.to_datetime(ex["cutoff"])
    by_loss = "expected_loss" in ex and ex["expected_loss"].notna().any()
    reasons = [c for i in (1, 2, 3) for c in (f"reason_{i}", f"hint_{i}") if c in ex] + [
        c for c in ("context",) if c in ex
    ]
    money = ["mrr", "expected_loss"] if by_loss else []
    keys = ["account_id"] if single_table else ["account_id", "cutoff"]
    cols = [*keys, "p", *money, *reasons]
    table = ex[[c for c in cols if c in ex]].rename(
        columns={"p": "p_churn", "expected_loss": "expected loss (p x MRR)"}
    )
    ranked = "expected loss (churn probability x MRR)" if by_loss else "churn probability"
    return {
        "intro": f"The {len(table)} customers of {_test_part(single_table)} with the highest "
        f"{ranked}, the reasons raising their risk in words with what to do about each, and the "
        "account context that adds to the risk (country, plan, tenure, renewal date: not reasons "
        "to act on).",
        "blocks": [{"table": _html_table(table, digits=2)}],
        "notices": [],
    }


def _profit_section(run_dir: Path, campaign, single_table: bool) -> dict[str, Any]:
    from churnlab.evaluation.profit import best_k, plot_profit_curve, profit_curve

    pred = _read_table(run_dir / "predictions" / "test.json")
    if pred["mrr"].isna().all():
        return {"notices": ["the test predictions carry no MRR: no profit curve"], "blocks": []}
    curve = profit_curve(pred.p, pred.mrr, campaign, churned=pred.y, points=len(pred))
    best = best_k(pred.p, pred.mrr, campaign, churned=pred.y)
    everyone = {
        "ranking": "contact everyone",
        "k": len(pred),
        "share_contacted": 1.0,
        "profit": float(curve.iloc[-1].profit_by_risk),
    }
    rows = pd.DataFrame([{"ranking": k, **v} for k, v in best.items()] + [everyone])
    return {
        "intro": (
            f"Offer cost {campaign.offer_cost:g}, acceptance rate {campaign.acceptance_rate:.0%}, "
            f"customer value MRR x {campaign.value_months:g} months, contact cost "
            f"{campaign.contact_cost:g}; profit counted on the true outcomes of "
            f"{_test_part(single_table)} ({len(pred):,} customers)."
        ),
        "blocks": [
            {
                "figures": [
                    {"png": figure_png(plot_profit_curve(curve)), "caption": "profit curve"}
                ],
                "text": _steps_text(pred, campaign),
            },
            {"table": _html_table(rows, percent=("share_contacted",), digits=0)},
        ],
        "notices": [],
    }


def _contact_section(run: RunInfo) -> dict[str, Any]:
    """The contact policies of the project's uplift model (its registered champion, else the
    latest uplift run), with this run's churn scores for the risk policies."""
    from churnlab.analytics.contact import contact_policies, find_uplift_run
    from churnlab.evaluation import plot_policy_curves

    uplift_run = find_uplift_run()
    if uplift_run is None:
        return {
            "intro": "No uplift model yet: train one with `churnlab train experiments/uplift.yaml` "
            "(needs a campaigns table, see docs/uplift.md).",
            "notices": ["no uplift run in this project"],
        }
    from mlflow.exceptions import MlflowException

    try:
        cmp = contact_policies(uplift_run, run.run_id, budget_share=0.2)
    except (MlflowException, OSError, KeyError, ValueError) as exc:  # a broken uplift run
        return {"notices": [f"uplift run {uplift_run} cannot be compared: {exc}"]}
    p = cmp.params
    best = cmp.best.assign(advice=[s.split(": ", 1)[1] for s in cmp.summary()])
    return {
        "intro": (
            f"Uplift run {uplift_run}: its {len(cmp.rows):,} randomized test rows "
            f"ranked by each policy, valued with the {cmp.valued_with}. Campaign: customer value "
            f"MRR x {p.value_months:g} months, contact cost {p.contact_cost:g}, offer cost "
            f"{p.offer_cost:g} per contact; budget at most {cmp.max_contacts:,} contacts (20%)."
        ),
        "blocks": [
            {
                "figures": [
                    {
                        "png": figure_png(plot_policy_curves(cmp.curves)),
                        "caption": "net profit by share contacted",
                    }
                ]
            },
            {"table": _html_table(best, percent=("k",), digits=0)},
        ],
        "notices": cmp.notes,
    }


def _steps_text(pred: pd.DataFrame, campaign) -> str:
    """Why the risk-ranked curve jumps: the single customers behind its near-vertical steps."""
    from churnlab.evaluation.profit import largest_steps

    steps = largest_steps(pred.p, pred.mrr, campaign, churned=pred.y)
    if steps.empty:
        return ""
    parts = [
        f"at {s.share_contacted:.0%} contacted, {_account(pred, s.position)} (MRR "
        f"{s.mrr:,.0f}, p = {s.p:.3f}) {'churned' if s.gain > 0 else 'stayed'}: "
        f"{s.gain:+,.0f}"
        for s in steps.itertuples()
    ]
    return (
        "The vertical steps of the curve ranked by risk are single customers: a retained "
        f"churner is worth MRR x {campaign.value_months:g}, so one large account moves the "
        "profit by more than a tenth of its range. Here: " + "; ".join(parts) + ". Ranking "
        "by expected loss (p x value) contacts such accounts earlier."
    )


def _account(pred: pd.DataFrame, position: int) -> str:
    return f"account {pred['account_id'].iloc[int(position)]}" if "account_id" in pred else "one"


def _monitoring_plots(frame: pd.DataFrame, metric: str) -> list[dict[str, Any]]:
    dates = pd.to_datetime(frame.batch_date)
    fig, (drift_ax, perf_ax) = plt.subplots(1, 2, figsize=(11, 3.6))
    drift_ax.plot(dates, frame.drifted_share, marker="o", label="share of features drifted")
    drift_ax.plot(dates, frame.prediction_psi, marker="s", label="score PSI")
    drift_ax.set_title("Drift against the reference")
    drift_ax.legend(fontsize=8)
    perf_ax.plot(dates, frame[f"estimated_{metric}"], marker="o", label=f"estimated {metric}")
    perf_ax.plot(dates, frame[f"realized_{metric}"], marker="s", label=f"realized {metric}")
    if pd.notna(frame.reference.iloc[0]):
        perf_ax.axhline(frame.reference.iloc[0], color="grey", ls="--", lw=1, label="test cutoff")
    perf_ax.set_title("Performance by batch")
    perf_ax.legend(fontsize=8)
    for ax in (drift_ax, perf_ax):
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return [{"png": figure_png(fig), "caption": "drift and performance over batch dates"}]


def _monitoring_section(run: RunInfo) -> dict[str, Any]:
    """The newest ``churnlab monitor`` pass of the model: verdicts, drift and performance over
    the logged batches (time series), and the reasons."""
    from churnlab.tracking.monitoring import latest_monitoring

    found = latest_monitoring(run.model_name) if run.model_name else None
    if not found:
        return {
            "intro": "No monitoring pass yet: score batches with `churnlab score --log`, then "
            "run `churnlab monitor`.",
            "notices": ["no monitoring run for this model"],
        }
    overall, batches = found["overall"], found["batches"]
    metric = overall["settings"]["metric"]
    rows = [
        {
            "batch_date": b["batch_date"],
            "rows": b["rows"],
            "drifted_share": b["drift"]["drifted_share"],
            "prediction_psi": b["prediction"]["prediction_psi"],
            "mean_p": b["prediction"]["mean_p"],
            f"estimated_{metric}": b["estimated"][metric],
            f"realized_{metric}": (b["realized"] or {}).get(metric, np.nan),
            "reference": overall.get("reference_metric", np.nan),
            "verdict": b["verdict"],
            "reasons": "; ".join(b["reasons"]),
        }
        for b in batches
    ]
    frame = pd.DataFrame(rows)
    model = overall["model"]
    return {
        "intro": f"Version {model['version']} of {model['name']}: overall verdict "
        f"'{overall['verdict']}' over {overall['batches']} logged batches "
        f"({overall['matured']} with realized labels).",
        "kpis": [
            {"label": "verdict", "value": overall["verdict"]},
            {"label": "batches flagged", "value": str(len(overall["flagged"]))},
        ],
        "blocks": [
            {"figures": _monitoring_plots(frame, metric)},
            {"table": _html_table(frame.drop(columns="reference"))},
            {"heading": "Reasons", "text": "; ".join(overall["reasons"]) or "none"},
        ],
        "notices": [],
    }


# -------------------------------------------------------------------------------------------


def build_report(
    run_id: str | None = None,
    experiment: str | None = None,
    out: str | Path = "reports",
    data: str | Path | None = None,
    campaign=None,
    danger_feature: str = "active_days_30d",
    log_to_run: bool = True,
) -> Path:
    """Write the report for a run (or an experiment's champion) into the folder ``out``.

    Returns the HTML file's path. ``data`` overrides the dataset the run was trained on.
    """
    import jinja2
    import mlflow

    from churnlab.evaluation.profit import CampaignParams

    check_writable(out, folder=True)  # before the work, not after it
    campaign = campaign or CampaignParams()
    run = resolve_run(run_id, experiment)
    metrics = mlflow.get_run(run.run_id).data.metrics
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="churnlab-report-") as tmp:
        run_dir = _download(run.run_id, Path(tmp))
        missing = [
            p
            for p in ("spec.yaml", "predictions/test.json", "shap/example_reasons.json")
            if not (run_dir / p).exists()
        ]
        if missing:
            raise ReportError(f"run {run.run_id} lacks the artifacts {missing}")
        spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
        # --data is the shell's path (the working directory's); the run's, the project's
        d = spec["data"]
        path = Path(data).absolute() if data else Path(d.get("path") or d.get("table"))
        path = path if path.is_absolute() else config.project_root() / path
        if not path.exists():
            raise ReportError(f"dataset {path} of run {run.run_id} not found; pass --data")
        if "table" in d:
            fields = {k: d[k] for k in ("id", "label", "duration", "mrr", "encoding") if k in d}
            dataset = load_source(TableData(table=path, **fields))
        else:
            dataset = load_source(EventData(path=path))
        log.info("rendering the report for run %s", run.run_id)
        single = dataset.kind != "events"
        parts = {
            "data": _data_section(dataset),
            "retention": _retention_section(dataset, spec, danger_feature),
            "leaderboard": _leaderboard_section(run),
            "model": _model_section(run_dir, metrics, single),
            "explanations": _shap_section(run_dir, single),
            "customers": _customers_section(run_dir, EXAMPLES, single),
            "profit": _profit_section(run_dir, campaign, single),
            "contact": _contact_section(run),
            "monitoring": _monitoring_section(run),
        }
    sections = [
        {
            "id": sid,
            "title": title,
            "intro": "",
            "kpis": [],
            "notices": [],
            "blocks": [],
            **parts[sid],
        }
        for sid, title in SECTIONS
    ]
    for section in sections:
        section["blocks"] = [
            {"heading": "", "text": "", "table": "", **b, "figures": [
                {"size": "", **f} for f in b.get("figures", [])
            ]}
            for b in section["blocks"]
        ]  # fmt: skip
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    html = env.get_template(TEMPLATE.name).render(
        title=f"{run.run_name}" + (f" v{run.model_version}" if run.model_version else ""),
        run=asdict(run),
        data_source=str(path),
        # a customer table has no cutoffs: its label is churned or not, with no horizon
        horizon_days=None if single else spec.get("horizon_days"),
        population=describe_population(PopulationSpec.model_validate(spec.get("population") or {})),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        sections=sections,
    )
    target = out / f"report-{run.experiment}-{run.run_name}-{run.run_id[:8]}.html"
    with atomic_file(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    if log_to_run:
        mlflow.tracking.MlflowClient().log_artifact(run.run_id, str(target), "report")
    return target
