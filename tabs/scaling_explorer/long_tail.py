"""Long tail tab: held-out loss by how often people are mentioned, over training and over size."""

from __future__ import annotations

import gradio as gr

from shared import ui, views
from training.sweep import PLANS
from training.sweep.explore import long_tail as tail_of
from training.sweep.explore import shapes

from .common import BUILD_SWEEP, num, sci, sweep

INTRO = (
    "Why progress seems to slow: the held-out loss on biographies of people the corpus mentions "
    "often falls first; rarely mentioned people are learned last, by bigger models and longer "
    "training. Measured in our sweep at every evaluation."
)
NO_SWEEP = f"No sweep results: build them with `{BUILD_SWEEP}`."


def long_tail(size_index: float):
    r = sweep()
    if r is None:
        return ui.message_figure(NO_SWEEP), ui.message_figure(NO_SWEEP)
    i = int(num("model size", size_index, 0, len(shapes(r)) - 1))
    t = tail_of(r, i)
    fig = ui.line_figure(
        {f"mentioned {line.bucket}×": (line.x, line.losses) for line in t.over_training},
        f"Loss by how often people are mentioned — {t.run.params:,} params",
        "tokens seen",
        "held-out loss (nats/token)",
        log_x=True,
        markers=True,
    )
    fig2 = ui.line_figure(
        {f"mentioned {line.bucket}×": (line.x, line.losses) for line in t.over_size},
        f"C = {sci(t.budget)}: loss by mentions vs model size",
        "parameters N",
        "held-out loss (nats/token)",
        log_x=True,
        markers=True,
    )
    return fig, fig2


def build_long_tail_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Long tail"):
        gr.Markdown(INTRO)
        n_sizes = len(PLANS["cpu"].shapes)
        size = gr.Slider(
            0, n_sizes - 1, value=n_sizes - 1, step=1, label="model size (0 = smallest)"
        )
        with gr.Row():
            fig = gr.Plot(show_label=False, elem_id="scaling-tail-fig")
            fig2 = gr.Plot(show_label=False)
        size.change(long_tail, size, [fig, fig2], api_name=False, show_progress="hidden")
        demo.load(long_tail, size, [fig, fig2], api_name="long_tail")
        views.link("long-tail", size=size)  # .change redraws
