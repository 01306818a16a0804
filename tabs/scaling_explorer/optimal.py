"""Compute-optimal tab: each law's split of a budget, the frontiers in the (N, D) plane with the
models people trained, and IsoFLOP curves."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui, views
from shared.scaling_explore import (
    CHINCHILLA_BUDGET,
    PUBLISHED,
    RefitComparison,
    allocations,
    approach3_vs_refit,
    frontiers,
    isoflops,
)

from .common import LAB, LAW_CHOICES, num, sci, si, sweep_law

HEADERS = ["law", "N_opt", "D_opt", "tokens/param", "loss", "allocation"]
SOURCES = (
    ui.source_note(scaling.LAWS["chinchilla"].citation, scaling.HOFFMANN_URL)
    + " · "
    + ui.source_note(scaling.LAWS["kaplan"].citation, scaling.KAPLAN_URL)
    + " · "
    + ui.source_note(scaling.LAWS["besiroglu"].citation, scaling.BESIROGLU_URL)
)
# the two fits' optima on the frontier figure, each in its frontier's colour: (law, legend, symbol)
OPTIMA = (
    ("chinchilla", "Approach 3 optimum", "star"),
    ("besiroglu", "Besiroglu refit optimum", "diamond"),
)


def _split(a) -> str:
    per = f"{a.tokens_per_param:.0f} tokens per parameter"
    return f"{si(a.params)} parameters / {si(a.tokens)} tokens ({per})"


def refit_text(r: RefitComparison) -> str:
    """Why Approach 3's optimum at Chinchilla's budget is not Chinchilla, every number from the laws
    (shared.scaling_explore.approach3_vs_refit) or Hoffmann et al.'s published tables."""
    pub, refit, ch, ex = r.published, r.refit, r.chinchilla, r.exponents
    law3, law_b = scaling.LAWS["chinchilla"], scaling.LAWS["besiroglu"]
    a1, a2, a3 = ex["Approach 1"], ex["Approach 2"], ex["Approach 3"]
    return f"""
**Why isn't the Approach 3 optimum Chinchilla?** At the budget Chinchilla was trained with
(Gopher's, {sci(r.flops)} FLOPs), Hoffmann et al.'s Approach 3 law (Eq. 10) puts the optimum at {_split(pub)};
DeepMind trained Chinchilla at {si(ch["params"])} / {si(ch["tokens"])} tokens
({ch["tokens"] / ch["params"]:.0f} tokens per parameter). Hoffmann et al. estimated the split three
ways. Approach 1 (fixed model sizes, the lowest loss reached at each budget) and Approach 2
(IsoFLOP curves, loss vs N at fixed compute) grow parameters and tokens
almost equally — N ∝ C^{a1[0]:.2f}, D ∝ C^{a1[1]:.2f} and N ∝ C^{a2[0]:.2f}, D ∝ C^{a2[1]:.2f} — and
put the optimum near Chinchilla's size. Approach 3 fits L(N, D) = E + A/N^α + B/D^β and reads the
split off it (N_opt = G·(C/6)^a, Eq. 4): Eq. 10's constants give a = {law3.a:.2f}, b = {law3.b:.2f}
(the paper's Table 2: {a3[0]:.2f} / {a3[1]:.2f}) with G = {law3.G:.2f}, so the optimum tilts towards
data: {pub.params / ch["params"]:.0%} of Chinchilla's parameters on {pub.tokens / ch["tokens"]:.1f}× its
tokens.

**Besiroglu et al. 2024** re-fitted Approach 3 to the runs read off Hoffmann et al.'s plots and found
the published fit inconsistent with Approaches 1–2 (its optimiser stopped before converging, and the
constants printed in the paper are rounded). Their refit (E = {law_b.E}, A = {law_b.A},
B = {law_b.B}, α = {law_b.alpha}, β = {law_b.beta}) gives a = {law_b.a:.2f}, b = {law_b.b:.2f},
G = {law_b.G:.2f}, and at the same budget {_split(refit)}: next to Chinchilla, as Approaches 1–2 say.
The figure marks both fits' optima at the budget you choose.

{ui.source_note("Hoffmann et al. 2022, Eq. 4, Eq. 10, Tables 2–3", scaling.HOFFMANN_URL)} ·
{ui.source_note("Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt", scaling.BESIROGLU_URL)}
"""


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
    for key, label, symbol in OPTIMA:
        n, d = scaling.compute_optimal(flops, key)
        color = ui.PALETTE[
            PUBLISHED.index(key) % len(ui.PALETTE)
        ]  # frontiers() draws in this order
        fig.add_scatter(
            x=[n],
            y=[d],
            mode="markers",
            marker={
                "size": 15,
                "symbol": symbol,
                "color": color,
                "line": {"width": 1, "color": "#0f172a"},
            },
            name=f"{label} at C = {sci(flops)}: {si(n)} / {si(d)}",
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
            18, 26, value=math.log10(CHINCHILLA_BUDGET), step=0.05, label="log10 C (training FLOPs)"
        )
        table = gr.Dataframe(
            headers=HEADERS, interactive=False, label="compute-optimal allocation under each law"
        )
        with gr.Row():
            fig = gr.Plot(show_label=False)
            fig_iso = gr.Plot(show_label=False)
        gr.Markdown(refit_text(approach3_vs_refit()), elem_id="scaling-refit")
        gr.Markdown(SOURCES)
        outs = [table, fig, fig_iso]
        log_c.change(optimal, log_c, outs, api_name=False, show_progress="hidden")
        demo.load(optimal, log_c, outs, api_name="optimal")
        views.link("compute-optimal", log_c=log_c)  # .change redraws
