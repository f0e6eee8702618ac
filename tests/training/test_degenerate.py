"""Degenerate feature columns are dropped on the training rows, with one notice naming them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.training.data import degenerate_columns


def test_constant_and_mostly_missing_columns_on_training_rows_are_named():
    n = 1000
    cutoff = np.where(np.arange(n) < 800, "2024-01-01", "2024-06-01")
    frame = pd.DataFrame(
        {
            "cutoff": pd.to_datetime(cutoff),
            "label_complete": True,
            "varied": np.arange(n) % 7,
            "constant": 3.0,
            "sparse": [1.0] * 5 + [np.nan] * (n - 5),  # 99.4% missing on the training rows
            "one_value_or_missing": [1.0] * 400 + [np.nan] * (n - 400),  # null vs 1: kept
            # constant on training rows only: later rows must not rescue it
            "late": np.where(np.arange(n) < 800, 0, np.arange(n)),
        }
    )
    feats = ["varied", "constant", "sparse", "one_value_or_missing", "late"]
    dropped = degenerate_columns(frame, feats, "2024-03-01")
    assert dropped == {"constant": "constant", "sparse": "99.4% missing", "late": "constant"}
    assert "late" not in degenerate_columns(frame, feats, None)
