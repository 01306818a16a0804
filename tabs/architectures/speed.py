"""Training speed: tokens/s vs sequence length, and the dependent steps per forward pass."""

from __future__ import annotations

import gradio as gr

from shared import ui
from training.architectures import figures
from training.architectures.plan import ARCHS

from .common import NAMES, NONE, label, lines, results

DEPTH_LABELS = {
    "transformer": "{name}: L",
    "mamba": "{name}: L·⌈log₂ T⌉ (parallel scan)",
    "lstm": "{name}: L·T",
}
SPEED_TEXT = (
    "Forward + backward + AdamW step, batch {batch}, width {width}, median of repeats. On 2 CPU cores "
    "there is little parallel hardware to use, so the LSTM's tight C++ loop keeps up with the transformer "
    "here; what differs is the *dependency depth* (right): a transformer layer handles all T positions at "
    "once, a parallel scan needs ⌈log₂ T⌉ rounds, an LSTM needs T steps one after another. On a GPU with "
    "thousands of cores that depth is the wall-clock. Mamba's throughput here is the plain-PyTorch scan "
    "(it materialises every state: d_inner × d_state numbers per position), not the fused CUDA kernel."
)


def throughput_view():
    r = results()
    if r is None:
        return [ui.message_figure(NONE)] * 2 + [NONE]
    t = r.throughput
    v = figures.speed_view(t)
    f1 = lines(
        {label(a, t.models[a]): v.tokens_per_s[a] for a in ARCHS},
        "Training throughput vs sequence length (this CPU)",
        "sequence length",
        "tokens / s",
        log_x=True,
    )
    f2 = lines(
        {DEPTH_LABELS[a].format(name=NAMES[a]): v.depth[a] for a in ARCHS},
        "Sequential steps per forward pass (what parallel hardware cannot shorten)",
        "sequence length",
        "dependent steps",
        log_x=True,
        log_y=True,
    )
    return f1, f2, SPEED_TEXT.format(batch=t.batch, width=t.width)


def build_speed_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Training speed"):
        tp_text = gr.Markdown()
        with gr.Row():
            tp_f1 = gr.Plot(show_label=False)
            tp_f2 = gr.Plot(show_label=False)
        demo.load(throughput_view, None, [tp_f1, tp_f2, tp_text], api_name="throughput")
