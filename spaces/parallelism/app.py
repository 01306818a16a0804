"""Parallelism Visualizer: where training memory goes, how data/tensor/pipeline parallelism and
ZeRO split it — computed with the formulas shown, then checked against real multi-process runs.
(Cost, training stability and inference optimization are the Training at Scale app.)

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

from shared import ui, views  # noqa: E402
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
from tabs.parallelism.tensor import build_tensor_tab, tensor  # noqa: E402, F401
from tabs.parallelism.zero import build_zero_tab, zero  # noqa: E402, F401

TITLE = "Parallelism Visualizer"
INTRO = (
    "Models outgrow one device, so training splits them: data, tensor and pipeline parallelism "
    "and ZeRO — computed with the formulas shown, then run for real on several processes."
)
MODEL_PARALLELISM = (
    "**The course's words, this app's tabs.** *Model parallelism* splits the model across "
    "devices, in two ways: **different layers on different GPUs** is *pipeline parallelism* (the "
    "**Pipeline** tab); **splitting individual layers across devices** is *tensor parallelism* "
    "(the **Tensor parallel** tab). *Data parallelism* gives each GPU a copy and its own batches "
    "(**Data parallel & ZeRO**); ZeRO then shards the copies' states. What training costs, what "
    "keeps it stable and how inference is made cheap are in the **Training at Scale** app."
)


# ---------------------------------------------------------------- the page
def build_page(demo: gr.Blocks, standalone: bool = True) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite
    (`standalone=False`: its links then point at the app's own path)."""
    with views.page(demo, "parallelism", standalone=standalone, writes=("bubble",)):
        ui.header(TITLE, INTRO, course_ref="Session 2.3, computational challenges")
        gr.Markdown(MODEL_PARALLELISM, elem_id="par-words")
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


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
