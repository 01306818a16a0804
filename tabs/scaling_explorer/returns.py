"""Diminishing returns tab: the loss each successive doubling of N, D or compute buys."""

from __future__ import annotations

import gradio as gr

from shared import scaling_explore as explore
from shared import ui, views

from .common import LAW_CHOICES, law, num, source

RETURNS_TEXT = (
    "The first doubling of compute buys {first:.4f} nats; the {k}th buys {last:.4f} "
    "({kept:.0f}% of the first). Each doubling helps less because the easy, frequent "
    "patterns are learned first and what is left is the long tail (see the Long tail tab).\n\n"
)


def returns(law_name: str, log_n: float, log_d: float, doublings: float):
    chosen = law(law_name)
    N = 10 ** num("log10 N", log_n, 3, 14)
    D = 10 ** num("log10 D", log_d, 5, 15)
    k = int(num("doublings", doublings, 1, 20))
    d = explore.doublings(chosen, N, D, k)
    fig = ui.grouped_bar_figure(
        [f"×{int(s)}→×{int(2 * s)}" for s in d.factors],
        {
            "double N (D fixed)": d.of_params,
            "double D (N fixed)": d.of_tokens,
            "double compute (optimal split)": d.of_compute,
        },
        f"{chosen.name}: loss gained by each successive doubling",
        "doubling",
        "loss gained (nats/token)",
    )
    first, last = float(d.of_compute[0]), float(d.of_compute[-1])
    text = RETURNS_TEXT.format(first=first, k=k, last=last, kept=100 * d.kept) + source(chosen)
    return fig, text


def build_returns_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Diminishing returns"):
        with gr.Row():
            chooser = gr.Dropdown(LAW_CHOICES, value="chinchilla", label="law")
            log_n = gr.Slider(6, 13, value=9, step=0.05, label="log10 N to start from")
            log_d = gr.Slider(8, 14, value=10.3, step=0.05, label="log10 D to start from")
            k = gr.Slider(1, 12, value=8, step=1, label="doublings")
        fig = gr.Plot(show_label=False)
        text = gr.Markdown()
        ins = [chooser, log_n, log_d, k]
        for c in ins:
            c.change(returns, ins, [fig, text], api_name=False, show_progress="hidden")
        demo.load(returns, ins, [fig, text], api_name="returns")
        views.link("diminishing-returns", law=chooser, log_n=log_n, log_d=log_d, doublings=k)
