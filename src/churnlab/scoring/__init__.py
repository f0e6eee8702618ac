"""Scoring: the pyfunc model that carries everything scoring needs."""

from churnlab.scoring.model import ChurnModel

__all__ = ["ChurnModel"]
