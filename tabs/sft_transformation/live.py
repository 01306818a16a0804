"""Live SFT: fine-tune a fresh copy of the base here, bounded, and measure it before and after."""

from __future__ import annotations

import gradio as gr

from shared import gpu, ui
from training.sft import lab as _sft_lab
from training.sft.lab import LIVE_DATA, LIVE_MAX_STEPS, LIVE_TIME_LIMIT_S, LiveRequest
from training.sft.views import loss_curves

from .common import loss_figure

INTRO = (
    "Fine-tune a fresh copy of the base model with LoRA, here, on the server's CPU: bounded to "
    f"{LIVE_MAX_STEPS} steps and {LIVE_TIME_LIMIT_S:.0f} s, one run at a time. "
    "Compliance and accuracy are measured on the "
    "same held-out questions before and after; then your model joins the side-by-side comparison."
)
TABLE_HEADERS = ["measure", "before (base)", "after (your model)"]
BEFORE_AFTER = {  # the rows of that table: a measure of training.sft.evaluate, in words
    "compliance": "format compliance (one sentence, then stop)",
    "accuracy": "exact-answer accuracy (held-out people)",
    "mentioned": "right fact anywhere in the reply",
}


def _lab():  # live_train's own way to the lab (its body is kept as it was)
    return _sft_lab


def _live_curve(history: list[dict]):
    return loss_figure(loss_curves(history))


def _before_after(before, after) -> list[list[str]]:
    return [
        [label, f"{100 * getattr(before, key):.0f}%", f"{100 * getattr(after, key):.0f}%"]
        for key, label in BEFORE_AFTER.items()
    ]


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
    except (lab.LabError, ValueError) as e:
        raise ui.user_error(e) from None
    history: list = []

    def render(ev):
        if ev.kind == "done":
            r = ev.data
            stop = {"time limit": " (stopped at the time limit)", "stopped": " (stopped)"}.get(
                r.stopped_early, ""
            )
            status = (
                f"**Done**: {r.steps_done} steps in {r.seconds:.0f} s{stop}. Compliance on "
                f"{r.after.n} held-out questions went from {100 * r.before.compliance:.0f}% "
                f"to {100 * r.after.compliance:.0f}%. Your model now answers in the Side by side tab "
                "(tick **live**)."
            )
            return status, _live_curve(r.history), _before_after(r.before, r.after)
        if ev.data is None:  # a new phase
            return f"**{ev.label}** …", _live_curve(history), []
        elapsed = ev.data.elapsed
        return f"step {ev.done} / {ev.total} · {elapsed:.0f} s", _live_curve(history), []

    yield from ui.stream_live(
        lambda: lab.live_sft(req),
        render,
        progress,
        failed="live SFT failed",
        starting=("starting …", _live_curve(history), []),
        collect=lambda ev: ev.data is not None and history.append(ev.data),
        every_s=0,
    )


def build_live_tab() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        data = gr.Dropdown(list(LIVE_DATA), value="clean", label="SFT data")
        steps = gr.Slider(5, LIVE_MAX_STEPS, value=LiveRequest().steps, step=5, label="steps")
        lr = gr.Number(value=LiveRequest().lr, label="learning rate", minimum=1e-5, maximum=1e-2)
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
            headers=TABLE_HEADERS,
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
