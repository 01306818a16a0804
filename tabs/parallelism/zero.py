"""The Data parallel & ZeRO tab: model states per GPU under ZeRO stages 0–3, how they shrink as
data parallelism grows, and what each stage sends per step (`shared.parallel_plan.zero_stages`)."""

from __future__ import annotations

import gradio as gr

from shared import ui
from shared.parallel_plan import zero_stages
from tabs.parallelism import GB, ZERO_URL, gb, num

LABELS = ["baseline DP", "ZeRO-1 (optimizer)", "ZeRO-2 (+ gradients)", "ZeRO-3 (+ parameters)"]
HEADERS = ["stage", "GB per GPU", "saving", "traffic", "GB sent per rank", "ring time (ms)"]
EXPLAIN = (
    "Each data-parallel rank holds a full copy of the model and sees 1/{dp} of the batch; gradients are "
    "averaged with an all-reduce. ZeRO removes the redundancy: stage 1 shards the optimizer states, "
    "stage 2 also the gradients, stage 3 also the parameters (gathered layer by layer when needed) — "
    "for 1.5× the traffic at stage 3. Ring all-reduce time = 2(N−1)/N · size / bandwidth.\n\n"
    "The paper's worked example is the default: Ψ = 7.5B, N_d = 64, K = 12 → 120 GB, 31.4 GB, 16.6 GB, "
    "1.9 GB. The **Real runs** tab measures FSDP2 (ZeRO-3) shards on real processes.\n\n{source}"
)
SOURCE = ui.source_note("Rajbhandari et al. 2020, ZeRO, Fig. 1 and Sec. 7", ZERO_URL)


def zero(psi_b, dp, param_bytes, grad_bytes, optimizer_bytes, bandwidth_gbs):
    """Model-state memory per GPU under ZeRO stages 0–3, how it scales with DP, and what each
    stage sends per step."""
    psi = num("parameters (billions)", psi_b, 1e-6, 1e5) * 1e9
    d = num("data-parallel ranks", dp, 1, 1_000_000, integer=True)
    p, g, k = (
        num(n, v, 0, 32)
        for n, v in (
            ("parameter bytes", param_bytes),
            ("gradient bytes", grad_bytes),
            ("optimizer bytes", optimizer_bytes),
        )
    )
    bw = num("bandwidth (GB/s)", bandwidth_gbs, 0.001, 1e6) * GB
    z = zero_stages(psi, d, p, g, k, bw)
    fig = ui.grouped_bar_figure(
        LABELS,
        {
            "parameters": [s.states.params / GB for s in z.stages],
            "gradients": [s.states.grads / GB for s in z.stages],
            "optimizer states": [s.states.optimizer / GB for s in z.stages],
        },
        f"Model states per GPU: Ψ = {psi / 1e9:g}B, N_d = {d}",
        "",
        "GB per GPU",
        stacked=True,
    )
    fig2 = ui.line_figure(
        {lab: (z.dps, [x / GB for x in totals]) for lab, totals in zip(LABELS, z.totals)},
        "Per-GPU model states as data parallelism grows",
        "data-parallel ranks N_d",
        "GB per GPU",
        log_x=True,
        log_y=True,
        markers=True,
    )
    rows = [
        [
            lab,
            gb(s.states.total),
            f"{s.saving:.1f}×",
            f"{s.traffic.volume_in_psi:g}Ψ",
            gb(s.traffic.bytes),
            f"{1e3 * s.traffic.seconds:,.1f}",
        ]
        for lab, s in zip(LABELS, z.stages)
    ]
    return fig, fig2, rows, EXPLAIN.format(dp=d, source=SOURCE)


def build_zero_tab(demo: gr.Blocks) -> None:
    """The Data parallel & ZeRO tab's components and events; call it inside the app's
    `with gr.Tab("Data parallel & ZeRO")`."""
    with gr.Row():
        psi = gr.Number(value=7.5, label="parameters Ψ (billions)", minimum=1e-6, maximum=1e5)
        dp = gr.Number(
            value=64,
            label="data-parallel ranks N_d",
            precision=0,
            minimum=1,
            maximum=1_000_000,
        )
        bw = gr.Number(value=100, label="bandwidth per GPU (GB/s)", minimum=0.001, maximum=1e6)
    with gr.Row():
        p = gr.Number(value=2, label="parameter bytes", minimum=0, maximum=32)
        g = gr.Number(value=2, label="gradient bytes", minimum=0, maximum=32)
        k = gr.Number(value=12, label="optimizer bytes K", minimum=0, maximum=32)
    text = gr.Markdown()
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-zero-fig")
        fig2 = gr.Plot(show_label=False)
    table = gr.Dataframe(headers=HEADERS, interactive=False)
    ins, outs = [psi, dp, p, g, k, bw], [fig, fig2, table, text]
    for c in ins:
        c.input(zero, ins, outs, api_name=False, show_progress="hidden")
    demo.load(zero, ins, outs, api_name="zero")
