"""Cost tab: what training N params on D tokens costs, and where "$4–12M for GPT-3" comes from."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui
from shared.scaling_explore import cost_sheet, gpt3_cost

from .common import num, sci

GPT3_TEXT = (
    '**Where "$4–12M for GPT-3" comes from**: {flops} FLOPs (reported) on V100s at '
    "GPT-3's {mfu:.1f}% MFU is {hours:.2f}M GPU-hours (~{years:,.0f} GPU-years); at $1.50–3.50 per "
    "GPU-hour that is **${low:.1f}M–${high:.1f}M**. "
    "The spread is the price guess — OpenAI did not publish the bill.\n\n"
)


def _rows(s, n: int) -> list[list[str]]:
    c, g = s.cost, s.gpu
    return [
        ["compute 6·N·D", f"{sci(s.flops)} FLOPs ({s.pf_days:,.0f} PF-days)"],
        ["GPU", f"{c.gpu} ({sci(g.peak_flops)} FLOP/s peak, {g.precision})"],
        ["GPU-hours = C / (peak · MFU) / 3600", f"{c.gpu_hours:,.0f}"],
        [f"wall-clock on {n:,} GPUs", f"{c.days:,.1f} days"],
        ["cost = GPU-hours · price", f"${c.dollars:,.0f}"],
        ["energy (GPU boards only, no cooling)", f"{c.energy_mwh:,.0f} MWh"],
    ]


def cost(log_n: float, log_d: float, gpu: str, mfu_pct: float, price: float, n_gpus: float):
    N = 10 ** num("log10 N", log_n, 3, 14)
    D = 10 ** num("log10 D", log_d, 5, 15)
    mfu = num("MFU (%)", mfu_pct, 1, 100) / 100
    price = num("price per GPU-hour ($)", price, 0, 100)
    n = int(num("GPU count", n_gpus, 1, 1e6))
    try:
        s = cost_sheet(N, D, gpu, mfu, price, n)
    except ValueError as e:
        raise ui.user_error(e) from None
    g3 = gpt3_cost()
    lo, hi = g3.low, g3.high
    text = (
        GPT3_TEXT.format(
            flops=sci(g3.flops),
            mfu=100 * scaling.GPT3_MFU,
            hours=lo.gpu_hours / 1e6,
            years=lo.gpu_hours / 24 / 365,
            low=lo.dollars / 1e6,
            high=hi.dollars / 1e6,
        )
        + ui.source_note(s.gpu.source)
        + " · "
        + ui.source_note(g3.source)
        + " · "
        + ui.source_note(scaling.GPT3_MFU_SOURCE, "https://arxiv.org/abs/2204.02311")
    )
    return _rows(s, n), text


def build_cost_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Cost"):
        with gr.Row():
            log_n = gr.Slider(6, 13, value=math.log10(175e9), step=0.01, label="log10 N")
            log_d = gr.Slider(8, 14, value=math.log10(300e9), step=0.01, label="log10 D")
            gpu = gr.Dropdown(list(scaling.GPUS), value="V100", label="GPU")
        with gr.Row():
            mfu = gr.Slider(1, 100, value=21.3, step=0.1, label="MFU (%)")
            price = gr.Number(value=2.0, label="$ per GPU-hour", minimum=0)
            count = gr.Number(value=1024, precision=0, label="GPUs", minimum=1)
        table = gr.Dataframe(headers=["quantity", "value"], interactive=False)
        text = gr.Markdown()
        ins = [log_n, log_d, gpu, mfu, price, count]
        for c in ins:
            c.change(cost, ins, [table, text], api_name=False, show_progress="hidden")
        demo.load(cost, ins, [table, text], api_name="cost")
