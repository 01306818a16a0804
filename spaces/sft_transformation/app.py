"""SFT Transformation: the same next-token objective on different data turns a text completer
into an assistant that answers from what it learned in pre-training — a generative search engine.

UI wiring only: each tab is built in `tabs/sft_transformation/`; the models, the data, live
training and the results live in `training/sft/` (torch loads inside the handlers, so building
this page loads no torch).
Run alone: `python spaces/sft_transformation/app.py`; in the suite it is a tab of `python app.py`.
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

from shared import warm_process  # noqa: E402

# the first clicks' process starts first, loading the models while the page below is built
FIRST_CLICKS = ("training.sft.lab:warm",)
if __name__ == "__main__":
    warm_process.start(*FIRST_CLICKS, root=ROOT)

import gradio as gr  # noqa: E402

from shared import ui, views  # noqa: E402
from tabs.sft_transformation.data import build_data_tab, convert_record, show_record  # noqa: E402
from tabs.sft_transformation.headline import build_headline  # noqa: E402
from tabs.sft_transformation.live import build_live_tab, live_train  # noqa: E402
from tabs.sft_transformation.preference import TERMS as PREFERENCE_TERMS  # noqa: E402
from tabs.sft_transformation.preference import (  # noqa: E402
    build_preference_tab,
    compare_dpo,
    dpo_results_view,
    live_dpo,
)
from tabs.sft_transformation.results import EXPLAIN, build_results_tab, results_figures  # noqa: E402
from tabs.sft_transformation.side_by_side import MODELS, build_side_by_side_tab, compare  # noqa: E402
from tabs.sft_transformation.token_view import build_token_view_tab, token_view  # noqa: E402
from training.sft import lab  # noqa: E402  (no torch: models load on first use)

TITLE = "SFT Transformation"
SUBTITLE = (
    "A base model completes text; after supervised fine-tuning (LoRA, a few minutes on a CPU) "
    "the same model answers questions — from knowledge it gained in pre-training."
)
COURSE_REF = "Session 2.3, knowledge point 2: supervised fine-tuning"
# what tests and the suite reach through this module (the handlers live in the tab modules)
__all__ = [
    "EXPLAIN",
    "MODELS",
    "TITLE",
    "build_demo",
    "compare",
    "compare_dpo",
    "convert_record",
    "dpo_results_view",
    "live_dpo",
    "live_train",
    "results_figures",
    "show_record",
    "token_view",
    "warm",
]


def build_page(demo: gr.Blocks, standalone: bool = True) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite
    (`standalone=False`: its links then point at the app's own path)."""
    with views.page(demo, "sft_transformation", standalone=standalone, writes=PREFERENCE_TERMS):
        ui.header(TITLE, SUBTITLE, course_ref=COURSE_REF)
        build_headline()
        with gr.Tab("Side by side"):
            build_side_by_side_tab()
        with gr.Tab("Token view"):
            build_token_view_tab()
        with gr.Tab("Data"):
            build_data_tab()
        with gr.Tab("Live SFT"):
            build_live_tab()
        with gr.Tab("Results"):
            build_results_tab(demo)
        with gr.Tab("Preference tuning"):
            build_preference_tab(demo)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


warm = lab.warm  # `ui.launch` runs it in the background once the server answers


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo, warm=warm)
