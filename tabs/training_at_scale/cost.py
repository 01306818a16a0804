"""The suite's one cost panel: what training a model of N parameters on D tokens takes on real
GPUs (GPU-hours, days, dollars, energy), and why one computer — however powerful — cannot do it,
with GPT-3 worked through to the course's "$4–12M". The numbers are
`shared.scaling_explore.cost_sheet` and `gpt3_cost`, the defaults `COST_DEFAULTS` (GPT-3's, each
sourced). Training at Scale shows it as its "Scale & cost" tab; the Scaling Laws Explorer's Cost
tab builds the same panel (`build_cost_panel`, another api_name)."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui, views
from shared.scaling_explore import COST_DEFAULTS, cost_sheet, gpt3_cost

num = ui.checked_number  # a finite number in [lo, hi], or a one-line error
PALM_URL = "https://arxiv.org/abs/2204.02311"
TERMS = ("ZeRO", "FSDP", "PF-day", "bubble")  # glossary terms its table and text write
INTRO = (
    "**The scale of the challenge.** Training compute is C ≈ 6·N·D FLOPs (N parameters, D tokens). "
    "A GPU delivers a share of its peak (the MFU), so C becomes GPU-hours, then days on a cluster, "
    "dollars and energy — and the model's training state becomes a count of GPUs just to hold it."
)
EXPLAIN = (
    "**Why one computer cannot do it — GPT-3, worked**: {flops:.3g} FLOPs (reported) on V100s at "
    "GPT-3's {mfu:.1f}% MFU = {mgpu_hours:.2f}M GPU-hours: **{years:,.0f} years on one V100**, "
    "{days:,.0f} days on {n:,} of them; at ${lo_price:.2f}–{hi_price:.2f} per GPU-hour that is "
    "**${lo_m:.1f}M–${hi_m:.1f}M** — the course's $4–12M (the spread is the price guess: OpenAI "
    "did not publish the bill). Its model states alone ({tb:.1f} TB at 16 bytes per parameter) "
    "need **{v100s} V100s** of 32 GB before a single activation is stored. So training is split "
    "across thousands of GPUs for weeks: the memory forces a split (the Parallelism Visualizer "
    "shows how), and the compute makes it worth splitting further. Real scaling is not perfect: "
    "communication and pipeline bubbles lower MFU as GPUs are added.\n\n"
    "Defaults: {defaults}.\n\n{sources}"
)


def scale(log_n, log_d, gpu, mfu_pct, price, n_gpus):
    """What training a model of N parameters on D tokens takes on real hardware, and why one
    device — however powerful — cannot do it: (table rows, days-vs-GPUs figure, text)."""
    N = 10 ** num("log10 N", log_n, 3, 14)
    D = 10 ** num("log10 D", log_d, 5, 15)
    mfu = num("MFU (%)", mfu_pct, 1, 100) / 100
    usd = num("price per GPU-hour ($)", price, 0, 100)
    n = num("GPUs", n_gpus, 1, 1_000_000, integer=True)
    try:
        s = cost_sheet(N, D, gpu, mfu, usd, n)
    except ValueError as e:
        raise ui.user_error(e) from None
    fig = ui.line_figure(
        {f"{gpu} at {100 * mfu:.1f}% MFU": (s.counts, s.days)},
        "Wall-clock days vs number of GPUs (if scaling were perfect)",
        "GPUs",
        "days",
        log_x=True,
        log_y=True,
    )
    fig.add_scatter(
        x=[n],
        y=[s.cost.days],
        mode="markers",
        marker={"size": 13, "symbol": "x", "color": "black"},
        name=f"{n:,} GPUs: {s.cost.days:,.1f} days",
    )
    # a trace, not add_hline: on a log axis a shape's annotation is placed at 10^30 and drags the
    # axis range up with it
    fig.add_scatter(
        x=[s.counts[0], s.counts[-1]],
        y=[30, 30],
        mode="lines",
        line={"dash": "dot", "color": "#64748b"},
        name="one month (30 days)",
    )
    return _rows(s, gpu, mfu, usd, n), fig, _text(s.gpu)


def _rows(s, gpu: str, mfu: float, usd: float, n: int) -> list[list[str]]:
    c, g = s.cost, s.gpu
    return [
        ["compute C = 6·N·D", f"{c.flops:.3g} FLOPs ({s.pf_days:,.0f} PF-days)"],
        ["GPU", f"{g.name} ({g.peak_flops:.3g} FLOP/s peak, {g.precision}, {g.memory_gb:g} GB)"],
        [
            f"GPU-hours = C / ({g.peak_flops:.3g} FLOP/s × {100 * mfu:.1f}% MFU) / 3600",
            f"{c.gpu_hours:,.0f}",
        ],
        [f"wall-clock on {n:,} GPUs (perfect scaling)", f"{c.days:,.1f} days"],
        [f"cost at ${usd:g} per GPU-hour", f"${c.dollars:,.0f}"],
        [f"energy (GPU boards at {g.watts:g} W, no cooling)", f"{c.energy_mwh:,.0f} MWh"],
        [
            "model states (16 bytes/param: bf16 weights + grads, fp32 master + Adam)",
            f"{s.state_bytes / 1e12:,.2f} TB vs {g.memory_gb:g} GB on one {gpu}",
        ],
        ["GPUs needed just to hold them (ZeRO-3 / FSDP)", f"≥ {s.devices_to_hold_states:,}"],
        [f"time on ONE {gpu}", f"{s.years_on_one:,.1f} years"],
    ]


def _text(g) -> str:
    """GPT-3 worked through (`gpt3_cost`): the same arithmetic on V100s at GPT-3's measured MFU."""
    g3 = gpt3_cost()
    lo, hi = g3.low, g3.high
    return EXPLAIN.format(
        flops=g3.flops,
        mfu=100 * g3.mfu,
        mgpu_hours=lo.gpu_hours / 1e6,
        years=g3.years_on_one,
        days=lo.days,
        n=lo.n_gpus,
        lo_price=g3.prices[0],
        hi_price=g3.prices[1],
        lo_m=lo.dollars / 1e6,
        hi_m=hi.dollars / 1e6,
        tb=g3.state_bytes / 1e12,
        v100s=g3.v100s_to_hold_states,
        defaults=COST_DEFAULTS.source,
        sources=" · ".join(
            [
                ui.source_note(g.source),
                ui.source_note(g3.source),
                ui.source_note(g3.mfu_source, PALM_URL),
            ]
        ),
    )


def build_cost_panel(
    demo: gr.Blocks, api_name: str = "scale", elem_prefix: str = "tas-cost", tab: str = "scale-cost"
) -> None:
    """The panel's components and events, inside the caller's tab (its id: `tab`); `api_name`
    and `elem_prefix` differ per app so that the suite (every app on one page) keeps them unique."""
    d = COST_DEFAULTS
    gr.Markdown(INTRO)
    with gr.Row():
        n = gr.Slider(6, 13, value=math.log10(d.params), step=0.01, label="log10 N (parameters)")
        t = gr.Slider(8, 14, value=math.log10(d.tokens), step=0.01, label="log10 D (tokens)")
        gpu = gr.Dropdown(list(scaling.GPUS), value=d.gpu, label="GPU")
    with gr.Row():
        mfu = gr.Slider(1, 100, value=100 * d.mfu, step=0.1, label="MFU (%)")
        price = gr.Number(value=d.price, label="$ per GPU-hour", minimum=0, maximum=100)
        count = gr.Number(value=d.n_gpus, precision=0, label="GPUs", minimum=1, maximum=1_000_000)
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id=f"{elem_prefix}-fig")
        table = gr.Dataframe(
            headers=["quantity", "value"],
            interactive=False,
            wrap=True,
            column_widths=["55%", "45%"],
            max_height=1200,
        )
    text = gr.Markdown(elem_id=f"{elem_prefix}-text")
    ins, outs = [n, t, gpu, mfu, price, count], [table, fig, text]
    for c in ins:  # .change: a value set by the page (a link to a view) redraws too
        c.change(scale, ins, outs, api_name=False, show_progress="hidden")
    demo.load(scale, ins, outs, api_name=api_name)
    views.link(tab, log_n=n, log_d=t, gpu=gpu, mfu=mfu, price=price, gpus=count)  # .change redraws
