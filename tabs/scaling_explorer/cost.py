"""Cost tab: the suite's one cost panel (`tabs.training_at_scale.cost`, the Training at Scale app's
"Scale & cost" tab) built here too, with the same defaults and the same handler: what training N
parameters on D tokens costs, and where "$4–12M for GPT-3" comes from. A student reading about
compute budgets (C in FLOPs) sees what a budget means in GPU-hours, days and dollars without
leaving this app."""

from __future__ import annotations

import gradio as gr

from tabs.training_at_scale.cost import build_cost_panel
from tabs.training_at_scale.cost import scale as cost  # noqa: F401  (the app's handler name)

NOTE = (
    "The same panel is the Training at Scale app's *Scale & cost* tab, beside training stability "
    "and inference optimization (knowledge point 3)."
)


def build_cost_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Cost"):
        build_cost_panel(demo, api_name="cost", elem_prefix="scaling-cost", tab="cost")
        gr.Markdown(NOTE, elem_classes=["lab-note"])
