"""Side by side: one prompt to the base, the bundled SFT and the live model, decoded in lock step."""

from __future__ import annotations

import gradio as gr

from shared import gpu, limits, ui, views
from training.sft import lab

MODELS = ["base", "sft", "live"]
INTRO = (
    "The same prompt, rendered by the chat template, goes to each model; they decode greedily "
    "in lock step. ⏹ marks a model choosing to stop. Held-out people were never in the SFT data."
)
NO_MODEL = "pick at least one model to ask"
NO_LIVE = "no live SFT model yet: train one in the Live SFT tab, or untick it"


# up to 3 models × SIDE_BY_SIDE.max_new_tokens (128) in lock step, and the first call's model
# loads (the event's own bound: 120 s)
@gpu.on_gpu(60)
def compare(prompt: str, models: list[str], max_new_tokens: float, temperature: float):
    models = [m for m in MODELS if m in (models or [])]
    if not models:
        raise ui.user_error(NO_MODEL)
    if "live" in models and not lab.live_available():
        raise ui.user_error(NO_LIVE)
    try:
        lab.check_prompt(prompt)
        lab.check_generation(max_new_tokens, temperature)
        out = {m: "" for m in MODELS}
        yield [out[m] for m in MODELS]
        for texts in lab.stream_side_by_side(
            prompt, models, int(max_new_tokens), float(temperature)
        ):
            out.update(zip(models, texts))
            yield [out[m] for m in MODELS]
    except lab.LabError as e:
        raise ui.user_error(e) from None


def examples() -> list[list[str]]:
    try:
        return lab.example_prompts()
    except Exception:  # noqa: BLE001 - no world/base here: the page still builds, without examples
        return []


def build_side_by_side_tab() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        prompt = gr.Textbox(
            label="Your question or instruction",
            lines=2,
            scale=4,
            max_length=limits.SIDE_BY_SIDE.max_prompt_chars,
            elem_id="sft-prompt",
        )
        note = gr.Textbox(
            label="What the corpus says", interactive=False, scale=2, elem_id="sft-truth"
        )
    with gr.Row():
        which = gr.CheckboxGroup(
            MODELS,
            value=["base", "sft"],
            label="models",
            info="live = the model you train in the Live SFT tab",
        )
        max_new = gr.Slider(
            1, limits.SIDE_BY_SIDE.max_new_tokens, value=48, step=1, label="max new tokens"
        )
        temperature = gr.Slider(
            0.0,
            limits.SIDE_BY_SIDE.max_temperature,
            value=0.0,
            step=0.05,
            label="temperature (0 = greedy)",
        )
    ask = gr.Button("Ask", variant="primary", elem_id="sft-ask")
    with gr.Row():
        out_base = gr.Textbox(
            label="base model (pre-trained only)", lines=5, elem_id="sft-out-base"
        )
        out_sft = gr.Textbox(
            label="SFT model (bundled LoRA adapter)", lines=5, elem_id="sft-out-sft"
        )
        out_live = gr.Textbox(label="your live SFT model", lines=5, elem_id="sft-out-live")
    rows = examples()
    if rows:
        gr.Examples(rows, inputs=[prompt, note], label="Examples (click one, then Ask)")
    gr.on(
        [ask.click, prompt.submit],
        compare,
        inputs=[prompt, which, max_new, temperature],
        outputs=[out_base, out_sft, out_live],
        api_name="compare",
        concurrency_limit=2,
        concurrency_id="sft-generate",
        time_limit=120,
    )
    prompt.input(None, None, note, js="() => ''", api_visibility="private")
    views.link("side-by-side", prompt=prompt)  # the student then asks
