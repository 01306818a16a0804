"""The Tensor parallel tab: one layer of a real model under Megatron tensor parallelism — parameters
and activations per GPU as TP grows, with and without sequence parallelism, and the all-reduces it
costs (`shared.parallel_plan.tensor_layer`)."""

from __future__ import annotations

import gradio as gr

from shared import memory, ui
from shared.parallel_plan import TP_SIZES, tensor_layer
from tabs.parallelism import GB, KORTHIKANTI_URL, MEGATRON_URL, num

EXPLAIN = (
    "**How it splits** (Megatron-LM): the MLP's first matrix is cut by columns, so each GPU computes a slice "
    "of the hidden units with no communication; the second is cut by rows, so each GPU produces a partial sum "
    "of the output, and one all-reduce adds them up. Attention splits the same way by heads. Parameters and "
    "most activations shrink 1/t, but the layer's input and the LayerNorm/dropout activations stay replicated "
    "(the 10·sbh term) until sequence parallelism splits those along the sequence. The all-reduces sit on "
    "the critical path, which is why TP stays inside one node's fast links. The **Real runs** tab runs a "
    "column/row-parallel MLP on separate processes and checks it equals the unsplit one.\n\n"
    + ui.source_note("Shoeybi et al. 2019, Megatron-LM", MEGATRON_URL)
    + " · "
    + ui.source_note("Korthikanti et al. 2022, Table 2", KORTHIKANTI_URL)
)


def tensor(preset, tp, sp, micro_batch, recompute, bandwidth_gbs):
    """Megatron tensor parallelism for one layer of a real model: parameters and activations per
    GPU as TP grows (with and without sequence parallelism), and the all-reduces it costs."""
    if preset not in memory.SHAPES:
        raise ui.user_error(f"unknown model {preset!r}: choose one of {', '.join(memory.SHAPES)}")
    shape = memory.SHAPES[preset]
    t = num("TP", tp, 1, 64, integer=True)
    b = num("micro-batch", micro_batch, 1, 1024, integer=True)
    bw = num("bandwidth (GB/s)", bandwidth_gbs, 0.001, 1e6) * GB
    if recompute not in memory.RECOMPUTE:
        raise ui.user_error(f"recompute must be one of {', '.join(memory.RECOMPUTE)}")
    try:
        layer = tensor_layer(shape, t, bool(sp), b, recompute, bw, name=preset)
    except ValueError as e:
        raise ui.user_error(e) from None
    return _figure(layer, preset, shape, t, b), _rows(layer, bw), EXPLAIN


def _figure(layer, preset: str, shape, t: int, b: int):
    fig = ui.line_figure(
        {k: (layer.sizes, [x / GB for x in ys]) for k, ys in layer.curves.items()},
        f"{preset}: activations of one layer per GPU (s = {shape.seq}, b = {b})",
        "tensor-parallel size t",
        "GB per layer per GPU",
        log_x=True,
        log_y=True,
        markers=True,
    )
    mine = layer.activation_bytes / GB
    fig.add_scatter(
        x=[t],
        y=[mine],
        mode="markers",
        marker={"size": 14, "symbol": "x", "color": "black"},
        name=f"your choice: {mine:.3f} GB",
    )
    return fig


def _rows(layer, bw: float) -> list[list[str]]:
    return [
        [
            "parameters of one layer per GPU",
            f"{layer.params_per_gpu / 1e6:,.1f} M",
            f"{layer.layer_params / 1e6:,.1f} M / t",
        ],
        [
            "activations of one layer per GPU",
            f"{layer.activation_bytes / GB:.3f} GB",
            layer.activation_formula,
        ],
        [
            "all-reduces per layer per step",
            str(layer.allreduces_per_layer),
            "2 in forward (after attention, after MLP), 2 in backward",
        ],
        ["size of each all-reduce", f"{layer.allreduce_bytes / 1e6:,.1f} MB", "s·b·h × 2 bytes"],
        [
            "time of each (ring)",
            f"{1e3 * layer.allreduce_s:.2f} ms",
            f"2(t−1)/t · size / {bw / GB:g} GB/s",
        ],
        [
            "per step, all layers",
            f"{layer.step_allreduce_s * 1e3:,.0f} ms",
            "× 4 × layers (before overlap)",
        ],
    ]


def build_tensor_tab(demo: gr.Blocks) -> None:
    """The Tensor parallel tab's components and events; call it inside the app's `with gr.Tab("Tensor parallel")`."""
    with gr.Row():
        preset = gr.Dropdown(list(memory.SHAPES), value="GPT-3 175B", label="model")
        tp = gr.Radio(list(TP_SIZES[:5]), value=8, label="TP size t")
        sp = gr.Checkbox(value=False, label="sequence parallel")
        b = gr.Number(value=1, label="micro-batch b", precision=0, minimum=1, maximum=1024)
        rc = gr.Radio(list(memory.RECOMPUTE), value="none", label="recompute")
        bw = gr.Number(
            value=450, label="bandwidth (GB/s, NVLink-class)", minimum=0.001, maximum=1e6
        )
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-tp-fig")
        with gr.Column():
            table = gr.Dataframe(
                headers=["quantity", "value", "formula"], interactive=False, wrap=True
            )
            text = gr.Markdown()
    ins, outs = [preset, tp, sp, b, rc, bw], [fig, table, text]
    for c in ins:
        c.input(tensor, ins, outs, api_name=False, show_progress="hidden")
    demo.load(tensor, ins, outs, api_name="tensor")
