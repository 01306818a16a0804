"""Our lab tab: the project's own sweep as IsoFLOP slices, the fit's held-out predictions, every run
— and the live micro-run's controls (its handler stays in the app: it runs on a GPU there)."""

from __future__ import annotations

import gradio as gr

from shared import scaling, ui
from training.sweep import LIVE_SHAPES
from training.sweep.explore import lab_view

from .common import BUILD_SWEEP, sci, sweep

INTRO = (
    "A real sweep: Llama-style models of one family trained by this project's loop on a "
    "world corpus whose people are mentioned along a Zipf tail, each compute budget an "
    "IsoFLOP slice across sizes. The largest budget is held out of the fit and predicted. "
    "Runs with few steps (big models on small budgets) are still in the fast early drop, "
    "which E + A/N^α + B/D^β does not describe: they sit off the fit."
)
LIVE_INTRO = (
    "**Live micro-run**: train one more model of the family here (bounded: ≤ 90 s, one run at "
    "a time) and see where it lands against the fit's prediction."
)
NO_SWEEP = f"No sweep results: build them with `{BUILD_SWEEP}` (~55 min on 2 cores)."
APPROACH3 = (
    "**Approach 3** (fit on {n_fit} runs, 95% bootstrap intervals): E = {E:.3f}{E_ci}, "
    "α = {alpha:.3f}{alpha_ci}, β = {beta:.3f}{beta_ci} → **N_opt ∝ C^{a:.2f}**{a_ci}.  \n"
)
APPROACH2 = "**Approach 2** (IsoFLOP parabolas): N_opt ∝ C^{a:.2f}{ci}.  \n"
APPROACH2_FAILED = "**Approach 2**: {error}.  \n"
HELD_OUT = (
    "**Held-out check**: the {n} runs of the largest budget were left out of the fit; "
    "its predictions miss them by {mean:.1f}% on average (worst {worst:.1f}%).\n\n"
)
HEADERS = ["run", "params", "tokens", "FLOPs (6ND)", "peak lr", "held-out loss", "seconds", "role"]


def _figures(r):
    v = lab_view(r)
    fig = ui.line_figure(
        {},
        "Our sweep: IsoFLOP slices (each line one compute budget)",
        "parameters N",
        "held-out loss (nats/token)",
        log_x=True,
    )
    for i, s in enumerate(v.slices):
        fig.add_scatter(
            x=s.params,
            y=s.losses,
            mode="lines+markers",
            name=f"C = {sci(s.budget)}" + (" (held out)" if s.held_out else ""),
            line={
                "dash": "dot" if s.held_out else "solid",
                "color": ui.PALETTE[i % len(ui.PALETTE)],
            },
        )
    for p in v.predicted:
        fig.add_scatter(
            x=p.params,
            y=p.losses,
            mode="lines",
            name=f"fit's prediction at C = {sci(p.budget)}",
            line={"color": "black", "width": 1},
        )
    fig_p = ui.line_figure(
        {}, "Held-out runs: predicted vs measured", "measured loss", "predicted loss"
    )
    fig_p.add_scatter(
        x=[v.low, v.high],
        y=[v.low, v.high],
        mode="lines",
        name="perfect prediction",
        line={"dash": "dot"},
    )
    fig_p.add_scatter(
        x=[p.measured for p in v.predictions],
        y=[p.predicted for p in v.predictions],
        mode="markers",
        name="held-out runs",
        marker={"size": 10},
        hovertext=[f"{p.name}: {p.error_pct:+.1f}%" for p in v.predictions],
    )
    return fig, fig_p


def _interval(ci: dict, k: str, digits: int) -> str:
    """ " [lo, hi]" of a bootstrap interval, or "" when there is none."""
    return f" [{ci[k][0]:.{digits}f}, {ci[k][1]:.{digits}f}]" if k in ci else ""


def _text(r) -> str:
    a3, a2, h = r.approach3, r.approach2, r.headline
    shown = ("E", "alpha", "beta", "a")
    fit3 = APPROACH3.format(
        n_fit=h.n_fit,
        **{k: getattr(a3, k) for k in shown},
        **{f"{k}_ci": _interval(a3.ci, k, 3) for k in shown},
    )
    fit2 = (
        APPROACH2.format(a=a2.a, ci=_interval(a2.ci, "a", 2))
        if a2.a is not None
        else APPROACH2_FAILED.format(error=a2.error)
    )
    held = HELD_OUT.format(
        n=h.n_heldout, mean=h.heldout_mean_abs_error_pct, worst=h.heldout_max_abs_error_pct
    )
    return (
        fit3
        + fit2
        + held
        + ui.source_note(f"our runs: `{r.rebuild}`")
        + " · "
        + ui.source_note("method: Hoffmann et al. 2022, Sec. 3.2–3.3", scaling.HOFFMANN_URL)
    )


def _rows(r) -> list[list[str]]:
    held = set(r.heldout_budgets)
    return [
        [
            x.name,
            f"{x.params:,}",
            f"{x.tokens:,}",
            sci(x.flops),
            f"{x.train.lr:.2g}",
            f"{x.eval_loss:.4f}",
            f"{x.seconds:.0f}",
            "held out" if x.budget in held else "fit",
        ]
        for x in r.runs
    ]


def lab_results():
    r = sweep()
    if r is None:
        return ui.message_figure(NO_SWEEP), ui.message_figure(NO_SWEEP), NO_SWEEP, []
    fig, fig_p = _figures(r)
    return fig, fig_p, _text(r), _rows(r)


def build_lab_tab(demo: gr.Blocks, live_run) -> None:
    """The tab; `live_run` is the app's live micro-run handler (the Train button's)."""
    with gr.Tab("Our lab"):
        gr.Markdown(INTRO)
        text = gr.Markdown(elem_id="scaling-lab-text")
        with gr.Row():
            fig = gr.Plot(show_label=False, elem_id="scaling-lab-fig")
            fig_p = gr.Plot(show_label=False)
        table = gr.Dataframe(headers=HEADERS, interactive=False, label="every run of the sweep")
        demo.load(lab_results, None, [fig, fig_p, text, table], api_name="lab")
        gr.Markdown(LIVE_INTRO)
        with gr.Row():
            shape = gr.Dropdown(list(LIVE_SHAPES), value="L2 d64", label="model")
            budget = gr.Dropdown(
                [("5e11 FLOPs", 5e11), ("1e12 FLOPs", 1e12), ("2e12 FLOPs", 2e12)],
                value=1e12,
                label="compute budget",
            )
            go = gr.Button("Train", variant="primary")
        status = gr.Markdown()
        go.click(
            live_run,
            [shape, budget],
            [status, fig],
            api_name="live_run",
            concurrency_limit=2,
            concurrency_id="scaling-live",
            time_limit=180,
        )
