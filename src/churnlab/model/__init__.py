"""The deployable model: the MLflow pyfunc ``ChurnModel`` that carries everything scoring needs
(the typed feature spec, the calibrated estimator, tiers, reasons and drivers)."""

from churnlab.model.build import build_pyfunc
from churnlab.model.pyfunc import MODEL_CONFIG, PARAMS, REASON_COLUMNS, ChurnModel

__all__ = ["MODEL_CONFIG", "PARAMS", "REASON_COLUMNS", "ChurnModel", "build_pyfunc"]
