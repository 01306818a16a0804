"""Side by side: one prompt to several models (base, SFT, live; or base, SFT, DPO, live DPO),
decoded in lock step. `side_by_side_panel` builds the panel for any set of models; the Side by
side tab and the Preference tuning tab are two uses of it."""

from __future__ import annotations

from typing import Callable

import gradio as gr

from shared import gpu, limits, ui, views, warm_process
from training.sft import lab

MODELS = ["base", "sft", "live"]
INTRO = (
    "The same prompt, rendered by the chat template, goes to each model; they decode greedily "
    "in lock step. ⏹ marks a model choosing to stop. Held-out people were never in the SFT data."
)
NO_MODEL = "pick at least one model to ask"
NO_LIVE = "no live SFT model yet: train one in the Live SFT tab, or untick it"
OUT_LABELS = {
    "base": "base model (pre-trained only)",
    "sft": "SFT model (bundled LoRA adapter)",
    "live": "your live SFT model",
}


def stream_compare(
    all_models: list[str],
    prompt: str,
    models: list[str],
    max_new_tokens: float,
    temperature: float,
    prepare: Callable[[list[str]], None] | None = None,
):
    """The side-by-side handlers' body: one text per model of ``all_models`` ("" when not asked),
    updated after each round of tokens. ``prepare(models)`` loads or refuses (LabError) models
    the SFT lab does not load itself."""
    models = [m for m in all_models if m in (models or [])]
    if not models:
        raise ui.user_error(NO_MODEL)
    try:
        if prepare is not None:
            prepare(models)
        lab.check_prompt(prompt)
        lab.check_generation(max_new_tokens, temperature)
        out = {m: "" for m in all_models}
        yield [out[m] for m in all_models]
        for texts in warm_process.run(  # the first clicks from the warm process
            "training.sft.lab:stream_side_by_side",
            prompt,
            models,
            int(max_new_tokens),
            float(temperature),
        ):
            out.update(zip(models, texts))
            yield [out[m] for m in all_models]
    except lab.LabError as e:
        raise ui.user_error(e) from None


def _live_ready(models: list[str]) -> None:
    if "live" in models and not lab.live_available():
        raise lab.LabError(NO_LIVE)


# up to 3 models × SIDE_BY_SIDE.max_new_tokens (128) in lock step, and the first call's model
# loads (the event's own bound: 120 s)
@gpu.on_gpu(60, first_click=True)
def compare(prompt: str, models: list[str], max_new_tokens: float, temperature: float):
    yield from stream_compare(MODELS, prompt, models, max_new_tokens, temperature, _live_ready)


def examples() -> list[list[str]]:
    try:
        return lab.example_prompts()
    except Exception:  # noqa: BLE001 - no world/base here: the page still builds, without examples
        return []


def side_by_side_panel(
    fn: Callable,
    *,
    models: list[str],
    labels: dict[str, str],
    default: list[str],
    info: str,
    api_name: str,
    prefix: str,
) -> gr.Textbox:
    """Prompt, model choice, sliders, Ask and one output box per model (elem ids
    ``<prefix>-prompt``, ``<prefix>-ask``, ``<prefix>-out-<model>``), wired to ``fn`` (a
    `stream_compare` handler) as ``api_name``. Returns the prompt box."""
    with gr.Row():
        prompt = gr.Textbox(
            label="Your question or instruction",
            lines=2,
            scale=4,
            max_length=limits.SIDE_BY_SIDE.max_prompt_chars,
            elem_id=f"{prefix}-prompt",
        )
        note = gr.Textbox(
            label="What the corpus says", interactive=False, scale=2, elem_id=f"{prefix}-truth"
        )
    with gr.Row():
        which = gr.CheckboxGroup(models, value=default, label="models", info=info)
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
    ask = gr.Button("Ask", variant="primary", elem_id=f"{prefix}-ask")
    with gr.Row():
        outs = [gr.Textbox(label=labels[m], lines=5, elem_id=f"{prefix}-out-{m}") for m in models]
    rows = examples()
    if rows:
        gr.Examples(rows, inputs=[prompt, note], label="Examples (click one, then Ask)")
    gr.on(
        [ask.click, prompt.submit],
        fn,
        inputs=[prompt, which, max_new, temperature],
        outputs=outs,
        api_name=api_name,
        concurrency_limit=2,
        concurrency_id="sft-generate",
        time_limit=120,
    )
    prompt.input(None, None, note, js="() => ''", api_visibility="private")
    return prompt


def build_side_by_side_tab() -> None:
    gr.Markdown(INTRO)
    prompt = side_by_side_panel(
        compare,
        models=MODELS,
        labels=OUT_LABELS,
        default=["base", "sft"],
        info="live = the model you train in the Live SFT tab",
        api_name="compare",
        prefix="sft",
    )
    views.link("side-by-side", prompt=prompt)  # the student then asks
