"""Race: the three architectures trained now, one after another, on a small task (the handler,
which streams the live race, is the app's)."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

RACE_INTRO = (
    "Train all three, one after another, on a small task — each at most "
    "the chosen steps and 20 s; one race at a time on this machine."
)


def build_race_tab(race: Callable) -> None:
    with gr.Tab("Race"):
        gr.Markdown(RACE_INTRO)
        with gr.Row():
            ra_task = gr.Radio(
                ["copy", "mqar"], value="copy", label="task (selective copy or MQAR)"
            )
            ra_steps = gr.Slider(10, 400, value=200, step=10, label="steps per model")
            ra_w = gr.Radio([16, 32, 64], value=32, label="width")
            ra_seq = gr.Radio([16, 32, 64], value=32, label="sequence length")
            ra_go = gr.Button("Start the race", variant="primary", elem_id="arch-race-go")
        ra_status = gr.Markdown(elem_id="arch-race-status")
        ra_fig = gr.Plot(show_label=False)
        ra_go.click(
            race,
            [ra_task, ra_steps, ra_w, ra_seq],
            [ra_fig, ra_status],
            api_name="race",
            concurrency_limit=2,
            concurrency_id="arch-race",
            time_limit=120,
        )
