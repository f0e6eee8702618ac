"""Explanations: SHAP attributions, driver roll-ups and reasons people can act on."""

from churnlab.explain.attributions import (
    Explanation,
    explain,
    global_importance,
    plot_beeswarm,
    plot_dependence,
    plot_drivers,
)
from churnlab.explain.reasons import reason_text, top_reasons

__all__ = [
    "Explanation",
    "explain",
    "global_importance",
    "plot_beeswarm",
    "plot_dependence",
    "plot_drivers",
    "reason_text",
    "top_reasons",
]
