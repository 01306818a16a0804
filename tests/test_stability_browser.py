"""The Stability tab's learning-rate decay section served as a user starts it (`python app.py`, the
bundled checkpoints): through gradio_client the /lr_decay endpoint returns the schedule table and
curves read from checkpoints/stability, and a live run refuses a bad schedule in one line; in
headless Chromium the Training at Scale app opened at its Stability tab draws the decay figures,
table and prose with no console error. Screenshot: tests/artifacts/stability_decay.png."""

from __future__ import annotations

import pytest
from gradio_client import Client

from tests.browser_util import chromium_page, screenshot
from tests.client_util import app_error, call, plot_traces, rows
from training import stability as st


@pytest.fixture(scope="module")
def results() -> st.StabilityResults:
    r = st.read_results()
    assert r and r.schedules, "no LR-decay runs: python -m training stability --preset cpu"
    return r


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


def test_the_lr_decay_endpoint_returns_the_schedule_table(client, results):
    loss, lr, table, text = call(client, api_name="/lr_decay")
    decay = st.decay_table(results)
    got = rows(table)
    assert [r[0] for r in got] == [x.label for x in results.schedules]
    for row, x in zip(got, decay):
        assert float(row[1]) == pytest.approx(x.final_loss, abs=5.1e-4)
        assert float(row[2]) == pytest.approx(x.heldout_loss, abs=5.1e-4)
        assert float(row[5]) == pytest.approx(x.vs_constant, abs=5.1e-4)
    lrs = {t["name"]: t["y"] for t in plot_traces(lr)}
    for run in results.schedules:
        assert lrs[run.label] == pytest.approx([r.lr for r in run.records])
    assert {t["name"] for t in plot_traces(loss)} == set(lrs)
    assert f"until step {decay[0].decay_from}" in text


def test_a_bad_live_schedule_is_one_line_through_the_api(client):
    msg = app_error(client, -2.5, 5, 1.0, 1.0, "fp32", 10, "exp", api_name="/stability_live")
    assert "exp" in msg


def test_the_stability_tab_shows_the_decay_section_in_chromium(bundled_url, tmp_path, results):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(f"{bundled_url.rstrip('/')}/training-at-scale?tab=stability")
        page.locator("#tas-decay-loss .js-plotly-plot").first.wait_for()
        page.locator("#tas-decay-lr .js-plotly-plot").first.wait_for()
        table = page.locator("#tas-decay-table")
        table.scroll_into_view_if_needed()
        for run in results.schedules:  # gradio keeps hidden copies of cells: the shown one
            table.get_by_text(run.label, exact=True).filter(visible=True).first.wait_for()
        wsd = next(x for x in st.decay_table(results) if x.name == "wsd")
        page.locator("#tas-decay-text").get_by_text(
            f"{wsd.heldout_vs_constant:+.3f} held out", exact=False
        ).first.wait_for()
        legend = page.locator(
            "#tas-decay-loss .legendtext"
        ).all_text_contents()  # SVG: no innerText
        assert set(legend) == {x.label for x in results.schedules}
        screenshot(page, "stability_decay.png")
        assert page.console_errors == []
