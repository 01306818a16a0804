"""Parallelism Visualizer: where training memory goes, how data/tensor/pipeline parallelism and
ZeRO split it — computed with the formulas shown, then checked against real multi-process runs.

UI wiring only: each tab is a module of `tabs/parallelism/` (the memory model is
`shared/memory.py` and `shared/parallel_plan.py`, the schedules `shared/pipeline.py`, the real runs
`training/parallel/`, imported inside handlers: no torch at page build); this file composes them.
Run alone: `python spaces/parallelism/app.py`; in the suite it is a tab of `python app.py`.
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

from shared import ui  # noqa: E402
from tabs.parallelism.inference import build_inference_tab, inference  # noqa: E402, F401
from tabs.parallelism.memory import (  # noqa: E402, F401  (handlers: benchmarks and tests call them)
    build_memory_tab,
    memory_breakdown,
    preset_shape,
)
from tabs.parallelism.pipeline import build_pipeline_tab, pipeline_view  # noqa: E402, F401
from tabs.parallelism.real_runs import (  # noqa: E402, F401
    LIVE_KINDS,
    build_real_runs_tab,
    live_run,
    pipeline_run,
    real_runs,
)
from tabs.parallelism.scale import build_scale_tab, scale  # noqa: E402, F401
from tabs.parallelism.stability import (  # noqa: E402, F401
    build_stability_tab,
    stability,
    stability_live,
)
from tabs.parallelism.tensor import build_tensor_tab, tensor  # noqa: E402, F401
from tabs.parallelism.zero import build_zero_tab, zero  # noqa: E402, F401

TITLE = "Parallelism Visualizer"
INTRO = (
    "Models outgrow one device, so training splits them: data, tensor and pipeline parallelism "
    "and ZeRO — computed with the formulas shown, then run for real on several processes."
)


# ---------------------------------------------------------------- the page
def build_page(demo: gr.Blocks) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite."""
    ui.header(TITLE, INTRO, course_ref="Session 2.3, computational challenges")
    with gr.Tab("Memory"):
        build_memory_tab(demo)
    with gr.Tab("Data parallel & ZeRO"):
        build_zero_tab(demo)
    with gr.Tab("Tensor parallel"):
        build_tensor_tab(demo)
    with gr.Tab("Pipeline"):
        build_pipeline_tab(demo)
    with gr.Tab("Real runs"):
        build_real_runs_tab(demo)

    with gr.Tab("Stability"):
        build_stability_tab(demo)
    with gr.Tab("Inference"):
        build_inference_tab(demo)
    with gr.Tab("Scale"):
        build_scale_tab(demo)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
