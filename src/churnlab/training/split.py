"""Train / validation / test splits.

Event data are split out of time over cutoffs (see ``SplitSpec``); single tables by a seeded,
stratified random split. Every split is a set of row masks over one frame, so no
(account, cutoff) row can sit in two parts.

Survival families use the same split with their own training rows and censoring
(:func:`survival_targets`): every cutoff before the validation cutoff
trains, including those whose label window is still open there, with follow-up censored at the
validation cutoff (no training target sees past it); validation rows are followed up to the test
cutoff and test rows to the end of the data. The classifiers' masks below are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from churnlab.errors import ChurnlabError

PARTS = ("train", "validation", "test")


@dataclass
class Split:
    """Boolean row masks per part, and the cutoffs each part covers (out-of-time splits)."""

    masks: dict[str, np.ndarray]
    cutoffs: dict[str, list[str]] = field(default_factory=dict)
    fold: int = 0
    # out of time: the rows the calibration is fitted on, when they pool more cutoffs than the
    # validation cutoff (``cutoffs["calibration"]``); None: the validation rows
    calibration: np.ndarray | None = None

    def describe(self) -> dict:
        out = {
            part: {"rows": int(self.masks[part].sum()), "cutoffs": self.cutoffs.get(part, [])}
            for part in PARTS
        }
        if self.calibration is not None:
            out["calibration"] = {
                "rows": int(self.calibration.sum()),
                "cutoffs": self.cutoffs.get("calibration", []),
            }
        return out


class SplitError(ChurnlabError):
    pass


def out_of_time_splits(
    frame: pd.DataFrame,
    horizon_days: int,
    lead_days: int = 0,
    folds: int = 1,
    purge: bool = True,
    pool_calibration: bool = False,
) -> list[Split]:
    """Rolling-origin out-of-time splits, latest test cutoff first.

    Only rows with complete labels take part. Fold k tests on the k-th latest complete cutoff,
    validates on the latest cutoff whose label window has closed by the test cutoff and trains
    on the cutoffs whose label windows closed by the validation cutoff (``purge``; without it,
    on every earlier cutoff).

    ``pool_calibration``: the calibration is fitted on every cutoff that is not a training
    cutoff and whose label window closed by the test cutoff (the validation cutoff and, with
    ``purge``, the cutoffs between it and the training ones, which nothing else uses); each
    is out of sample for the model and none sees past the test cutoff.
    """
    complete = frame[frame.label_complete.astype(bool)]
    cutoffs = sorted(pd.to_datetime(complete.cutoff.unique()))
    if not cutoffs:
        raise SplitError(
            f"no cutoff has a complete {horizon_days}-day label window (+{lead_days} lead days): "
            "the horizon runs past the end of the data; use earlier cutoffs or a shorter horizon"
        )
    window = pd.Timedelta(days=horizon_days + lead_days)

    def closed_by(limit: pd.Timestamp) -> list[pd.Timestamp]:
        return [c for c in cutoffs if (c + window <= limit if purge else c < limit)]

    splits = []
    for k in range(folds):
        if k >= len(cutoffs):
            break
        test = cutoffs[-1 - k]
        val_candidates = closed_by(test)
        train = closed_by(val_candidates[-1]) if val_candidates else []
        if not train:
            raise SplitError(
                f"not enough cutoffs for an out-of-time split (fold {k + 1}): test cutoff "
                f"{test.date()} needs a validation cutoff at least {window.days} days earlier and "
                f"training cutoffs {window.days} days before that; complete cutoffs are "
                f"{[str(c.date()) for c in cutoffs]}"
            )
        parts = {"train": train, "validation": [val_candidates[-1]], "test": [test]}
        pooled = [c for c in val_candidates if c not in train] if pool_calibration else []
        cut = pd.to_datetime(frame.cutoff)
        ok = frame.label_complete.astype(bool).to_numpy()
        masks = {p: (cut.isin(cs).to_numpy() & ok) for p, cs in parts.items()}
        dates = {p: [str(c.date()) for c in cs] for p, cs in parts.items()}
        calibration = None
        if len(pooled) > 1:
            calibration = cut.isin(pooled).to_numpy() & ok
            dates["calibration"] = [str(c.date()) for c in pooled]
        splits.append(Split(masks=masks, cutoffs=dates, fold=k, calibration=calibration))
    if len(splits) < folds:
        raise SplitError(f"{folds} backtest folds asked, but only {len(splits)} complete cutoffs")
    return splits


def random_split(y: pd.Series, validation_size: float, test_size: float, seed: int) -> Split:
    """Stratified random split of single-table rows."""
    idx = np.arange(len(y))
    counts = y.astype(bool).value_counts()
    churners, stayers = int(counts.get(True, 0)), int(counts.get(False, 0))
    if min(churners, stayers) < 3:
        raise SplitError(
            f"{churners} churners and {stayers} non-churners among {len(y)} rows: too few "
            "churners or non-churners to split into train, validation and test"
        )
    try:
        rest, test = train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
        train, val = train_test_split(
            rest,
            test_size=validation_size / (1 - test_size),
            stratify=y.iloc[rest],
            random_state=seed,
        )
    except ValueError as exc:
        raise SplitError(f"cannot split {len(y)} rows stratified by the label: {exc}") from exc
    masks = {}
    for part, rows in (("train", train), ("validation", val), ("test", test)):
        m = np.zeros(len(y), dtype=bool)
        m[rows] = True
        masks[part] = m
    return Split(masks=masks)


def check_classes(split: Split, y: pd.Series) -> None:
    """Every part needs churners and non-churners, or metrics and calibration are meaningless."""
    for part in PARTS:
        values = y[split.masks[part]]
        where = f" (cutoffs {', '.join(split.cutoffs[part])})" if split.cutoffs.get(part) else ""
        if len(values) == 0:
            raise SplitError(f"split part '{part}'{where} has no rows")
        positives = int(values.astype(bool).sum())
        if positives == 0 or positives == len(values):
            kind = "no churners" if positives == 0 else "only churners"
            raise SplitError(
                f"split part '{part}'{where} has {kind} among {len(values)} rows{_remedy(split, y)}"
            )


FEW_CHURNERS = 10  # fewer in a part and its metrics are noise


def few_churners(split: Split, y: pd.Series) -> str | None:
    """A warning when a part has fewer than :data:`FEW_CHURNERS` churners (or non-churners):
    early stopping and calibration then fit noise, and a ROC-AUC or PR-AUC measured on
    them cannot tell one model from another (with 4 churners one of them moves the ROC-AUC
    by up to a quarter)."""
    few = {}
    for part in PARTS:
        values = y[split.masks[part]].astype(bool)
        rarer = min(int(values.sum()), int((~values).sum()))
        if rarer < FEW_CHURNERS:
            few[part] = (int(values.sum()), len(values))
    if not few:
        return None
    shown = ", ".join(f"{part} {n} churner(s) among {rows}" for part, (n, rows) in few.items())
    return (
        f"few rows of one class in the split ({shown}; fewer than {FEW_CHURNERS} of either "
        "class): the model is fitted, calibrated and measured on too few churners for its "
        f"metrics to mean much{_remedy(split, y)}"
    )


def _remedy(split: Split, y: pd.Series) -> str:
    """What a split part without both classes can be helped with, and the counts behind it."""
    churners = int(y.astype(bool).sum())
    if split.cutoffs:
        return (
            f" ({churners} churners in {len(y)} rows over all cutoffs; use more cutoffs, a "
            "longer horizon or data from more accounts)"
        )
    return (
        f" (the table has {churners} churners and {len(y) - churners} non-churners: each "
        "part gets its share, so a small table needs more rows of the rarer class, or larger "
        "split.validation_size / split.test_size)"
    )


def survival_targets(
    frame: pd.DataFrame, split: Split
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per part: (row mask, duration, event), censored so no part's target sees past the next
    part's cutoff (see the module docstring). Random splits (single tables) use the rows and
    durations as they are."""
    duration = frame.duration_days.to_numpy(dtype=float)
    event = frame.event.to_numpy(dtype=float)
    if not split.cutoffs:
        return {p: (m, duration[m], event[m]) for p, m in split.masks.items()}
    cut = pd.to_datetime(frame.cutoff)
    val_cut = pd.Timestamp(split.cutoffs["validation"][0])
    test_cut = pd.Timestamp(split.cutoffs["test"][0])
    out = {}
    parts = {
        "train": ((cut < val_cut).to_numpy(), val_cut),
        "validation": (split.masks["validation"], test_cut),
        "test": (split.masks["test"], None),
    }
    for part, (mask, limit) in parts.items():
        d, e = duration[mask], event[mask]
        if limit is not None:
            follow_up = ((limit - cut[mask]).dt.total_seconds() / 86_400.0).to_numpy()
            e = np.where(d <= follow_up, e, 0.0)
            d = np.minimum(d, follow_up)
        out[part] = (mask, d, e.astype(int))
    return out
