"""Laws tab: loss vs N, vs D and vs compute under a chosen law, with where (N, D) lands."""

from __future__ import annotations

import math

import gradio as gr

from shared import scaling, ui, views
from shared.scaling_explore import law_view

from .common import LAB, LAB_NOTE, LAW_CHOICES, law, num, sci, source

LAW_TEXT = (
    "**L(N = {N}, D = {D}) = {L:.3f} nats/token** · compute 6ND = {C} FLOPs · "
    "{tpp:.1f} tokens per parameter.\n\n"
)
EXTRAPOLATING = "⚠️ {warning} The law is a fit to runs in a range; outside it, it is a guess.\n\n"
KAPLAN_NOTE = (
    "\n\nKaplan's N is *non-embedding* parameters and its loss is on WebText2; Chinchilla's N is "
    "all parameters on MassiveText: compare shapes, not absolute values."
)
MARK = {"size": 12, "symbol": "x", "color": "black"}


def laws(law_name: str, log_n: float, log_d: float):
    """Loss vs N (D fixed), vs D (N fixed) and vs compute (allocated optimally), log-log,
    with a marker where (N, D) lands, and a warning outside the law's fitted range."""
    chosen = law(law_name)
    log_n, log_d = num("log10 N", log_n, 3, 14), num("log10 D", log_d, 5, 15)
    # the published laws; the lab fit only when chosen (far outside its runs it is meaningless)
    compare = [scaling.get_law(k) for k in ("chinchilla", "besiroglu", "kaplan")]
    v = law_view(chosen, log_n, log_d, compare + ([chosen] if law_name == LAB else []))
    fig = ui.line_figure(
        {
            f"L(N), D = {sci(v.tokens)} tokens": (v.n_grid, v.loss_vs_n),
            f"L(D), N = {sci(v.params)} params": (v.d_grid, v.loss_vs_d),
        },
        f"{chosen.name}: loss vs parameters and vs tokens",
        "N (params) or D (tokens)",
        "loss (nats/token)",
        log_x=True,
        log_y=True,
    )
    fig.add_scatter(
        x=[v.params], y=[v.loss], mode="markers", marker=MARK, name=f"your N: L = {v.loss:.3f}"
    )
    fig.add_scatter(
        x=[v.tokens],
        y=[v.loss],
        mode="markers",
        marker={**MARK, "color": "#e11d48"},
        name=f"your D: L = {v.loss:.3f}",
    )
    fig_c = ui.line_figure(
        {name: (v.c_grid, loss) for name, loss in v.optimal.items()},
        "Loss at the compute-optimal allocation, each law",
        "C (FLOPs)",
        "loss (nats/token)",
        log_x=True,
        log_y=True,
    )
    fig_c.add_scatter(
        x=[v.flops],
        y=[v.loss],
        mode="markers",
        marker=MARK,
        name=f"your 6ND = {sci(v.flops)}: L = {v.loss:.3f}",
    )
    text = (
        LAW_TEXT.format(
            N=sci(v.params), D=sci(v.tokens), L=v.loss, C=sci(v.flops), tpp=v.tokens_per_param
        )
        + (EXTRAPOLATING.format(warning=v.warning) if v.warning else "")
        + source(chosen)
        + (KAPLAN_NOTE if law_name == "kaplan" else "")
    )
    return fig, fig_c, text


def build_laws_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Laws"):
        with gr.Row():
            chooser = gr.Dropdown(LAW_CHOICES, value="chinchilla", label="law", info=LAB_NOTE)
            log_n = gr.Slider(
                6,
                13,
                value=math.log10(70e9),
                step=0.05,
                label="log10 N (parameters)",
                elem_id="scaling-logn",
            )
            log_d = gr.Slider(8, 14, value=math.log10(1.4e12), step=0.05, label="log10 D (tokens)")
        text = gr.Markdown(elem_id="scaling-law-text")
        with gr.Row():
            fig = gr.Plot(show_label=False, elem_id="scaling-law-fig")
            fig_c = gr.Plot(show_label=False)
        ins, outs = [chooser, log_n, log_d], [fig, fig_c, text]
        for c in ins:
            c.change(laws, ins, outs, api_name=False, show_progress="hidden")
        demo.load(laws, ins, outs, api_name="laws")
        views.link("laws", law=chooser, log_n=log_n, log_d=log_d)  # .change redraws
