"""In headless Chromium, offline: the Training at Scale app's Inference tab, opened by its deep
link, shows the int4 row beside int8 in its table, the int4 sentence and the bytes-vs-loss figure,
and logs no console error. Screenshot: tests/artifacts/inference.png."""

from __future__ import annotations

import pytest

from shared import course
from tests.browser_util import chromium_page, screenshot
from training import inference


@pytest.fixture  # a fresh page each: leaving a page aborts its requests (console errors)
def page(bundled_url, tmp_path_factory):
    with chromium_page(tmp_path_factory.mktemp("chromium-inference")) as page:
        yield page


def test_the_inference_tab_shows_the_int4_row(page, bundled_url):
    r = inference.read_results()
    assert r is not None, (
        "checkpoints/inference is missing: python -m training inference --preset cpu"
    )
    s = inference.summarize(r)
    root = bundled_url.rstrip("/")
    page.goto(f"{root}/{course.stop('training_at_scale').path}?tab=inference")
    table = page.locator("#tas-inf-table")
    table.get_by_text(s.int4.name, exact=True).first.wait_for()
    table.get_by_text(s.int8.name, exact=True).first.wait_for()
    table.get_by_text(f"{s.int4.megabytes:.2f} MB", exact=True).first.wait_for()
    page.locator("#tas-inf-text").get_by_text("bits per weight").first.wait_for()
    page.locator("#tas-inf-weights .js-plotly-plot").first.wait_for()
    screenshot(page, "inference.png")
    assert page.console_errors == [], page.console_errors
