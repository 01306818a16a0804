"""Compute-optimal tab: each law's split of a budget, the frontiers in the (N, D) plane with the
models people trained, and IsoFLOP curves."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui
from shared.scaling_explore import allocations, frontiers, isoflops

from .common import LAB, LAW_CHOICES, num, sci, sweep_law

HEADERS = ["law", "N_opt", "D_opt", "tokens/param", "loss", "allocation"]
SOURCES = (
    ui.source_note(scaling.LAWS["chinchilla"].citation, scaling.HOFFMANN_URL)
    + " · "
    + ui.source_note(scaling.LAWS["kaplan"].citation, scaling.KAPLAN_URL)
    + " · "
    + ui.source_note(scaling.LAWS["besiroglu"].citation, scaling.BESIROGLU_URL)
)


def _table(flops: float) -> list[list[str]]:
    laws = [sweep_law() if k == LAB else scaling.get_law(k) for k in LAW_CHOICES]
    return [
        [
            a.law,
            sci(a.params),
            sci(a.tokens),
            f"{a.tokens_per_param:.1f}",
            f"{a.loss:.3f}",
            f"N ∝ C^{a.a:.2f}, D ∝ C^{a.b:.2f}",
        ]
        for a in allocations(flops, [lw for lw in laws if lw is not None])
    ]


def _frontier_figure(flops: float):
    fig = ui.line_figure(
        {f"{f.name} frontier": (f.x, f.y) for f in frontiers()},
        "Compute-optimal N and D per law, and the models people trained",
        "parameters N",
        "tokens D",
        log_x=True,
        log_y=True,
    )
    for m in scaling.NOTABLE_MODELS:
        fig.add_scatter(
            x=[m["params"]],
            y=[m["tokens"]],
            mode="markers+text",
            text=[m["name"]],
            textposition="top center",
            marker={"size": 8, "color": "#334155"},
            showlegend=False,
            hovertext=f"{m['name']}: {sci(m['params'])} params, {sci(m['tokens'])} tokens "
            f"({m['source']})",
        )
    n_c, d_c = scaling.compute_optimal(flops, "chinchilla")
    fig.add_scatter(
        x=[n_c],
        y=[d_c],
        mode="markers",
        marker={"size": 14, "symbol": "star", "color": "#e11d48"},
        name=f"Chinchilla optimum at C = {sci(flops)}",
    )
    return fig


def optimal(log_c: float):
    C = 10 ** num("log10 C", log_c, 15, 30)
    fig_iso = ui.line_figure(
        {f"C = {sci(c.flops)}": (c.params, c.loss) for c in isoflops(C, "chinchilla")},
        "IsoFLOP curves (Chinchilla Approach 3 law): loss vs N at fixed compute",
        "parameters N",
        "loss (nats/token)",
        log_x=True,
    )
    return _table(C), _frontier_figure(C), fig_iso


def build_optimal_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Compute-optimal"):
        log_c = gr.Slider(
            18, 26, value=math.log10(5.76e23), step=0.05, label="log10 C (training FLOPs)"
        )
        table = gr.Dataframe(
            headers=HEADERS, interactive=False, label="compute-optimal allocation under each law"
        )
        with gr.Row():
            fig = gr.Plot(show_label=False)
            fig_iso = gr.Plot(show_label=False)
        gr.Markdown(SOURCES)
        outs = [table, fig, fig_iso]
        log_c.change(optimal, log_c, outs, api_name=False, show_progress="hidden")
        demo.load(optimal, log_c, outs, api_name="optimal")
