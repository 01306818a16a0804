"""Unit tests of shared/ written against the mutants that survived the rest of the suite
(benchmarks/mutation.sh): every number here is computed by hand from the formula the module
cites (or read from the paper / datasheet), every message and figure property is what a student
sees. Pure Python and plotly, in process: a few seconds."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from shared import memory, parallel_plan, pipeline, recurrence, scaling, ui
from shared.memory import CacheShape, ModelShape
from shared.parallel_plan import Plan


# ------------------------------------------------------------------------------------------------
# ui: messages, numbers, figures
# ------------------------------------------------------------------------------------------------
def test_header_and_source_note():
    md = ui.header("Scaling", "What a law predicts", "Lecture 3")
    assert (
        md.value
        == "# Scaling\n\nWhat a law predicts\n\n<span class='lab-note'>Course: Lecture 3</span>"
    )
    assert md.elem_classes == ["lab-header"]
    assert ui.header("T").value == "# T"
    assert ui.header("T", course_ref="L").value == "# T\n\n<span class='lab-note'>Course: L</span>"
    assert (
        ui.source_note("Kaplan", "https://a")
        == "<span class='lab-note'>Source: [Kaplan](https://a)</span>"
    )
    assert ui.source_note("Kaplan") == "<span class='lab-note'>Source: Kaplan</span>"


def test_user_error_and_checked_number():
    from shared.inputs import InputError

    e = ui.user_error("bad\nthing")
    assert isinstance(e, InputError) and e.message == "bad thing" and e.print_exception is False
    assert (
        ui.checked_number("n", "3", 1, 5) == 3.0
        and ui.checked_number("n", 3.0, 1, 5, integer=True) == 3
    )
    assert isinstance(ui.checked_number("n", 3.0, 1, 5, integer=True), int)
    assert ui.checked_number("n", 1, 1, 5) == 1 and ui.checked_number("n", 5, 1, 5) == 5
    for x, msg in (
        (None, "n must be a number (got nothing (null))"),
        ("abc", "n must be a number (got 'abc')"),
        (10**400, "n must be a number (got a 401-digit number)"),
        (float("inf"), "n must be a finite number (got inf)"),
        (0.5, "n = 0.5: choose between 1 and 5"),
        (5.5, "n = 5.5: choose between 1 and 5"),
        (2.5, "n = 2.5: must be a whole number"),
    ):
        with pytest.raises(InputError) as err:
            ui.checked_number("n", x, 1, 5, integer=True)
        assert err.value.message == msg
    assert ui.checked_number("n", 2.5, 1, 5) == 2.5


def test_theme_uses_system_fonts_only():
    t = ui.theme()
    fonts = [getattr(f, "name", f) for f in t._font]
    assert "system-ui" in fonts and all("Google" not in type(f).__name__ for f in t._font)
    assert t.button_primary_text_color == "white"
    assert t.button_primary_background_fill == "*primary_600"


def _layout(fig):
    return fig.to_plotly_json()["layout"]


def test_style_figure_is_the_labs_one_plot_style():
    import plotly.graph_objects as go

    fig = ui.style_figure(go.Figure(), "Loss", "step", "nats", log_x=True)
    lay = _layout(fig)
    assert lay["title"] == {"text": "Loss", "x": 0.01, "xanchor": "left"}
    assert lay["paper_bgcolor"] == lay["plot_bgcolor"] == "white" and lay["colorway"] == ui.PALETTE
    assert lay["font"]["family"].startswith("system-ui") and lay["font"]["size"] == 13
    assert lay["margin"] == {"l": 60, "r": 20, "t": 60, "b": 100}
    assert lay["legend"] == {
        "orientation": "h",
        "yanchor": "top",
        "y": -0.22,
        "xanchor": "left",
        "x": 0.0,
    }
    assert lay["hovermode"] == "x unified" and lay["height"] == 440
    import plotly.io as pio

    assert fig.layout.template == pio.templates["none"]  # no theme copied in
    x, y = lay["xaxis"], lay["yaxis"]
    assert x["type"] == "log" and y["type"] == "linear"
    assert x["title"]["text"] == "step" and y["title"]["text"] == "nats"
    for ax in (x, y):
        assert ax["showgrid"] is True and ax["gridcolor"] == "#e5e7eb" and ax["zeroline"] is False
        assert ax["linecolor"] == ax["tickcolor"] == "#cbd5e1" and ax["ticks"] == "outside"
        assert ax["automargin"] is True
    assert (
        _layout(ui.style_figure(go.Figure(), "t", "x", "y", log_y=True))["yaxis"]["type"] == "log"
    )
    assert _layout(ui.style_figure(go.Figure(), "t", "x", "y"))["xaxis"]["type"] == "linear"


def test_line_message_and_bar_figures():
    fig = ui.line_figure(
        {"train": ([1, 2, 3], [3, 2, 1]), "one": ([1], [5])}, "Loss", "step", "nats", log_y=True
    )
    train, one = fig.data
    assert (train.name, train.mode, list(train.x), list(train.y)) == (
        "train",
        "lines",
        [1, 2, 3],
        [3, 2, 1],
    )
    assert (
        one.mode == "lines+markers"
        and fig.layout.yaxis.type == "log"
        and fig.layout.title.text == "Loss"
    )
    assert (
        ui.line_figure({"a": ([1, 2], [1, 2])}, "t", "x", "y", markers=True).data[0].mode
        == "lines+markers"
    )
    assert (
        ui.line_figure({"a": ([1, 2], [1, 2])}, "t", "x", "y", log_x=True).layout.xaxis.type
        == "log"
    )

    msg = ui.message_figure("No checkpoint yet", "Curve")
    ann = msg.layout.annotations[0]
    assert (ann.text, ann.showarrow, ann.x, ann.y, ann.xref, ann.yref, ann.font.size) == (
        "No checkpoint yet",
        False,
        0.5,
        0.5,
        "paper",
        "paper",
        14,
    )
    assert (
        msg.layout.xaxis.visible is False
        and msg.layout.yaxis.visible is False
        and msg.layout.title.text == "Curve"
    )
    assert len(msg.data) == 0

    bar = ui.bar_figure(
        ["a", "b"], [1, 2], "Acc", "model", "%", hover=["h1", "h2"], y_range=(0, 100)
    )
    b = bar.data[0]
    assert list(b.x) == ["a", "b"] and list(b.y) == [1, 2] and b.marker.color == ui.PALETTE[0]
    assert list(b.hovertext) == ["h1", "h2"] and b.text is None
    assert bar.layout.xaxis.type == "category" and bar.layout.hovermode == "closest"
    assert list(bar.layout.yaxis.range) == [0, 100] and bar.layout.xaxis.title.text == "model"
    plain = ui.bar_figure(["a"], [1], "t", "x", "y")
    assert plain.data[0].hovertext is None and plain.layout.yaxis.range is None

    g = ui.grouped_bar_figure(
        ["c1", "c2"],
        {"acc": [1, 2], "comp": [3, 4]},
        "G",
        "x",
        "y",
        hover={"acc": ["p", "q"]},
        y_range=(0, 5),
        stacked=True,
    )
    assert [t.name for t in g.data] == ["acc", "comp"]
    assert [t.marker.color for t in g.data] == ui.PALETTE[:2]
    assert list(g.data[0].hovertext) == ["p", "q"] and g.data[1].hovertext is None
    assert list(g.data[1].y) == [3, 4] and list(g.data[1].x) == ["c1", "c2"]
    assert (
        g.layout.barmode == "stack"
        and g.layout.hovermode == "closest"
        and g.layout.xaxis.type == "category"
    )
    assert list(g.layout.yaxis.range) == [0, 5] and g.layout.title.text == "G"
    g2 = ui.grouped_bar_figure(["c"], {f"s{i}": [i] for i in range(9)}, "G", "x", "y")
    assert (
        g2.layout.barmode == "group"
        and g2.data[8].marker.color == ui.PALETTE[0]
        and g2.layout.yaxis.range is None
    )


def test_gantt_figure_draws_the_schedule():
    events = pipeline.simulate("interleaved", 2, 2, chunks=2)
    fig = ui.gantt_figure(events, "1F1B", x_title="time")
    names = [t.name for t in fig.data]
    assert names == ["backward", "backward (chunk 2)", "forward", "forward (chunk 2)"]
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours == {
        "forward": "#4f46e5",
        "forward (chunk 2)": "#818cf8",
        "backward": "#e11d48",
        "backward (chunk 2)": "#fb7185",
    }
    fwd = next(t for t in fig.data if t.name == "forward")
    evs = [e for e in events if e.kind == "F" and e.chunk == 0]
    assert list(fwd.base) == [e.start for e in evs] and list(fwd.x) == pytest.approx(
        [0.5] * len(evs)
    )
    assert list(fwd.y) == [f"device {e.stage}" for e in evs] and list(fwd.text) == [
        str(e.microbatch) for e in evs
    ]
    assert (
        fwd.orientation == "h" and fwd.textposition == "inside" and fwd.insidetextanchor == "middle"
    )
    assert (
        fwd.hoverinfo == "text" and fwd.marker.line.color == "white" and fwd.marker.line.width == 1
    )
    e0 = evs[0]
    assert (
        fwd.hovertext[0]
        == f"forward of micro-batch {e0.microbatch} on device {e0.stage}: {e0.start:.4g} → {e0.end:.4g}"
    )
    lay = fig.layout
    assert lay.yaxis.type == "category" and lay.yaxis.autorange == "reversed"
    assert lay.yaxis.categoryorder == "array" and list(lay.yaxis.categoryarray) == [
        "device 0",
        "device 1",
    ]
    assert lay.barmode == "overlay" and lay.hovermode == "closest" and lay.height == 240
    assert lay.xaxis.title.text == "time" and lay.title.text == "1F1B" and lay.xaxis.range is None

    # `until` shows what has started by then, cut at that time
    cut = ui.gantt_figure(events, "t", until=0.75, x_range=(0, 9))
    shown = [(b, b + w) for t in cut.data for b, w in zip(t.base, t.x)]
    assert (
        shown
        and all(b < 0.75 and e <= 0.75 + 1e-9 for b, e in shown)
        and max(e for _, e in shown) == 0.75
    )
    assert len(shown) == sum(e.start < 0.75 for e in events)
    assert list(cut.layout.xaxis.range) == [0, 9]
    big = ui.gantt_figure(pipeline.simulate("gpipe", 8, 2), "t", x_title="t")
    assert big.layout.height == 110 + 45 * 8
    assert [t.marker.color for t in big.data] == ["#e11d48", "#4f46e5"]
    many = [pipeline.Event(0, 0, "F", 0, 1, c) for c in range(5)]
    assert [t.marker.color for t in ui.gantt_figure(many, "t").data] == [
        "#4f46e5",
        "#818cf8",
        "#3730a3",
        "#a5b4fc",
        "#4f46e5",
    ]  # 4 shades, then again
    back = [pipeline.Event(0, 0, "B", 0, 1, c) for c in range(4)]
    assert [t.marker.color for t in ui.gantt_figure(back, "t").data] == [
        "#e11d48",
        "#fb7185",
        "#9f1239",
        "#fda4af",
    ]
    plain = [
        SimpleNamespace(stage=0, microbatch=0, kind="B", start=0.0, end=1.0)
    ]  # no chunk attribute: chunk 0
    g = ui.gantt_figure(plain, "t")
    assert [t.name for t in g.data] == ["backward"] and g.layout.xaxis.title.text == "time"


def test_warm_up_hooks_run_in_order_and_a_failure_is_one_line(lab_log):
    from shared import inputs

    ran = []

    def first():
        ran.append("first")

    def broken():
        raise RuntimeError("no\nmodel")

    demo = SimpleNamespace(is_running=True)
    inputs.warm_up_done.clear()
    try:
        ui._warm_up(demo, [first, broken, first])
    finally:
        assert inputs.warm_up_done.is_set()
        inputs.warm_up_done.set()
    assert ran == ["first", "first"]
    lines = [r.getMessage() for r in lab_log]
    assert len(lines) == 3
    assert lines[0].startswith(
        f"warm-up {__name__}.test_warm_up_hooks_run_in_order_and_a_failure_is_one_line.<locals>.first done in "
    )
    assert lines[0].endswith(" s") and lab_log[0].levelname == "INFO"
    assert re.fullmatch(
        r"warm-up .*broken failed after \d+\.\d s: RuntimeError: no model", lines[1]
    )
    assert lab_log[1].levelname == "WARNING"

    # the hooks wait for the server
    class NotYetRunning:  # a server that has not answered yet: counts how often it was asked
        polled = threading.Semaphore(0)
        running = False

        @property
        def is_running(self):
            self.polled.release()
            return self.running

    demo = NotYetRunning()
    t = threading.Thread(target=ui._run_warm_ups, args=(demo, [first]), daemon=True)
    t.start()
    for _ in range(3):  # asked three times, and still nothing ran
        assert demo.polled.acquire(timeout=10)
    assert ran == ["first", "first"]
    demo.running = True
    t.join(10)
    assert ran == ["first", "first", "first"]


import re  # noqa: E402
import threading  # noqa: E402


def test_launch_guards_the_page_and_warms_up_after_the_server_answers(monkeypatch):
    import gradio as gr

    from shared import inputs

    calls = []
    with gr.Blocks() as demo:
        n = gr.Number(label="n", minimum=0, maximum=3)
        out = gr.Number()
        n.change(lambda v: v, n, out, api_name="echo")
    monkeypatch.setenv("LAB_WARM_UP", "1")
    monkeypatch.delenv("GRADIO_DEBUG", raising=False)
    try:
        ui.launch(
            demo, warm=lambda: calls.append(demo.is_running), prevent_thread_lock=True, quiet=True
        )
        assert inputs.warm_up_done.wait(30) and calls == [True]
        assert getattr(demo, "__lab_guarded__", False)
        assert demo.delete_cache == ui.TEMP_SWEEP == (3600, 3600)
        assert demo.max_file_size == ui.MAX_UPLOAD_BYTES == 0
        assert all(getattr(f.fn, "__lab_guarded__", False) for f in demo.fns.values())
    finally:
        demo.close()
        inputs.warm_up_done.set()
    with gr.Blocks() as demo2:
        gr.Markdown("x")
    demo2.delete_cache = (1, 1)
    monkeypatch.setenv("LAB_WARM_UP", " 0 ")
    try:
        ui.launch(demo2, warm=[lambda: calls.append("no")], prevent_thread_lock=True, quiet=True)
        assert not [t for t in threading.enumerate() if "warm" in t.name.lower()], (
            "LAB_WARM_UP=0 starts no warm-up"
        )
        assert calls == [True] and inputs.warm_up_done.is_set() and demo2.delete_cache == (1, 1)
    finally:
        demo2.close()


# ------------------------------------------------------------------------------------------------
# memory
# ------------------------------------------------------------------------------------------------
# A small shape computed by hand: embedding 10·8, untied (×2) = 160; per layer Q,O 2·8² = 128,
# K,V 2·8·(2 heads × 4) = 128, MLP 2·8·32 = 512 -> 768; 2 layers: 1,536; total 1,696.
SMALL = ModelShape(layers=2, hidden=8, heads=2, vocab=10, seq=4)


def test_small_shape_parameters_by_hand():
    assert SMALL.layer_params() == 768 and SMALL.n_params() == 1696
    assert ModelShape(2, 8, 2, 10, 4, tied_embeddings=True).n_params() == 80 + 1536
    assert (
        ModelShape(2, 8, 2, 10, 4, ffn=16, gated_mlp=True).layer_params() == 128 + 128 + 3 * 8 * 16
    )
    assert ModelShape(2, 8, 2, 10, 4, kv_heads=1).layer_params() == 128 + 2 * 8 * 4 + 512


def test_breakdown_by_hand_single_gpu():
    b = parallel_plan.breakdown(SMALL, Plan())
    # params/grads 2 B × 1,696, Adam 12 B × 1,696; activations sbh(34 + 5as/h) = 32·39 = 1,248 per layer
    # × 2 layers; embedding output sbh·2 B = 64; fp32 logits s·b·vocab·4 = 160
    assert b.parts == {
        "parameters": 3392,
        "gradients": 3392,
        "optimizer states": 20352,
        "activations": 2496,
        "embedding output": 64,
        "logits": 160,
    }
    assert b.total == 29856 and b.params_per_rank == 1696 and b.gpus == 1
    assert b.in_flight_microbatches == 1 and b.activation_per_layer == 1248
    assert b.optimizer_offloaded == 0.0 and b.plan.schedule == "1f1b"
    f = b.formulas
    assert f["parameters"] == "2 B × Ψ = 1.7e-06B / (tp·pp = 1) = 1.7e-06B = 0.00 GB"
    assert f["gradients"] == "2 B × Ψ = 0.00 GB" and f["optimizer states"] == "12 B × Ψ = 0.00 GB"
    assert f["activations"].startswith(
        "sbh(34 + 5as/h) × 2/2 B (s=4, b=1, h=8, a=2, t=1, recompute none) = "
    )
    assert f["activations"].endswith(
        "per layer × 2 layers × 1 micro-batch(es) in flight (no pipeline) = 0.00 GB"
    )
    assert f["embedding output"] == "s·b·h × 2 B × 1 in flight = 0.00 GB"
    assert f["logits"] == "s·b·vocab × 4 B / t = 0.00 GB"


def test_breakdown_by_hand_with_every_kind_of_parallelism():
    shape = ModelShape(layers=4, hidden=8, heads=2, vocab=10, seq=4)  # 160 + 4·768 = 3,232 params
    plan = Plan(
        dp=2,
        tp=2,
        pp=2,
        zero_stage=3,
        sp=True,
        micro_batch=2,
        microbatches=4,
        schedule="gpipe",
        recompute="selective",
        activation_bytes=4,
        offload_optimizer=True,
    )
    b = parallel_plan.breakdown(shape, plan)
    psi = 3232 / 4
    assert b.params_per_rank == psi and b.gpus == 8 and b.in_flight_microbatches == 4
    # ZeRO-3 over dp 2: every state halves; the optimizer is offloaded (0 on the GPU)
    assert b.parts["parameters"] == 2 * psi / 2 and b.parts["gradients"] == 2 * psi / 2
    assert b.parts["optimizer states"] == 0 and b.optimizer_offloaded == 12 * psi / 2
    # selective + SP: 34·sbh/t = 34·64/2 = 1,088 per layer at 16 bits, ×4/2 for 32-bit activations
    assert b.activation_per_layer == 2176
    assert b.parts["activations"] == 2176 * 2 * 4  # 2 layers here × 4 in flight (GPipe)
    assert b.parts["embedding output"] == 64 * 4 / 2 * 4 and b.parts["logits"] == 0
    f = b.formulas
    assert (
        f["parameters"].endswith(" / dp 2 (ZeRO-3) = 0.00 GB") and "(tp·pp = 4)" in f["parameters"]
    )
    assert f["gradients"] == "2 B × Ψ / dp 2 (ZeRO-3) = 0.00 GB"
    assert (
        f["optimizer states"]
        == "12 B × Ψ / dp 2 (ZeRO-3) = 0.00 GB — offloaded to CPU memory, 0 on the GPU"
    )
    assert f["activations"].startswith(
        "34sbh/t × 4/2 B (s=4, b=2, h=8, a=2, t=2, recompute selective)"
    )
    assert "× 2 layers × 4 micro-batch(es) in flight (gpipe)" in f["activations"]
    assert f["embedding output"] == "s·b·h × 4 B / t (SP) × 4 in flight = 0.00 GB"
    assert f["logits"] == "on the last pipeline stage, not the first: 0 here"
    assert (
        parallel_plan.breakdown(shape, Plan(tp=2)).parts["embedding output"] == 32 * 2
    )  # no SP: not split
    assert parallel_plan.breakdown(shape, Plan(tp=2, sp=True)).parts["embedding output"] == 32
    gqa = parallel_plan.breakdown(
        ModelShape(layers=2, hidden=8, heads=2, vocab=10, seq=4, kv_heads=1), Plan()
    )
    assert gqa.params_per_rank == 160 + 2 * (128 + 2 * 8 * 4 + 512)
    wide = parallel_plan.breakdown(
        SMALL, Plan(param_bytes=4, grad_bytes=3, optimizer_bytes=8)
    ).parts
    assert (wide["parameters"], wide["gradients"], wide["optimizer states"]) == (
        4 * 1696,
        3 * 1696,
        8 * 1696,
    )
    assert parallel_plan._gb(0.375e9) == "0.38 GB" and parallel_plan._gb(1234.5e9) == "1,234.50 GB"
    z1 = parallel_plan.breakdown(shape, Plan(dp=2, zero_stage=1)).formulas
    assert (
        z1["optimizer states"] == "12 B × Ψ / dp 2 (ZeRO-1) = 0.00 GB"
        and z1["gradients"] == "2 B × Ψ = 0.00 GB"
    )
    z2 = parallel_plan.breakdown(shape, Plan(dp=2, zero_stage=2)).formulas
    assert z2["gradients"] == "2 B × Ψ / dp 2 (ZeRO-2) = 0.00 GB" and "dp" not in z2["parameters"]
    tp = parallel_plan.breakdown(shape, Plan(tp=2, pp=2, microbatches=8))
    assert tp.formulas["activations"].startswith("sbh(10 + 24/t + 5as/(ht)) × 2/2 B")
    assert "(1f1b)" in tp.formulas["activations"] and tp.in_flight_microbatches == 2
    assert (
        parallel_plan.breakdown(shape, Plan(tp=2, sp=True))
        .formulas["activations"]
        .startswith("sbh(34/t + 5as/(ht))")
    )
    assert (
        parallel_plan.breakdown(shape, Plan(tp=2, recompute="selective"))
        .formulas["activations"]
        .startswith("sbh(10 + 24/t) ×")
    )
    assert (
        parallel_plan.breakdown(shape, Plan(recompute="full"))
        .formulas["activations"]
        .startswith("2sbh ×")
    )
    assert (
        parallel_plan.breakdown(shape, Plan(tp=2, sp=True, recompute="full"))
        .formulas["activations"]
        .startswith("2sbh/t ×")
    )
    # logits on one stage, split over tp: s·b·vocab·4 B / t
    assert (
        parallel_plan.breakdown(shape, Plan(tp=2, micro_batch=3)).parts["logits"]
        == 4 * 3 * 10 * 4 / 2
    )
    big = parallel_plan.breakdown(memory.SHAPES["GPT-3 175B"], Plan(tp=8, pp=8, dp=8))
    assert "Ψ = 175B / (tp·pp = 64) = 2.74B" in big.formulas["parameters"]
    assert big.formulas["parameters"].endswith("= 5.47 GB")


@pytest.mark.parametrize(
    "shape, plan, msg",
    [
        (ModelShape(2, 8, 2, 10, 4), Plan(dp=0), "dp"),
        (ModelShape(2, 8, 2, 10, 4), Plan(micro_batch=1.5), "micro_batch"),
        (ModelShape(2, 8, 2, 10, 4), Plan(microbatches=0), "microbatches"),
        (ModelShape(0, 8, 2, 10, 4), Plan(), "layers"),
        (ModelShape(2.5, 8, 2, 10, 4), Plan(), r"^layers must be a whole number \(got 2.5\)$"),
        (ModelShape(2, 8, 2, 10, 4, ffn=2.5), Plan(), r"^ffn must be a whole number \(got 2.5\)$"),
        (ModelShape(2, 8, 2, 0, 4), Plan(), "vocab"),
        (ModelShape(2, 8, 2, 10, 0), Plan(), "seq"),
        (ModelShape(2, 8, 2, 10, 4, ffn=0), Plan(), "ffn"),
        (ModelShape(2, 8, 2, 10, 4, kv_heads=-1), Plan(), "kv_heads"),
        (ModelShape(2, 9, 2, 10, 4), Plan(), "hidden \\(9\\) must divide evenly into 2 heads"),
        (
            ModelShape(2, 8, 4, 10, 4, kv_heads=3),
            Plan(),
            r"kv heads \(3\) must divide the 4 query heads",
        ),
        (ModelShape(3, 8, 2, 10, 4), Plan(pp=2), "3 layers do not split into 2 pipeline stages"),
        (ModelShape(2, 8, 2, 10, 4), Plan(tp=4), r"tp=4 must divide heads \(2\) and hidden \(8\)"),
        (ModelShape(2, 6, 6, 10, 4), Plan(tp=4), "tp=4 must divide"),
        (
            ModelShape(2, 8, 2, 10, 4),
            Plan(schedule="interleaved"),
            "schedule must be gpipe or 1f1b \\(got 'interleaved'\\)",
        ),
    ],
)
def test_breakdown_refuses(shape, plan, msg):
    with pytest.raises(ValueError, match=msg):
        parallel_plan.breakdown(shape, plan)


def test_pos_messages_and_model_states():
    with pytest.raises(ValueError, match=re.escape("x must be a number (got 'a')")):
        memory._pos("x", "a")
    with pytest.raises(ValueError, match=re.escape("x must be a number (got None)")):
        memory._pos("x", None)
    with pytest.raises(ValueError, match=re.escape("x must be a finite number > 0 (got 0)")):
        memory._pos("x", 0)
    with pytest.raises(ValueError, match=re.escape("x must be a finite number ≥ 0 (got -1)")):
        memory._pos("x", -1, allow_zero=True)
    with pytest.raises(ValueError, match=re.escape("x must be a finite number > 0 (got inf)")):
        memory._pos("x", float("inf"))
    with pytest.raises(ValueError, match=re.escape("x must be a whole number (got 2.5)")):
        memory._pos("x", 2.5, integer=True)
    assert memory._pos("x", 0, allow_zero=True) == 0 and memory._pos("x", "3", integer=True) == 3
    assert isinstance(memory._pos("x", 3.0, integer=True), int) and memory._pos("x", 2.5) == 2.5
    # ZeRO (Rajbhandari et al.): Ψ = 100, dp = 4, 2/2/12 bytes
    s = {z: memory.model_state_bytes(100, z, 4) for z in range(4)}
    assert s[0] == memory.ModelStates(params=200, grads=200, optimizer=1200, total=1600)
    assert s[1] == memory.ModelStates(params=200, grads=200, optimizer=300, total=700)
    assert s[2] == memory.ModelStates(params=200, grads=50, optimizer=300, total=550)
    assert s[3] == memory.ModelStates(params=50, grads=50, optimizer=300, total=400)
    assert (
        memory.model_state_bytes(100, 0, 1, optimizer_bytes=8, param_bytes=4, grad_bytes=0).total
        == 1200
    )


def test_activation_formulas_by_hand():
    # s=4, b=1, h=8, a=2 -> sbh = 32, 5as/h = 5, 5as/(ht) at t=2 = 2.5
    f = memory.activation_bytes_per_layer
    assert f(4, 1, 8, 2) == 32 * 39
    assert f(4, 1, 8, 2, tp=2) == 32 * (10 + 12 + 2.5)
    assert f(4, 1, 8, 2, tp=2, sp=True) == 32 * (17 + 2.5)
    assert f(4, 1, 8, 2, tp=2, recompute="selective") == 32 * 22
    assert f(4, 1, 8, 2, tp=2, sp=True, recompute="selective") == 32 * 17
    assert f(4, 1, 8, 2, recompute="selective") == 32 * 34
    assert (
        f(4, 1, 8, 2, recompute="full") == 64
        and f(4, 1, 8, 2, tp=2, sp=True, recompute="full") == 32
    )
    assert f(4, 1, 8, 2, tp=2, recompute="full") == 64
    assert f(4, 1, 8, 2, sp=True) == 32 * 39  # SP on one rank: nothing to split
    for i, name in enumerate(("seq", "batch", "hidden", "heads", "tp")):
        args = [4, 1, 8, 2, 1]
        args[i] = 1.5
        with pytest.raises(ValueError, match=f"^{name} must be a whole number \\(got 1.5\\)$"):
            f(*args[:4], tp=args[4])
    with pytest.raises(
        ValueError, match=re.escape("recompute must be one of none, selective, full (got 'x')")
    ):
        f(4, 1, 8, 2, recompute="x")


def test_inference_state_bytes_by_hand():
    assert memory.kv_cache_bytes(2, 3, 4, 5, 6) == 2 * 2 * 3 * 4 * 5 * 6 * 2
    assert memory.kv_cache_bytes(1, 1, 1, 1, 1, bytes_per_value=1) == 2
    # Mamba-2.8B: 64 layers × 5,120 × (16 + 4) × 2 B = 13,107,200 B per sequence
    assert memory.ssm_state_bytes(64, 5120, 16, 4, 1) == 13_107_200
    assert memory.ssm_state_bytes(1, 1, 1, 1, 3, bytes_per_value=4) == 24
    assert memory.lstm_state_bytes(2, 10, 3) == 240 and memory.lstm_state_bytes(1, 1, 1, 4) == 8
    for fn, names in (
        (memory.kv_cache_bytes, ("layers", "kv_heads", "head_dim", "seq", "batch")),
        (memory.ssm_state_bytes, ("layers", "d_inner", "d_state", "d_conv", "batch")),
        (memory.lstm_state_bytes, ("layers", "hidden", "batch")),
    ):
        for i, name in enumerate(names):
            args = [2] * len(names)
            args[i] = 1.5
            with pytest.raises(ValueError, match=f"^{name} must be a whole number \\(got 1.5\\)$"):
                fn(*args)
        with pytest.raises(
            ValueError, match=r"^bytes_per_value must be a finite number > 0 \(got 0\)$"
        ):
            fn(*[2] * len(names), 0)
    for call in (
        lambda: memory.kv_cache_bytes(0, 1, 1, 1, 1),
        lambda: memory.kv_cache_bytes(1, 1, 1, 1, 1, 0),
        lambda: memory.ssm_state_bytes(1, 1, 1, 1, 0),
        lambda: memory.ssm_state_bytes(1, 1, 0, 1, 1),
        lambda: memory.ssm_state_bytes(1, 1, 1, 0, 1),
        lambda: memory.ssm_state_bytes(1, 1, 1, 1, 1, 0),
        lambda: memory.lstm_state_bytes(1, 0, 1),
        lambda: memory.lstm_state_bytes(1, 1, 1, -2),
        lambda: memory.lstm_state_bytes(0, 1, 1),
        lambda: memory.lstm_state_bytes(1, 1, 0),
        lambda: memory.kv_cache_bytes(1, 0, 1, 1, 1),
        lambda: memory.kv_cache_bytes(1, 1, 0, 1, 1),
        lambda: memory.kv_cache_bytes(1, 1, 1, 0, 1),
        lambda: memory.kv_cache_bytes(1, 1, 1, 1, 0),
        lambda: memory.ssm_state_bytes(0, 1, 1, 1, 1),
        lambda: memory.ssm_state_bytes(1, 0, 1, 1, 1),
    ):
        with pytest.raises(ValueError):
            call()
    # Llama 2 7B (32 layers, 32 heads × 128) at 4,096 tokens: 2 GiB; Mamba's state does not grow
    rows = memory.cache_table([4096, 8192], ["Llama 2 7B (MHA)", "Mamba-2.8B"])
    assert rows[0]["bytes"] == [2 * 1024**3, 4 * 1024**3] and rows[0]["kind"] == "kv"
    assert rows[1]["bytes"] == [13_107_200, 13_107_200] and rows[1]["params_b"] == 2.8
    assert (
        rows[1]["source"].startswith("state-spaces/mamba-2.8b-hf")
        and rows[1]["model"] == "Mamba-2.8B"
    )
    assert [r["model"] for r in memory.cache_table([1])] == list(memory.CACHE_SHAPES)
    assert memory.cache_table([1], batch=2, bytes_per_value=4)[0]["bytes"] == [
        2 * 32 * 32 * 128 * 2 * 4
    ]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "unknown model 'GPT-5': choose from Llama 2 7B (MHA), Llama 2 70B "
            "(GQA, 8 KV heads), Mamba-2.8B, Falcon Mamba 7B"
        ),
    ):
        memory.cache_table([1], ["GPT-5"])
    with pytest.raises(ValueError, match=r"^context must be a whole number \(got 1.5\)$"):
        memory.cache_table([1.5])
    with pytest.raises(ValueError, match=r"^context must be a whole number \(got 2.5\)$"):
        CacheShape("ssm", 1, 1, d_inner=1, d_state=1, d_conv=1).bytes(2.5)
    assert memory.CACHE_SHAPES["Mamba-2.8B"].bytes(100) == 13_107_200  # 1 sequence, 16 bits
    assert memory.CACHE_SHAPES["Llama 2 7B (MHA)"].bytes(4096) == 2 * 1024**3
    with pytest.raises(ValueError, match="context"):
        memory.cache_table([0])
    with pytest.raises(ValueError, match="context"):
        CacheShape("ssm", 1, 1, d_inner=1, d_state=1, d_conv=1).bytes(0)
    assert CacheShape("ssm", 1, 2, d_inner=3, d_state=4, d_conv=1).bytes(10, 2, 1) == 2 * 2 * 3 * 5


def test_traffic_by_hand():
    # Ψ = 1,000 parameters, 2 B gradients, 4 ranks: each sends 2·3/4·2,000 = 3,000 B; ZeRO-3 ×1.5
    t = memory.data_parallel_traffic(1000, 4, 0, 2, 1000)
    assert t == memory.Traffic(bytes=3000, seconds=3.0, volume_in_psi=2.0)
    t3 = memory.data_parallel_traffic(1000, 4, 3, 2, 1000)
    assert t3 == memory.Traffic(bytes=4500, seconds=4.5, volume_in_psi=3.0)
    assert memory.data_parallel_traffic(1000, 4, 2).volume_in_psi == 2.0
    assert memory.data_parallel_traffic(1000, 4, 1, grad_bytes=0).bytes == 0
    with pytest.raises(ValueError, match=re.escape("zero_stage must be 0, 1, 2 or 3 (got 4)")):
        memory.data_parallel_traffic(1000, 4, 4)
    assert (
        memory.ring_allreduce_seconds(0, 2, 1) == 0
        and memory.ring_allreduce_seconds(100, 2, 10) == 10
    )
    with pytest.raises(ValueError):
        memory.ring_allreduce_seconds(100, 0, 10)
    with pytest.raises(ValueError):
        memory.ring_allreduce_seconds(100, 2, 0)
    # tensor parallel: act = s·b·h·2 B = 64; 4 all-reduces per layer per micro-batch
    shape = ModelShape(layers=4, hidden=8, heads=2, vocab=10, seq=4)
    c = parallel_plan.communication(
        shape, Plan(tp=2, pp=2, dp=2, microbatches=3), bandwidth_bytes_s=64
    )
    n = 4 * 2 * 3
    tp = c["tensor parallel"]
    assert tp.bytes == 2 * 1 / 2 * 64 * n and tp.seconds == pytest.approx(1.0 * n)
    assert c["pipeline"] == memory.Traffic(bytes=2 * 64 * 3, seconds=6.0)
    psi = 3232 / 4
    dp = c["data parallel"]
    assert dp.bytes == 2 * 1 / 2 * psi * 2 and dp.seconds == pytest.approx(psi * 2 / 64)
    assert parallel_plan.communication(shape, Plan()) == {}
    # 4 tensor-parallel ranks: each sends 2·3/4 of the activations per all-reduce; micro-batch 2 doubles them
    c4 = parallel_plan.communication(
        shape, Plan(tp=2 * 2, micro_batch=2, pp=2), bandwidth_bytes_s=64
    )
    act = 4 * 2 * 8 * 2
    assert c4["tensor parallel"].bytes == 1.5 * act * 4 * 2 and c4["pipeline"].bytes == 2 * act
    # the default link: 100 GB/s
    assert parallel_plan.communication(shape, Plan(pp=2))["pipeline"].seconds == 2 * 64 / 100e9


# ------------------------------------------------------------------------------------------------
# pipeline
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, msg",
    [
        (("zb", 2, 4, 1), "unknown schedule 'zb'; choose one of gpipe, 1f1b, interleaved"),
        (("gpipe", 0, 4, 1), "stages must be a whole number ≥ 1 (got 0)"),
        (("gpipe", True, 4, 1), "stages must be a whole number ≥ 1 (got True)"),
        (("gpipe", 2, 2.0, 1), "microbatches must be a whole number ≥ 1 (got 2.0)"),
        (("interleaved", 2, 4, 0), "chunks must be a whole number ≥ 1 (got 0)"),
        (("gpipe", 513, 4, 1), "at most 512 stages, 4096 micro-batches and 64 chunks"),
        (("gpipe", 2, 4097, 1), "at most 512"),
        (("interleaved", 2, 4, 65), "at most 512"),
        (("1f1b", 2, 4, 2), "1f1b has one chunk per device (got chunks=2); use 'interleaved'"),
        (
            ("interleaved", 4, 6, 2),
            "interleaved 1F1B needs micro-batches divisible by stages (6 % 4 ≠ 0)",
        ),
    ],
)
def test_schedule_checks(args, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        pipeline.device_orders(*args)


def test_schedule_limits_are_allowed_and_orders_by_hand():
    pipeline._check("gpipe", 512, 4096, 1)
    pipeline._check("interleaved", 1, 4, 64)
    pipeline._check("interleaved", 4, 8, 1)
    # 1F1B, p = 2, m = 3: stage 0 warms up with one forward, then alternates
    o = pipeline.device_orders("1f1b", 2, 3)
    assert o[0] == [("F", 0, 0), ("F", 1, 0), ("B", 0, 0), ("F", 2, 0), ("B", 1, 0), ("B", 2, 0)]
    assert o[1] == [("F", 0, 0), ("B", 0, 0), ("F", 1, 0), ("B", 1, 0), ("F", 2, 0), ("B", 2, 0)]
    assert pipeline.device_orders("1f1b", 4, 2)[0][:3] == [
        ("F", 0, 0),
        ("F", 1, 0),
        ("B", 0, 0),
    ]  # warm-up ≤ m
    # interleaved p = 2, m = 2, v = 2: device 0 warms up with (2−0−1)·2 + (2−1)·2 = 4 forwards
    o = pipeline.device_orders("interleaved", 2, 2, 2)
    assert o[0][:4] == [("F", 0, 0), ("F", 1, 0), ("F", 0, 1), ("F", 1, 1)]
    assert o[0][4:] == [("B", 0, 1), ("B", 1, 1), ("B", 0, 0), ("B", 1, 0)]
    assert o[1][:3] == [("F", 0, 0), ("F", 1, 0), ("F", 0, 1)]
    assert o[1][3] == ("B", 0, 1)
    o = pipeline.device_orders("interleaved", 2, 4, 2)
    assert [op for op in o[0] if op[0] == "F"] == [
        ("F", 0, 0),
        ("F", 1, 0),
        ("F", 0, 1),
        ("F", 1, 1),
        ("F", 2, 0),
        ("F", 3, 0),
        ("F", 2, 1),
        ("F", 3, 1),
    ]


def test_simulate_times_and_bubbles_by_hand():
    ev = pipeline.simulate("gpipe", 2, 2, t_forward=1.0, t_backward=2.0)
    got = [(e.stage, e.microbatch, e.kind, e.start, e.end) for e in ev]
    assert got == [
        (0, 0, "F", 0, 1),
        (0, 1, "F", 1, 2),
        (1, 0, "F", 1, 2),
        (1, 1, "F", 2, 3),
        (1, 0, "B", 3, 5),
        (0, 0, "B", 5, 7),
        (1, 1, "B", 5, 7),
        (0, 1, "B", 7, 9),
    ]
    # each device is busy 6 of 9: bubble 1/3 = (p−1)/(m+p−1)
    assert pipeline.measured_bubble(ev) == pytest.approx(1 / 3)
    assert pipeline.bubble_fraction("gpipe", 2, 2) == pytest.approx(1 / 3)
    assert pipeline.bubble_ratio("gpipe", 2, 2) == 0.5
    assert pipeline.bubble_fraction("interleaved", 4, 8, 2) == pytest.approx(1.5 / 9.5)
    assert pipeline.bubble_ratio("interleaved", 4, 8, 2) == pytest.approx(3 / 16)
    iv = pipeline.simulate("interleaved", 2, 2, chunks=2, t_forward=2.0, t_backward=4.0)
    assert {e.end - e.start for e in iv if e.kind == "F"} == {1.0} and {
        e.end - e.start for e in iv if e.kind == "B"
    } == {2.0}
    for bad in ((0, 1), (1, 0), (-1, 1)):
        with pytest.raises(ValueError, match="t_forward and t_backward must be positive"):
            pipeline.simulate("gpipe", 2, 2, t_forward=bad[0], t_backward=bad[1])
    with pytest.raises(ValueError, match="^no events$"):
        pipeline.measured_bubble([])
    shifted = [pipeline.Event(0, 0, "F", 10, 11), pipeline.Event(1, 0, "F", 11, 12)]
    assert pipeline.measured_bubble(shifted) == pytest.approx(0.5)


def test_simulate_refuses_an_order_that_deadlocks(monkeypatch):
    monkeypatch.setattr(
        pipeline,
        "device_orders",
        lambda *a: [[("B", 0, 0), ("F", 0, 0)], [("F", 0, 0), ("B", 0, 0)]],
    )
    with pytest.raises(
        RuntimeError, match=re.escape("gpipe: the op order deadlocks (a bug in the schedule)")
    ):
        pipeline.simulate("gpipe", 2, 1)


def test_peak_in_flight_by_hand():
    ev = [
        pipeline.Event(0, 0, "F", 0, 1),
        pipeline.Event(0, 1, "F", 1, 2),
        pipeline.Event(0, 0, "B", 2, 3),
        pipeline.Event(0, 2, "F", 3, 4),
        pipeline.Event(1, 0, "F", 0, 1),
        pipeline.Event(1, 0, "B", 1, 2),
    ]
    assert pipeline.peak_in_flight(ev) == {0: 2, 1: 1}
    assert pipeline.peak_in_flight(ev, chunks=2) == {0: 1.0, 1: 0.5}
    # a backward ending when a forward ends frees its activations first
    tie = [
        pipeline.Event(0, 0, "F", 0, 1),
        pipeline.Event(0, 0, "B", 1, 2),
        pipeline.Event(0, 1, "F", 1, 2),
    ]
    assert pipeline.peak_in_flight(tie) == {0: 1}
    again = [
        pipeline.Event(0, 0, "F", 0, 1),
        pipeline.Event(0, 0, "B", 1, 2),
        pipeline.Event(0, 1, "F", 2, 3),
        pipeline.Event(0, 2, "F", 3, 4),
    ]
    assert pipeline.peak_in_flight(again) == {0: 2}
    assert pipeline.peak_in_flight(pipeline.simulate("gpipe", 2, 3)) == {0: 3, 1: 3}
    assert pipeline.peak_in_flight(pipeline.simulate("1f1b", 2, 3)) == {0: 2, 1: 1}


# ------------------------------------------------------------------------------------------------
# recurrence
# ------------------------------------------------------------------------------------------------
def test_recurrence_by_hand():
    # N = 1, a = 0.5, b = 2, c = 3, x = (1, 0, 0): h = 2, 1, 0.5 -> y = 6, 3, 1.5
    for f in (recurrence.sequential, recurrence.parallel_scan, recurrence.convolution):
        y, _ = f([0.5], [2.0], [3.0], [1.0, 0.0, 0.0])
        assert y == pytest.approx([6.0, 3.0, 1.5])
    y, cost = recurrence.sequential([0.5], [2.0], [3.0], [1.0, 0.0, 0.0])
    assert cost == {"work": 9, "depth": 3}
    y, cost = recurrence.parallel_scan([0.5], [2.0], [3.0], [1.0, 0.0, 0.0])
    # T = 3: rounds shift 1, 2 -> depth 2 + 1 (the output); work 3 + 3·2 + 3·1 + 3
    assert cost == {"work": 15, "depth": 3}
    y, cost = recurrence.convolution([0.5], [2.0], [3.0], [1.0, 0.0, 0.0])
    # FFT length n = 8 (≥ 2T − 1 = 5), log2 n = 3
    assert cost == {"work": 3 * 2 + 3 * 8 * 3, "depth": 9}
    # N = 2 states: work counts T·N; T = 4 -> n = 8 (≥ 7); T = 1 -> n = 2
    ab = ([0.5, 0.25], [1.0, 1.0], [1.0, 1.0])
    assert recurrence.sequential(*ab, [1.0, 0.0, 0.0])[1] == {"work": 18, "depth": 3}
    assert recurrence.parallel_scan(*ab, [1.0, 0.0, 0.0])[1] == {"work": 30, "depth": 3}
    y, cost = recurrence.convolution(*ab, [1.0, 0.0, 0.0, 0.0])
    assert cost == {"work": 16 + 3 * 8 * 3, "depth": 9} and y == pytest.approx(
        [2.0, 0.75, 0.3125, 0.140625]
    )
    assert recurrence.convolution(*ab, [2.0])[1] == {"work": 4 + 3 * 2 * 1, "depth": 3}
    assert recurrence.convolution(*ab, [2.0])[0] == pytest.approx([4.0])
    # Python integers beyond int64 are numbers too
    assert recurrence.sequential([0.5], [1.0], [1.0], [10**20, 0])[0] == pytest.approx([1e20, 5e19])
    y, _ = recurrence.sequential([[0.5], [0.0]], [[1.0], [1.0]], [[1.0], [2.0]], [1.0, 1.0])
    assert y == pytest.approx([1.0, 2.0])  # time-varying a_t, c_t
    a, b, c, x = recurrence.random_system(6, N=3, selective=True, seed=1)
    for f in (recurrence.sequential, recurrence.parallel_scan):
        assert f(a, b, c, x)[0] == pytest.approx(recurrence.sequential(a, b, c, x)[0])
    y1, _ = recurrence.parallel_scan(a, b, c, x)
    h, ys = np.zeros(3), []
    for t in range(6):
        h = a[t] * h + b[t] * x[t]
        ys.append(float(c[t] @ h))
    assert y1 == pytest.approx(ys)
    # T = 2, N = 1: one round (work 2 + 3·1), then the output (2)
    assert recurrence.parallel_scan([0.5], [1.0], [1.0], [1.0, 0.0])[1] == {"work": 7, "depth": 2}


def test_recurrence_inputs():
    for x in ([], [[1.0, 2.0]], 3.0):
        with pytest.raises(ValueError, match="^x must be a non-empty 1-D sequence$"):
            recurrence.sequential([0.5], [1.0], [1.0], x)
    for bad in (
        (float("nan"), 1, 1, 1),
        (0.5, float("inf"), 1, 1),
        (0.5, 1, float("nan"), 1),
        (0.5, 1, 1, float("inf")),
    ):
        with pytest.raises(ValueError, match="^a, b, c and x must be finite$"):
            recurrence.sequential(*([v] for v in bad))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "a convolution needs a time-invariant system (the same a, b, c at "
            "every step); input-dependent (selective) parameters need the scan"
        ),
    ):
        recurrence.convolution([[0.5], [0.4]], [1.0], [1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="time-invariant"):
        recurrence.convolution([0.5], [[1.0], [2.0]], [1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="time-invariant"):
        recurrence.convolution([0.5], [1.0], [[1.0], [2.0]], [1.0, 1.0])
    assert recurrence.random_system(5)[0].shape == (4,)  # N = 4 by default
    assert np.array_equal(recurrence.random_system(5)[3], recurrence.random_system(5, seed=0)[3])
    a, b, c, x = recurrence.random_system(5, N=2)
    assert a.shape == b.shape == c.shape == (2,) and x.shape == (5,)
    assert np.all((0.5 <= a) & (a < 0.99))
    a2, *_ = recurrence.random_system(5, N=2, selective=True)
    assert a2.shape == (5, 2)
    assert np.array_equal(
        recurrence.random_system(5, seed=3)[3], recurrence.random_system(5, seed=3)[3]
    )
    assert not np.array_equal(
        recurrence.random_system(5, seed=3)[3], recurrence.random_system(5, seed=4)[3]
    )
    assert recurrence.random_system(1, N=1)[3].shape == (1,) and recurrence.random_system(
        2, N=4096
    )[0].shape == (4096,)
    big = recurrence.random_system(1_000_000, N=1)
    assert big[3].shape == (1_000_000,)
    for T, N in ((0, 4), (1_000_001, 4), (5, 0), (5, 4097), (2.0, 4), (5, 2.0)):
        with pytest.raises(
            ValueError,
            match="^" + re.escape("T must be 1..1e6 and N 1..4096 (whole numbers)") + "$",
        ):
            recurrence.random_system(T, N)


# ------------------------------------------------------------------------------------------------
# scaling
# ------------------------------------------------------------------------------------------------
def test_flops_formulas_by_hand():
    assert scaling.training_flops(10, 100) == 6000
    assert scaling.flops_per_token(100, 2, 8, 16) == 600 + 12 * 2 * 8 * 16
    assert scaling.kaplan_forward_flops_per_token(100, 2, 16, 8) == 200 + 2 * 2 * 16 * 8


def test_kaplan_single_variable_laws_at_their_constants():
    # at N = N_c, D = D_c, C = C_c the laws give 1 nat; a factor 10 below, 10^alpha
    assert scaling.kaplan_loss_n(8.8e13) == pytest.approx(1.0)
    assert scaling.kaplan_loss_n(8.8e12) == pytest.approx(10**0.076)
    assert scaling.kaplan_loss_d(5.4e13) == pytest.approx(1.0)
    assert scaling.kaplan_loss_d(5.4e12) == pytest.approx(10**0.095)
    assert scaling.kaplan_loss_c(3.1e8 * 8.64e19) == pytest.approx(1.0)
    assert scaling.kaplan_loss_c(3.1e7 * 8.64e19) == pytest.approx(10**0.05)
    assert isinstance(scaling.kaplan_loss_n(1e9), float)
    assert scaling.kaplan_loss_d(np.array([5.4e13, 5.4e13])).shape == (2,)
    k = scaling.LAWS["kaplan"]
    # Eq. 1.5 at N = N_c, D = D_c: (1 + 1)^α_D
    assert k.loss(8.8e13, 5.4e13) == pytest.approx(2**0.095)
    assert k.loss(8.8e13 / 2 ** (0.095 / 0.076), 5.4e13) == pytest.approx(3**0.095)
    assert (k.a, k.b) == (0.73, pytest.approx(0.27))


def test_compute_optimal_by_hand():
    # Kaplan: N = 1.3e9 · (C / 1 PF-day)^0.73; at C = 1 PF-day N = 1.3e9 and D = C/(6N)
    n, d = scaling.compute_optimal(8.64e19, "kaplan")
    assert n == pytest.approx(1.3e9) and d == pytest.approx(8.64e19 / 6 / 1.3e9)
    c = scaling.LAWS["chinchilla"]
    n, d = scaling.compute_optimal(6e20, c)
    assert n == pytest.approx(c.G * 1e20**c.a) and d == pytest.approx(1e20**c.b / c.G)
    assert n * d * 6 == pytest.approx(6e20)
    assert scaling.tokens_per_param(6e20) == pytest.approx(d / n)
    assert scaling.optimal_loss(6e20) == pytest.approx(1.69 + 406.4 / n**0.34 + 410.7 / d**0.28)
    ns, ds = scaling.compute_optimal(np.array([6e20, 6e22]))
    assert ns.shape == (2,) and ns[1] / ns[0] == pytest.approx(100**c.a)
    for bad in (0, -1, float("nan"), float("inf"), [1e20, -1]):
        with pytest.raises(ValueError, match="compute budget"):
            scaling.compute_optimal(bad)
    with pytest.raises(
        ValueError,
        match=re.escape("unknown law 'gpt'; choose one of ['besiroglu', 'chinchilla', 'kaplan']"),
    ):
        scaling.get_law("gpt")
    assert scaling.get_law("Chinchilla") is c and scaling.get_law(c) is c


def test_diminishing_returns_by_hand():
    c = scaling.LAWS["chinchilla"]
    assert scaling.diminishing_returns(c, 1e9, 2e10, "n") == pytest.approx(
        406.4 / 1e9**0.34 - 406.4 / 2e9**0.34
    )
    assert scaling.diminishing_returns(c, 1e9, 2e10, "D") == pytest.approx(
        410.7 / 2e10**0.28 - 410.7 / 4e10**0.28
    )
    C = 6 * 1e9 * 2e10
    assert scaling.diminishing_returns("chinchilla", 1e9, 2e10, "c") == pytest.approx(
        scaling.optimal_loss(C) - scaling.optimal_loss(2 * C)
    )
    with pytest.raises(ValueError, match=re.escape("axis must be 'N', 'D' or 'C' (got 'X')")):
        scaling.diminishing_returns(c, 1e9, 2e10, "x")
    with pytest.raises(ValueError, match="params must be"):
        scaling.diminishing_returns(c, 0, 2e10)
    with pytest.raises(ValueError, match="tokens must be"):
        scaling.diminishing_returns(c, 1e9, -1)


def test_outside_fit_range_names_what_is_extrapolated():
    assert scaling.outside_fit_range("chinchilla", 1e9, 1e11) is None
    assert (
        scaling.outside_fit_range("chinchilla", 70e6, 5e9) is None
        and scaling.outside_fit_range("chinchilla", 16e9, 500e9) is None
    )
    assert scaling.outside_fit_range("chinchilla", 1e12, 1e11) == (
        "Hoffmann et al. 2022 (Chinchilla, Approach 3): extrapolating — N outside the fitted 7e+07–1.6e+10 params."
    )
    assert scaling.outside_fit_range("chinchilla", 1e9, 1e9) == (
        "Hoffmann et al. 2022 (Chinchilla, Approach 3): extrapolating — D outside the fitted 5e+09–5e+11 tokens."
    )
    both = scaling.outside_fit_range("chinchilla", [1e9, 1e7], [1e11, 1e13])
    assert both.endswith(
        "N outside the fitted 7e+07–1.6e+10 params; D outside the fitted 5e+09–5e+11 tokens."
    )
    free = scaling.ChinchillaLaw("x", 1, 1, 1, 0.3, 0.3, "c", "u")
    assert scaling.outside_fit_range(free, 1e30, 1) is None


def test_training_cost_by_hand():
    # 3.6e18 FLOPs at 1e15 FLOP/s peak and 50 % MFU: 7,200 s = 2 GPU-hours
    gpu = scaling.GPU("test", 1e15, "bf16", 500.0, "made up")
    c = scaling.training_cost(3.6e18, gpu, mfu=0.5, price_per_gpu_hour=3.0, n_gpus=2)
    assert c.gpu_hours == pytest.approx(2.0) and c.days == pytest.approx(2 / 2 / 24)
    assert c.dollars == pytest.approx(6.0) and c.energy_mwh == pytest.approx(2 * 500 / 1e6)
    assert (c.gpu, c.mfu, c.n_gpus, c.price_per_gpu_hour, c.flops) == ("test", 0.5, 2, 3.0, 3.6e18)
    assert scaling.training_cost(3.6e18, gpu, 0.5, watts_per_gpu=100).energy_mwh == pytest.approx(
        2e-4
    )
    assert scaling.training_cost(3.6e18, gpu, 1.0, price_per_gpu_hour=0).dollars == 0
    assert scaling.training_cost(3.6e18, "H100").gpu == "NVIDIA H100 SXM"
    assert scaling.training_cost(3.6e18).gpu == "NVIDIA A100 SXM 80GB"  # the default
    d = scaling.training_cost(312e12 * 0.4 * 3600 * 1024)  # defaults: A100, 40 %, 1,024 GPUs, $2
    assert (
        d.gpu_hours == pytest.approx(1024)
        and d.days == pytest.approx(1 / 24)
        and d.dollars == pytest.approx(2048)
    )
    for kw, msg in (
        ({"gpu": "TPU"}, "unknown GPU 'TPU'; choose one of ['A100', 'H100', 'H200', 'V100']"),
        ({"mfu": 0}, "MFU must be positive"),
        ({"mfu": 1.5}, "MFU is a fraction of peak in (0, 1] (got 1.5)"),
        ({"price_per_gpu_hour": -1}, "price per GPU-hour must be a non-negative number (got -1)"),
        ({"price_per_gpu_hour": float("nan")}, "price per GPU-hour"),
        ({"n_gpus": 0}, "GPU count must be positive"),
        ({"n_gpus": 0.5}, "GPU count must be at least 1 (got 0.5)"),
        ({"watts_per_gpu": 0}, "watts per GPU must be positive"),
    ):
        with pytest.raises(ValueError, match=re.escape(msg)):
            scaling.training_cost(1e20, **kw)
    assert scaling.training_cost(1e20, mfu=1).mfu == 1.0
    with pytest.raises(ValueError, match="compute"):
        scaling.training_cost(0)


def test_gpt3_cost_range_and_one_device():
    lo, hi = scaling.gpt3_cost_range()
    # 3.14e23 FLOPs on V100s (125 TFLOP/s) at 21.3 % MFU: 3.2757e6 GPU-hours, at $1.50 and $3.50
    hours = 3.14e23 / (125e12 * 0.213) / 3600
    assert lo.gpu_hours == pytest.approx(hours) and lo.dollars == pytest.approx(1.5 * hours)
    assert (
        hi.dollars == pytest.approx(3.5 * hours)
        and lo.n_gpus == 1024
        and lo.gpu == "NVIDIA V100 SXM2"
    )
    assert 4e6 < lo.dollars < hi.dollars < 12e6
    assert scaling.gpt3_cost_range(512)[0].days == pytest.approx(hours / 512 / 24)
    # 7e9 params × 16 B = 112 GB: two 80 GB H100s; 6·7e9·2e12 FLOPs at 40 % of 989 TFLOP/s on one GPU
    o = scaling.one_device(7e9, 2e12)
    assert (
        o["state_bytes"] == 112e9 and o["device_bytes"] == 80e9 and o["devices_to_hold_states"] == 2
    )
    assert o["flops"] == 8.4e22 and o["years_on_one"] == pytest.approx(
        8.4e22 / (989e12 * 0.4) / 3600 / 24 / 365
    )
    h200 = scaling.one_device(7e9, 2e12, gpu="H200", mfu=0.5, bytes_per_param=20)
    assert h200["devices_to_hold_states"] == 1 and h200["device_bytes"] == 141e9
    assert h200["years_on_one"] == pytest.approx(8.4e22 / (989e12 * 0.5) / 3600 / 24 / 365)
    assert scaling.one_device(5e9, 1e9)["devices_to_hold_states"] == 1  # 80 GB exactly
    with pytest.raises(ValueError, match=re.escape("unknown GPU 'A10'; choose one of")):
        scaling.one_device(1e9, 1e9, gpu="A10")
    for kw in ({"params": 0, "tokens": 1}, {"params": 1, "tokens": 0}):
        with pytest.raises(ValueError):
            scaling.one_device(**kw)
    with pytest.raises(ValueError, match="bytes per parameter"):
        scaling.one_device(1, 1, bytes_per_param=0)


def test_notable_models_record_their_source():
    by = {m["name"]: m for m in scaling.NOTABLE_MODELS}
    gpt3 = by["GPT-3 175B"]
    assert (
        gpt3["flops"] == 3.14e23
        and gpt3["flops_source"] == "reported"
        and "Table D.1" in gpt3["note"]
    )
    ch = by["Chinchilla"]
    assert ch == {
        "name": "Chinchilla",
        "params": 70e9,
        "tokens": 1.4e12,
        "flops": 6 * 70e9 * 1.4e12,
        "flops_source": "6ND",
        "source": "Hoffmann et al. 2022 (arXiv 2203.15556), Table 1",
    }
    assert "note" not in ch and isinstance(by["GPT-3 Small"]["params"], float)


def test_approach2_fit_predicts_from_its_power_law():
    fit = scaling.Approach2Fit(a=0.5, coef=2.0, b=0.5, budgets=(1.0,), n_opt=(1.0,))
    assert fit.n_opt_at(16.0) == 8.0 and isinstance(fit.n_opt_at(16), float)
    assert list(fit.n_opt_at(np.array([4.0, 9.0]))) == [4.0, 6.0]
    law = scaling.Approach3Fit(
        E=1.0, A=2.0, B=3.0, alpha=0.5, beta=0.25, a=1 / 3, b=2 / 3, objective=0.0
    ).law()
    assert law.loss(4.0, 16.0) == pytest.approx(1 + 2 / 2 + 3 / 2) and law.name == "our lab fit"
    assert law.a == pytest.approx(1 / 3) and law.G == pytest.approx(
        (0.5 * 2 / (0.25 * 3)) ** (1 / 0.75)
    )


# ------------------------------------------------------------------------------------------------
# inputs: a page's events behind the input layer, called in process
# ------------------------------------------------------------------------------------------------
class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def lab_log():
    from shared import inputs

    h = _Records()
    level = inputs.log.level
    inputs.log.setLevel(logging.INFO)
    inputs.log.addHandler(h)
    yield h.records
    inputs.log.removeHandler(h)
    inputs.log.setLevel(level)


def _page():
    import gradio as gr

    from shared import gpu

    def picky(payload):  # a component's own preprocessing, refusing two values
        if payload == "gr":
            raise gr.Error("not\nthis one")
        if payload == "py":
            raise KeyError(payload)
        return payload.upper()

    seen = []

    def echo(state, n, text):
        seen.append((state, n, text))
        return f"{n} {text}"

    def refuse(n):
        raise gr.Error("no\nway", title="Careful")

    def refuse_plain(n):
        raise gr.Error("plain")

    def crash(n):
        raise KeyError("deep")

    def stream(n):
        yield "one"
        raise ZeroDivisionError("deep")

    def stream_refuse(n):
        yield "one"
        raise gr.Error("stop\nhere")

    @gpu.on_gpu(5)
    def heavy(n):
        seen.append(("heavy", n))
        return "done"

    with gr.Blocks() as demo:
        st = gr.State({"x": 1})
        n = gr.Number(label="n", minimum=0, maximum=10, precision=0)
        text = gr.Textbox()
        text.preprocess = (
            picky  # (an instance attribute: a subclass would make gradio write a .pyi here)
        )
        out = gr.Textbox()
        n.submit(echo, [st, n, text], out, api_name="echo")
        n.change(refuse, n, out, api_name="refuse")
        n.input(refuse_plain, n, out, api_name="plain")
        n.blur(crash, n, out, api_name="crash")
        n.focus(stream, n, out, api_name="stream")
        text.submit(stream_refuse, n, out, api_name="stream_refuse")
        text.change(heavy, n, out, api_name="heavy")
    fns = {f.api_name: f for f in demo.fns.values()}
    return demo, fns, seen


def test_guarded_events_check_preprocess_and_fail_in_one_line(lab_log):
    import gradio as gr

    from shared import inputs

    demo, fns, seen = _page()
    inputs.guard(demo)
    echo = fns["echo"]
    assert echo.fn.__lab_guarded__ is True and echo.preprocess is False
    first = echo.fn
    inputs.guard(demo)
    assert echo.fn is first  # idempotent: wrapped once
    state = object()
    assert echo.fn(state, 3.0, "abc") == "3 ABC" and seen[-1] == (
        state,
        3,
        "ABC",
    )  # state passed as is
    with pytest.raises(gr.Error) as e:
        echo.fn(state, 11, "abc")  # a checked input after a state one
    assert (
        e.value.message == "n must be between 0 and 10 (got 11)"
        and e.value.print_exception is False
    )
    assert [r.getMessage() for r in lab_log] == [
        "refused /echo: n must be between 0 and 10 (got 11)"
    ]
    assert lab_log[0].levelname == "WARNING" and lab_log[0].exc_info is None
    with pytest.raises(gr.Error) as e:
        echo.fn(state, 1, "gr")
    assert e.value.message == "input 3: not this one" and e.value.title == "Error"
    with pytest.raises(gr.Error) as e:
        echo.fn(state, 1, "py")
    assert e.value.message == "input 3: this value cannot be used (got 'py')"
    with pytest.raises(gr.Error) as e:
        fns["refuse"].fn(1)
    assert (e.value.message, e.value.title, e.value.print_exception) == ("no way", "Careful", False)
    assert lab_log[-1].getMessage() == "refused /refuse: no way"
    with pytest.raises(gr.Error) as e:
        fns["plain"].fn(1)
    assert (e.value.message, e.value.title) == ("plain", "Error")
    del lab_log[:]
    with pytest.raises(gr.Error) as e:
        fns["crash"].fn(1)
    assert (
        e.value.message
        == (
            "/crash failed unexpectedly; the error was logged on the server. "
            "Try other inputs or reload the page."
        )
        and e.value.print_exception is False
    )
    assert [r.getMessage() for r in lab_log] == ["unexpected error in /crash"]
    assert lab_log[0].levelname == "ERROR" and lab_log[0].exc_info[0] is KeyError
    gen = fns["stream"].fn(1)
    assert next(gen) == "one"
    with pytest.raises(gr.Error, match=re.escape("/stream failed unexpectedly")):
        next(gen)
    gen = fns["stream_refuse"].fn(1)
    assert next(gen) == "one"
    with pytest.raises(gr.Error) as e:
        next(gen)
    assert e.value.message == "stop here"
    with pytest.raises(gr.Error) as e:
        next(fns["stream"].fn(-1))  # refused before the generator starts
    assert e.value.message == "n must be between 0 and 10 (got -1)"


def test_a_heavy_event_waits_for_the_warm_up_at_most_its_bound(monkeypatch):
    from shared import inputs

    demo, fns, seen = _page()
    inputs.guard(demo)
    heavy = fns["heavy"].fn
    assert getattr(fns["echo"].fn, "__lab_heavy__", False) is False

    class WarmUp(threading.Event):  # the warm-up's event, recording who waits on it and how long
        def __init__(self):
            super().__init__()
            self.waiting, self.timeouts = threading.Event(), []

        def wait(self, timeout=None):
            self.timeouts.append(timeout)
            self.waiting.set()
            return super().wait(timeout)

    warm = WarmUp()
    monkeypatch.setattr(inputs, "warm_up_done", warm)
    done = []
    t = threading.Thread(target=lambda: done.append(heavy(2)), daemon=True)
    t.start()
    assert warm.waiting.wait(10) and done == []  # waiting for the warm-up
    warm.set()
    t.join(10)
    assert done == ["done"] and seen[-1] == ("heavy", 2)
    # never longer than WARM_UP_WAIT_S
    warm.clear()
    monkeypatch.setattr(inputs, "WARM_UP_WAIT_S", 0.2)
    assert heavy(3) == "done" and warm.timeouts[-1] == 0.2
    # a light event does not wait
    warm.waiting.clear()
    assert fns["echo"].fn(None, 1, "a") == "1 A" and not warm.waiting.is_set()


def test_async_handlers_are_refused_when_guarded():
    import gradio as gr

    from shared import inputs

    async def later(n):
        return n

    async def agen(n):
        yield n

    for fn, name in ((later, "later"), (agen, "agen")):
        with gr.Blocks() as demo:
            n = gr.Number()
            n.submit(fn, n, n, api_name=name)
        with pytest.raises(
            TypeError,
            match=re.escape(f"/{name}: async handlers are not supported by shared/inputs.py"),
        ):
            inputs.guard(demo)


def test_recurrence_when_the_sequence_is_as_long_as_the_state():
    """T == N used to be read as per-step scalars ([T]) instead of a time-invariant state ([N]) and
    crashed (found by mutation testing; the architectures page hit it whenever its T and N sliders
    were equal). Hand-computed: a = (0.5, 0.25), b = (1, 2), c = (1, 1), x = (1, 1):
    h_1 = (1, 2), y_1 = 3; h_2 = (0.5 + 1, 0.5 + 2) = (1.5, 2.5), y_2 = 4."""
    from shared import recurrence

    a, b, c, x = [0.5, 0.25], [1.0, 2.0], [1.0, 1.0], [1.0, 1.0]
    for f in (recurrence.sequential, recurrence.parallel_scan, recurrence.convolution):
        y, _ = f(a, b, c, x)
        assert np.allclose(y, [3.0, 4.0]), f.__name__
    for T in (1, 4, 16):  # T = N for every method, time-invariant and selective
        for selective in (False, True):
            system = recurrence.random_system(T, N=T, selective=selective)
            y, _ = recurrence.sequential(*system)
            assert np.allclose(recurrence.parallel_scan(*system)[0], y)
    with pytest.raises(ValueError, match="same state size"):
        recurrence.sequential([0.5, 0.5], [1.0], [1.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\[T, N\] with T = 3"):
        recurrence.sequential(np.ones((2, 2)), [1.0, 1.0], [1.0, 1.0], [1.0, 2.0, 3.0])


def test_the_one_app_loader(tmp_path):
    import sys

    from shared import apps

    assert apps.app_names() == sorted(p.parent.name for p in apps.SPACES.glob("*/app.py")) and {
        "scaling_explorer",
        "sft_transformation",
        "parallelism",
        "architectures",
    } <= set(apps.app_names())
    (tmp_path / "b_app").mkdir()
    (tmp_path / "b_app" / "app.py").write_text("X = 41 + 1\n")
    (tmp_path / "a_app").mkdir()
    (tmp_path / "a_app" / "app.py").write_text("raise RuntimeError('broken app')\n")
    (tmp_path / "not_an_app").mkdir()
    assert apps.app_names(tmp_path) == ["a_app", "b_app"]
    m = apps.load_app("b_app", root=tmp_path)
    assert (
        m.X == 42
        and sys.modules["lab_space_b_app"] is m
        and m.__file__ == str(tmp_path / "b_app" / "app.py")
    )
    again = apps.load_app("b_app", module_name="other_name", root=tmp_path)
    assert again is not m and sys.modules["other_name"] is again  # a fresh module each time
    with pytest.raises(RuntimeError, match="broken app"):
        apps.load_app("a_app", root=tmp_path)
    assert "lab_space_a_app" not in sys.modules  # nothing half-registered
    with pytest.raises(FileNotFoundError, match=r"no app 'c_app'.*\(apps: a_app, b_app\)"):
        apps.load_app("c_app", root=tmp_path)
    for name in ("lab_space_b_app", "other_name"):
        sys.modules.pop(name, None)


def test_too_few_inputs_is_one_line_naming_each_input(lab_log):
    """gradio's own count check lists every value it got; the guarded page names the inputs."""
    import gradio as gr

    from shared import inputs

    demo, fns, _ = _page()
    inputs.guard(demo)
    with pytest.raises(gr.Error) as e:
        demo.validate_inputs(fns["echo"], [1])
    assert e.value.message == "/echo takes 3 inputs (input 1, n, input 3); got 1"
    with pytest.raises(gr.Error) as e:
        demo.validate_inputs(fns["refuse"], [])
    assert e.value.message == "/refuse takes 1 input (n); got 0"
    assert demo.validate_inputs(fns["echo"], [None, 1, "a"]) is None  # enough: no refusal
    assert [r.getMessage() for r in lab_log] == [
        "refused /echo: /echo takes 3 inputs (input 1, n, input 3); got 1",
        "refused /refuse: /refuse takes 1 input (n); got 0",
    ]
