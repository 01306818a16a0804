"""Token view: which tokens of one conversation carry loss, and each model's probability of them."""

from __future__ import annotations

import gradio as gr

from shared import gpu, ui
from training.sft import lab, views

from .common import token_html

INTRO = (
    "How one training conversation looks to the model: the chat template's tokens, which of them "
    "carry loss, and how likely each model finds every answer token."
)
LEGEND = "{name} (mean log p {mean_logprob:.2f})"


def probabilities_figure(probs: views.AnswerProbabilities):
    xs = [f"{i}:{t}" for i, t in enumerate(probs.tokens)]
    fig = ui.line_figure(
        {
            LEGEND.format(name=n, mean_logprob=probs.mean_logprob[n]): (xs, p)
            for n, p in probs.probs.items()
        },
        "Probability each model gives the next answer token",
        "answer token",
        "p(token | everything before it)",
        markers=True,
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.02])
    return fig


@gpu.on_gpu(30)  # one teacher-forced forward pass per model (and the first call's model loads)
def token_view(index: float, question: str, answer: str, use_custom: bool):
    try:
        messages = (
            lab.custom_conversation(question, answer)
            if use_custom
            else lab.record(index)["messages"]
        )
        tokens = lab.rendered_tokens(messages)
        names = ["base", "sft"] + (["live"] if lab.live_available() else [])
        probs = views.answer_probabilities(messages, names)
    except lab.LabError as e:
        raise ui.user_error(e) from None
    return token_html(tokens), probabilities_figure(probs)


def build_token_view_tab() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        idx = gr.Number(value=0, precision=0, minimum=0, label="SFT record number")
        use_custom = gr.Checkbox(value=False, label="use my own question and answer instead")
    with gr.Row():
        q = gr.Textbox(label="question", value="Where was Ada Lovelace born?")
        a = gr.Textbox(label="answer", value="Ada Lovelace was born in London.")
    show = gr.Button("Show tokens and probabilities", variant="primary", elem_id="sft-tokens-go")
    tokens_html = gr.HTML(elem_id="sft-tokens")
    probs_plot = gr.Plot(show_label=False, elem_id="sft-probs")
    show.click(
        token_view,
        [idx, q, a, use_custom],
        [tokens_html, probs_plot],
        api_name="token_view",
        concurrency_limit=2,
        concurrency_id="sft-generate",
    )
