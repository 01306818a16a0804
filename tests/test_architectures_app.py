"""The RNN / SSM / Transformer app through its public API (gradio_client) and in headless Chromium,
served by `python app.py` with the bundled architecture results and models."""

from __future__ import annotations

import pytest
from gradio_client import Client

from shared import course, memory
from tests.browser_util import chromium_page, screenshot
from tests.client_util import app_error, call, load_space, plot_traces, rows
from training import architectures, store

TABS = {
    "Overview": "#arch-overview",
    "Recall": "#arch-mqar-pairs",
    "Language modelling": "#arch-lm-steps",
    "Inference & memory": "#arch-cache-bytes",
}


@pytest.fixture(scope="module")
def results() -> architectures.ArchitecturesResults:
    r = architectures.read_results()
    assert r is not None, (
        f"checkpoints/architectures is missing: {store.BUILD_COMMANDS['architectures']}"
    )
    return r


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {
        "/overview",
        "/mqar",
        "/probe",
        "/lm",
        "/copy",
        "/throughput",
        "/decode_cost",
        "/state_table",
        "/gradients",
        "/recurrence",
        "/recurrence_bundled",
        "/race",
    } <= names


def test_overview_and_mqar_show_the_bundled_runs(client, results):
    text = call(client, api_name="/overview")
    longest = architectures.mqar_at_longest(results)
    for acc in longest.accuracy.values():
        assert f"{100 * acc:.1f}%" in text
    width = max(x.width for x in results.mqar.runs)
    f1, f2, f3, mtext = call(client, str(width), api_name="/mqar")
    by_arch = {x.arch: x for x in results.mqar.runs if x.width == width}
    traces = {t["name"]: t for t in plot_traces(f1)}
    for arch, run in by_arch.items():
        t = traces[f"{arch} · length {longest.seq}"]
        assert t["y"][t["x"].index(longest.pairs)] == run.accuracy[longest.key]
    assert len(plot_traces(f2)) == 3 and len(plot_traces(f3)) == 3
    assert "choose one of" in app_error(
        client, "999", api_name="/mqar"
    )  # the input layer checks the radio


def test_probe_answers_and_refuses_bad_probes(client, results):
    table, fig, summary = call(client, "A=3, B=11, C=5 ? B", 0, api_name="/probe")
    got = {r[0]: r for r in rows(table)}
    assert len(got) == 3 and "right answer **11**" in summary
    for r in got.values():
        assert 0 <= float(r[3]) <= 1 and 0 <= float(r[4]) <= 1
    # the transformer solved MQAR in the bundled build (99.3 % at the longest length), so it must
    # answer this probe right
    assert architectures.mqar_at_longest(results).accuracy["transformer"] > 0.95
    assert got["Transformer (Llama-style)"][1:3] == ["11", "✓"]
    assert "exactly one '?'" in app_error(client, "A=3, B=17", 0, api_name="/probe")
    assert "appears twice" in app_error(client, "A=3, A=4 ? A", 0, api_name="/probe")
    assert "not among the keys" in app_error(client, "A=3 ? Z", 0, api_name="/probe")
    assert "value" in app_error(client, "A=300 ? A", 0, api_name="/probe")
    many = ", ".join(f"K{i}={i + 1}" for i in range(12)) + " ? K3"
    assert "beyond the" in app_error(
        client, many, 40, api_name="/probe"
    )  # longer than the trained length


def test_every_chart_endpoint(client, results):
    lm_w = str(max(x.width for x in results.lm.runs))
    s1, s2, ltext = call(client, lm_w, api_name="/lm")
    assert {t["name"].split(" ·")[0] for t in plot_traces(s1)} == {
        "Transformer (Llama-style)",
        "Mamba (selective SSM)",
        "LSTM",
    }
    cfig, ctext = call(client, api_name="/copy")
    assert "Selective" in plot_traces(cfig)[0]["name"] or "scattered" in ctext
    t1, t2, ttext = call(client, api_name="/throughput")
    assert len(plot_traces(t1)) == 3
    b, f, lat, itext = call(client, api_name="/decode_cost")
    by = {t["name"].split(" ·")[0]: t["y"] for t in plot_traces(b)}
    assert by["Mamba (selective SSM)"][0] == by["Mamba (selective SSM)"][-1]  # flat state
    assert by["LSTM"][0] == by["LSTM"][-1]
    kv, ctx = by["Transformer (Llama-style)"], [t["x"] for t in plot_traces(b)][0]
    assert kv[-1] / kv[0] == pytest.approx(ctx[-1] / ctx[0])  # KV cache ∝ context
    g, gtext = call(client, "both", api_name="/gradients")
    assert len(plot_traces(g)) == 6
    rtable, rfig, rtext = call(client, 512, 16, False, api_name="/recurrence")
    assert [r[2] for r in rows(rtable)][:2] == ["512", "10"]  # depth: T; ⌈log2 T⌉ rounds + readout
    assert all(float(r[4].split()[-1]) < 1e-9 for r in rows(rtable))  # three ways, one answer
    rtable, _, _ = call(client, 512, 16, True, api_name="/recurrence")
    assert "time-invariant" in rows(rtable)[2][4]
    btable, btext = call(client, api_name="/recurrence_bundled")
    assert len(rows(btable)) == 3 * len(results.recurrence.rows)


def test_state_table_is_the_memory_model(client):
    table, fig, text = call(client, "4096, 131072", 2, api_name="/state_table")
    got = {r[0]: r for r in rows(table)}
    kv = memory.CACHE_SHAPES["Llama 2 7B (MHA)"].bytes(131072)
    assert kv == 2 * 32 * 32 * 128 * 131072 * 2 and got["Llama 2 7B (MHA)"][-1] == "64.0 GiB"
    assert got["Falcon Mamba 7B"][-2] == got["Falcon Mamba 7B"][-1] == "20.0 MiB"
    assert "must be a number (got 'lots')" in app_error(client, "lots", 2, api_name="/state_table")
    for bad in (
        "1, inf",
        "1e400",
        "nan",
    ):  # parsed from text: no OverflowError, one line naming the input
        assert "context length must be a finite number" in app_error(
            client, bad, 2, api_name="/state_table"
        )
    assert "choose between" in app_error(client, "0", 2, api_name="/state_table")


def test_live_race_from_the_page(client):
    fig, status = call(client, "mqar", 20, 16, 16, api_name="/race")
    assert status.startswith("**Done.**"), status
    assert {t["name"] for t in plot_traces(fig)} == {
        "Transformer (Llama-style)",
        "Mamba (selective SSM)",
        "LSTM",
    }
    assert "and 400 (got" in app_error(
        client, "mqar", 5000, 16, 16, api_name="/race"
    )  # the input layer checks the slider
    assert "choose one of" in app_error(client, "poetry", 20, 16, 16, api_name="/race")


def test_nan_and_nonsense_are_one_line_errors():
    import gradio as gr

    app = load_space("architectures")
    for fn, args in (
        (app.recurrence_view, (float("nan"), 16, False)),
        (app.recurrence_view, (10**9, 16, False)),
        (app.state_table, ("1e30", 2)),
        (app.state_table, ("4096", float("inf"))),
        (app.lm_view, ("wide",)),
        (app.gradient_view, ("sideways",)),
        (app.recall_probe, ("", 0)),
        (app.recall_probe, ("A=1 ? A", -1)),
    ):
        with pytest.raises(gr.Error):
            fn(*args)


def test_recall_probe_in_chromium(bundled_url, tmp_path):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("architectures").title).click()
        page.locator("#arch-overview").get_by_text("Why transformers won").first.wait_for()
        for tab, probe in TABS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            page.locator(probe).first.wait_for()
        page.get_by_role("tab", name="Recall", exact=True).click()
        box = page.locator("#arch-probe-text textarea")
        box.fill("K=7, Q=12, Z=2 ? Q")
        page.locator("#arch-probe-go").click()
        page.locator("#arch-probe-summary").get_by_text("right answer").first.wait_for(
            timeout=120_000
        )
        page.locator("#arch-probe-table").get_by_text("LSTM").first.wait_for()
        screenshot(page, "architectures.png")
        errors = page.console_errors
    assert errors == [], errors
