"""The Scale tab: what training a model of N parameters on D tokens takes on real hardware, and why
one device — however powerful — cannot do it (`shared.parallel_plan.scale_plan`)."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui
from shared.parallel_plan import scale_plan
from tabs.parallelism import num

GPT3 = (175e9, 300e9)  # parameters, tokens
EXPLAIN = (
    "**GPT-3, worked**: {flops:.3g} FLOPs on V100s at {mfu:.1f}% MFU = {mgpu_hours:.2f}M GPU-hours: "
    "{years:,.0f} years on one V100, {days:,.0f} days on 1,024 of them; at ${lo_price:.2f}–"
    "{hi_price:.2f} per GPU-hour that is **${lo_m:.1f}M–${hi_m:.1f}M** — the course's $4–12M. Its "
    "model states alone (2.8 TB) need {v100s} V100s of 32 GB before a single activation is stored. "
    "That is why training is split across thousands of GPUs for weeks: the memory forces a split "
    "(the tabs above show how), and the compute makes it worth splitting further. Real scaling is "
    "not perfect: communication and bubbles lower MFU as GPUs are added.\n\n{sources}"
)


def scale(log_n, log_d, gpu, mfu_pct, price, n_gpus):
    """What training a model of N parameters on D tokens takes on real hardware, and why one
    device — however powerful — cannot do it."""
    N = 10 ** num("log10 N", log_n, 6, 14)
    D = 10 ** num("log10 D", log_d, 8, 15)
    mfu = num("MFU (%)", mfu_pct, 1, 100) / 100
    usd = num("price per GPU-hour ($)", price, 0, 100)
    n = num("GPUs", n_gpus, 1, 1_000_000, integer=True)
    if gpu not in scaling.GPUS:
        raise ui.user_error(f"unknown GPU {gpu!r}: choose one of {', '.join(scaling.GPUS)}")
    sp = scale_plan(N, D, gpu, mfu, usd, n)
    fig = ui.line_figure(
        {f"{gpu} at {100 * mfu:.0f}% MFU": (sp.counts, sp.days)},
        "Wall-clock days vs number of GPUs (if scaling were perfect)",
        "GPUs",
        "days",
        log_x=True,
        log_y=True,
    )
    fig.add_scatter(
        x=[n],
        y=[sp.cost.days],
        mode="markers",
        marker={"size": 13, "symbol": "x", "color": "black"},
        name=f"{n:,} GPUs: {sp.cost.days:,.1f} days",
    )
    fig.add_hline(y=30, line={"dash": "dot", "color": "#64748b"}, annotation_text="one month")
    return _rows(sp, scaling.GPUS[gpu], gpu, mfu, usd, n), fig, _text(scaling.GPUS[gpu])


def _rows(sp, g, gpu: str, mfu: float, usd: float, n: int) -> list[list[str]]:
    c = sp.cost
    return [
        ["compute C = 6·N·D", f"{c.flops:.3g} FLOPs"],
        [
            f"GPU-hours = C / ({g.peak_flops:.3g} FLOP/s × {100 * mfu:.1f}% MFU) / 3600",
            f"{c.gpu_hours:,.0f}",
        ],
        [f"wall-clock on {n:,} GPUs (perfect scaling)", f"{c.days:,.1f} days"],
        ["GPUs × days", f"{n:,} × {c.days:,.1f}"],
        [f"cost at ${usd:g} per GPU-hour", f"${c.dollars:,.0f}"],
        [f"energy (GPU boards at {g.watts:g} W, no cooling)", f"{c.energy_mwh:,.0f} MWh"],
        [
            "model states (16 bytes/param: bf16 weights + grads, fp32 master + Adam)",
            f"{sp.state_bytes / 1e12:,.2f} TB vs {g.memory_gb:g} GB on one {gpu}",
        ],
        ["GPUs needed just to hold them (ZeRO-3 / FSDP)", f"≥ {sp.devices_to_hold_states:,}"],
        [f"time on ONE {gpu}", f"{sp.years_on_one:,.1f} years"],
    ]


def _text(g) -> str:
    """GPT-3 worked through: the same arithmetic on V100s at GPT-3's measured MFU."""
    lo, hi = scaling.gpt3_cost_range()
    g3 = scale_plan(*GPT3, "V100", scaling.GPT3_MFU, 0.0, 1)
    return EXPLAIN.format(
        flops=lo.flops,
        mfu=100 * scaling.GPT3_MFU,
        mgpu_hours=lo.gpu_hours / 1e6,
        years=lo.gpu_hours / 24 / 365,
        days=lo.days,
        lo_price=scaling.GPT3_PRICE_RANGE[0],
        hi_price=scaling.GPT3_PRICE_RANGE[1],
        lo_m=lo.dollars / 1e6,
        hi_m=hi.dollars / 1e6,
        v100s=g3.devices_to_hold_states,
        sources=ui.source_note(g.source)
        + " · "
        + ui.source_note(scaling.GPT3_MFU_SOURCE, "https://arxiv.org/abs/2204.02311"),
    )


def build_scale_tab(demo: gr.Blocks) -> None:
    """The Scale tab's components and events; call it inside the app's `with gr.Tab("Scale")`."""
    with gr.Row():
        n = gr.Slider(6, 13, value=math.log10(GPT3[0]), step=0.01, label="log10 N (parameters)")
        d = gr.Slider(8, 14, value=math.log10(GPT3[1]), step=0.01, label="log10 D (tokens)")
        gpu = gr.Dropdown(list(scaling.GPUS), value="H100", label="GPU")
    with gr.Row():
        mfu = gr.Slider(1, 100, value=40, step=0.5, label="MFU (%)")
        price = gr.Number(value=2.5, label="$ per GPU-hour", minimum=0, maximum=100)
        count = gr.Number(value=1024, precision=0, label="GPUs", minimum=1, maximum=1_000_000)
    text = gr.Markdown(elem_id="par-scale-text")
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-scale-fig")
        table = gr.Dataframe(headers=["quantity", "value"], interactive=False, wrap=True)
    ins, outs = [n, d, gpu, mfu, price, count], [table, fig, text]
    for c in ins:
        c.input(scale, ins, outs, api_name=False, show_progress="hidden")
    demo.load(scale, ins, outs, api_name="scale")
