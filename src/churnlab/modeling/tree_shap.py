"""Exact tree SHAP for LightGBM, computed once per distinct decision pattern.

Path-dependent tree SHAP values of one tree depend on a row only through the directions it takes
at the tree's split nodes. Rows sharing that pattern share the tree's attributions, and a
15-leaf tree sees about a thousand patterns among tens of thousands of rows. So per tree: encode
each row's directions as bits, run LightGBM's own ``pred_contrib`` for that single tree on one
row per pattern, and scatter the result back. Values equal LightGBM's (and so
``shap.TreeExplainer``'s) up to float summation order. The split logic mirrors LightGBM's
``NumericalDecision``/``CategoricalDecision``; every row's leaf is checked against LightGBM's
``pred_leaf``, and any disagreement falls back to the plain full computation.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churnlab.config import threads

log = logging.getLogger(__name__)
ZERO = 1e-35  # LightGBM's kZeroThreshold


def _numeric_view(X: pd.DataFrame) -> np.ndarray:
    """Columns as LightGBM sees them: categoricals as codes (missing -> NaN)."""
    out = np.empty(X.shape, dtype=np.float64)
    for j, c in enumerate(X.columns):
        col = X[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _goes_left(node: dict, col: np.ndarray) -> np.ndarray:
    nan = np.isnan(col)
    if node["decision_type"] == "==":
        cats = np.array([int(v) for v in str(node["threshold"]).split("||")], dtype=np.float64)
        return ~nan & (col >= 0) & np.isin(np.floor(np.where(nan, -1, col)), cats)
    missing = node["missing_type"]
    value = np.where(nan & (missing != "NaN"), 0.0, col)
    if missing == "Zero":
        is_missing = np.abs(value) <= ZERO
    elif missing == "NaN":
        is_missing = nan
    else:
        is_missing = np.zeros(len(col), dtype=bool)
    return np.where(is_missing, bool(node["default_left"]), value <= node["threshold"])


def _splits(tree: dict) -> list[dict]:
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        if "split_index" in node:
            out.append(node)
            todo += [node["right_child"], node["left_child"]]
    return out


def _leaf_of(tree: dict, goes_left: dict[int, np.ndarray], n: int) -> np.ndarray:
    """The leaf index each row reaches, following the computed directions."""
    leaf = np.full(n, -1, dtype=np.int64)

    def walk(node: dict, rows: np.ndarray) -> None:
        if "split_index" not in node:
            leaf[rows] = node.get("leaf_index", 0)
            return
        left = goes_left[node["split_index"]][rows]
        walk(node["left_child"], rows[left])
        walk(node["right_child"], rows[~left])

    walk(tree, np.arange(n))
    return leaf


SMALL_BATCH = 2000


def small_batch_threads(n: int) -> dict[str, int]:
    """One thread below ``SMALL_BATCH`` rows: waking OpenMP threads costs milliseconds, more
    than a few rows take (a single-row REST request: ~17 ms -> ~0.1 ms on a busy machine);
    else churnlab's threads (:func:`churnlab.config.threads`), given explicitly."""
    return {"num_threads": 1 if n < SMALL_BATCH else threads()}


def lightgbm_contributions(booster, X: pd.DataFrame, min_rows: int = 2000) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)`` (binary model): n x (features + 1).

    Below ``min_rows`` rows the plain computation is as fast and is used directly."""
    n, p = X.shape
    best = booster.best_iteration if booster.best_iteration > 0 else None
    full = lambda: booster.predict(  # noqa: E731
        X, pred_contrib=True, num_iteration=best, **small_batch_threads(n)
    )
    if n < min_rows:
        return full()
    trees = booster.dump_model(num_iteration=best)["tree_info"]
    M = _numeric_view(X)
    # LightGBM maps pandas categories to their codes, so the numeric view predicts the same
    leaves = booster.predict(M, pred_leaf=True, num_iteration=best, **small_batch_threads(n))
    leaves = leaves.astype(np.int64)
    out = np.zeros((n, p + 1))
    for t, info in enumerate(trees):
        root = info["tree_structure"]
        nodes = _splits(root)
        if not nodes:
            out[:, p] += root["leaf_value"]
            continue
        if len(nodes) > 62:
            return full()
        directions = {
            node["split_index"]: _goes_left(node, M[:, node["split_feature"]]) for node in nodes
        }
        if not np.array_equal(_leaf_of(root, directions, n), leaves[:, t]):
            log.debug("tree %d: split logic disagrees with LightGBM; full computation", t)
            return full()
        code = np.zeros(n, dtype=np.int64)
        for k, node in enumerate(nodes):
            code |= directions[node["split_index"]].astype(np.int64) << k
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        part = booster.predict(
            M[first],
            pred_contrib=True,
            start_iteration=t,
            num_iteration=1,
            **small_batch_threads(len(first)),
        )
        used = np.flatnonzero(np.any(part != 0, axis=0))
        out[:, used] += part[np.ix_(inverse.ravel(), used)]
    return out
