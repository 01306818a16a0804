"""The Pipeline tab: a schedule's Gantt chart (stepped through by a slider), its simulated bubble
beside the formula, and the bubble as micro-batches grow (`shared.pipeline.study`)."""

from __future__ import annotations

import gradio as gr

from shared import pipeline, ui
from tabs.parallelism import NARAYANAN_URL, num

EXPLAIN = (
    "**Bubble: {measured:.1f}% simulated = {formula:.1f}% from the formula** "
    "({shape}; bubble/ideal = (p−1)/(v·m) = {ratio:.3f}). Peak activations held (in micro-batches) "
    "per device: {peak}.\n\n"
    "GPipe runs all forwards, then all backwards: every device holds all m micro-batches' activations. "
    "1F1B has the same bubble but starts backwards early, so the first device holds at most p. Interleaving "
    "gives each device v smaller chunks: the bubble shrinks v× for more communication. Numbers on bars are "
    "micro-batches; drag *shown* to step through the schedule.\n\n"
    + ui.source_note(
        "Huang et al. 2019 (GPipe); Narayanan et al. 2021 (1F1B, interleaved)", NARAYANAN_URL
    )
)


def pipeline_view(schedule, stages, microbatches, chunks, backward_ratio, shown_pct):
    """A schedule's Gantt chart (stepped by `shown_pct` of the step), its bubble vs the formula,
    and the bubble as micro-batches grow."""
    p = num("stages", stages, 1, 32, integer=True)
    m = num("micro-batches", microbatches, 1, 128, integer=True)
    v = num("chunks", chunks, 1, 8, integer=True) if schedule == "interleaved" else 1
    r = num("backward / forward time", backward_ratio, 0.25, 8)
    shown = num("shown (%)", shown_pct, 0, 100)
    try:
        st = pipeline.study(schedule, p, m, v, r)
    except ValueError as e:
        raise ui.user_error(e) from None
    fig = ui.gantt_figure(
        st.events,
        f"{schedule}: {p} devices, {m} micro-batches"
        + (f", {v} chunks" if v > 1 else "")
        + f" — bubble {100 * st.measured:.1f}%",
        "time (one forward of one stage's share = 1)",
        until=st.span * shown / 100 if shown < 100 else None,
        x_range=(0, st.span),
    )
    curves = {"GPipe / 1F1B: (p−1)/(m+p−1)": (st.ms, [100 * x for x in st.bubble_curve])}
    for vv, (xs, ys) in st.interleaved.items():
        curves[f"interleaved, v = {vv}"] = (xs, [100 * y for y in ys])
    fig2 = ui.line_figure(
        curves,
        f"Bubble vs micro-batches ({p} stages)",
        "micro-batches m",
        "idle share of the step (%)",
        markers=False,
    )
    fig2.add_scatter(
        x=[m],
        y=[100 * st.measured],
        mode="markers",
        name="simulated (your schedule)",
        marker={"size": 13, "symbol": "x", "color": "black"},
    )
    text = EXPLAIN.format(
        measured=100 * st.measured,
        formula=100 * st.formula,
        shape="(p−1)/(m+p−1)" if v == 1 else "(p−1)/v ÷ (m + (p−1)/v)",
        ratio=st.ratio,
        peak=", ".join(f"{k}: {x:g}" for k, x in st.peak.items()),
    )
    return fig, fig2, text


def build_pipeline_tab(demo: gr.Blocks) -> None:
    """The Pipeline tab's components and events; call it inside the app's `with gr.Tab("Pipeline")`."""
    with gr.Row():
        sched = gr.Radio(list(pipeline.KINDS), value="1f1b", label="schedule")
        stages = gr.Slider(1, 16, value=4, step=1, label="devices (stages) p")
        m = gr.Slider(1, 64, value=8, step=1, label="micro-batches m")
        v = gr.Slider(1, 8, value=2, step=1, label="chunks per device v (interleaved)")
        r = gr.Slider(0.5, 4, value=2, step=0.25, label="backward / forward time")
    shown = gr.Slider(
        0,
        100,
        value=100,
        step=1,
        label="shown (% of the step): drag to step through",
        elem_id="par-pp-shown",
    )
    text = gr.Markdown(elem_id="par-pp-text")
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-pp-fig")
        fig2 = gr.Plot(show_label=False)
    ins, outs = [sched, stages, m, v, r, shown], [fig, fig2, text]
    for c in ins:
        c.input(pipeline_view, ins, outs, api_name=False, show_progress="hidden")
    demo.load(pipeline_view, ins, outs, api_name="pipeline")
