"""The Memory tab: per-GPU memory of every part of a model under a parallel plan, beside the same
model on one GPU, each part with its formula filled in (`shared.parallel_plan.against_one_gpu`)."""

from __future__ import annotations

import gradio as gr

from shared import memory, ui, views
from shared.parallel_plan import Plan, against_one_gpu
from tabs.parallelism import GB, KORTHIKANTI_URL, PLAYBOOK, PLAYBOOK_URL, ZERO_URL, gb, num

CUSTOM = "custom"
DEFAULT = "Llama 2 7B"
PRESETS = list(memory.SHAPES)
EXPLAIN = (
    "**{total} GB per GPU** on {gpus:,} GPUs (DP {dp} × TP {tp} × PP {pp}) — {fits} a {gpu:g} GB "
    "GPU. Without parallelism one GPU would need {single} GB. Model: {n_params_b:.2f}B parameters "
    "({mlp} MLP, {kv_heads} KV heads).\n\n"
    "Every byte-per-value is an input above: mixed-precision Adam is 2 + 2 + 12 = 16 bytes per parameter "
    "(ZeRO); keep fp32 gradients and it is 18; fp32 everything is 4 + 4 + 8. Activations use Korthikanti et "
    "al.'s per-layer formula (a GPT-style layer; SwiGLU and GQA change the constants a little); the first "
    "pipeline stage holds the most micro-batches in flight, so it is the one shown. The **Real runs** tab "
    "checks these formulas against measured bytes.\n\n{sources}"
)
SOURCES = " · ".join(
    (
        ui.source_note("Rajbhandari et al. 2020 (ZeRO)", ZERO_URL),
        ui.source_note("Korthikanti et al. 2022", KORTHIKANTI_URL),
        ui.source_note(PLAYBOOK, PLAYBOOK_URL),
    )
)
# (name in messages, upper bound) of every whole-number input, in the handler's order
SHAPE_LIMITS = (
    ("layers", 1000),
    ("hidden", 1_000_000),
    ("heads", 4096),
    ("kv heads", 4096),
    ("vocab", 10_000_000),
    ("sequence length", 10_000_000),
    ("MLP width", 10_000_000),
)
PLAN_LIMITS = (("DP", 1_000_000), ("TP", 1024), ("PP", 1024))
BATCH_LIMITS = (("micro-batch", 100_000), ("micro-batches", 100_000))


def preset_shape(name: str):
    """Fill the shape fields from a preset (custom leaves them as they are)."""
    if name not in memory.SHAPES:
        return [gr.skip()] * 9
    s = memory.SHAPES[name]
    return [
        s.layers,
        s.hidden,
        s.heads,
        s.kv_heads or s.heads,
        s.vocab,
        s.seq,
        s.ffn or 4 * s.hidden,
        s.gated_mlp,
        s.tied_embeddings,
    ]


def _whole(limits, values) -> list[int]:
    return [int(num(n, v, 1, hi, integer=True)) for (n, hi), v in zip(limits, values)]


def memory_breakdown(
    layers,
    hidden,
    heads,
    kv_heads,
    vocab,
    seq,
    ffn,
    gated,
    tied,
    dp,
    tp,
    pp,
    zero,
    sp,
    micro_batch,
    microbatches,
    schedule,
    recompute,
    param_bytes,
    grad_bytes,
    optimizer_bytes,
    activation_bytes,
    offload,
    gpu_gb,
):
    """Per-GPU memory of every part for a model shape and a parallel plan, beside the same model
    with no parallelism, with each formula filled in."""
    L, h, a, kv, V, s, f = _whole(SHAPE_LIMITS, (layers, hidden, heads, kv_heads, vocab, seq, ffn))
    d, t, p = _whole(PLAN_LIMITS, (dp, tp, pp))
    b, m = _whole(BATCH_LIMITS, (micro_batch, microbatches))
    shape = memory.ModelShape(
        L, h, a, V, s, ffn=f, kv_heads=kv, tied_embeddings=bool(tied), gated_mlp=bool(gated)
    )
    plan = Plan(
        dp=d,
        tp=t,
        pp=p,
        zero_stage=int(num("ZeRO stage", zero, 0, 3, integer=True)),
        sp=bool(sp),
        micro_batch=b,
        microbatches=m,
        schedule=schedule,
        recompute=recompute,
        param_bytes=num("parameter bytes", param_bytes, 0, 8),
        grad_bytes=num("gradient bytes", grad_bytes, 0, 8),
        optimizer_bytes=num("optimizer bytes", optimizer_bytes, 0, 32),
        activation_bytes=num("activation bytes", activation_bytes, 1, 4),
        offload_optimizer=bool(offload),
    )
    gpu = num("GPU memory (GB)", gpu_gb, 1, 10_000)
    try:
        mem = against_one_gpu(shape, plan)
    except ValueError as e:
        raise ui.user_error(e) from None
    return _figure(mem, gpu), _rows(mem), _text(mem, gpu, bool(gated), kv)


def _figure(mem, gpu: float):
    b, single = mem.plan, mem.single
    fig = ui.grouped_bar_figure(
        [f"your plan ({b.gpus:,} GPUs)", "no parallelism (1 GPU)"],
        {k: [b.parts[k] / GB, single.parts[k] / GB] for k in b.parts},
        "Memory per GPU, by part",
        "",
        "GB per GPU",
        stacked=True,
    )
    fig.add_hline(
        y=gpu,
        line={"dash": "dash", "color": "#0f172a"},
        annotation_text=f"{gpu:g} GB GPU",
        annotation_position="top left",
    )
    return fig


def _rows(mem) -> list[list]:
    b = mem.plan
    return [[k, gb(v), b.formulas[k]] for k, v in b.parts.items()] + [
        ["total", gb(b.total), "sum of the parts"]
    ]


def _text(mem, gpu: float, gated: bool, kv_heads: int) -> str:
    plan = mem.plan.plan
    return EXPLAIN.format(
        total=gb(mem.plan.total),
        gpus=mem.plan.gpus,
        dp=plan.dp,
        tp=plan.tp,
        pp=plan.pp,
        fits="fits" if mem.fits(gpu * GB) else "**does not fit**",
        gpu=gpu,
        single=gb(mem.single.total),
        n_params_b=mem.n_params / 1e9,
        mlp="SwiGLU" if gated else "GELU",
        kv_heads=kv_heads,
        sources=SOURCES,
    )


def _shape_inputs(preset: str) -> list:
    """The shape fields, holding `preset`'s values from the start: the page's load fills them
    again, but a field that starts empty reads 0 in the browser (gradio's Number), and the load's
    breakdown could then see that 0 before the fill lands (seen once in CI: "layers ... (got 0)")."""
    v = preset_shape(preset)
    with gr.Row():
        return [
            gr.Number(v[0], label="layers", precision=0, minimum=1, maximum=1000),
            gr.Number(v[1], label="hidden h", precision=0, minimum=1, maximum=1_000_000),
            gr.Number(v[2], label="heads a", precision=0, minimum=1, maximum=4096),
            gr.Number(v[3], label="KV heads", precision=0, minimum=1, maximum=4096),
            gr.Number(v[4], label="vocabulary", precision=0, minimum=1, maximum=10_000_000),
            gr.Number(v[5], label="sequence s", precision=0, minimum=1, maximum=10_000_000),
            gr.Number(v[6], label="MLP width", precision=0, minimum=1, maximum=10_000_000),
            gr.Checkbox(v[7], label="SwiGLU MLP"),
            gr.Checkbox(v[8], label="tied embeddings"),
        ]


def _plan_inputs() -> list:
    """DP, TP, PP, ZeRO stage, SP, micro-batch, micro-batches, schedule, recompute, the four bytes
    per value and offload: the handler's plan arguments in its order."""
    with gr.Row():
        dp = gr.Number(value=1, label="DP", precision=0, minimum=1, maximum=1_000_000)
        tp = gr.Number(value=1, label="TP", precision=0, minimum=1, maximum=1024)
        pp = gr.Number(value=1, label="PP", precision=0, minimum=1, maximum=1024)
        zero_stage = gr.Radio([0, 1, 2, 3], value=0, label="ZeRO stage")
        sp = gr.Checkbox(label="sequence parallel")
        offload = gr.Checkbox(label="optimizer offloaded to CPU")
    with gr.Row():
        micro = gr.Number(value=1, label="micro-batch b", precision=0, minimum=1, maximum=100_000)
        nmicro = gr.Number(
            value=1, label="micro-batches per step", precision=0, minimum=1, maximum=100_000
        )
        schedule = gr.Radio(["1f1b", "gpipe"], value="1f1b", label="pipeline schedule")
        recompute = gr.Radio(list(memory.RECOMPUTE), value="none", label="activation recompute")
    with gr.Accordion("bytes per value (every assumption is an input)", open=False):
        with gr.Row():
            bytes_ = [
                gr.Number(value=2, label="parameter bytes", minimum=0, maximum=8),
                gr.Number(value=2, label="gradient bytes", minimum=0, maximum=8),
                gr.Number(
                    value=12,
                    label="optimizer bytes (fp32 master + Adam m, v)",
                    minimum=0,
                    maximum=32,
                ),
                gr.Number(value=2, label="activation bytes", minimum=1, maximum=4),
            ]
    return [dp, tp, pp, zero_stage, sp, micro, nmicro, schedule, recompute, *bytes_, offload]


def build_memory_tab(demo: gr.Blocks) -> None:
    """The Memory tab's components and events; call it inside the app's `with gr.Tab("Memory")`."""
    with gr.Row():
        preset = gr.Dropdown(PRESETS + [CUSTOM], value=DEFAULT, label="model")
        gpu_gb = gr.Number(value=80, label="GPU memory (GB)", minimum=1, maximum=10_000)
    shape_ins = _shape_inputs(DEFAULT)
    ins = shape_ins + _plan_inputs() + [gpu_gb]
    text = gr.Markdown(elem_id="par-mem-text")
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-mem-fig")
        table = gr.Dataframe(
            headers=["part", "GB per GPU", "formula"],
            interactive=False,
            wrap=True,
            column_widths=["18%", "14%", "68%"],
        )
    outs = [fig, table, text]
    # a preset fills the fields, then the breakdown follows (one event chain, no double draw)
    preset.input(preset_shape, preset, shape_ins, api_name=False, show_progress="hidden").then(
        memory_breakdown, ins, outs, api_name=False, show_progress="hidden"
    )
    for c in ins:
        c.input(memory_breakdown, ins, outs, api_name=False, show_progress="hidden")
    demo.load(preset_shape, preset, shape_ins, api_name="preset").then(
        memory_breakdown, ins, outs, api_name="memory"
    )
    dp, tp, pp, zero_stage = ins[9:13]  # a link sets the model and the plan, then this draws
    render = (_open_view, [preset, *ins], shape_ins + outs)
    views.link("memory", render, model=preset, dp=dp, tp=tp, pp=pp, zero=zero_stage)


def _open_view(name: str, *values):
    """After a link set the model and the plan: the preset's shape (a custom model keeps the
    fields), then its breakdown — as choosing the preset on the page does."""
    filled = preset_shape(name)
    shape = filled if name in memory.SHAPES else values[:9]
    return (*filled, *memory_breakdown(*shape, *values[9:]))
