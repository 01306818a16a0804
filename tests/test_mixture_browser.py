"""In headless Chromium, offline: the Scaling Laws Explorer's Data mixture tab, opened by its deep
link with the forum domain, draws the heatmap of held-out loss per domain x mixture, the forum
curves, the leave-one-out table and forum samples read from the bundled results, and logs no
console error. Screenshot: tests/artifacts/mixture.png."""

from __future__ import annotations

import pytest

from shared import course
from tests.browser_util import chromium_page, screenshot
from training import mixture


@pytest.fixture  # a fresh page each: leaving a page aborts its requests (console errors)
def page(bundled_url, tmp_path_factory):
    with chromium_page(tmp_path_factory.mktemp("chromium-mixture")) as page:
        yield page


def test_the_mixture_tab_draws_the_bundled_runs(page, bundled_url):
    r = mixture.read_results()
    assert r is not None, "checkpoints/mixture is missing: python -m training mixture --preset cpu"
    root = bundled_url.rstrip("/")
    page.goto(f"{root}/{course.stop('scaling_explorer').path}?tab=data-mixture&domain=forum")
    page.locator("#mixture-heatmap .js-plotly-plot").first.wait_for()
    page.locator("#mixture-curves .js-plotly-plot").first.wait_for()
    # the heatmap's cells carry the runs' numbers; the curves are forum's
    page.locator("#mixture-heatmap").get_by_text(f"{r.runs[0].final['bios']:.2f}").first.wait_for()
    page.locator("#mixture-curves").get_by_text("forum held-out loss").first.wait_for()
    cost = next(x for x in r.leave_out if x.domain == "code").cost
    page.locator("#mixture-text").get_by_text(f"{cost:+.3f}").first.wait_for()
    first_line = next(s for s in r.domains if s.name == "forum").samples[0].split("\n")[0]
    page.locator("#mixture-samples").get_by_text(first_line).first.wait_for()
    screenshot(page, "mixture.png")
    assert page.console_errors == [], page.console_errors
