"""Batch scoring: load a registered (or exported) model, build its features at an as-of date
with the builders and parameters it was trained with, score, summarize, write atomically.

A model is named by ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or an exported folder
(``models/NAME``). The registered version is resolved here, from the registry or the folder's
``MLmodel``, and handed to the pyfunc through its ``model_config`` so every output row names it.

Example::

    job = score_job("models:/churn-demo@champion", data="data/demo", as_of="2026-01-01",
                    out="data/scores.parquet")
    job.summary["tiers"]["high"]["revenue_at_risk"]
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnlab.scoring.model import ChurnModel

log = logging.getLogger(__name__)
TIERS = ("high", "medium", "low")
KEYS = ["account_id", "cutoff"]
_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class ScoringError(ValueError):
    """Bad model reference or input: the message names the model, table or columns."""


@dataclass
class ModelRef:
    """Where a model comes from: the URI given, its registered name and version (if known)."""

    uri: str
    name: str | None
    version: str | None

    @property
    def is_registry(self) -> bool:
        return self.uri.startswith("models:/")


@dataclass
class LoadedModel:
    ref: ModelRef
    pyfunc: Any  # mlflow.pyfunc.PyFuncModel
    model: ChurnModel
    input_schema: Any  # mlflow.types.Schema

    def predict(
        self, frame: pd.DataFrame, reasons: bool = True, source: str = "features"
    ) -> pd.DataFrame:
        """Check ``frame`` (:func:`check_feature_table`: clear errors, signature types), then
        the pyfunc's predict (signature enforced), as REST and Spark call it."""
        frame = check_feature_table(frame, self, source)
        return self.pyfunc.predict(frame, params={"reasons": reasons})


@dataclass
class ScoreResult:
    scores: pd.DataFrame
    summary: dict[str, Any]
    out: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None


# -- the model ----------------------------------------------------------------------------------
def resolve_model(uri: str | Path) -> ModelRef:
    """Name and version behind ``uri``; a registry alias is resolved to its current version."""
    from mlflow.exceptions import MlflowException

    uri = str(uri)
    if uri.startswith("models:/"):
        from churnlab.tracking.store import connect

        match = _REGISTRY_URI.match(uri)
        if not match:
            raise ScoringError(
                f"model URI {uri!r}: expected models:/NAME@ALIAS, models:/NAME/VERSION "
                "or an exported model folder"
            )
        client = connect()
        name = match["name"]
        try:
            if match["alias"]:
                version = client.get_model_version_by_alias(name, match["alias"]).version
            else:
                version = client.get_model_version(name, match["version"]).version
        except MlflowException as exc:
            raise ScoringError(f"model {uri}: {exc.message}") from exc
        return ModelRef(uri=uri, name=name, version=str(version))
    folder = Path(uri)
    if not (folder / "MLmodel").is_file():
        raise ScoringError(
            f"model {uri}: not a registry URI (models:/NAME@ALIAS, models:/NAME/VERSION) "
            "and not an MLflow model folder (no MLmodel file)"
        )
    from mlflow.models import Model

    config = Model.load(str(folder / "MLmodel")).flavors.get("python_function", {})
    config = config.get("config") or {}
    version = config.get("model_version")
    return ModelRef(
        uri=str(folder),
        name=config.get("model_name"),
        version=None if version in (None, "") else str(version),
    )


def load_model(uri: str | Path) -> LoadedModel:
    """The pyfunc model behind ``uri``, told its registered version."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    ref = resolve_model(uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(
            ref.uri, model_config={"model_version": ref.version} if ref.version else None
        )
    except MlflowException as exc:
        raise ScoringError(f"cannot load model {ref.uri}: {exc.message}") from exc
    model = pyfunc.unwrap_python_model()
    if not isinstance(model, ChurnModel):
        raise ScoringError(f"model {ref.uri} is not a churnlab model ({type(model).__name__})")
    if ref.name is None:
        ref.name = model.model_name
    schema = pyfunc.metadata.get_input_schema()
    if schema is None:
        raise ScoringError(f"model {ref.uri} has no input signature")
    return LoadedModel(ref=ref, pyfunc=pyfunc, model=model, input_schema=schema)


def stamp_version(folder: str | Path, name: str, version: str) -> None:
    """Write the registered name and version into an exported model folder's ``MLmodel``
    (the pyfunc's ``model_config``), so serving the folder reports them."""
    from mlflow.models import Model

    path = Path(folder) / "MLmodel"
    meta = Model.load(str(path))
    flavor = meta.flavors.get("python_function", {})
    config = flavor.get("config")
    if config is None or "model_version" not in config:
        log.warning("%s was logged without a model_version config; not stamped", folder)
        return
    flavor["config"] = {**config, "model_version": str(version), "model_name": name}
    meta.save(str(path))


# -- features -----------------------------------------------------------------------------------
def build_scoring_features(
    model: ChurnModel,
    data: str | Path,
    as_of: str | pd.Timestamp | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """Point-in-time features at ``as_of`` (default: the data's end of observation) for every
    account active then, with the builders and parameters recorded in the model's feature spec
    (the training code path)."""
    from churnlab.data import load_dataset
    from churnlab.features import builders
    from churnlab.features.observations import active_accounts
    from churnlab.modeling.data import feature_frame

    spec = model.feature_spec
    if spec.get("kind") != "events":
        raise ScoringError(
            "this model was trained on a single customer table: score a prepared table with "
            "--features FILE (one row per customer with the training columns)"
        )
    known = {b.name for b in builders()}
    unknown = [b["name"] for b in spec["builders"] if b["name"] not in known]
    if unknown:
        raise ScoringError(
            f"the model needs feature builder(s) {unknown} that are not registered here; "
            "import the module that defines them"
        )
    ds = load_dataset(data, engine=engine)
    try:
        obs = active_accounts(ds, ds.observed_until if as_of is None else as_of)
    except ValueError as exc:
        raise ScoringError(f"{data}: {exc}") from exc
    frame, _ = feature_frame(ds, obs, spec["builders"])
    missing = [c for c in model.input_columns() if c not in frame.columns]
    if missing:
        raise ScoringError(
            f"{data}: the data cannot produce feature column(s) {missing} the model needs "
            f"(notices: {'; '.join(ds.notices) or 'none'})"
        )
    return frame[model.input_columns()]


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """A prepared feature table (Parquet or CSV)."""
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"feature table {path} not found")
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise ScoringError(f"feature table {path}: expected a .parquet or .csv file")


def check_feature_table(
    frame: pd.DataFrame, loaded: LoadedModel, source: str = "features"
) -> pd.DataFrame:
    """The columns the model's signature asks for, with their declared types.

    Raises :class:`ScoringError` naming missing columns, duplicate keys (up to 5 examples) and
    columns whose values cannot take the declared type (with example values). Categories unseen
    in training are allowed: the estimator treats them as missing."""
    schema = loaded.input_schema
    names = schema.input_names()
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ScoringError(f"{source}: missing column(s) {missing}")
    keys = [k for k in KEYS if k in names]
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        examples = frame.loc[dup, keys].drop_duplicates().head(5)
        shown = examples.to_dict("records") if len(keys) > 1 else examples[keys[0]].tolist()
        raise ScoringError(
            f"{source}: {int(dup.sum())} rows share duplicate key(s) {keys}, e.g. {shown}"
        )
    changed, bad = {}, []
    for spec in schema.inputs:
        col = frame[spec.name]
        kind = str(getattr(spec.type, "name", spec.type))
        converted, offending = _convert(col, kind)
        if offending is not None:
            bad.append(f"{spec.name!r} ({kind}): {offending}")
        elif converted is not col:
            changed[spec.name] = converted
    if bad:
        raise ScoringError(f"{source}: column(s) with the wrong type: " + "; ".join(bad))
    # only the converted columns are replaced: rebuilding a wide frame column by column is slow
    out = frame[names].reset_index(drop=True)
    for name, col in changed.items():
        out[name] = col.to_numpy() if isinstance(col, pd.Series) else col
    return out


def _convert(col: pd.Series, kind: str) -> tuple[pd.Series | None, list | None]:
    """``col`` as the signature type ``kind``; or (None, example offending values)."""
    if kind in ("double", "float", "long", "integer"):
        target = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}
        if col.dtype == target[kind]:
            return col, None
        if kind == "double" and col.dtype.kind in "iu":  # counts: no pass over the values
            return col.astype("float64"), None
        if pd.api.types.is_bool_dtype(col):
            col = col.astype("float64")
        num = pd.to_numeric(col, errors="coerce")
        wrong = num.isna() & col.notna()
        if wrong.any():
            return None, col[wrong].astype(str).unique()[:3].tolist()
        if kind in ("long", "integer"):
            if num.isna().any() or (num != np.floor(num)).any():
                return None, ["missing or fractional ids"]
            return num.astype("int64" if kind == "long" else "int32"), None
        return num.astype("float64" if kind == "double" else "float32"), None
    if kind == "datetime":
        if col.dtype == "datetime64[ns]":
            return col, None
        try:
            return pd.to_datetime(col).astype("datetime64[ns]"), None
        except (ValueError, TypeError):
            return None, col.astype(str).head(3).tolist()
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(col) and not col.isna().any():
            return col.astype(bool), None
        values = col.astype(object).where(col.notna(), None)
        wrong = ~values.map(lambda v: v is None or v in (True, False)).astype(bool)
        if wrong.any():
            return None, values[wrong].astype(str).unique()[:3].tolist()
        return values.map(lambda v: v if v is None else bool(v)), None
    if kind == "string":
        if pd.api.types.is_string_dtype(col.dtype) and (
            col.dtype != object or pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")
        ):
            return col, None
        return col.astype(object).where(col.notna(), None).map(
            lambda v: v if v is None else str(v)
        ), None
    return col, None


# -- summary and output -------------------------------------------------------------------------
def summarize(scores: pd.DataFrame, ref: ModelRef | None = None, top: int = 5) -> dict[str, Any]:
    """Accounts scored; count and revenue at risk per tier; the drivers most often among the
    high tier's reasons (accounts with the driver in any of their top reasons)."""
    tiers = {}
    for tier in TIERS:
        part = scores[scores.risk_tier == tier]
        tiers[tier] = {
            "accounts": len(part),
            "revenue_at_risk": float(np.nansum(part.revenue_at_risk)),
            "mean_p_churn": float(part.p_churn.mean()) if len(part) else None,
        }
    high = scores[scores.risk_tier == "high"]
    driver_cols = [c for c in scores.columns if c.startswith("driver_")]
    drivers: list[dict[str, Any]] = []
    if len(high) and driver_cols:
        long = high[driver_cols].melt(ignore_index=False).dropna()
        counts = long.reset_index().drop_duplicates(["index", "value"]).value.value_counts()
        drivers = [
            {"driver": d, "accounts": int(n), "share": round(n / len(high), 4)}
            for d, n in counts.head(top).items()
        ]
    return {
        "model": ref.uri if ref else None,
        "model_name": ref.name if ref else None,
        "model_version": ref.version if ref else None,
        "accounts": len(scores),
        "cutoffs": sorted({str(pd.Timestamp(c).date()) for c in scores.cutoff.dropna().unique()}),
        "revenue_at_risk": float(np.nansum(scores.revenue_at_risk)),
        "tiers": tiers,
        "high_tier_drivers": drivers,
    }


def write_scores(scores: pd.DataFrame, out: str | Path) -> Path:
    """Write ``scores`` to Parquet or CSV atomically: a temp file beside ``out``, then rename.
    An existing ``out`` is replaced only when the new file is complete."""
    out = Path(out)
    if out.suffix not in (".parquet", ".csv"):
        raise ScoringError(f"{out}: expected a .parquet or .csv output file")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        if out.suffix == ".parquet":
            scores.to_parquet(tmp, index=False)
        else:
            scores.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


# -- the job ------------------------------------------------------------------------------------
def score_job(
    model_uri: str | Path,
    *,
    data: str | Path | None = None,
    as_of: str | pd.Timestamp | None = None,
    features: str | Path | None = None,
    out: str | Path | None = None,
    engine: str = "duckdb",
    reasons: bool = True,
    log_run: bool = False,
) -> ScoreResult:
    """Score every account active at ``as_of`` in ``data`` (default: the data's last date) or
    the rows of a prepared ``features`` table with the model at ``model_uri``; write ``out`` atomically.

    Nothing is logged to the training run; ``log_run`` records this job as its own MLflow run
    (tag ``churnlab.kind=scoring``) with the summary."""
    if (data is None) == (features is None):
        raise ScoringError("give either raw data (and an as-of date) or a prepared feature table")
    if out is not None and Path(out).suffix not in (".parquet", ".csv"):
        raise ScoringError(f"{out}: expected a .parquet or .csv output file")
    if engine not in ("duckdb", "spark"):
        raise ScoringError(f"engine must be duckdb or spark, not {engine!r}")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = load_model(model_uri)
    seconds["load"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    if engine == "spark":
        from churnlab.scoring.spark import score_spark

        if data is None:
            raise ScoringError("--engine spark builds features from raw data: give --data")
        scores, seconds_spark = score_spark(loaded, data, as_of)
        seconds.update(seconds_spark)
    else:
        if features is not None:
            frame = read_feature_table(features)
            source = str(features)
        else:
            frame = build_scoring_features(loaded.model, data, as_of)
            source = f"features of {data} at {as_of}"
        seconds["features"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        scores = loaded.predict(frame, reasons=reasons, source=source)
        seconds["scoring"] = time.perf_counter() - t2
    summary = summarize(scores, loaded.ref)
    written = None
    if out is not None:
        t3 = time.perf_counter()
        written = write_scores(scores, out)
        seconds["write"] = time.perf_counter() - t3
    seconds["total"] = time.perf_counter() - t0
    summary["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    result = ScoreResult(scores=scores, summary=summary, out=written, seconds=seconds)
    if log_run:
        result.run_id = log_scoring_run(
            result, loaded.ref, data=data, features=features, as_of=as_of
        )
    return result


def log_scoring_run(
    result: ScoreResult,
    ref: ModelRef,
    *,
    data: str | Path | None,
    features: str | Path | None,
    as_of: Any,
    experiment: str = "scoring",
) -> str:
    """Record a finished scoring job as its own MLflow run (never the training run)."""
    import mlflow

    from churnlab.tracking.runs import KIND_TAG, tracked_run
    from churnlab.tracking.store import connect, ensure_experiment

    client = connect()
    exp_id = ensure_experiment(client, experiment)
    tags = {
        KIND_TAG: "scoring",
        "churnlab.model_uri": ref.uri,
        "churnlab.model_name": str(ref.name),
        "churnlab.model_version": str(ref.version),
    }
    name = f"score-{ref.name}-v{ref.version}"
    with tracked_run(exp_id, name, tags) as run:
        mlflow.log_params(
            {
                "model_uri": ref.uri,
                "model_version": ref.version,
                "data": str(data) if data else None,
                "features": str(features) if features else None,
                "as_of": str(as_of) if as_of is not None else None,
                "out": str(result.out) if result.out else None,
            }
        )
        s = result.summary
        metrics = {"accounts": s["accounts"], "revenue_at_risk": s["revenue_at_risk"]}
        for tier, d in s["tiers"].items():
            metrics[f"{tier}_accounts"] = d["accounts"]
            metrics[f"{tier}_revenue_at_risk"] = d["revenue_at_risk"]
        metrics.update({f"seconds_{k}": v for k, v in result.seconds.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(s, "summary.json")
        return run.info.run_id
