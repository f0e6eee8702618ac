"""SHAP plots name categorical levels, not their codes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from churnlab.explain import Explanation, plot_dependence


def test_dependence_plot_of_a_categorical_names_its_levels():
    data = pd.DataFrame(
        {
            "billing_period": ["monthly", "annual", None, "monthly", "annual", "monthly"],
            "seats": [1.0, 5.0, 3.0, 2.0, 8.0, 1.0],
        }
    )
    values = pd.DataFrame({"billing_period": [0.4, -0.6, 0.0, 0.5, -0.5, 0.3], "seats": 0.0})
    expl = Explanation(values=values, base=np.zeros(6), data=data)
    assert expl.categories() == {"billing_period": ["annual", "monthly"]}
    codes = expl.to_shap()[:, "billing_period"].data
    np.testing.assert_array_equal(codes, [1, 0, np.nan, 1, 0, 1])  # missing stays missing

    ax = plot_dependence(expl, "billing_period")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["annual", "monthly"]
    numeric = plot_dependence(expl, "seats", ax=plt.subplots()[1])
    assert "annual" not in [t.get_text() for t in numeric.get_xticklabels()]
    plt.close("all")
