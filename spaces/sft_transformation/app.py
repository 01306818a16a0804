"""SFT Transformation: the same next-token objective on different data turns a text completer
into an assistant that answers from what it learned in pre-training.

UI wiring only; the models, the data, live training and the results live in `training/sft/`
(imported inside the handlers, so building this page loads no torch).
Run alone: `python spaces/sft_transformation/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

import html
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

import gradio as gr  # noqa: E402

from shared import gpu, ui  # noqa: E402
from training.sft.lab import LIVE_DATA, LIVE_MAX_STEPS, LIVE_TIME_LIMIT_S, LiveRequest  # noqa: E402  (no torch)

TITLE = "SFT Transformation"
MODELS = ["base", "sft", "live"]
PHYSICS_URL = "https://arxiv.org/abs/2309.14316"
LIMA_URL = "https://arxiv.org/abs/2305.11206"
TRL_URL = "https://huggingface.co/docs/trl/sft_trainer"


def _lab():
    from training.sft import lab  # no torch at import; models load on first use

    return lab


# ---------------------------------------------------------------- side by side
@gpu.on_gpu(
    60
)  # up to 3 models × 128 tokens in lock step, and the first call's model loads (event bound: 120 s)
def compare(prompt: str, models: list[str], max_new_tokens: float, temperature: float):
    lab = _lab()
    models = [m for m in MODELS if m in (models or [])]
    if not models:
        raise ui.user_error("pick at least one model to ask")
    if "live" in models and not lab.live_available():
        raise ui.user_error("no live SFT model yet: train one in the Live SFT tab, or untick it")
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


# ---------------------------------------------------------------- token view
def _token_html(tokens: list[tuple[str, bool]]) -> str:
    spans = []
    for text, loss in tokens:
        shown = html.escape(text).replace("\n", "⏎<br>") or "&nbsp;"
        style = (
            "background:#c7d2fe;border:1px solid #4f46e5;"
            if loss
            else "background:#f1f5f9;border:1px solid #cbd5e1;color:#475569;"
        )
        spans.append(
            f"<span style='{style}border-radius:4px;padding:1px 3px;margin:1px;"
            f"display:inline-block;font-family:ui-monospace,monospace;font-size:0.85em'>{shown}</span>"
        )
    n_loss = sum(1 for _, loss in tokens if loss)
    return (
        f"<div class='lab-note'>{len(tokens)} tokens; <b>{n_loss}</b> carry loss (blue: the answer and its "
        "&lt;|end|&gt;); grey tokens are context only.</div><div style='line-height:2'>"
        + "".join(spans)
        + "</div>"
    )


@gpu.on_gpu(30)  # one teacher-forced forward pass per model (and the first call's model loads)
def token_view(index: float, question: str, answer: str, use_custom: bool):
    lab = _lab()
    try:
        messages = (
            lab.custom_conversation(question, answer)
            if use_custom
            else lab.record(index)["messages"]
        )
        tokens = lab.rendered_tokens(messages)
        names = ["base", "sft"] + (["live"] if lab.live_available() else [])
        probs = lab.answer_probabilities(messages, names)
    except lab.LabError as e:
        raise ui.user_error(e) from None
    xs = [f"{i}:{t}" for i, t in enumerate(probs["tokens"])]
    fig = ui.line_figure(
        {
            f"{n} (mean log p {probs['mean_logprob'][n]:.2f})": (xs, probs["probs"][n])
            for n in names
        },
        "Probability each model gives the next answer token",
        "answer token",
        "p(token | everything before it)",
        markers=True,
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.02])
    return _token_html(tokens), fig


# ---------------------------------------------------------------- data explorer
@gpu.after_warm_up  # the tokenizer: transformers
def show_record(index: float):
    lab = _lab()
    try:
        v = lab.data_views(index)
    except lab.LabError as e:
        raise ui.user_error(e) from None
    return v["messages"], v["sharegpt"], v["rendered"], _token_html(v["tokens"])


@gpu.after_warm_up  # the tokenizer and datasets
def convert_record(text: str):
    lab = _lab()
    from training.sft.data import load_sft_records, parse_json, to_sharegpt

    text = (text or "").strip()
    if not text:
        raise ui.user_error(
            "paste one JSON record: messages, ShareGPT conversations or prompt/completion"
        )
    if len(text) > 5000:
        raise ui.user_error(f"the record has {len(text)} characters; keep it under 5000")
    try:
        messages = load_sft_records([parse_json(text, "the pasted record")])[0]["messages"]
        tokens = lab.rendered_tokens(messages)
        rendered = lab.tokenizer_only().apply_chat_template(messages, tokenize=False)
    except (ValueError, lab.LabError) as e:
        raise ui.user_error(e) from None
    return {"messages": messages}, to_sharegpt(messages), rendered, _token_html(tokens)


# ---------------------------------------------------------------- live SFT
def _live_curve(history: list[dict]):
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    held = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    series = {
        n: tuple(zip(*pts))
        for n, pts in (
            ("training loss (SFT people)", train),
            ("held-out SFT loss (held-out people)", held),
        )
        if pts
    }
    if not series:
        return ui.message_figure("waiting for the first step …", "Live SFT loss")
    return ui.line_figure(
        series, "Live SFT loss (assistant tokens only)", "step", "loss (nats per token)"
    )


def _before_after(before: dict, after: dict) -> list[list[str]]:
    rows = []
    for key, label in (
        ("compliance", "format compliance (one sentence, then stop)"),
        ("accuracy", "exact-answer accuracy (held-out people)"),
        ("mentioned", "right fact anywhere in the reply"),
    ):
        rows.append([label, f"{100 * before[key]:.0f}%", f"{100 * after[key]:.0f}%"])
    return rows


@gpu.on_gpu(
    int(LIVE_TIME_LIMIT_S) + 30
)  # training stops at LIVE_TIME_LIMIT_S; + the before/after evaluations
def live_train(
    data: str, steps: float, lr: float, batch_size: float, time_limit: float, progress=gr.Progress()
):
    lab = _lab()
    try:
        req = lab.LiveRequest(
            data=data,
            steps=ui.checked_number("steps", steps, 1, lab.LIVE_MAX_STEPS, integer=True),
            lr=ui.checked_number("learning rate", lr, 1e-5, 1e-2),
            batch_size=ui.checked_number("batch size", batch_size, 1, 32, integer=True),
            time_limit_s=ui.checked_number("time limit", time_limit, 5, lab.LIVE_TIME_LIMIT_S),
        )
        events = lab.live_sft(req)
    except (lab.LabError, ValueError) as e:
        raise ui.user_error(e) from None
    history: list[dict] = []
    status = "starting …"
    yield status, _live_curve(history), []
    for ev in events:
        if ev["kind"] == "phase":
            status = f"**{ev['text']}** …"
            progress(0, desc=ev["text"])
        elif ev["kind"] == "log":
            history.append(ev)
            progress((ev["step"], ev["max_steps"]), desc="training", unit="steps")
            status = f"step {ev['step']} / {ev['max_steps']} · {ev['elapsed']:.0f} s"
        elif ev["kind"] == "error":
            raise ui.user_error(f"live SFT failed: {ev['text']}")
        elif ev["kind"] == "done":
            stop = {"time limit": " (stopped at the time limit)", "stopped": " (stopped)"}.get(
                ev["stopped_early"], ""
            )
            status = (
                f"**Done**: {ev['steps_done']} steps in {ev['seconds']:.0f} s{stop}. Compliance on "
                f"{ev['after']['n']} held-out questions went from {100 * ev['before']['compliance']:.0f}% "
                f"to {100 * ev['after']['compliance']:.0f}%. Your model now answers in the Side by side tab "
                "(tick **live**)."
            )
            yield status, _live_curve(ev["history"]), _before_after(ev["before"], ev["after"])
            return
        yield status, _live_curve(history), []


# ---------------------------------------------------------------- results
def _pct(x):
    return None if x is None else 100 * x


def results_figures():
    lab = _lab()
    r = lab.results()
    if not r:
        msg = "No bundled SFT results: build them with `python -m training build-sft --preset cpu`."
        empty = ui.message_figure(msg)
        return empty, empty, empty, empty, msg, []
    ev = r["evals"]

    def get(key, metric):
        return _pct(ev[key][metric]) if key in ev else None

    main = [
        ("base zero-shot", "base-augmented/zero-shot/heldout"),
        ("base few-shot", "base-augmented/few-shot/heldout"),
        ("SFT", "sft/heldout"),
    ]
    f_main = ui.grouped_bar_figure(
        [m for m, _ in main],
        {
            "exact-answer accuracy": [get(k, "accuracy") for _, k in main],
            "format compliance": [get(k, "compliance") for _, k in main],
            "fact mentioned anywhere": [get(k, "mentioned") for _, k in main],
        },
        "Held-out people: the facts were in pre-training, never in SFT data",
        "model",
        "% of questions",
        y_range=(0, 105),
    )
    aug = [("augmented base", "sft"), ("1-bio base", "sft-1bio")]
    f_aug = ui.grouped_bar_figure(
        [a for a, _ in aug],
        {
            "SFT people (memorised)": [get(f"{k}/sft", "accuracy") for _, k in aug],
            "held-out people (extracted)": [get(f"{k}/heldout", "accuracy") for _, k in aug],
        },
        "Knowledge augmentation: the same SFT on two bases",
        "pre-training data",
        "exact-answer accuracy (%)",
        y_range=(0, 105),
    )
    lima = [("all clean", "sft"), ("small clean", "lima-clean"), ("large noisy", "lima-noisy")]
    f_lima = ui.grouped_bar_figure(
        [a for a, _ in lima],
        {
            "exact-answer accuracy": [get(f"{k}/heldout", "accuracy") for _, k in lima],
            "format compliance": [get(f"{k}/heldout", "compliance") for _, k in lima],
            "canonical answer, exactly": [get(f"{k}/heldout", "exact") for _, k in lima],
        },
        "Quality vs quantity (LIMA): held-out people",
        "SFT data",
        "% of questions",
        y_range=(0, 105),
    )
    curve = r["runs"].get("sft", {}).get("curve", [])
    f_curve = _live_curve(curve)
    f_curve.update_layout(
        title={"text": "The bundled SFT run: the same cross-entropy as pre-training"}
    )
    rows = []
    for key, e in ev.items():
        run = r["runs"].get(e["run"], {})
        rows.append(
            [
                key,
                e["model"],
                e["mode"],
                e["people"],
                f"{100 * e['accuracy']:.1f}%",
                f"{100 * e['compliance']:.1f}%",
                str(e["n"]),
                run.get("data", e["run"]),
                f"{run.get('steps_done', '')}",
            ]
        )
    note = (
        f"Every number comes from `{r['rebuild']}` (preset {r['preset']}; LoRA r={r['settings']['lora_r']}, "
        f"{r['settings']['steps']} steps × {r['settings']['batch_size']} conversations, lr {r['settings']['lr']}). "
        "The table lists each evaluation, the run that produced the model and its data."
    )
    return f_main, f_aug, f_lima, f_curve, note, rows


# ---------------------------------------------------------------- the page
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


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        ui.header(
            TITLE,
            "A base model completes text; after supervised fine-tuning (LoRA, a few minutes on a CPU) "
            "the same model answers questions — from knowledge it gained in pre-training.",
            course_ref="Session 2.3, supervised fine-tuning",
        )
        with gr.Tab("Side by side"):
            gr.Markdown(
                "The same prompt, rendered by the chat template, goes to each model; they decode greedily "
                "in lock step. ⏹ marks a model choosing to stop. Held-out people were never in the SFT data."
            )
            with gr.Row():
                prompt = gr.Textbox(
                    label="Your question or instruction",
                    lines=2,
                    scale=4,
                    max_length=1000,
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
                max_new = gr.Slider(1, 128, value=48, step=1, label="max new tokens")
                temperature = gr.Slider(
                    0.0, 2.0, value=0.0, step=0.05, label="temperature (0 = greedy)"
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
            examples = _examples()
            if examples:
                gr.Examples(examples, inputs=[prompt, note], label="Examples (click one, then Ask)")
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

        with gr.Tab("Token view"):
            gr.Markdown(
                "How one training conversation looks to the model: the chat template's tokens, which of them "
                "carry loss, and how likely each model finds every answer token."
            )
            with gr.Row():
                idx = gr.Number(value=0, precision=0, minimum=0, label="SFT record number")
                use_custom = gr.Checkbox(
                    value=False, label="use my own question and answer instead"
                )
            with gr.Row():
                q = gr.Textbox(label="question", value="Where was Ada Lovelace born?")
                a = gr.Textbox(label="answer", value="Ada Lovelace was born in London.")
            show = gr.Button(
                "Show tokens and probabilities", variant="primary", elem_id="sft-tokens-go"
            )
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

        with gr.Tab("Data"):
            gr.Markdown(
                "An SFT record in TRL's `messages` shape and in the ShareGPT shape the course uses, and the "
                "text the chat template renders from it. Paste your own record (any of the three shapes: "
                "`messages`, `conversations`, `prompt`/`completion`) to convert it."
            )
            with gr.Row():
                rec_idx = gr.Slider(0, 199, value=0, step=1, label="record", scale=3)
                rec_go = gr.Button("Show record", scale=1, elem_id="sft-record-go")
            pasted = gr.Textbox(
                label="…or paste a JSON record",
                lines=3,
                max_length=5000,
                elem_id="sft-paste",
                placeholder='{"conversations": [{"from": "human", "value": "Hi"}, '
                '{"from": "assistant", "value": "Hello."}]}',
            )
            conv_go = gr.Button("Convert pasted record", elem_id="sft-convert-go")
            with gr.Row():
                j_messages = gr.JSON(label="messages (TRL)")
                j_sharegpt = gr.JSON(label="ShareGPT (course)")
            rendered = gr.Textbox(
                label="rendered by the chat template", lines=3, elem_id="sft-rendered"
            )
            rec_tokens = gr.HTML()
            rec_go.click(
                show_record,
                rec_idx,
                [j_messages, j_sharegpt, rendered, rec_tokens],
                api_name="record",
            )
            conv_go.click(
                convert_record,
                pasted,
                [j_messages, j_sharegpt, rendered, rec_tokens],
                api_name="convert",
            )

        with gr.Tab("Live SFT"):
            gr.Markdown(
                "Fine-tune a fresh copy of the base model with LoRA, here, on the server's CPU: bounded to "
                f"{LIVE_MAX_STEPS} steps and {LIVE_TIME_LIMIT_S:.0f} s, one run at a time. "
                "Compliance and accuracy are measured on the "
                "same held-out questions before and after; then your model joins the side-by-side comparison."
            )
            with gr.Row():
                data = gr.Dropdown(list(LIVE_DATA), value="clean", label="SFT data")
                steps = gr.Slider(
                    5, LIVE_MAX_STEPS, value=LiveRequest().steps, step=5, label="steps"
                )
                lr = gr.Number(
                    value=LiveRequest().lr, label="learning rate", minimum=1e-5, maximum=1e-2
                )
                batch = gr.Slider(
                    1, 32, value=LiveRequest().batch_size, step=1, label="conversations per step"
                )
                limit = gr.Slider(
                    10, LIVE_TIME_LIMIT_S, value=LIVE_TIME_LIMIT_S, step=5, label="time limit (s)"
                )
            train_btn = gr.Button("Train", variant="primary", elem_id="sft-live-go")
            status = gr.Markdown(elem_id="sft-live-status")
            with gr.Row():
                live_plot = gr.Plot(show_label=False, elem_id="sft-live-curve")
                live_table = gr.Dataframe(
                    headers=["measure", "before (base)", "after (your model)"],
                    interactive=False,
                    label="held-out questions, before and after",
                )
            train_btn.click(
                live_train,
                [data, steps, lr, batch, limit],
                [status, live_plot, live_table],
                # 2 workers, 1 run: the lock in training.sft.lab refuses a second request at
                # once with a message, instead of leaving it silently queued for minutes
                api_name="live_sft",
                concurrency_limit=2,
                concurrency_id="sft-live",
                time_limit=240,
            )

        with gr.Tab("Results"):
            gr.Markdown(EXPLAIN)
            with gr.Row():
                r_main = gr.Plot(show_label=False, elem_id="sft-results-main")
                r_curve = gr.Plot(show_label=False, elem_id="sft-results-curve")
            with gr.Row():
                r_aug = gr.Plot(show_label=False, elem_id="sft-results-aug")
                r_lima = gr.Plot(show_label=False, elem_id="sft-results-lima")
            r_note = gr.Markdown(elem_classes=["lab-note"])
            r_table = gr.Dataframe(
                headers=[
                    "evaluation",
                    "model",
                    "prompting",
                    "people",
                    "accuracy",
                    "compliance",
                    "questions",
                    "SFT data",
                    "SFT steps",
                ],
                interactive=False,
                label="where each number comes from",
                wrap=True,
            )
            demo.load(
                results_figures,
                outputs=[r_main, r_aug, r_lima, r_curve, r_note, r_table],
                api_name="results",
            )
    return demo


def warm() -> None:
    """What the first clicks need, ready before anyone clicks (`ui.launch` runs this in the
    background once the server answers): the base and SFT models the Side by side tab asks by
    default, loaded into the lab's cache and decoded for one token through /compare's own path,
    and the SFT records the Token view and Data tabs read."""
    lab = _lab()
    for _ in lab.stream_side_by_side("Hello", ["base", "sft"], 1):
        pass
    lab.sft_records()


def _examples() -> list[list[str]]:
    try:
        return _lab().example_prompts()
    except Exception:  # noqa: BLE001 - no world/base here: the page still builds, without examples
        return []


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo, warm=warm)
