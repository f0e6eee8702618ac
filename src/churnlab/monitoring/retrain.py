"""``churnlab retrain SPEC``: champion/challenger.

A challenger is trained from the spec on its newest complete cutoffs (the spec's cutoff range
moved forward to the latest cutoff whose label window has closed, keeping its number of
cutoffs) and registered. Champion and challenger are then scored on the same rows: the
challenger's test cutoff, which the challenger never trained on and which lies after every
cutoff the champion trained on. The challenger becomes ``champion`` only if it beats the
champion on the spec's metric by ``monitoring.promote_margin`` and loses at most
``monitoring.revenue_margin`` of revenue captured in the top 10%; otherwise the champion
stays, and the reason is said. The comparison is logged as a run of the ``monitoring``
experiment; the ``champion`` alias is only ever moved, never removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnlab import config
from churnlab.config import EventData, ExperimentSpec
from churnlab.data import load_dataset
from churnlab.errors import ChurnlabError
from churnlab.evaluation import classification_metrics
from churnlab.features import cutoff_range, parse_cutoffs
from churnlab.scoring.features import build_scoring_features
from churnlab.scoring.load import load_model
from churnlab.tracking import champion_version, connect, run_table, train_and_log
from churnlab.tracking.monitoring import log_retrain, swap_champion
from churnlab.vocab import LOWER_IS_BETTER

log = logging.getLogger(__name__)


class RetrainError(ChurnlabError):
    """Retraining cannot run: no champion, no cutoff range, no newer data."""


@dataclass
class RetrainResult:
    model_name: str
    champion_version: str
    challenger_version: str
    promoted: bool
    metric: str
    window: str
    champion: dict[str, float]
    challenger: dict[str, float]
    cutoffs: list[str]
    message: str
    run_id: str | None = None
    training_run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def newest_cutoffs(spec: ExperimentSpec, observed_until: pd.Timestamp) -> str:
    """The spec's ``START:END:STEP`` range moved forward on its own grid to the newest cutoff
    whose label window (lead + horizon) has closed by ``observed_until``, with as many cutoffs
    as before."""
    found = cutoff_range(spec.cutoffs) if isinstance(spec.cutoffs, str) else None
    if found is None:
        raise RetrainError(
            f"cutoffs: retrain moves a cutoff range forward and needs START:END:STEP, not "
            f"{spec.cutoffs!r}"
        )
    start, _, step = found
    before = parse_cutoffs(spec.cutoffs)
    bound = observed_until - pd.Timedelta(days=spec.horizon_days + spec.lead_days)
    if bound < before[-1]:
        raise RetrainError(
            f"no cutoff newer than {before[-1].date()} has a closed label window by "
            f"{observed_until.date()}"
        )
    grid = parse_cutoffs(f"{start.date()}:{bound.date()}:{step}")
    newest = grid[-len(before) :]
    return ",".join(str(c.date()) for c in newest)


def _data_path(spec: ExperimentSpec, root: Path) -> Path:
    if not isinstance(spec.data, EventData):
        raise RetrainError("retrain works on event data (a dataset folder), not a single table")
    path = spec.data.path
    return path if path.is_absolute() else root / path


def _compare(
    champion: dict[str, float], challenger: dict[str, float], metric: str, spec: ExperimentSpec
) -> tuple[bool, str]:
    s = spec.monitoring
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    gain = sign * (challenger[metric] - champion[metric])
    revenue = "revenue_capture_top10"
    rev_loss = champion.get(revenue, np.nan) - challenger.get(revenue, np.nan)
    said = (
        f"{metric} {challenger[metric]:.4f} against the champion's {champion[metric]:.4f}, "
        f"revenue captured {challenger.get(revenue, np.nan):.3f} against "
        f"{champion.get(revenue, np.nan):.3f}"
    )
    if gain <= s.promote_margin:
        return False, f"the challenger does not beat the champion by {s.promote_margin:g}: {said}"
    if rev_loss == rev_loss and rev_loss > s.revenue_margin:
        return (
            False,
            f"the challenger loses more than {s.revenue_margin:g} of revenue captured: {said}",
        )
    return True, f"the challenger beats the champion: {said}"


def champion_on(
    model_uri: str, data: Path, window: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The champion's scores of the window's accounts (its own features, replayed at the
    window's cutoff), joined to the window's labels and MRR."""
    loaded = load_model(model_uri)
    frame = build_scoring_features(loaded.model, data, cutoff)
    scores = loaded.predict(frame, reasons=False, source=f"features of {data} at {cutoff.date()}")
    return window[["account_id", "y", "mrr"]].merge(
        scores[["account_id", "p_churn"]], on="account_id", how="inner"
    )


def retrain(
    spec: ExperimentSpec,
    spec_text: str | None = None,
    root: Path | None = None,
    progress: Callable[[str], Any] | None = None,
) -> RetrainResult:
    """Train a challenger on the newest complete cutoffs, compare it with the champion on the
    same out-of-time window, promote it only if it wins (see the module docstring)."""
    say = progress or (lambda msg: log.info(msg))
    root = root or config.project_root()
    client = connect()
    current = champion_version(client, spec.model_name)
    if current is None:
        raise RetrainError(
            f"{spec.model_name!r} has no champion to challenge: train and promote one first "
            "(churnlab train SPEC; churnlab promote)"
        )
    data = _data_path(spec, root)
    ds = load_dataset(data)
    cutoffs = newest_cutoffs(spec, ds.observed_until)
    challenger_spec = spec.model_copy(update={"cutoffs": cutoffs})
    say(f"training the challenger on cutoffs {cutoffs}")
    summary = train_and_log(challenger_spec, spec_text, root, progress=say)
    try:
        return _challenge(spec, summary, current, data, cutoffs, say)
    except KeyboardInterrupt as exc:  # the command line says what was done before it
        exc.done = (
            f"the challenger run {summary.run_id} finished and is registered as "
            f"{summary.model_name} version {summary.model_version}, but was not compared with "
            f"the champion (version {current.version}, unchanged); run retrain again: it "
            "reuses the challenger"
        )
        raise


def _itself(
    spec: ExperimentSpec, summary: Any, current: Any, cutoffs: str, cutoff: pd.Timestamp
) -> RetrainResult:
    """The result when the challenger is the champion itself: nothing compared or promoted."""
    result = RetrainResult(
        model_name=spec.model_name,
        champion_version=str(current.version),
        challenger_version=summary.model_version,
        promoted=False,
        metric=spec.metric,
        window=str(cutoff.date()),
        champion={},
        challenger={},
        cutoffs=cutoffs.split(","),
        message=(
            f"the challenger is the champion itself (version {current.version}, trained on the "
            "same spec, data, code and seed, so its run was reused): nothing to compare until "
            "the data has new complete cutoffs"
        ),
        training_run_id=summary.run_id,
        extra={"rows": 0},
    )
    result.run_id = log_retrain(result.as_dict())
    return result


def _challenge(
    spec: ExperimentSpec,
    summary: Any,
    current: Any,
    data: Path,
    cutoffs: str,
    say: Callable[[str], Any],
) -> RetrainResult:
    """Champion and challenger scored on the challenger's test window; the challenger
    promoted only if it wins; the comparison logged as a run."""
    test = run_table(summary.run_id, "predictions/test.json")
    cutoff = pd.Timestamp(test.cutoff.max())
    if str(summary.model_version) == str(current.version):
        # the challenger's run was reused (same spec, data, code and seed) and is the version
        # a previous retrain promoted: comparing it with itself would say "does not beat"
        return _itself(spec, summary, current, cutoffs, cutoff)
    window = test[test.cutoff == cutoff]
    say(f"scoring champion version {current.version} on {cutoff.date()}")
    both = champion_on(f"models:/{spec.model_name}/{current.version}", data, window, cutoff)
    both = both.merge(window[["account_id", "p"]], on="account_id")
    y, mrr = both.y.to_numpy(dtype=int), both.mrr.to_numpy(dtype=float)
    champ = classification_metrics(y, both.p_churn.to_numpy(dtype=float), mrr)
    chall = classification_metrics(y, both.p.to_numpy(dtype=float), mrr)
    promoted, message = _compare(champ, chall, spec.metric, spec)
    suspects = {**summary.leak_suspects, **summary.strong_suspects}
    if promoted and suspects:  # as promote refuses it without --force
        promoted = False
        message = (
            f"{message}; but the challenger was trained on column(s) that alone separate "
            f"churners, or nearly ({', '.join(suspects)}): kept the champion"
        )
    if promoted:
        promoted = swap_champion(spec.model_name, str(current.version), summary.model_version)
        if not promoted:
            message = "the champion changed while the challenger trained; kept it"
    result = RetrainResult(
        model_name=spec.model_name,
        champion_version=str(current.version),
        challenger_version=summary.model_version,
        promoted=promoted,
        metric=spec.metric,
        window=str(cutoff.date()),
        champion={k: float(v) for k, v in champ.items()},
        challenger={k: float(v) for k, v in chall.items()},
        cutoffs=cutoffs.split(","),
        message=message,
        training_run_id=summary.run_id,
        extra={"rows": len(both)},
    )
    result.run_id = log_retrain(result.as_dict())
    return result
