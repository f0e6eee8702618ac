"""What an uplift family's run logs besides the shared params, metrics and lineage: the Qini
curve and uplift by decile on the test rows (with the oracle where the data are simulated),
the contact policies' net profit by share contacted, the test predictions, and the
``UpliftModel`` pyfunc (explicit pip requirements, econml included)."""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from churnlab.evaluation import (
    CampaignParams,
    compare_policies,
    plot_policy_curves,
    plot_qini,
    plot_uplift_by_decile,
    uplift_by_decile,
)
from churnlab.model import MODEL_CONFIG, build_uplift_pyfunc
from churnlab.tracking.artifacts import (
    installed_pins,
    jsonable,
    log_figure,
    model_example,
    pip_requirements,
    quiet,
)
from churnlab.training import TrainResult


def campaign_params(result: TrainResult) -> CampaignParams:
    """The spec's campaign economics (``uplift`` section)."""
    u = result.spec.uplift
    return CampaignParams(
        value_months=u.value_months, contact_cost=u.contact_cost, offer_cost=u.offer_cost
    )


def compare_test_policies(test: pd.DataFrame, params: CampaignParams, seed: int):
    """Net profit and retained MRR of contacting the top share of the test rows by estimated
    uplift, expected incremental profit, at random (and the oracle's on simulated data),
    counted with the true uplift where known, else by inverse propensity from the randomized
    outcomes: (curves, best k per policy)."""
    truth = test["oracle_uplift"].to_numpy() if "oracle_uplift" in test else None
    return compare_policies(
        test.mrr.fillna(0.0).to_numpy(dtype=float),
        uplift=test.uplift.to_numpy(),
        params=params,
        true_uplift=truth,
        y=test.y.to_numpy(),
        treated=test.treated.to_numpy(),
        seed=seed,
    )


def log_uplift_artifacts(result: TrainResult) -> None:
    """Plots, tables and policy metrics of the test rows."""
    test = result.predictions["test"]
    y, t, u = test.y.to_numpy(), test.treated.to_numpy(), test.uplift.to_numpy()
    truth = test["oracle_uplift"].to_numpy() if "oracle_uplift" in test else None
    log_figure(plot_qini(y, t, u, true_uplift=truth, label=result.spec.name), "plots/qini.png")
    deciles = uplift_by_decile(y, t, u, true_uplift=truth)
    mlflow.log_table(deciles, "uplift/by_decile.json")
    log_figure(plot_uplift_by_decile(deciles, title=result.spec.name), "plots/uplift_by_decile.png")
    curves, best = compare_test_policies(test, campaign_params(result), result.spec.seed)
    mlflow.log_table(curves, "uplift/policy_curves.json")
    log_figure(plot_policy_curves(curves), "plots/policy_curves.png")
    mlflow.log_metrics(
        {f"test_best_net_profit_{r.policy}": float(r.net_profit) for r in best.itertuples()}
        | {f"test_best_k_{r.policy}": float(r.k) for r in best.itertuples()}
    )
    mlflow.log_table(jsonable(test), "predictions/test.json")


def log_uplift_model(result: TrainResult):
    """Log the ``UpliftModel`` (signature from test rows); returns the logged model's URI."""
    pyfunc = build_uplift_pyfunc(result)
    cols = pyfunc.input_columns()
    data = result.data
    example = model_example(data.frame.loc[result.split.masks["test"], cols])
    with quiet("mlflow.pyfunc", "mlflow.models"), installed_pins():
        signature = infer_signature(example, pyfunc.output_example(example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc,
            signature=signature,
            input_example=example.head(5),
            pip_requirements=pip_requirements("econml"),
            tags={"family": result.spec.model.family, "kind": "uplift"},
            model_config=dict(MODEL_CONFIG),
        )
    return info.model_uri
