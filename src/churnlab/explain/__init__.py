"""Explanations: SHAP attributions, driver roll-ups and reason codes."""

from churnlab.explain.attributions import (
    Explanation,
    explain,
    global_importance,
    plot_beeswarm,
    plot_dependence,
    plot_drivers,
)
from churnlab.explain.reasons import REASON_TEMPLATES, reason_text, top_reasons

__all__ = [
    "REASON_TEMPLATES",
    "Explanation",
    "explain",
    "global_importance",
    "plot_beeswarm",
    "plot_dependence",
    "plot_drivers",
    "reason_text",
    "top_reasons",
]
