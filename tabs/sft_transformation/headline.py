"""The app's headline: SFT turns the base model into a generative search engine over what it read in
pre-training — the held-out answer rate before and after, read from the bundled SFT results."""

from __future__ import annotations

import gradio as gr

from shared import inputs, ui
from training import store
from training.sft import build

PHYSICS_URL = "https://arxiv.org/abs/2309.14316"
HEADLINE = """
### From text completer to generative search engine: {base:.1f}% → {sft:.1f}% of held-out questions
Asked about **held-out people** — their facts were only ever in the pre-training biographies, never
in a fine-tuning conversation — the base model answers **{base:.1f}%** of {n} questions correctly
(zero-shot{few}). After SFT the same model answers **{sft:.1f}%**: it became a generative search
engine over what it read in pre-training. Nothing about these people was taught in fine-tuning;
SFT — the same next-token objective, on question–answer conversations — taught the model to find
what it read and say it in one sentence. Measured: exact-answer accuracy (the person's true value,
a birth city or an employer, in the reply's first sentence) over {people} held-out people,
{per} questions each; the Results tab lists every evaluation.
"""
FEW_SHOT = "; {few:.1f}% with {shots} answered examples in the prompt"
AUGMENTED = """
It works because pre-training stored the facts in a form a question can reach: **knowledge
augmentation** (each person in many differently worded biographies, sentences shuffled, the full
name repeated). The same SFT on a base pre-trained on one biography per person answers
**{one_bio:.1f}%** about held-out people.
{source}
"""


def headline_text(r: build.SFTResults) -> str:
    """The headline's words around the bundled results' numbers (SFTResults.headline, filled in by
    the build from the per-run evaluations); "" when the base or SFT evaluation did not run."""
    acc = r.headline.heldout_accuracy
    base, sft = acc.get("base zero-shot"), acc.get("SFT")
    if base is None or sft is None:
        return ""
    n = r.evals["sft/heldout"].n
    few = acc.get("base few-shot")
    text = HEADLINE.format(
        base=100 * base,
        few="" if few is None else FEW_SHOT.format(few=100 * few, shots=r.plan.shots),
        sft=100 * sft,
        n=n,
        people=r.plan.eval_people,
        per=n // r.plan.eval_people,
    )
    one_bio = acc.get("SFT on the 1-bio base")
    if one_bio is not None:
        text += AUGMENTED.format(
            one_bio=100 * one_bio,
            source=ui.source_note(
                "Allen-Zhu & Li 2023, Physics of Language Models 3.1", PHYSICS_URL
            ),
        )
    return text


def build_headline() -> gr.Markdown:
    """The headline above the tabs: built once with the page (the results are the bundle's)."""
    try:
        r = build.read_results()
    except store.CheckpointError as e:  # results that do not match this code: say so, in one line
        return gr.Markdown(
            f"<span class='lab-note'>{inputs.one_line(e)}</span>", elem_id="sft-headline"
        )
    text = headline_text(r) if r is not None else ""
    return gr.Markdown(text, visible=bool(text), elem_id="sft-headline")
