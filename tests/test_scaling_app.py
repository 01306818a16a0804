"""The Scaling Laws Explorer through its public API (gradio_client) and in headless Chromium,
served by `python app.py` with the bundled checkpoints and sweep results."""

from __future__ import annotations

import math

import pytest
from gradio_client import Client

from shared import course, scaling
from tests.browser_util import chromium_page, screenshot
from tests.client_util import app_error, call, load_space, plot_traces, rows
from training import mixture as mixture_lab
from training.sweep import PLANS, read_results


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {
        "/mixture",
        "/laws",
        "/optimal",
        "/returns",
        "/cost",
        "/lab",
        "/live_run",
        "/long_tail",
    } <= names


def test_laws_reports_the_law_and_warns_outside_its_range(client):
    # inside the fitted range (70M-16B params, 5B-500B tokens; Chinchilla itself lies outside it)
    _, _, text = call(client, "chinchilla", 9.0, 11.0, api_name="/laws")
    want = scaling.LAWS["chinchilla"].loss(1e9, 1e11)
    assert f"{want:.3f}" in text and "extrapolating" not in text
    _, _, text = call(client, "chinchilla", 7.0, 9.0, api_name="/laws")  # 10M params: below 70M
    assert "extrapolating" in text
    _, _, text = call(client, "our lab fit", 6.0, 8.0, api_name="/laws")
    assert "fitted here" in text


def test_optimal_table_is_the_closed_form(client):
    C = 5.76e23
    table, _, _ = call(client, math.log10(C), api_name="/optimal")
    by_law = {r[0]: r for r in rows(table)}
    n, d = scaling.compute_optimal(C, "chinchilla")
    row = by_law[scaling.LAWS["chinchilla"].name]
    assert row[1] == f"{n:.3g}" and row[2] == f"{d:.3g}"
    assert any(k.startswith("our lab fit") for k in by_law)


def test_cost_shows_the_gpt3_arithmetic(client):
    """The Cost tab is the suite's one cost panel (tests/test_training_at_scale_app.py checks it is
    the Training at Scale app's, handler and defaults alike)."""
    table, fig, text = call(
        client, math.log10(175e9), math.log10(300e9), "V100", 30, 2.0, 1024, api_name="/cost"
    )
    c = scaling.training_cost(scaling.training_flops(175e9, 300e9), "V100", 0.30, 2.0, 1024)
    assert f"${c.dollars:,.0f}" in [r[1] for r in rows(table)]
    g3 = next(m for m in scaling.NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    lo = scaling.training_cost(g3["flops"], "V100", 0.213, 1.5, 1024).dollars / 1e6
    hi = scaling.training_cost(g3["flops"], "V100", 0.213, 3.5, 1024).dollars / 1e6
    assert f"${lo:.1f}M–${hi:.1f}M" in text and 4 <= lo < hi <= 12  # the course's $4-12M
    days = plot_traces(fig)[0]["y"]
    assert days[10] == pytest.approx(c.days)  # 1,024 = 2**10 GPUs: the point the table prices


def test_returns_and_long_tail_and_lab(client):
    import numpy as np

    fig, text = call(client, "chinchilla", 9, 10.3, 4, api_name="/returns")
    bars = {t["name"]: t["y"] for t in plot_traces(fig)}
    want = scaling.diminishing_returns("chinchilla", 1e9 * 2.0 ** np.arange(4), 10**10.3, "N")
    assert np.allclose(bars["double N (D fixed)"], want, rtol=1e-9)
    assert all(a > b for a, b in zip(want, want[1:]))  # each doubling buys less
    out = call(client, api_name="/lab")
    assert "Approach 3" in out[2] and "Held-out check" in out[2]
    assert len(rows(out[3])) == len(PLANS["cpu"].shapes) * len(PLANS["cpu"].budgets)
    t1, t2 = call(client, len(PLANS["cpu"].shapes) - 1, api_name="/long_tail")
    r = read_results()
    traces = plot_traces(t1)
    assert [t["name"] for t in traces] == [f"mentioned {b}×" for b in r.buckets]
    largest = max(
        (x for x in r.runs if x.budget == max(y.budget for y in r.runs)),
        key=lambda x: x.params,
    )
    assert traces[0]["y"][-1] == largest.curve[-1][f"eval_loss/{r.buckets[0]}"]


def test_mixture_shows_the_bundled_runs(client):
    """The Data mixture tab: the heatmap is every run's final held-out loss per domain, the
    curves are the chosen domain's evaluations, the text carries the leave-one-out costs and
    the shared-domain answer, the samples are the domain's first training records."""
    r = mixture_lab.read_results()
    assert r is not None, "checkpoints/mixture is missing: python -m training mixture --preset cpu"
    heat, curves, text, samples = call(client, "forum", api_name="/mixture")
    (cells,) = plot_traces(heat)
    assert list(cells["x"]) == [x.name for x in r.runs] and list(cells["y"]) == list(
        mixture_lab.DOMAINS
    )
    z = [list(row) for row in cells["z"]]
    assert z == [[x.final[d] for x in r.runs] for d in mixture_lab.DOMAINS]
    lines = {t["name"]: t for t in plot_traces(curves)}
    assert set(lines) == {x.name for x in r.runs}
    for x in r.runs:
        assert list(lines[x.name]["y"]) == [p.loss["forum"] for p in x.curve[1:]]
        assert list(lines[x.name]["x"]) == [p.tokens for p in x.curve[1:]]
    for lo in r.leave_out:
        assert f"| {lo.domain} | {lo.run} | {lo.loss_without:.3f} |" in text
        assert f"**{lo.cost:+.3f}**" in text
    h = r.headline
    assert f"**{h.bios_mixed:.3f}** against **{h.bios_single:.3f}** for bios alone" in text
    assert ("the mix is better" in text.split("On **forum**")[0]) == h.mix_beats_single_on_bios
    assert f"**{h.bios_with_forum:.3f}** and code leaves it at **{h.bios_with_code:.3f}**" in text
    for p in r.partners:  # the partner table: the domain's loss with each other domain
        cells = " | ".join(
            f"{p.loss_with[o]:.3f}" if o in p.loss_with else "—" for o in mixture_lab.DOMAINS
        )
        assert f"| {p.domain} | {cells} |" in text
    assert "arxiv.org/abs/2101.00027" in text and "arxiv.org/abs/2305.10429" in text
    forum = next(s for s in r.domains if s.name == "forum")
    assert forum.samples[0] in samples and f"| forum | {forum.records:,} |" in samples


def test_mixture_refuses_an_unknown_domain(client):
    msg = app_error(client, "poetry", api_name="/mixture")
    assert "poetry" in msg, msg
    app = load_space("scaling_explorer")
    import gradio as gr

    with pytest.raises(gr.Error, match="choose one of bios, code, forum"):
        app.mixture("poetry")


def test_nan_and_infinity_are_one_line_errors():
    """JSON cannot carry NaN, so the handlers are called in-process, as gradio calls them."""
    import gradio as gr

    app = load_space("scaling_explorer")
    for fn, args in [
        (app.laws, ("chinchilla", float("nan"), 10)),
        (app.laws, ("chinchilla", 9, float("inf"))),
        (app.optimal, (float("-inf"),)),
        (app.returns, ("kaplan", 9, 10, float("nan"))),
        (app.cost, (9, 10, "A100", float("nan"), 2.0, 8)),
        (app.cost, (9, 10, "TPU", 30, 2.0, 8)),
    ]:
        with pytest.raises(gr.Error) as e:
            fn(*args)
        assert "\n" not in str(e.value) and str(e.value)


def test_bad_input_is_one_line(client):
    assert "and 12 (got" in app_error(client, "chinchilla", 9, 10, 1e9, api_name="/returns")
    # bounded inputs: gradio's own check or ours, either way one line naming the bound
    assert "between 1 and 100 (got 0)" in app_error(
        client, 9, 10, "A100", 0, 2.0, 8, api_name="/cost"
    )
    for msg in (
        app_error(client, 9, 10, "A100", 30, 2.0, -5, api_name="/cost"),
        app_error(client, 9, 10, "A100", 30, -1.0, 8, api_name="/cost"),
    ):
        assert "between" in msg, msg
    too_many = app_error(client, 9, 10, "A100", 30, 2.0, 1e9, api_name="/cost")  # 1e9 GPUs
    assert "GPUs" in too_many and "between 1 and" in too_many, too_many
    assert "choose one of" in app_error(client, "magic", 9, 10, api_name="/laws")


def test_live_run_lands_against_the_prediction(client):
    import re

    status, fig = call(client, "L1 d48", 5e11, api_name="/live_run")
    m = re.search(
        r"([\d,]+) params, ([\d,]+) tokens.*loss \*\*([\d.]+)\*\*.*predicted \*\*([\d.]+)\*\*",
        status,
    )
    assert m, status
    params, tokens, measured, predicted = (float(g.replace(",", "")) for g in m.groups())
    a3 = read_results().approach3
    law = scaling.ChinchillaLaw("lab", a3.E, a3.A, a3.B, a3.alpha, a3.beta, "", "")
    assert predicted == pytest.approx(
        float(law.loss(params, tokens)), abs=6e-4
    )  # the fit's own number
    assert 0.3 < measured < 6.0  # trained: below the untrained ln(2048) = 7.6
    assert "your live run" in [t["name"] for t in plot_traces(fig)]


def test_scaling_tab_in_chromium(bundled_url, tmp_path):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("scaling_explorer").title).click()
        page.get_by_role(
            "tab", name="Laws", exact=True
        ).click()  # the app opens on its Data mixture tab
        text = page.locator("#scaling-law-text")
        text.get_by_text("nats/token").first.wait_for()
        before = text.inner_text()
        # drag the N slider's thumb to the left: the loss shown must change
        slider = page.locator("#scaling-logn input[type=range]")
        box = slider.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        page.wait_for_function(
            "([sel, old]) => document.querySelector(sel).innerText !== old",
            arg=["#scaling-law-text", before],
        )
        assert "nats/token" in text.inner_text()
        screenshot(page, "scaling.png")
        errors = page.console_errors
    assert errors == [], errors
