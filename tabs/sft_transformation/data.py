"""Data: one SFT record in TRL's and the course's shapes, as the chat template renders it."""

from __future__ import annotations

import gradio as gr

from shared import gpu, ui
from training.sft import lab, views

from .common import token_html

INTRO = (
    "An SFT record in TRL's `messages` shape and in the ShareGPT shape the course uses, and the "
    "text the chat template renders from it. Paste your own record (any of the three shapes: "
    "`messages`, `conversations`, `prompt`/`completion`) to convert it."
)
PLACEHOLDER = (
    '{"conversations": [{"from": "human", "value": "Hi"}, '
    '{"from": "assistant", "value": "Hello."}]}'
)


def _shown(v: views.RecordView):
    return {"messages": v.messages}, v.sharegpt, v.rendered, token_html(v.tokens)


@gpu.after_warm_up  # the tokenizer: transformers
def show_record(index: float):
    try:
        return _shown(views.record_view(index))
    except lab.LabError as e:
        raise ui.user_error(e) from None


@gpu.after_warm_up  # the tokenizer and datasets
def convert_record(text: str):
    try:
        return _shown(views.pasted_view(text))
    except ValueError as e:  # a LabError, or the tokenizer refusing the messages
        raise ui.user_error(e) from None


def build_data_tab() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        rec_idx = gr.Slider(0, 199, value=0, step=1, label="record", scale=3)
        rec_go = gr.Button("Show record", scale=1, elem_id="sft-record-go")
    pasted = gr.Textbox(
        label="…or paste a JSON record",
        lines=3,
        max_length=views.MAX_RECORD_CHARS,
        elem_id="sft-paste",
        placeholder=PLACEHOLDER,
    )
    conv_go = gr.Button("Convert pasted record", elem_id="sft-convert-go")
    with gr.Row():
        j_messages = gr.JSON(label="messages (TRL)")
        j_sharegpt = gr.JSON(label="ShareGPT (course)")
    rendered = gr.Textbox(label="rendered by the chat template", lines=3, elem_id="sft-rendered")
    rec_tokens = gr.HTML()
    outputs = [j_messages, j_sharegpt, rendered, rec_tokens]
    rec_go.click(show_record, rec_idx, outputs, api_name="record")
    conv_go.click(convert_record, pasted, outputs, api_name="convert")
