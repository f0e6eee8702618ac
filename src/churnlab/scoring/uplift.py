"""Whom to contact: a churn batch's scores joined with an uplift model's estimates, the expected
incremental profit of contacting each account, and the decision under a budget.

For each scored row: ``uplift`` (the uplift model's estimated reduction in churn probability
if contacted), ``expected_gain`` = ``uplift x MRR x value_months - contact_cost - offer_cost``
(:func:`churnlab.evaluation.policy.expected_incremental_profit`; the economics are the uplift
model's spec's unless the job gives its own) and ``action``: ``contact`` for the accounts with a
positive expected gain, at least ``min_gain`` when given, and among them the ``budget`` best
(ties in input order); ``skip`` for every other row, including rows the uplift model has no
estimate or MRR for. Batch scoring and the REST server call the same function, so one request
gets the same actions as the same rows in a batch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from churnlab.evaluation import CampaignParams, expected_incremental_profit
from churnlab.scoring.check import ScoringError
from churnlab.scoring.load import LoadedModel
from churnlab.vocab import KEYS

DECISION_COLUMNS = ("uplift", "expected_gain", "action")


@dataclass(frozen=True)
class ContactPolicy:
    """How a job decides: at most ``budget`` contacts, each worth at least ``min_gain``;
    ``value_months``, ``contact_cost``, ``offer_cost`` override the uplift model's."""

    budget: int | None = None
    min_gain: float | None = None
    value_months: float | None = None
    contact_cost: float | None = None
    offer_cost: float | None = None

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 0:
            raise ScoringError(f"budget must be a number of contacts >= 0, not {self.budget}")
        for name in ("min_gain", "value_months", "contact_cost", "offer_cost"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ScoringError(f"{name} must be a finite number, not {value}")

    def campaign(self, defaults: dict[str, float]) -> CampaignParams:
        """The economics: this policy's values where given, else ``defaults`` (the model's)."""
        given = {k: v for k, v in asdict(self).items() if v is not None and k in defaults}
        try:
            return CampaignParams(**{**defaults, **given})
        except ValueError as exc:
            raise ScoringError(str(exc)) from None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> ContactPolicy:
        return cls(**json.loads(text)) if text else cls()


def contact_actions(
    gain: np.ndarray, budget: int | None = None, min_gain: float | None = None
) -> np.ndarray:
    """``contact`` for the rows with a positive ``gain`` (>= ``min_gain`` when given), the
    ``budget`` largest of them when given (ties in row order); ``skip`` otherwise.

    >>> contact_actions(np.array([5.0, -1.0, 9.0, np.nan, 5.0]), budget=2).tolist()
    ['contact', 'skip', 'contact', 'skip', 'skip']
    """
    gain = np.asarray(gain, dtype=float)
    eligible = np.isfinite(gain) & (gain > 0)
    if min_gain is not None:
        eligible &= gain >= min_gain
    chosen = np.flatnonzero(eligible)
    if budget is not None:
        order = np.argsort(-gain[chosen], kind="stable")
        chosen = chosen[order[: int(budget)]]
    action = np.full(len(gain), "skip", dtype=object)
    action[chosen] = "contact"
    return action


def add_decisions(
    scores: pd.DataFrame,
    frame: pd.DataFrame,
    uplift_model: LoadedModel,
    policy: ContactPolicy,
    source: str = "features",
) -> pd.DataFrame:
    """``scores`` (a churn model's, one row per key) with ``uplift``, ``expected_gain`` and
    ``action``, from the uplift model's estimates on ``frame`` (its feature table: keys, MRR
    and its features)."""
    estimates = uplift_model.predict(frame, source=f"{source} (uplift model)")
    mrr = pd.to_numeric(frame["mrr"], errors="coerce").to_numpy(dtype=float)
    estimates = estimates[[*KEYS, "uplift"]].assign(_mrr=mrr)
    params = policy.campaign(uplift_model.model.campaign)
    known = np.isfinite(estimates._mrr.to_numpy())
    gain = np.full(len(estimates), np.nan)
    gain[known] = expected_incremental_profit(
        estimates.uplift.to_numpy()[known], estimates._mrr.to_numpy()[known], params
    )
    estimates["expected_gain"] = gain
    keyed = _keys_as_scored(scores, estimates)
    out = scores.merge(keyed.drop(columns="_mrr"), on=list(KEYS), how="left", validate="1:1")
    out["action"] = contact_actions(out.expected_gain.to_numpy(), policy.budget, policy.min_gain)
    return out


def _keys_as_scored(scores: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    """``estimates`` with key dtypes matching ``scores`` (both came from checked tables, but
    a missing cutoff column is all-NaT in one and absent in the other)."""
    out = estimates.copy()
    for key in KEYS:
        if key in scores and key in out and scores[key].dtype != out[key].dtype:
            try:
                out[key] = out[key].astype(scores[key].dtype)
            except (TypeError, ValueError):
                raise ScoringError(
                    f"the uplift model's {key} values cannot be matched to the churn scores'"
                ) from None
    return out


def decision_summary(scores: pd.DataFrame, uplift_model: LoadedModel, policy: ContactPolicy):
    """Contacts chosen, their expected gain, and what decided them."""
    contact = scores.action == "contact"
    return {
        "model": uplift_model.ref.uri,
        "model_version": uplift_model.ref.version,
        "contacts": int(contact.sum()),
        "expected_gain": float(np.nansum(scores.expected_gain[contact])),
        "mean_uplift_contacted": float(scores.uplift[contact].mean()) if contact.any() else None,
        "policy": asdict(policy),
        "campaign": asdict(policy.campaign(uplift_model.model.campaign)),
    }
