"""Scaling Laws Explorer: what the data is made of (a measured data mixture), published laws with
their sources, compute-optimal allocation, cost, diminishing returns — and a scaling law measured
on this project's own runs.

UI wiring only: each tab is built by `tabs/scaling_explorer/<tab>.py`; the laws, allocation, cost and
fits are `shared/scaling*.py`; the sweep, its results and the live micro-run are `training/sweep/`,
the data-mixture lab `training/mixture/` (no torch at page build). The live micro-run's handler
stays here, where it is marked for a GPU.
Run alone: `python spaces/scaling_explorer/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = (
    HERE if (HERE / "shared").is_dir() else HERE.parents[1]
)  # a Space bundle keeps shared/ beside app.py
if (
    str(ROOT) not in sys.path
):  # run as a script: spaces/<app>/app.py in the repo, or app.py of a bundle
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402

from shared import gpu, ui, views  # noqa: E402
from tabs.scaling_explorer.common import LAB_NOTE, LAW_CHOICES  # noqa: E402, F401
from tabs.scaling_explorer.cost import build_cost_tab, cost  # noqa: E402, F401
from tabs.scaling_explorer.lab import build_lab_tab, lab_results  # noqa: E402
from tabs.scaling_explorer.laws import build_laws_tab, laws  # noqa: E402, F401
from tabs.scaling_explorer.long_tail import build_long_tail_tab, long_tail  # noqa: E402, F401
from tabs.scaling_explorer.mixture import build_mixture_tab, mixture  # noqa: E402, F401
from tabs.scaling_explorer.optimal import build_optimal_tab, optimal  # noqa: E402, F401
from tabs.scaling_explorer.returns import build_returns_tab, returns  # noqa: E402, F401
from tabs.training_at_scale.cost import TERMS as COST_TERMS  # noqa: E402

TITLE = "Scaling Laws Explorer"
SUBTITLE = (
    "Loss falls as a power law in parameters, data and compute — each doubling buys less. "
    "Published laws with their sources, and one we measure ourselves."
)


@gpu.on_gpu(
    120
)  # training stops at 90 s (training.sweep.LIVE_TIME_LIMIT_S); + packing the corpus, the evaluation
def live_run(shape: str, budget: float, progress=gr.Progress()):
    from training import sweep

    budget = ui.checked_number("budget (FLOPs)", budget, 0, float("inf"))

    def render(ev):
        if ev.kind == "progress":
            return f"step {ev.done:.0f} / {ev.total:.0f}", gr.skip()
        p = ev.data
        err = 100 * (p.predicted - p.measured) / p.measured
        status = (
            f"**Done** in {p.seconds:.0f} s: {p.params:,} params, {p.tokens:,} tokens. "
            f"Measured held-out loss **{p.measured:.3f}**; the lab fit predicted "
            f"**{p.predicted:.3f}** ({err:+.1f}%)."
        )
        fig, _, _, _ = lab_results()
        fig.add_scatter(
            x=[p.params],
            y=[p.measured],
            mode="markers",
            name="your live run",
            marker={"size": 16, "symbol": "star", "color": "#e11d48"},
        )
        return status, fig

    yield from ui.stream_live(
        lambda: sweep.live_run(shape, budget), render, progress, failed="live run failed", every_s=0
    )


def build_page(demo: gr.Blocks, standalone: bool = True) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite
    (`standalone=False`: its links then point at the app's own path)."""
    with views.page(demo, "scaling_explorer", standalone=standalone, writes=COST_TERMS):
        ui.header(
            TITLE, SUBTITLE, course_ref="Session 2.3, knowledge point 1: pre-training at scale"
        )
        build_mixture_tab(demo)  # the course names the data (its sources, their diversity) first
        build_laws_tab(demo)
        build_optimal_tab(demo)
        build_returns_tab(demo)
        build_cost_tab(demo)
        build_lab_tab(demo, live_run)
        build_long_tail_tab(demo)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
