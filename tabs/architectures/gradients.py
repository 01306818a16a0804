"""Gradient flow: how much the loss at the last position can still be changed by a token t
steps back, at initialisation and after training."""

from __future__ import annotations

import gradio as gr

from shared import ui, views
from training.architectures import figures
from training.architectures.plan import ARCHS

from .common import BENGIO, NAMES, NONE, lines, results

GRADIENT_TEXT = (
    "Mean over {samples} held-out sequences of length {seq}: how much the loss at the last position "
    "can still be changed by a token t steps back — the signal that lets a model learn long-range "
    "dependencies. Drop from t = 1 to the farthest token (trained models): {drops}. Through a recurrence "
    "the gradient is a product of one Jacobian per step, so it shrinks "
    "geometrically (the LSTM's gates slow this, they do not stop it); attention connects every position "
    "to every other in one step.\n\n"
)


def gradient_view(which):
    r = results()
    if r is None:
        return ui.message_figure(NONE), NONE
    g = r.gradients
    try:
        v = figures.gradient_view(g, which)
    except ValueError as e:
        raise ui.user_error(e) from None
    fig = lines(
        {
            f"{NAMES[a]} ({'at init' if kind == 'init' else 'trained'})": (list(range(len(ys))), ys)
            for (a, kind), ys in v.lines.items()
        },
        "‖∂ loss at the last position / ∂ input embedding t tokens back‖",
        "distance t (tokens back)",
        "gradient norm",
        log_y=True,
    )
    for tr in fig.data:
        tr.mode = "lines"
    drops = ", ".join(f"{NAMES[a]} ×{v.drop[a]:,.0f}" for a in ARCHS)
    text = GRADIENT_TEXT.format(samples=g.samples, seq=g.seq, drops=drops)
    return fig, text + ui.source_note(*BENGIO)


def build_gradients_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Gradient flow"):
        gf_which = gr.Radio(["trained", "init", "both"], value="both", label="models")
        gf_text = gr.Markdown()
        gf_fig = gr.Plot(show_label=False)
        outs = [gf_fig, gf_text]
        demo.load(gradient_view, gf_which, outs, api_name="gradients")
        gf_which.input(gradient_view, gf_which, outs, api_name=False, show_progress="hidden")
        views.link("gradient-flow", (gradient_view, [gf_which], outs), models=gf_which)
