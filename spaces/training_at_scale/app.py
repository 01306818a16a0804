"""Training at Scale: why training a large model takes thousands of GPUs for weeks (the cost
panel, with GPT-3 worked through), what keeps such a long run stable (real pre-training runs,
one setting changed at a time), how a trained model is made cheap to serve (KV cache,
quantization, pruning, distillation, measured), and how training-time solutions differ from
inference-time ones.

UI wiring only: each tab is a module of `tabs/training_at_scale/` (the cost arithmetic is
`shared/scaling_explore.py`, the stability and inference labs `training/stability/` and
`training/inference/`, imported without torch at page build); this file composes them.
Run alone: `python spaces/training_at_scale/app.py`; in the suite it is a tab of `python app.py`.
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

from shared import ui, views  # noqa: E402
from tabs.training_at_scale.compare import TERMS as SOLUTION_TERMS  # noqa: E402
from tabs.training_at_scale.compare import (  # noqa: E402, F401  (handlers: benchmarks and tests call them)
    build_compare_tab,
    training_vs_inference,
)
from tabs.training_at_scale.cost import TERMS as COST_TERMS  # noqa: E402
from tabs.training_at_scale.cost import build_cost_panel, scale  # noqa: E402, F401
from tabs.training_at_scale.inference import build_inference_tab, inference  # noqa: E402, F401
from tabs.training_at_scale.stability import (  # noqa: E402, F401
    build_stability_tab,
    stability,
    stability_live,
)

TITLE = "Training at Scale"
INTRO = (
    "Why one computer cannot train a large model, what keeps a weeks-long run from blowing up, and "
    "how the trained model is made cheap to serve — priced with published numbers, then measured "
    "on real runs of a small model. (How a model is split across GPUs: the Parallelism Visualizer.)"
)


# ---------------------------------------------------------------- the page
def build_page(demo: gr.Blocks, standalone: bool = True) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite
    (`standalone=False`: its links then point at the app's own path)."""
    with views.page(
        demo, "training_at_scale", standalone=standalone, writes=(*COST_TERMS, *SOLUTION_TERMS)
    ):
        ui.header(TITLE, INTRO, course_ref="Session 2.3, computational challenges in LLM training")
        with gr.Tab("Scale & cost"):
            build_cost_panel(demo)
        with gr.Tab("Stability"):
            build_stability_tab(demo)
        with gr.Tab("Inference"):
            build_inference_tab(demo)
        with gr.Tab("Training vs inference"):
            build_compare_tab(demo)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
