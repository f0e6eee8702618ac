"""Train an experiment inside an MLflow run and log everything a reviewer or a scoring job needs:
resolved spec, data lineage, metrics, plots, SHAP summaries, the feature catalogue and the pyfunc
model (signature, input example), registered as a new version of the experiment's model."""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import yaml
from mlflow.models import infer_signature

from churnlab import config
from churnlab.config import ExperimentSpec
from churnlab.evaluation.plots import EVALUATION_PLOTS
from churnlab.explain import (
    global_importance,
    plot_beeswarm,
    plot_dependence,
    plot_drivers,
    top_reasons,
)
from churnlab.files import check_writable
from churnlab.model import MODEL_CONFIG, PARAMS, ChurnModel, build_pyfunc
from churnlab.tracking.artifacts import installed_pins, jsonable, log_figure, model_example
from churnlab.tracking.artifacts import pip_requirements as _requirements
from churnlab.tracking.artifacts import quiet as _quiet
from churnlab.tracking.reuse import REUSE_TAG, code_version, find_reusable, run_key
from churnlab.tracking.runs import (
    DURATION_TWIN_TAG,
    LEAK_TAG,
    STRONG_TAG,
    RunSummary,
    flat_params,
    run_tags,
    tracked_run,
)
from churnlab.tracking.store import connect, ensure_experiment
from churnlab.tracking.uplift import log_uplift_artifacts, log_uplift_model
from churnlab.training import TrainResult, checked_data, data_digest, train

log = logging.getLogger(__name__)
TOP_DEPENDENCE = 5


def _log_model(pyfunc: ChurnModel, signature, example: pd.DataFrame, spec: ExperimentSpec):
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=pyfunc,
        signature=signature,
        input_example=example.head(5),
        pip_requirements=_requirements(),
        tags={"family": spec.model.family},
        model_config=dict(MODEL_CONFIG),  # the version is set at load time (scoring.model)
    )


def _frame_schema(frame: pd.DataFrame):
    """The MLflow schema of ``frame`` as ``mlflow.data.from_pandas`` infers it (types from
    the columns, a column required when it has no missing value), the types read from a few
    rows and the missing values counted column by column."""
    from mlflow.types import ColSpec, Schema
    from mlflow.types.utils import _infer_schema

    head = frame.dropna(how="any").head(20)
    try:
        typed = _infer_schema(head if len(head) else frame.head(20))
    except Exception:  # MLflow's own inference decides (and logs no schema if it fails)
        return None
    missing = frame.isna().any()
    return Schema(
        [ColSpec(c.type, c.name, required=not bool(missing[c.name])) for c in typed.inputs]
    )


def _log_fit_choices(choices: dict[str, Any]) -> None:
    """What the fit chose from the data: ``fit_choices.json`` in full, and as params the
    resolved parameters (``resolved.<name>``) and the linear preprocessing kept
    (``preprocessing.kept``; per column only in the JSON, which can be long)."""
    if not choices:
        return
    mlflow.log_dict(choices, "fit_choices.json")
    params = {f"resolved.{k}": v for k, v in choices.get("resolved_params", {}).items()}
    if "preprocessing" in choices:
        params["preprocessing.kept"] = choices["preprocessing"]["kept"]
    mlflow.log_params(params)


def example_reasons(result: TrainResult, top: int = 50) -> pd.DataFrame:
    """The test cutoff's ``top`` customers by expected loss (p x MRR; by risk where the model
    is tiered by risk) with their reasons, hints and context."""
    expl, data = result.explanation, result.data
    test = result.predictions["test"].loc[expl.values.index]
    reasons = top_reasons(
        expl.values, expl.data, data.reasons, data.drivers, settings=result.spec.reasons
    )
    loss = test.p * test.mrr
    rank = loss if result.tier_basis == "expected_loss" else test.p
    cols = [c for c in reasons.columns if not c.startswith("feature_")]
    examples = pd.concat(
        [test[["account_id", "cutoff", "p", "mrr"]].assign(expected_loss=loss), reasons[cols]],
        axis=1,
    )
    return examples.loc[rank.sort_values(ascending=False, kind="stable").index[:top]]


def log_result(result: TrainResult, spec_text: str) -> str:
    """Log a finished training result into the active run, model included (not registered);
    returns the logged model's URI."""
    _log_run(result, spec_text)
    if result.uplift:
        log_uplift_artifacts(result)
        return log_uplift_model(result)
    return _log_churn_model(result)


def _log_run(result: TrainResult, spec_text: str) -> None:
    """What every family's run holds: params, fit choices, spec, split, metrics, lineage."""
    spec, data = result.spec, result.data
    mlflow.log_params(flat_params(spec.resolved()))
    mlflow.log_params(
        {
            "n_features": len(data.features),
            "n_features_dropped": len(data.dropped),
            "n_event_types": len(data.feature_spec.vocabulary.types),
            "best_iteration": result.folds[0].best_iteration,
            **{
                f"split.{part}.{k}": json.dumps(v) if isinstance(v, list) else v
                for part, d in result.split.describe().items()
                for k, v in d.items()
            },
        }
    )
    _log_fit_choices(result.estimator.fit_choices())
    if data.leaks:  # promote refuses such a run's version without --force
        mlflow.set_tag(LEAK_TAG, json.dumps({c: round(float(a), 4) for c, a in data.leaks.items()}))
    if data.strong:  # so does it below the leak bar, from STRONG_AUC
        mlflow.set_tag(
            STRONG_TAG, json.dumps({c: round(float(a), 4) for c, a in data.strong.items()})
        )
    if data.duration_twins:  # left out of a survival family (also in features_dropped)
        mlflow.set_tag(
            DURATION_TWIN_TAG,
            json.dumps({c: round(float(r), 4) for c, r in data.duration_twins.items()}),
        )
    if data.dropped:  # degenerate columns, named (the full list: features/catalogue.json)
        mlflow.set_tag("churnlab.features_dropped", ", ".join(data.dropped)[:4000])
    mlflow.log_text(yaml.safe_dump(spec.resolved(), sort_keys=False), "spec.yaml")
    if spec_text:
        mlflow.log_text(spec_text, "spec_source.yaml")
    mlflow.log_dict(result.split.describe(), "split.json")
    mlflow.log_metrics({k: float(v) for k, v in result.metrics.items() if np.isfinite(v)})
    mlflow.log_metrics({f"seconds_{k}": v for k, v in result.seconds.items()})

    # lineage: the exact training frame (digest) and where it came from
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The specified dataset source", UserWarning)
        lineage = mlflow.data.from_pandas(
            data.frame, source=data.source, targets="churned_within_h", name=f"{spec.name}-features"
        )
    # the dataset's schema (a lazily computed property) from the column types and one
    # vectorized missing-value check: MLflow's own inference tests every value in Python,
    # which took longer than fitting the model on a 10,000-row table
    schema = _frame_schema(data.frame)
    if schema is not None:
        lineage.__dict__["schema"] = schema
    mlflow.log_input(lineage, context="training")


def _log_churn_model(result: TrainResult) -> str:
    """A churn family's evaluation plots, predictions, explanations and pyfunc model."""
    spec, data = result.spec, result.data
    # evaluation plots on the test part
    test = result.predictions["test"]
    for name, plot in EVALUATION_PLOTS.items():
        log_figure(plot(test.y, test.p, label=spec.name), f"plots/{name}.png")
    mlflow.log_table(jsonable(test), "predictions/test.json")
    if result.estimator.kind == "survival":
        from churnlab.tracking.survival import log_survival_artifacts

        log_survival_artifacts(result)

    # explanations
    expl = result.explanation
    per_feature, per_driver = global_importance(expl, data.drivers)
    mlflow.log_table(per_feature, "shap/feature_importance.json")
    mlflow.log_table(per_driver, "shap/driver_importance.json")
    mlflow.log_metrics(
        {f"shap_driver_{r.driver}": float(r.mean_abs_shap) for r in per_driver.itertuples()}
    )
    log_figure(plot_beeswarm(expl), "shap/beeswarm.png")
    log_figure(plot_drivers(per_driver, scale=expl.scale), "shap/drivers.png")
    for feat in per_feature.feature.head(TOP_DEPENDENCE):
        log_figure(plot_dependence(expl, feat), f"shap/dependence_{feat}.png")
    mlflow.log_table(jsonable(example_reasons(result)), "shap/example_reasons.json")
    mlflow.log_dict(
        {
            "features": [
                {
                    "name": f,
                    "driver": data.drivers[f],
                    "description": data.descriptions[f],
                    "context": data.reasons[f].context if f in data.reasons else False,
                }
                for f in data.features
            ],
            "feature_spec": data.feature_spec.to_dict(),
            "dropped": data.dropped,
            "notices": data.notices,
        },
        "features/catalogue.json",
    )

    # the model
    pyfunc = build_pyfunc(result)
    cols = pyfunc.input_columns()
    example = model_example(data.frame.loc[result.split.masks["test"], cols])
    # the signature's output example and MLflow's check of the input example score a few
    # test rows: categories those rows alone hold are no news about the user's data, so the
    # scoring warning about them (churnlab.model.pyfunc's only one) is not shown here
    with _quiet("mlflow.pyfunc", "mlflow.models", "churnlab.model.pyfunc"), installed_pins():
        signature = infer_signature(example, pyfunc.output_example(example), params=dict(PARAMS))
        info = _log_model(pyfunc, signature, example, spec)
    # what monitoring compares scored batches against (also inside the model)
    mlflow.log_dict(pyfunc.reference, "monitoring/reference.json")
    return info.model_uri


def register(spec: ExperimentSpec, model_uri: str) -> str:
    """Register the active run's logged model as a new version of the spec's model: the
    run's last step, so a run that dies earlier leaves no version behind."""
    # the version's tags go with its creation: no round trip per tag
    tags = {"family": spec.model.family, "run_name": spec.name}
    with _quiet("mlflow.tracking._model_registry.client", "mlflow.store.model_registry"):
        version = str(mlflow.register_model(model_uri, spec.model_name, tags=tags).version)
    mlflow.set_tag("churnlab.model_version", version)
    return version


def log_and_summarize(
    run: Any,
    result: TrainResult,
    spec_text: str | None,
    before_register: Callable[[], Any] | None = None,
    reuse_key: str | None = None,
    **extra_seconds: float,
) -> RunSummary:
    """``log_result`` into ``run`` (the active run), then (after ``before_register``, which
    logs anything else the run holds) register the model as the run's last step and tag the
    run with ``reuse_key`` (so a later identical command can reuse it); returns the summary
    the CLI prints."""
    with warnings.catch_warnings():
        # ids and counts are integers without missing values; MLflow hints at every one
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
        uri = log_result(result, spec_text)
    if before_register is not None:
        before_register()
    version = register(result.spec, uri)
    if reuse_key is not None:
        mlflow.set_tag(REUSE_TAG, reuse_key)
    return RunSummary(
        run_id=run.info.run_id,
        experiment=result.spec.experiment,
        model_name=result.spec.model_name,
        model_version=version,
        # the registered version (what score, serve and export take), as a reused run gives
        model_uri=f"models:/{result.spec.model_name}/{version}" if version else uri,
        metrics=result.metrics,
        split=result.split.describe(),
        seconds={**result.seconds, **extra_seconds},
        leak_suspects=dict(result.data.leaks),
        strong_suspects=dict(result.data.strong),
        notices=list(result.data.notices),
    )


def check_store_writable() -> None:
    """The local tracking store (``mlflow.db`` and ``mlartifacts/``) must be writable before
    hours of training, not after; a remote store is the server's business."""
    uri = config.tracking_uri()
    if uri.startswith("sqlite:///"):
        check_writable(uri.removeprefix("sqlite:///"))
        check_writable(config.artifact_root(), folder=True)


def train_and_log(
    spec: ExperimentSpec,
    spec_text: str | None = None,
    root: Path | None = None,
    progress: Callable[[str], Any] | None = None,
    force: bool = False,
) -> RunSummary:
    """Check the data and split, then train and log inside one MLflow run.

    A FINISHED run of the same spec, data, code and seed (:mod:`churnlab.tracking.reuse`) is
    reused instead, once the data are checked: no new run, no new version; its summary has
    ``reused`` set. ``force`` trains anyway.

    Everything that can be checked without fitting (spec, data, features, split) is checked
    before the run starts, so a bad spec leaves no run and registers nothing. The summary's
    ``seconds``: ``data``, ``fit``, ``explain``, ``logging`` (MLflow logging and registration)
    and ``total``, the whole call.
    """
    started = time.perf_counter()
    say = progress or (lambda msg: log.info(msg))
    root = root or config.project_root()
    check_store_writable()
    # spec, params, data and split are checked before the store is touched: bad input leaves
    # nothing behind, not even a new mlflow.db
    data, splits, data_seconds = checked_data(spec, root, say)
    key = run_key(spec, data_digest(spec, root), code_version(root), command="train")
    if not force:
        reused = find_reusable(connect(create=True), spec.experiment, key)
        if reused is not None:
            reused.seconds["total"] = time.perf_counter() - started
            return reused

    client = connect(create=True)
    exp_id = ensure_experiment(client, spec.experiment)
    with tracked_run(exp_id, spec.name, run_tags(spec, data, root)) as run:
        result = train(spec, data=data, root=root, progress=say, splits=splits)
        result.seconds["data"] = data_seconds
        say("logging to MLflow")
        logging_started = time.perf_counter()
        summary = log_and_summarize(run, result, spec_text, reuse_key=key)
    # the run's seconds_* metrics are the training stages (logged before logging ends); the
    # summary's total is the whole command: store checks, data, fit, explain, logging, registry
    summary.seconds["logging"] = time.perf_counter() - logging_started
    summary.seconds["total"] = time.perf_counter() - started
    return summary
