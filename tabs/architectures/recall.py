"""Recall: MQAR accuracy vs pairs, vs width and while training, and the recall probe (a
student's own key-value pairs asked of the three bundled MQAR models)."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from shared import ui, views
from training import architectures as arch
from training import store
from training.architectures import figures
from training.architectures.plan import ARCHS

from .common import NAMES, NONE, ZOOLOGY, label, lines, num, results

PROBE_EXAMPLE = "A=3, B=17, C=5, D=30 ? B"
MQAR_TEXT = (
    "**Multi-query associative recall**: the context lists key-value pairs (`k1 v1 k2 v2 …`), then asks "
    "for keys again at random later positions; only the answers are scored. Each model was trained at length "
    "{seq} on a mixture of {train_pairs} pairs ({examples:,} examples, batch {batch}, up to {steps} steps, "
    "stopping early at {target:.0%} held-out accuracy) and is tested on fresh examples — pair counts above "
    "{most_pairs} were never seen in training. Width {width}: {rows}.\n\n"
    "Attention can look any key up, so once it has learned the trick (the sudden jump in the training curve — "
    "an induction head forming) it answers at any number of pairs. When that jump comes varies from run to run; "
    "within a fixed budget a run can stay on the plateau throughout (a small model especially), so read the "
    "training curves beside the final numbers. A recurrent model must carry every pair "
    "in its fixed-size state until it is asked: the more pairs and the narrower the model, the more it "
    "forgets. Zoology found this gap explains most of the quality difference between attention and "
    "efficient alternatives at scale.\n\n"
)
MQAR_ROW = "{name} {layers} layers, {params:,} non-embedding parameters, {steps} steps"
PROBE_INTRO = (
    "### Try it: the recall probe\nWrite key=value pairs (values 0–31) and a query after `?`. "
    "Add filler tokens between the pairs and the query to make the models wait."
)
PROBE_SUMMARY = (
    "Asked for **{query}** (right answer **{expected}**) after {tokens} tokens ({gap} filler). The models are "
    "the width-{width} MQAR models, trained at length {seq}: keys become tokens 1, 2, … in the order you "
    "wrote them, value v becomes token {half}+v."
)


def mqar_view(width):
    """Accuracy vs key-value pairs at each sequence length (one width), accuracy vs width at the
    longest length, and the training curves."""
    r = results()
    if r is None:
        return [ui.message_figure(NONE)] * 3 + [NONE]
    try:
        v = figures.mqar_view(r, width)
    except ValueError as e:  # a width there is no run of
        raise ui.user_error(e) from None
    m, last = r.mqar, max(1, len(v.seqs) - 1)
    f1 = lines(
        {f"{a} · length {s}": line for (a, s), line in v.by_pairs.items()},
        f"MQAR accuracy vs key-value pairs (width {v.width})",
        "key-value pairs in the context",
        "accuracy on the queried values",
        log_x=True,
    )
    for tr in f1.data:
        i = v.seqs.index(int(tr.name.rsplit(" ", 1)[-1]))
        tr.line.width = 1 + 2 * i / last
        tr.opacity = 0.45 + 0.55 * i / last
    f2 = lines(
        {label(a): v.by_width[a] for a in ARCHS},
        f"Accuracy vs model width (length {v.longest.seq}, {v.longest.pairs} pairs)",
        "model width d",
        "accuracy",
        log_x=True,
    )
    f3 = lines(
        {label(x.arch, x.model): v.training[x.arch] for x in v.runs},
        f"Held-out accuracy while training (width {v.width}, mixture of {m.train_pairs} pairs)",
        "step",
        "accuracy",
    )
    for f in (f1, f2, f3):
        f.update_yaxes(range=[0, 1.05])
    rows = ", ".join(
        MQAR_ROW.format(
            name=NAMES[x.arch],
            layers=x.model.n_layer,
            params=x.model.params_nonembedding,
            steps=x.steps,
        )
        for x in v.runs
    )
    text = MQAR_TEXT.format(
        seq=m.seq,
        train_pairs=m.train_pairs,
        examples=m.train_examples,
        batch=m.batch,
        steps=m.steps,
        target=m.target,
        most_pairs=max(m.train_pairs),
        width=v.width,
        rows=rows,
    )
    return f1, f2, f3, text + ui.source_note(*ZOOLOGY)


def ask(text, gap):
    """The recall probe's work (the app wraps it for the GPU): each bundled MQAR model answers
    the key-value probe, with its confidence — a table, a chart and a summary."""
    gap = int(num("filler gap", gap, 0, 4096, integer=True))
    try:
        models, info = arch.load_probe_models()
    except store.CheckpointError as e:
        raise ui.user_error(e) from None
    try:
        out = arch.probe(models, text, info.vocab, info.seq, gap)
    except ValueError as e:
        raise ui.user_error(e) from None
    rows = []
    for a in ARCHS:
        ans = out.answers[a]
        said = "(not a value)" if ans.answer is None else str(ans.answer)
        right = "✓" if ans.answer == out.expected else "✗"
        rows.append([NAMES[a], said, right, f"{ans.confidence:.3f}", f"{ans.p_expected:.3f}"])
    fig = ui.grouped_bar_figure(
        [NAMES[a] for a in ARCHS],
        {
            "confidence in its answer": [out.answers[a].confidence for a in ARCHS],
            f"probability of the right value ({out.expected})": [
                out.answers[a].p_expected for a in ARCHS
            ],
        },
        "What each model says",
        "",
        "probability",
        y_range=(0, 1.05),
    )
    summary = PROBE_SUMMARY.format(
        query=out.query,
        expected=out.expected,
        tokens=len(out.tokens),
        gap=gap,
        width=info.width,
        seq=info.seq,
        half=info.vocab // 2,
    )
    return rows, fig, summary


def build_recall_tab(demo: gr.Blocks, widths: list[int], recall_probe: Callable) -> None:
    """The MQAR charts for `widths` (the bundled runs') and the probe, answered by `recall_probe`
    (the app's GPU-wrapped `ask`)."""
    with gr.Tab("Recall"):
        mq_w = gr.Radio([str(w) for w in widths], value=str(max(widths)), label="model width")
        mq_text = gr.Markdown(elem_id="arch-mqar-text")
        with gr.Row():
            mq_f1 = gr.Plot(show_label=False, elem_id="arch-mqar-pairs")
            mq_f2 = gr.Plot(show_label=False)
        mq_f3 = gr.Plot(show_label=False)
        outs = [mq_f1, mq_f2, mq_f3, mq_text]
        demo.load(mqar_view, mq_w, outs, api_name="mqar")
        mq_w.input(mqar_view, mq_w, outs, api_name=False, show_progress="hidden")
        views.link("recall", (mqar_view, [mq_w], outs), width=mq_w)
        gr.Markdown(PROBE_INTRO)
        with gr.Row():
            pr_text = gr.Textbox(
                value=PROBE_EXAMPLE,
                label="pairs ? query",
                max_length=400,
                elem_id="arch-probe-text",
            )
            pr_gap = gr.Slider(0, 40, value=0, step=1, label="filler tokens before the query")
            pr_go = gr.Button("Ask the models", variant="primary", elem_id="arch-probe-go")
        pr_sum = gr.Markdown(elem_id="arch-probe-summary")
        with gr.Row():
            pr_table = gr.Dataframe(
                headers=["model", "answer", "right?", "confidence", "p(right value)"],
                interactive=False,
                elem_id="arch-probe-table",
            )
            pr_fig = gr.Plot(show_label=False)
        ins, outs = [pr_text, pr_gap], [pr_table, pr_fig, pr_sum]
        pr_go.click(recall_probe, ins, outs, api_name="probe", concurrency_limit=4)
        pr_text.submit(recall_probe, ins, outs, api_name=False)
