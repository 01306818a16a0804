"""The SFT app's Preference tuning tab in headless Chromium, served as a user starts it: the
bundled DPO results' table and figure, the validation grid and the margins by pair kind draw,
without console errors."""

from __future__ import annotations

from shared import course
from tests.browser_util import chromium_page, screenshot
from training.dpo.results import ARM_LABELS, read_results


def test_preference_tab_in_chromium(bundled_url, tmp_path):
    r = read_results()
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("sft_transformation").title).click()
        page.get_by_role("tab", name="Preference tuning").click()
        page.wait_for_selector("#dpo-results-bars .js-plotly-plot")
        table = page.locator("#dpo-results-table")
        dpo_row = ARM_LABELS["dpo"].format(start=r.starts["sft"].label)
        table.get_by_text(dpo_row, exact=True).first.wait_for()
        text = table.inner_text()
        for s, st in r.starts.items():
            for arm, h in r.headline[s].items():
                assert ARM_LABELS[arm].format(start=st.label) in text
                assert f"{100 * h.accuracy:.1f}%" in text
        assert r.rebuild in page.locator("#dpo-results-note").inner_text()
        page.wait_for_selector("#dpo-grid-bars .js-plotly-plot")
        grid = page.locator("#dpo-grid-table")
        page.wait_for_function(
            "() => document.querySelector('#dpo-grid-table')?.innerText.includes('✓')"
        )
        for st in r.starts.values():
            for g in st.grid:
                assert f"{100 * g.accuracy:.1f}%" in grid.inner_text()
        page.wait_for_function(
            "() => document.querySelector('#dpo-margin-table')?.innerText.includes('rambling')"
        )
        screenshot(page, "sft_preference.png")
        errors = page.console_errors
    assert errors == [], errors
