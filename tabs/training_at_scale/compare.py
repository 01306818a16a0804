"""The Training vs inference tab: the course's training-time solutions beside its inference-time
ones, problem by problem, then each solution with when it applies, how, and the tab of this suite
that measured it (the content is `tabs.training_at_scale.solutions`; this module only wires it)."""

from __future__ import annotations

import gradio as gr

from shared import ui, views

from . import solutions

SIDE_HEADERS = ["problem", "solved while training by", "solved when serving (inference) by"]
DETAIL_HEADERS = ["phase", "solution", "solves", "when it applies", "how", "measured in"]
CHOICES = ["all", *solutions.PROBLEMS]
TERMS = ("1F1B", "GPipe", "FSDP", "SFT", "SSM", "bubble", "data parallelism")  # its tables write


def training_vs_inference(problem: str = "all"):
    """The side-by-side table and every solution's row (only those solving `problem`, unless
    "all")."""
    try:
        return solutions.side_by_side(problem), solutions.details(problem)
    except ValueError as e:
        raise ui.user_error(e) from None


def build_compare_tab(demo: gr.Blocks) -> None:
    """The tab's components and events; call it inside `with gr.Tab("Training vs inference")`."""
    gr.Markdown(solutions.ANSWER, elem_id="tas-vs-answer")
    pick = gr.Radio(CHOICES, value="all", label="show the solutions to")
    side = gr.Dataframe(
        headers=SIDE_HEADERS,
        interactive=False,
        wrap=True,
        elem_id="tas-vs-side",
        column_widths=["12%", "50%", "38%"],
    )
    detail = gr.Dataframe(
        headers=DETAIL_HEADERS,
        interactive=False,
        wrap=True,
        label="Each solution, and the tab of this suite that measured it",
        elem_id="tas-vs-detail",
        column_widths=["9%", "16%", "10%", "22%", "23%", "20%"],
        max_height=2400,  # every row on the page: no scrollbar inside the page's own
    )
    ins, outs = [pick], [side, detail]
    demo.load(training_vs_inference, ins, outs, api_name="training_vs_inference")
    pick.change(training_vs_inference, ins, outs, api_name=False, show_progress="hidden")
    views.link("training-vs-inference", problem=pick)  # .change redraws
