"""The deployable models: the MLflow pyfunc ``ChurnModel`` that carries everything scoring needs
(the typed feature spec, the calibrated estimator, tiers, reasons and drivers), and
``UpliftModel`` for the uplift families (feature spec, uplift estimator, campaign economics)."""

from churnlab.model.build import build_pyfunc
from churnlab.model.pyfunc import MODEL_CONFIG, PARAMS, REASON_COLUMNS, ChurnModel
from churnlab.model.uplift import UPLIFT_COLUMNS, UpliftModel, build_uplift_pyfunc

__all__ = [
    "MODEL_CONFIG",
    "PARAMS",
    "REASON_COLUMNS",
    "UPLIFT_COLUMNS",
    "ChurnModel",
    "UpliftModel",
    "build_pyfunc",
    "build_uplift_pyfunc",
]
