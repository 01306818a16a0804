"""The Training at Scale app (knowledge point 3's home): it builds with its four tabs; the
Parallelism Visualizer no longer has them and ties the course's "model parallelism" to its tensor
and pipeline tabs; the suite's one cost panel (the same handler and defaults in this app and in the
Scaling app, its numbers `shared.scaling_explore.cost_sheet`'s); the training-vs-inference table
names only tabs that exist; and the moved stability and inference labs through the served suite
(gradio_client) and in headless Chromium."""

from __future__ import annotations

import math

import gradio as gr
import pytest
from gradio_client import Client

from shared import course, scaling
from shared import scaling_explore as ex
from tabs.training_at_scale import solutions
from tests.browser_util import chromium_page, screenshot
from tests.client_util import app_error, call, load_space, plot_traces, rows

TABS = {  # tab -> what its first paint draws
    "Scale & cost": "#tas-cost-fig",
    "Stability": "#tas-stab-loss",
    "Inference": "#tas-inf-kv",
    "Training vs inference": "#tas-vs-side",
}
PARALLELISM_TABS = ["Memory", "Data parallel & ZeRO", "Tensor parallel", "Pipeline", "Real runs"]
GPT3_ARGS = (math.log10(175e9), math.log10(300e9))


def _tabs(demo: gr.Blocks) -> list[str]:
    """An app page's own tabs, in order (not those nested inside a tab)."""
    (views,) = demo.lab_views.values()
    return [str(t.label) for t in views.tabs.children]


def _api(demo: gr.Blocks) -> dict:
    return {f.api_name: f for f in demo.fns.values() if f.api_name}


@pytest.fixture(scope="module")
def apps() -> dict:
    return {n: load_space(n) for n in ("training_at_scale", "parallelism", "scaling_explorer")}


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


# ---------------------------------------------------------------- the pages
def test_the_app_builds_with_its_tabs(apps):
    demo = apps["training_at_scale"].build_demo()
    assert _tabs(demo) == list(TABS)
    api = _api(demo)
    assert {"scale", "stability", "stability_live", "inference", "training_vs_inference"} <= set(
        api
    )
    for name in ("scale", "stability", "inference", "training_vs_inference"):
        assert [t[1] for t in api[name].targets] == ["load"], name  # drawn on first paint
    # views with settings: the cost panel's inputs and the table's problem filter
    views = demo.lab_views["training_at_scale"]
    for raw in (
        {"tab": "scale-cost", "gpu": "A100", "gpus": "2048", "mfu": "40"},
        {"tab": "training-vs-inference", "problem": "latency"},
    ):
        tab, values, notes = views.resolve(raw)
        assert tab == raw["tab"] and notes == [] and len(values) == len(raw) - 1, (raw, notes)


def test_parallelism_keeps_its_own_tabs_and_names_model_parallelism(apps):
    demo = apps["parallelism"].build_demo()
    assert _tabs(demo) == PARALLELISM_TABS
    assert not {"scale", "stability", "stability_live", "inference"} & set(_api(demo))
    note = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "par-words")
    text = note.value.lower()
    for words in (
        "model parallelism",
        "different layers on different gpus",
        "pipeline parallelism",
    ):
        assert words in text, words
    for words in ("split", "individual layers", "tensor parallelism", "training at scale"):
        assert words in text, words
    # each course term sits next to the tab that shows it, and those tabs exist
    assert text.index("pipeline parallelism") < text.index("**pipeline** tab")
    assert text.index("tensor parallelism") < text.index("**tensor parallel** tab")


# ---------------------------------------------------------------- one cost panel
def test_one_cost_panel_for_the_suite(apps):
    """The Scaling app's Cost tab is the same panel: the same handler, the same defaults."""
    tas, sc = apps["training_at_scale"], apps["scaling_explorer"]
    assert sc.cost is tas.scale
    defaults = []
    for demo, api_name in ((tas.build_demo(), "scale"), (sc.build_demo(), "cost")):
        ins = _api(demo)[api_name].inputs
        blocks = [demo.blocks[i] if isinstance(i, int) else i for i in ins]
        defaults.append([b.value for b in blocks])
    d = ex.COST_DEFAULTS
    want = [math.log10(d.params), math.log10(d.tokens), d.gpu, 100 * d.mfu, d.price, d.n_gpus]
    assert defaults[0] == defaults[1]
    assert defaults[0][:2] == pytest.approx(want[:2]) and defaults[0][2:] == want[2:]
    table, fig, text = tas.scale(*want)
    got = dict(table)
    flops = scaling.training_flops(d.params, d.tokens)
    c = scaling.training_cost(flops, d.gpu, d.mfu, d.price, d.n_gpus)
    assert got[f"cost at ${d.price:g} per GPU-hour"] == f"${c.dollars:,.0f}"
    assert got["wall-clock on 1,024 GPUs (perfect scaling)"] == f"{c.days:,.1f} days"
    days = list(plot_traces(fig.to_plotly_json())[0]["y"])
    assert days == pytest.approx([c.gpu_hours / 2**i / 24 for i in range(len(days))])
    assert "Defaults: " + d.source in text


def test_the_defaults_are_gpt3_and_sourced():
    d = ex.COST_DEFAULTS
    g3 = next(m for m in scaling.NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    assert (d.params, d.tokens) == (g3["params"], g3["tokens"])
    assert (d.gpu, d.mfu, d.price) == ("V100", scaling.GPT3_MFU, scaling.GPT3_PRICE_RANGE[0])
    for cite in ("Brown et al. 2020", "Chowdhery et al. 2022", "Narayanan et al. 2021"):
        assert cite in d.source


def test_the_cost_sheet_sets_the_run_against_one_gpu():
    """`cost_sheet` (the suite's one cost calculation, which also replaced the Parallelism app's
    scale_plan): 6ND priced, and the model states and years against one GPU."""
    s = ex.cost_sheet(175e9, 300e9, "H100", 0.4, 2.5, 1024)
    assert s.cost == scaling.training_cost(6 * 175e9 * 300e9, "H100", 0.4, 2.5, 1024)
    assert s.cost.days == pytest.approx(s.cost.gpu_hours / 1024 / 24)
    assert s.counts[10] == 1024 and s.days[10] == pytest.approx(s.cost.days)
    assert s.days == pytest.approx([s.cost.gpu_hours / k / 24 for k in s.counts])
    assert s.state_bytes == 16 * 175e9 and s.devices_to_hold_states == 35  # 2.8 TB / 80 GB
    assert s.years_on_one == pytest.approx(s.cost.gpu_hours / 24 / 365)
    g3 = ex.gpt3_cost()
    assert g3.v100s_to_hold_states == math.ceil(16 * 175e9 / 32e9)  # 88 V100s of 32 GB
    assert g3.years_on_one == pytest.approx(3.14e23 / (125e12 * 0.213) / 3600 / 24 / 365)


def test_both_apps_give_the_same_numbers_through_http(client):
    args = (*GPT3_ARGS, "H100", 40, 2.5, 1024)
    t1, f1, x1 = call(client, *args, api_name="/scale")
    t2, f2, x2 = call(client, *args, api_name="/cost")
    assert rows(t1) == rows(t2) and x1 == x2
    assert plot_traces(f1)[0]["y"] == plot_traces(f2)[0]["y"]


def test_scale_works_gpt3_through(client):
    rows_, fig, text = call(client, *GPT3_ARGS, "H100", 40, 2.5, 1024, api_name="/scale")
    table = dict((r[0], r[1]) for r in rows(rows_))
    n, d = 10 ** GPT3_ARGS[0], 10 ** GPT3_ARGS[1]
    s = ex.cost_sheet(n, d, "H100", 0.40, 2.5, 1024)
    assert table["time on ONE H100"] == f"{s.years_on_one:,.1f} years"
    assert table["wall-clock on 1,024 GPUs (perfect scaling)"] == f"{s.cost.days:,.1f} days"
    assert plot_traces(fig)[0]["y"] == pytest.approx(s.days)
    assert table["GPUs needed just to hold them (ZeRO-3 / FSDP)"] == "≥ 35"  # 2.8 TB / 80 GB
    g3 = ex.gpt3_cost()
    lo, hi = g3.low.dollars / 1e6, g3.high.dollars / 1e6
    assert f"${lo:.1f}M–${hi:.1f}M" in text and 4 <= lo < hi <= 12  # the course's $4-12M
    assert f"**{g3.v100s_to_hold_states} V100s**" in text and "years on one V100" in text
    assert "choose one of" in app_error(client, 11, 11, "TPU", 40, 2.5, 8, api_name="/scale")


# ---------------------------------------------------------------- training vs inference
COURSE_SOLUTIONS = {
    "training": ("Data parallelism", "Tensor parallelism", "Pipeline parallelism", "ZeRO",
                 "Mixed precision + loss scaling", "Gradient clipping", "warmup", "recompute"),
    "inference": ("Quantization", "KV cache", "distillation", "Pruning"),
}  # fmt: skip


def test_every_solution_names_a_tab_that_exists(apps):
    apps = {**apps, "architectures": load_space("architectures")}
    tabs = {m.TITLE: _tabs(m.build_demo()) for m in apps.values()}
    for s in solutions.SOLUTIONS:
        assert s.measured and set(s.problems) <= set(solutions.PROBLEMS), s.name
        for w in s.measured:
            assert w.tab in tabs[w.app], f"{s.name}: {w.app} has no tab {w.tab!r}"
    for phase, wanted in COURSE_SOLUTIONS.items():
        names = " ".join(s.name for s in solutions.SOLUTIONS if s.phase == phase)
        assert all(w.lower() in names.lower() for w in wanted), (phase, names)


def test_the_side_by_side_table(client):
    side, detail = call(client, "all", api_name="/training_vs_inference")
    side = {r[0]: r[1:] for r in rows(side)}
    assert list(side) == list(solutions.PROBLEMS)
    assert "Gradient clipping" in side["stability"][0] and side["stability"][1].startswith("—")
    assert "KV cache" in side["latency"][1] and side["latency"][0].startswith("—")
    assert len(rows(detail)) == len(solutions.SOLUTIONS)
    side, detail = call(client, "stability", api_name="/training_vs_inference")
    assert [r[0] for r in rows(side)] == ["stability"]
    assert {r[0] for r in rows(detail)} == {"training"}
    kv = next(r for r in rows(call(client, "latency", api_name="/training_vs_inference")[1]))
    assert "Training at Scale → Inference" in kv[-1]
    with pytest.raises(gr.Error, match="unknown problem 'speed'"):
        load_space("training_at_scale").training_vs_inference("speed")


# ---------------------------------------------------------------- the moved labs
def test_stability_and_inference_show_the_bundled_runs(client):
    from training import inference, stability

    r = stability.read_results()
    assert r, "checkpoints/stability is missing: python -m training stability --preset cpu"
    by_name = {x.name: x for x in r.runs}
    chosen = [by_name["fp16"].label, by_name["fp16-scaled"].label]
    loss, norm, upd, zero, table, text = call(client, chosen, api_name="/stability")
    traces = {t["name"]: t for t in plot_traces(zero)}
    assert set(traces) == set(chosen)
    # fp16 without scaling loses gradients to underflow; the GradScaler run does not
    top = {k: max(v for v in t["y"] if v is not None) for k, t in traces.items()}
    assert top[chosen[0]] > 0.1 and top[chosen[0]] > 1000 * top[chosen[1]]
    assert len(rows(table)) == len(r.runs)
    assert "choose one of" in app_error(client, ["no such run"], api_name="/stability")
    kv, prune, dist, qtable, itext = call(client, api_name="/inference")
    inf = inference.read_results()
    assert "identical tokens: yes" in itext and inf.kv_cache.identical_tokens
    assert [q[0] for q in rows(qtable)] == [q.name for q in inf.quantization]
    assert {t["name"] for t in plot_traces(dist)} == set(inf.distillation.curves)


def test_live_stability_run_streams_and_finishes(client):
    *figs, status = call(client, -2.5, 5, 1.0, 1.0, "fp32", 10, api_name="/stability_live")
    assert status.startswith("**Done**"), status
    assert "your run" in {t["name"] for t in plot_traces(figs[0])}


def test_nan_and_nonsense_are_one_line_errors(apps):
    """JSON cannot carry NaN, so the handlers are called in-process, as gradio calls them."""
    app, nan = apps["training_at_scale"], float("nan")
    for fn, args in [
        (app.scale, (11, 11, "H100", nan, 2.5, 8)),
        (app.scale, (11, 11, "H100", 40, 2.5, 0.5)),
        (app.scale, (11, 11, "TPU", 40, 2.5, 8)),
        (app.scale, (11, 11, "H100", 40, -1, 8)),
        (app.stability_live, (-2.5, 10, 1.0, 1.0, "fp8", 100)),
        (app.stability_live, (nan, 10, 1.0, 1.0, "fp32", 100)),
        (app.stability_live, (-2.5, 10, -1.0, 1.0, "fp32", 100)),
        (app.training_vs_inference, ("latency; DROP",)),
    ]:
        with pytest.raises(gr.Error) as e:
            out = fn(*args)
            if hasattr(out, "__next__"):  # a streaming handler fails at its first step
                next(out)
        assert "\n" not in str(e.value) and str(e.value), (fn.__name__, args)


def test_every_tab_in_chromium(bundled_url, tmp_path):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("training_at_scale").title, exact=True).click()
        page.locator("#tas-cost-text").get_by_text("years on one V100").first.wait_for()
        for tab, probe in TABS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            page.locator(probe).first.wait_for()
            if "fig" in probe or "loss" in probe or "kv" in probe:
                page.locator(f"{probe} .js-plotly-plot").first.wait_for()
        page.locator("#tas-vs-side").get_by_text("Gradient clipping").first.wait_for()
        screenshot(page, "training_at_scale.png")
        errors = page.console_errors
    assert errors == [], errors
