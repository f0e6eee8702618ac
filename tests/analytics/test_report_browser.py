"""The headless-browser check of the report (tests/analytics/browser.py) sees what a reader would
see as broken; without Chromium the browser tests are skipped with the reason, and with
CHURNLAB_REQUIRE_BROWSER (CI) a missing Chromium is an error. The report itself is checked in
the browser in test_notebooks_report.py (the full report) and test_report_text.py (a single
customer table's)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest

from churnlab.analytics.report import figure_png
from tests.analytics.browser import look_at, problems
from tests.conftest import chromium_problem, requires_browser

matplotlib.use("Agg")

# no viewport tag, a broken and a missing image, a hidden heading, a count with decimals, a
# date broken over two lines, a banner wider than any screen, a script error
BROKEN = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>broken</title></head><body>
<h1>Churn report</h1><h2 style="display: none">Whom to contact</h2>
<figure><img alt="a plot" src="data:image/png;base64,{png}"></figure>
<figure><img alt="a broken plot" src="data:image/png;base64,iVBORw0KGgo="></figure>
<figure><img alt="a missing plot" src="missing.png"></figure>
<table><thead><tr><th>metric</th><th>test</th></tr></thead>
<tbody><tr><td>rows</td><td>1,825.000</td></tr>
<tr><td>cutoff</td><td style="width: 3em">2025-01-01</td></tr></tbody></table>
<div class="banner" style="width: 1600px">a wide banner</div>
<script>console.error("boom")</script>
</body></html>"""


@requires_browser()
def test_the_browser_check_sees_what_is_broken(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0, 1, 0], label="lift")
    ax.legend()
    page = tmp_path / "site" / "broken.html"
    page.parent.mkdir()
    page.write_text(BROKEN.format(png=figure_png(fig)))
    found = "\n".join(problems(look_at(page, tmp_path), ["Whom to contact"], ["population"]))
    expected = [
        "console: boom",
        "missing.png: HTTP 404",
        "figure 'a broken plot' not shown",
        "figure 'a missing plot' not shown",
        "at 1280 px heading 'Whom to contact' not shown",
        "at 390 px text 'population' not shown",
        "column 'test' shows ['1,825.000']",
        "numbers broken over lines ['2025-01-01']",
        'at 1280 px cut off: div.banner "a wide banner"',
        "at 1280 px the page scrolls sideways",
        "on a 390 px phone the page is laid out 980 px wide",
    ]
    for line in expected:
        assert line in found, (line, found)
    assert "'a plot'" not in found
    assert (tmp_path / "report-1280px.png").stat().st_size > 1000


def test_ci_turns_a_missing_chromium_into_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CHURNLAB_REQUIRE_BROWSER", raising=False)  # CI sets it
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on this PATH
    chromium_problem.cache_clear()
    try:
        mark = requires_browser()
        assert mark.args == (True,)
        assert mark.kwargs["reason"] == (
            "the browser tests need Chromium (e.g. apt-get install chromium): "
            "no chromium on the PATH"
        )
        monkeypatch.setenv("CHURNLAB_REQUIRE_BROWSER", "1")
        with pytest.raises(RuntimeError, match="CHURNLAB_REQUIRE_BROWSER is set, but the browser"):
            requires_browser()
    finally:
        chromium_problem.cache_clear()
