"""Language modelling: held-out loss vs steps and vs wall-clock for one matched size."""

from __future__ import annotations

import gradio as gr

from shared import ui, views
from training.architectures import figures

from .common import NAMES, NONE, label, lines, results, runs_at

LM_TEXT = (
    "The world corpus (biographies of invented people), {seq}-token sequences, batch {batch}, "
    "{steps} steps of the project's pre-training loop, one learning rate for all. Final held-out loss: "
    "{rows}.\n\nPer step, the question is which architecture learns most from the same data. Per second, "
    "the CPU decides: the LSTM's fused C++ loop and the transformer's matrix multiplies are efficient here, "
    "while Mamba's scan runs as plain PyTorch (no CUDA kernel) — on a GPU with `mamba_ssm` the order of the "
    "wall-clock curves changes."
)
LM_ROW = "{name} {loss:.3f} after {seconds:.0f} s ({tokens_per_s:,.0f} tokens/s at the end)"


def lm_view(width):
    """Held-out loss vs steps and vs wall-clock for one matched size."""
    r = results()
    if r is None:
        return [ui.message_figure(NONE)] * 2 + [NONE]
    width, runs = runs_at(r.lm.runs, width)
    curves = {label(x.arch, x.model): figures.lm_curves(x) for x in runs}
    f1 = lines(
        {k: c.by_step for k, c in curves.items()},
        f"Held-out loss vs steps (width {width})",
        "optimizer step",
        "held-out loss (nats/token)",
    )
    f2 = lines(
        {k: c.by_time for k, c in curves.items()},
        f"Held-out loss vs wall-clock on this CPU (width {width})",
        "seconds",
        "held-out loss (nats/token)",
    )
    rows = "; ".join(
        LM_ROW.format(
            name=NAMES[x.arch],
            loss=x.final_eval_loss,
            seconds=x.seconds,
            tokens_per_s=x.tokens_per_s,
        )
        for x in runs
    )
    return f1, f2, LM_TEXT.format(seq=r.lm.seq, batch=r.lm.batch, steps=r.lm.steps, rows=rows)


def build_lm_tab(demo: gr.Blocks, widths: list[int]) -> None:
    with gr.Tab("Language modelling"):
        lm_w = gr.Radio([str(w) for w in widths], value=str(max(widths)), label="model width")
        lm_text = gr.Markdown()
        with gr.Row():
            lm_f1 = gr.Plot(show_label=False, elem_id="arch-lm-steps")
            lm_f2 = gr.Plot(show_label=False)
        outs = [lm_f1, lm_f2, lm_text]
        demo.load(lm_view, lm_w, outs, api_name="lm")
        lm_w.input(lm_view, lm_w, outs, api_name=False, show_progress="hidden")
        views.link("language-modelling", (lm_view, [lm_w], outs), width=lm_w)
