"""Scoring: batch jobs, REST parity and the Spark UDF, sharing one loader and one input check."""

from churnlab.scoring.batch import (
    ScoreResult,
    score_batches,
    score_job,
    summarize,
    write_scores,
)
from churnlab.scoring.check import check_feature_table
from churnlab.scoring.features import build_scoring_features, read_feature_table
from churnlab.scoring.load import LoadedModel, ScoringError, load_model
from churnlab.scoring.uplift import ContactPolicy, add_decisions, contact_actions

__all__ = [
    "ContactPolicy",
    "LoadedModel",
    "ScoreResult",
    "ScoringError",
    "add_decisions",
    "build_scoring_features",
    "check_feature_table",
    "contact_actions",
    "load_model",
    "read_feature_table",
    "score_batches",
    "score_job",
    "summarize",
    "write_scores",
]
