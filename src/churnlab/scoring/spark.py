"""Scoring on Spark: features built by the Ibis engine on a SparkSession, scored by the
registered model as ``mlflow.pyfunc.spark_udf`` (the same pyfunc as batch and REST).

The UDF's result type comes from the model's output signature, so columns a model family adds
(e.g. survival risks) pass through without a column list here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from churnlab.data import load_dataset, spark_session
from churnlab.features import active_accounts, default_refs, feature_table
from churnlab.features.population import extra_builders, population_filter
from churnlab.scoring.features import batch_groups
from churnlab.scoring.load import LoadedModel, ScoringError

SPARK_TYPES = {
    "double": "double",
    "float": "float",
    "long": "bigint",
    "integer": "int",
    "string": "string",
    "boolean": "boolean",
    "datetime": "timestamp",
}


def spark_features(loaded: LoadedModel, data: str | Path, as_of: Any) -> Any:
    """A Spark DataFrame of the model's input columns for every account active at ``as_of``,
    built with the model's builders and parameters, cast to the signature's types."""
    spec = loaded.model.feature_spec
    if spec.kind != "events":
        raise ScoringError("--engine spark scores event data; this model uses a customer table")
    ds = batch_groups(load_dataset(data, engine="spark"), spec.vocabulary, [])
    try:
        obs = active_accounts(ds, as_of)
    except ValueError as exc:
        raise ScoringError(f"{data}: {exc}") from exc
    extra = extra_builders(spec.population, {b.name for b in spec.builders})
    table, _ = feature_table(ds, obs, [*spec.builders, *default_refs(extra)], spec.vocabulary)
    table = population_filter(table, spec.population)
    names = loaded.input_schema.input_names()
    missing = [c for c in names if c not in table.columns]
    if missing:
        raise ScoringError(f"{data}: the data cannot produce feature column(s) {missing}")
    con = ds.con
    expr = table.select(*names)
    con._run_pre_execute_hooks(expr)  # registers in-memory tables (the as-of date) with Spark
    sdf = con.raw_sql(con.compile(expr))
    from pyspark.sql import functions as F

    casts = []
    for spec_col in loaded.input_schema.inputs:
        kind = str(getattr(spec_col.type, "name", spec_col.type))
        casts.append(
            F.col(spec_col.name).cast(SPARK_TYPES.get(kind, "string")).alias(spec_col.name)
        )
    return sdf.select(*casts)


def score_spark(
    loaded: LoadedModel, data: str | Path, as_of: Any, reasons: bool = True
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Scores for every account active at ``as_of``, computed on Spark; returned as pandas
    (rows ordered by cutoff and account) with the seconds spent."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    spark = spark_session()
    features = spark_features(loaded, data, as_of).cache()
    n = features.count()
    t1 = time.perf_counter()
    cols = [F.col(c) for c in loaded.input_schema.input_names()]
    output = loaded.pyfunc.metadata.get_output_schema()
    # spark_udf returns no timestamps inside a struct: the keys come from the input side
    keys = [c for c in ("account_id", "cutoff") if c in loaded.input_schema.input_names()]
    fields = [c for c in output.inputs if c.name not in keys]
    result_type = ", ".join(
        f"`{c.name}` {SPARK_TYPES.get(str(getattr(c.type, 'name', c.type)), 'string')}"
        for c in fields
    )
    udf = mlflow.pyfunc.spark_udf(
        spark,
        loaded.ref.uri,
        result_type=result_type,
        env_manager="local",
        params={"reasons": reasons},
        model_config={"model_version": loaded.ref.version} if loaded.ref.version else None,
    )
    scored = features.select(*keys, udf(F.struct(*cols)).alias("s")).select(*keys, "s.*")
    out = scored.toPandas()[[c.name for c in output.inputs]]
    # a missing text (no reason for a low-tier row) reaches Spark as pandas 3's string NaN, which
    # spark_udf writes as the text "nan"; batch scoring gives None. Generated texts are words,
    # never the bare "nan", so the text columns get their missing values back.
    for c in fields:
        if SPARK_TYPES.get(str(getattr(c.type, "name", c.type)), "string") == "string":
            out[c.name] = out[c.name].astype(object).where(out[c.name] != "nan", None)
    features.unpersist()
    if len(out) != n:
        raise ScoringError(f"Spark scored {len(out)} of {n} rows")
    keys = [k for k in ("account_id", "cutoff") if k in out]
    out = out.sort_values(keys).reset_index(drop=True)
    if "cutoff" in out:
        out["cutoff"] = pd.to_datetime(out["cutoff"]).astype("datetime64[ns]")
    return out, {"features": t1 - t0, "scoring": time.perf_counter() - t1}
