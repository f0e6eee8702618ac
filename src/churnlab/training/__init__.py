"""Training one experiment spec end to end, without MLflow: training data, out-of-time splits,
the fold loop (fit, calibrate, evaluate), explanations, and tuning with Optuna. Results are
returned as data; ``churnlab.tracking`` logs them."""

from churnlab.training.calibration import CalibratedChurnModel
from churnlab.training.data import (
    TrainingData,
    data_digest,
    load_training_data,
    select_features,
)
from churnlab.training.split import (
    Split,
    SplitError,
    check_classes,
    out_of_time_splits,
    random_split,
    survival_targets,
)
from churnlab.training.train import (
    FoldResult,
    TrainResult,
    checked_data,
    fold_targets,
    make_splits,
    train,
)

__all__ = [
    "CalibratedChurnModel",
    "FoldResult",
    "Split",
    "SplitError",
    "TrainResult",
    "TrainingData",
    "check_classes",
    "checked_data",
    "data_digest",
    "fold_targets",
    "load_training_data",
    "make_splits",
    "out_of_time_splits",
    "random_split",
    "select_features",
    "survival_targets",
    "train",
]
