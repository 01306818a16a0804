"""Selective copy: accuracy on the copied tokens over training."""

from __future__ import annotations

import gradio as gr

from shared import ui

from .common import MAMBA, NAMES, NONE, label, lines, pct, results

COPY_TEXT = (
    "{tokens} data tokens (from {symbols} symbols) scattered at random positions among noise in a "
    "{seq}-token sequence, then {tokens} markers: at marker i the model must output the i-th data "
    "token. Because the positions change every time, a model must *select* by content what to keep — "
    "Mamba's input-dependent Δ, B, C do that, a time-invariant SSM (a fixed convolution) cannot. Final: "
    "{final}.\n\n"
)


def copy_view():
    r = results()
    if r is None:
        return ui.message_figure(NONE), NONE
    c = r.copy
    fig = lines(
        {
            label(x.arch, x.model): ([p.step for p in x.curve], [p.accuracy for p in x.curve])
            for x in c.runs
        },
        "Selective copying: accuracy on the copied tokens",
        "step",
        "accuracy",
    )
    fig.add_hline(y=c.chance, line_dash="dot", annotation_text="chance")
    fig.update_yaxes(range=[0, 1.05])
    final = ", ".join(f"{NAMES[x.arch]} {pct(x.accuracy)} ({x.steps} steps)" for x in c.runs)
    text = COPY_TEXT.format(tokens=c.tokens, symbols=c.vocab - 2, seq=c.seq, final=final)
    return fig, text + ui.source_note(MAMBA[0] + ", Table 1", MAMBA[1])


def build_copy_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Selective copy"):
        cp_text = gr.Markdown()
        cp_fig = gr.Plot(show_label=False)
        demo.load(copy_view, None, [cp_fig, cp_text], api_name="copy")
