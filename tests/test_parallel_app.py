"""The Parallelism Visualizer through its public API (gradio_client) and in headless Chromium,
served by `python app.py` with the bundled checkpoints and parallel-run results."""

from __future__ import annotations

import re
import threading

import gradio as gr
import pytest
from gradio_client import Client

from shared import course, memory, parallel_plan, pipeline
from tests.browser_util import chromium_page, screenshot
from tests.client_util import app_error, call, load_space, plot_traces, rows

TABS = {
    "Memory": "#par-mem-fig",
    "Data parallel & ZeRO": "#par-zero-fig",
    "Tensor parallel": "#par-tp-fig",
    "Pipeline": "#par-pp-fig",
    "Real runs": "#par-real-gantt",
}  # stability, inference and the cost panel: tests/test_training_at_scale_app.py
LLAMA7 = memory.SHAPES["Llama 2 7B"]
SHAPE_ARGS = [
    LLAMA7.layers,
    LLAMA7.hidden,
    LLAMA7.heads,
    LLAMA7.heads,
    LLAMA7.vocab,
    LLAMA7.seq,
    LLAMA7.ffn,
    True,
    False,
]


def plan_args(
    dp=1,
    tp=1,
    pp=1,
    zero=0,
    sp=False,
    micro=1,
    nmicro=1,
    schedule="1f1b",
    recompute="none",
    p=2,
    g=2,
    k=12,
    a=2,
    offload=False,
    gpu=80,
):
    return [dp, tp, pp, zero, sp, micro, nmicro, schedule, recompute, p, g, k, a, offload, gpu]


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {
        "/preset",
        "/memory",
        "/zero",
        "/tensor",
        "/pipeline",
        "/real_runs",
        "/pipeline_run",
        "/launch_run",
    } <= names


def test_memory_breakdown_is_the_memory_model(client):
    assert list(call(client, "Llama 2 7B", api_name="/preset"))[:7] == SHAPE_ARGS[:7]
    args = SHAPE_ARGS + plan_args(
        dp=8, tp=2, pp=2, zero=1, sp=True, nmicro=8, recompute="selective"
    )
    fig, table, text = call(client, *args, api_name="/memory")
    want = parallel_plan.breakdown(
        LLAMA7,
        parallel_plan.Plan(
            dp=8, tp=2, pp=2, zero_stage=1, sp=True, microbatches=8, recompute="selective"
        ),
    )
    got = {r[0]: r for r in rows(table)}
    for part, v in want.parts.items():
        assert got[part][1] == f"{v / 1e9:,.2f}" and got[part][2] == want.formulas[part]
    assert got["total"][1] == f"{want.total / 1e9:,.2f}" and "fits" in text and "32 GPUs" in text
    stacks = {t["name"]: t["y"] for t in plot_traces(fig)}
    assert stacks["optimizer states"][0] == pytest.approx(want.parts["optimizer states"] / 1e9)
    # the same model on one GPU does not fit 80 GB: 16 bytes/param alone is 108 GB
    _, _, text = call(client, *SHAPE_ARGS, *plan_args(), api_name="/memory")
    assert "does not fit" in text


def test_the_shape_fields_start_filled_with_the_default_model(client):
    """The page's load fills them and then draws the breakdown from them; empty at first they read
    0 in the browser, and the breakdown could see that 0 (CI once: a 'layers ... (got 0)' toast)."""
    labels = ("layers", "hidden h", "heads a", "KV heads", "vocabulary", "sequence s", "MLP width")
    start = {c["props"].get("label"): c["props"].get("value") for c in client.config["components"]}
    assert [start[n] for n in labels] == SHAPE_ARGS[:7]
    assert start["SwiGLU MLP"] is True and start["tied embeddings"] is False


def test_zero_reproduces_the_paper(client):
    _, fig2, table, text = call(client, 7.5, 64, 2, 2, 12, 100, api_name="/zero")
    assert [r[1] for r in rows(table)] == ["120.00", "31.41", "16.64", "1.88"]  # ZeRO Fig. 1
    assert [r[3] for r in rows(table)] == ["2Ψ", "2Ψ", "2Ψ", "3Ψ"]
    t = memory.data_parallel_traffic(7.5e9, 64, 3, 2, 100e9)
    assert rows(table)[3][5] == f"{1e3 * t.seconds:,.1f}"
    curves = {c["name"]: c["y"] for c in plot_traces(fig2)}
    assert curves["ZeRO-3 (+ parameters)"][-1] < curves["ZeRO-1 (optimizer)"][-1]


def test_tensor_and_pipeline(client):
    fig, table, _ = call(client, "GPT-3 175B", 8, False, 1, "none", 450, api_name="/tensor")
    want = memory.activation_bytes_per_layer(2048, 1, 12288, 96, 8) / 1e9
    assert (
        dict((r[0], r[1]) for r in rows(table))["activations of one layer per GPU"]
        == f"{want:.3f} GB"
    )
    traces = {t["name"]: t for t in plot_traces(fig)}
    assert traces["TP + SP + selective recompute"]["y"][-1] < traces["TP"]["y"][-1]
    assert "must divide" in app_error(
        client, "GPT-2 XL 1.5B", 2, False, 1, "none", 450, api_name="/tensor"
    )

    gantt, curve, text = call(client, "interleaved", 4, 8, 2, 2.0, 100, api_name="/pipeline")
    f = pipeline.bubble_fraction("interleaved", 4, 8, 2)
    assert f"{100 * f:.1f}% simulated = {100 * f:.1f}% from the formula" in text
    bars = plot_traces(gantt)
    assert sum(len(t["y"]) for t in bars) == 2 * 4 * 8 * 2  # every F and B of every chunk once
    half = plot_traces(call(client, "interleaved", 4, 8, 2, 2.0, 50, api_name="/pipeline")[0])
    assert 0 < sum(len(t["y"]) for t in half) < 2 * 4 * 8 * 2  # stepping shows part of the step
    assert "divisible" in app_error(client, "interleaved", 4, 6, 2, 2.0, 100, api_name="/pipeline")


def test_bundled_real_runs_check_out(client):
    from training.parallel.results import read_results

    r = read_results()
    assert r, "checkpoints/parallel is missing: python -m training parallel --preset cpu"
    checks, fig, fig2, act, text = call(client, api_name="/real_runs")
    runs = {row[0] for row in rows(checks)}
    assert {"DDP", "tensor parallel", "FSDP2 (ZeRO-3)", "activations", "pipeline"} <= runs
    assert r.ddp.max_abs_grad_diff < 1e-5 and r.tensor_parallel.max_abs_diff < 1e-4
    pred = r.fsdp.predicted_per_rank
    for x in r.fsdp.per_rank:  # measured shards == the ZeRO-3 formula, byte for byte
        assert (x.params_bytes, x.grads_bytes, x.optimizer_bytes) == (
            pred.params,
            pred.grads,
            pred.optimizer,
        )
    assert {p.stages for p in r.pipeline} >= {2, 4}
    fsdp_rows = [row for row in rows(checks) if row[0] == "FSDP2 (ZeRO-3)"]
    assert [row[2] for row in fsdp_rows] == [
        f"{int(pred.params):,}",
        f"{int(pred.grads):,}",
        f"{int(pred.optimizer):,}",
    ]
    # the run picker's choices are in the API description before anything ran (no session state)
    fresh = Client(client.src, verbose=False)
    param = fresh.view_api(print_info=False, return_format="dict")["named_endpoints"][
        "/pipeline_run"
    ]["parameters"][0]
    choices = param["type"]["enum"]
    assert len(choices) == len(r.pipeline) and all(
        f"{x.stages} ranks, {x.microbatches} micro-batches" in c
        for x, c in zip(r.pipeline, choices)
    ), choices
    g1, g2, ptext = call(fresh, choices[-1], api_name="/pipeline_run")
    assert "Measured bubble" in ptext and sum(len(t["y"]) for t in plot_traces(g1)) == sum(
        len(t["y"]) for t in plot_traces(g2)
    )


def test_live_pipeline_run_from_the_page(client):
    m = 4
    gantt, _, text = call(client, "pipeline (1F1B)", 2, m, api_name="/launch_run")
    assert text.startswith("**Done**") and "Measured bubble" in text
    bars = plot_traces(gantt)
    assert sum(len(t["y"]) for t in bars) == 2 * 2 * m
    assert re.search(r"\*\*Done\*\* in [\d.]+ s\.", text), text  # the run reports its wall time


def test_live_run_bad_input(client):
    assert "choose one of" in app_error(client, "allreduce magic", 2, 4, api_name="/launch_run")
    assert "processes" in app_error(
        client, "pipeline (GPipe)", 5, 4, api_name="/launch_run"
    )  # slider: 2..4


@pytest.mark.parametrize("cores", [2, 4])
def test_live_run_refuses_more_ranks_than_cores(cores, monkeypatch):
    """The page's handler with the machine's core count set, so the refusal is checked on every
    machine (a 4-core one could otherwise never show it through the 2..4 slider)."""
    from training.parallel import launch

    app = load_space("parallelism")
    monkeypatch.setattr(launch, "cpu_count", lambda: cores)
    monkeypatch.setattr(
        launch.subprocess, "Popen", lambda *a, **k: pytest.fail(f"a run was started: {a}")
    )
    with pytest.raises(gr.Error, match=f"this machine has {cores} CPU cores, one per rank"):
        list(app.live_run("pipeline (GPipe)", cores + 1, 4))


def test_live_runs_go_one_at_a_time(monkeypatch):
    """A second run while one runs is refused at once, with a message. The page's handler in this
    process, with the first run gated while it holds the lock: the refusal is certain, not a race
    against how fast the first run finishes."""
    from training.parallel import launch

    app = load_space("parallelism")
    holding, go = threading.Event(), threading.Event()
    real_run = launch.run

    def gated_run(*a, **k):  # called by launch.live_run with the lock held
        holding.set()
        assert go.wait(120), "the test never released the first run"
        return real_run(*a, **k)

    monkeypatch.setattr(launch, "run", gated_run)
    out, errors = [], []

    def first():
        try:
            out.extend(list(app.live_run("data parallel (DDP)", 2, 4))[-1])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert holding.wait(60), "the first run never started"
        with pytest.raises(gr.Error, match="a run is already in progress"):
            list(app.live_run("tensor parallel (MLP)", 2, 4))
    finally:
        go.set()
        t.join(300)  # a hang guard: the run itself is bounded by launch.LIVE_TIME_LIMIT_S
    assert not t.is_alive() and not errors, errors
    assert "Gradients on every rank equal" in out[2]
    assert not launch._live_lock.locked()


def test_nan_and_nonsense_are_one_line_errors():
    """JSON cannot carry NaN, so the handlers are called in-process, as gradio calls them."""
    import gradio as gr

    app = load_space("parallelism")
    nan = float("nan")
    for fn, args in [
        (app.memory_breakdown, SHAPE_ARGS + plan_args(dp=nan)),
        (app.memory_breakdown, SHAPE_ARGS[:2] + [0] + SHAPE_ARGS[3:] + plan_args()),
        (app.memory_breakdown, SHAPE_ARGS + plan_args(pp=3)),  # 32 layers
        (app.memory_breakdown, SHAPE_ARGS + plan_args(dp=2.5)),
        (app.zero, (float("inf"), 64, 2, 2, 12, 100)),
        (app.zero, (7.5, -1, 2, 2, 12, 100)),
        (app.tensor, ("GPT-3 175B", 8, False, 1, "sometimes", 450)),
        (app.pipeline_view, ("1f1b", 4, 8, 1, nan, 100)),
        (app.pipeline_view, ("zigzag", 4, 8, 1, 2, 100)),
        (app.live_run, ("pipeline (1F1B)", 0, 4)),
        (app.live_run, ("pipeline (1F1B)", 2, 1e9)),
    ]:
        with pytest.raises(gr.Error) as e:
            out = fn(*args)
            if hasattr(out, "__next__"):  # a streaming handler fails at its first step
                next(out)
        assert "\n" not in str(e.value) and str(e.value), (fn.__name__, args)


def test_every_tab_in_chromium(bundled_url, tmp_path):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("parallelism").title, exact=True).click()
        page.locator("#par-mem-text").get_by_text("GB per GPU").first.wait_for()
        # the course's "model parallelism", tied to the two tabs that show it, on screen
        words = page.locator("#par-words")
        assert "pipeline parallelism" in words.inner_text() and words.is_visible()
        for tab, probe in TABS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            page.locator(f"{probe} .js-plotly-plot").first.wait_for()
        # step through the pipeline schedule: the text stays, the chart redraws
        page.get_by_role("tab", name="Pipeline", exact=True).click()
        slider = page.locator("#par-pp-shown input[type=range]")
        box = slider.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.locator("#par-pp-text").get_by_text("from the formula").first.wait_for()
        page.get_by_role("tab", name="Real runs", exact=True).click()
        page.locator("#par-real-checks").get_by_text("FSDP2 (ZeRO-3)").first.wait_for()
        screenshot(page, "parallelism.png")
        errors = page.console_errors
    assert errors == [], errors


def test_a_link_opens_the_memory_view_of_llama_2_70b_with_zero_3():
    """The view the course names (`/parallelism?tab=memory&model=Llama+2+70B&zero=3&dp=64`): its
    settings are understood, and opening it fills the model's shape and draws its breakdown."""
    app = load_space("parallelism")
    views = app.build_demo().lab_views["parallelism"]
    raw = {"tab": "memory", "model": "Llama 2 70B", "zero": "3", "dp": "64"}
    opened, values, notes = views.resolve(raw)
    assert (opened, notes) == ("memory", [])
    link = views.links["memory"]
    assert {
        link.params[k]: v for k, v in (("model", "Llama 2 70B"), ("zero", 3), ("dp", 64))
    } == values
    fn, ins, outs = link.render
    current = {c: getattr(c, "value", None) for c in ins}  # the page's defaults, then the link's
    out = fn(*[values.get(c, current[c]) for c in ins])
    shape = memory.SHAPES["Llama 2 70B"]
    assert list(out[:3]) == [shape.layers, shape.hidden, shape.heads] and len(out) == len(outs)
    *_, table, text = out
    assert "64 GPUs" in text
    want = parallel_plan.breakdown(shape, parallel_plan.Plan(dp=64, zero_stage=3))
    assert dict((r[0], r[1]) for r in table)["total"] == f"{want.total / 1e9:,.2f}"
