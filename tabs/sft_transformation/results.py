"""Results: the bundled build's evaluations (held-out accuracy, knowledge augmentation, LIMA) and
where every number comes from."""

from __future__ import annotations

import gradio as gr

from shared import ui
from training import store
from training.sft import build, views

from .common import loss_figure

PHYSICS_URL = "https://arxiv.org/abs/2309.14316"
LIMA_URL = "https://arxiv.org/abs/2305.11206"
TRL_URL = "https://huggingface.co/docs/trl/sft_trainer"
EXPLAIN = f"""
**Same objective, different data.** Pre-training minimises next-token cross-entropy on biographies.
SFT minimises *the same* cross-entropy — only on conversations, and only on the assistant's tokens
(the chat template marks them; see the Token view). Nothing new is learned about the people: the
held-out people's facts were only ever in pre-training. What SFT teaches is the *format* — answer in
one sentence, then stop — and how to reach knowledge the base already has from a question.
That only works if pre-training stored the knowledge in an extractable way: with one biography per
person (no augmentation) the model memorises each text but cannot answer about people it was not
fine-tuned on. And a little clean data does most of the work, while wrong answers teach wrong facts
and sloppy ones teach sloppy format.

{ui.source_note("Allen-Zhu & Li 2023, Physics of Language Models 3.1", PHYSICS_URL)} ·
{ui.source_note("Zhou et al. 2023, LIMA: Less Is More for Alignment", LIMA_URL)} ·
{ui.source_note("TRL SFTTrainer (assistant-only loss)", TRL_URL)}
"""
MISSING = "No bundled SFT results: build them with `python -m training build-sft --preset cpu`."
NOTE = (
    "Every number comes from `{rebuild}` (preset {preset}; LoRA r={lora_r}, "
    "{steps} steps × {batch_size} conversations, lr {lr}). "
    "The table lists each evaluation, the run that produced the model and its data."
)
TABLE_HEADERS = [
    "evaluation",
    "model",
    "prompting",
    "people",
    "accuracy",
    "compliance",
    "questions",
    "SFT data",
    "SFT steps",
]
# each figure: (title, x axis, y axis, {measure of views.Bars: legend})
MAIN = (
    "Held-out people: the facts were in pre-training, never in SFT data",
    "model",
    "% of questions",
    {
        "accuracy": "exact-answer accuracy",
        "compliance": "format compliance",
        "mentioned": "fact mentioned anywhere",
    },
)
AUGMENTATION = (
    "Knowledge augmentation: the same SFT on two bases",
    "pre-training data",
    "exact-answer accuracy (%)",
    {"sft": "SFT people (memorised)", "heldout": "held-out people (extracted)"},
)
LIMA = (
    "Quality vs quantity (LIMA): held-out people",
    "SFT data",
    "% of questions",
    {
        "accuracy": "exact-answer accuracy",
        "compliance": "format compliance",
        "exact": "canonical answer, exactly",
    },
)
CURVE_TITLE = "The bundled SFT run: the same cross-entropy as pre-training"
LIMA_ANSWER = """
**Why is SFT data quality more important than quantity?** Fine-tuned on {small_data}, the model
answers **{small:.1f}%** of the held-out questions right (exact-answer accuracy); fine-tuned on {noisy_data} —
{ratio:.1f}× as many — only **{noisy:.1f}%**, {gap:.1f} points fewer, and its format compliance
falls to {noisy_fmt:.1f}% (from {small_fmt:.1f}%). The whole set, clean ({clean_data}): {clean:.1f}%.
The knowledge was already in the base, so a little clean data teaches the format; wrong answers
teach wrong facts and sloppy ones sloppy format — LIMA's finding (1,000 curated examples),
measured here.
"""


def bars_figure(bars: views.Bars, figure: tuple):
    title, x_label, y_label, legends = figure
    series = {legends[m]: values for m, values in bars.values.items()}
    return ui.grouped_bar_figure(bars.groups, series, title, x_label, y_label, y_range=(0, 105))


def table_row(row: views.EvalRow) -> list[str]:
    steps = "" if row.steps_done is None else str(row.steps_done)
    return [
        row.key,
        row.model,
        row.mode,
        row.people,
        f"{100 * row.accuracy:.1f}%",
        f"{100 * row.compliance:.1f}%",
        str(row.n),
        row.data,
        steps,
    ]


def note(r: build.SFTResults) -> str:
    s = r.settings
    return NOTE.format(
        rebuild=r.rebuild,
        preset=r.preset,
        lora_r=s.lora_r,
        steps=s.steps,
        batch_size=s.batch_size,
        lr=s.lr,
    )


def lima_answer(r: build.SFTResults) -> str:
    """The LIMA comparison's answer to the course's question, every number from the results;
    "" when one of its three runs was not evaluated."""
    keys = {"clean": "sft", "small": "lima-clean", "noisy": "lima-noisy"}
    if any(f"{k}/heldout" not in r.evals or k not in r.runs for k in keys.values()):
        return ""
    ev = {name: r.evals[f"{k}/heldout"] for name, k in keys.items()}
    runs = {name: r.runs[k] for name, k in keys.items()}
    return LIMA_ANSWER.format(
        clean_data=runs["clean"].data,
        clean=100 * ev["clean"].accuracy,
        small_data=runs["small"].data,
        small=100 * ev["small"].accuracy,
        noisy_data=runs["noisy"].data,
        noisy=100 * ev["noisy"].accuracy,
        noisy_fmt=100 * ev["noisy"].compliance,
        small_fmt=100 * ev["small"].compliance,
        ratio=runs["noisy"].n_records / runs["small"].n_records,
        gap=100 * (ev["small"].accuracy - ev["noisy"].accuracy),
    )


def lima_markdown() -> gr.Markdown:
    """The answer under the LIMA figure, built with the page from the bundled results."""
    try:
        r = build.read_results()
    except store.CheckpointError:  # the figures' handler names the problem in one line
        r = None
    text = lima_answer(r) if r is not None else ""
    return gr.Markdown(text, visible=bool(text), elem_id="sft-lima-answer")


def results_figures():
    try:
        r = build.read_results()
    except store.CheckpointError as e:  # results that do not match this code: one line
        raise ui.user_error(e) from None
    if r is None:
        empty = ui.message_figure(MISSING)
        return empty, empty, empty, empty, MISSING, []
    v = views.results_view(r)
    f_curve = loss_figure(v.curve)
    f_curve.update_layout(title={"text": CURVE_TITLE})
    return (
        bars_figure(v.main, MAIN),
        bars_figure(v.augmentation, AUGMENTATION),
        bars_figure(v.lima, LIMA),
        f_curve,
        note(r),
        [table_row(row) for row in v.rows],
    )


def build_results_tab(demo: gr.Blocks) -> None:
    gr.Markdown(EXPLAIN)
    with gr.Row():
        r_main = gr.Plot(show_label=False, elem_id="sft-results-main")
        r_curve = gr.Plot(show_label=False, elem_id="sft-results-curve")
    with gr.Row():
        r_aug = gr.Plot(show_label=False, elem_id="sft-results-aug")
        r_lima = gr.Plot(show_label=False, elem_id="sft-results-lima")
    lima_markdown()
    r_note = gr.Markdown(elem_classes=["lab-note"])
    r_table = gr.Dataframe(
        headers=TABLE_HEADERS,
        interactive=False,
        label="where each number comes from",
        wrap=True,
    )
    demo.load(
        results_figures,
        outputs=[r_main, r_aug, r_lima, r_curve, r_note, r_table],
        api_name="results",
    )
