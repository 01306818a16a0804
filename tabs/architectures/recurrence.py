"""Recurrence three ways: h_t = a_t·h_{t−1} + b_t·x_t, y_t = c_t·h_t computed by a loop, a
parallel scan and (time-invariant only) a convolution — live, and the bundled check."""

from __future__ import annotations

import gradio as gr

from shared import recurrence, ui, views

from .common import NONE, num, results

SHOWN = {  # shared.recurrence.METHODS -> what the table calls them
    "sequential": "sequential loop",
    "parallel_scan": "parallel scan",
    "convolution": "convolution (FFT)",
}
RECURRENCE_TEXT = (
    "**Work** counts multiply-adds, **depth** the rounds that must happen one after another (what parallel "
    "hardware cannot shorten). The loop: depth T = {T}. The Hillis–Steele scan combines pairs "
    "(a₁,u₁)∘(a₂,u₂) = (a₁a₂, a₂u₁+u₂) — associative, so ⌈log₂ T⌉ rounds suffice (+1 for the readout), "
    "at more total work. "
    "When a, b, c do not depend on t (S4's LTI case) the whole map is one convolution with kernel "
    "K_k = Σ c·aᵏ·b, done by FFT. A *selective* SSM (Mamba) changes a, b, c with the input: no single kernel "
    "exists, so it uses the scan.{selective}"
)
SELECTIVE_NOTE = " (Selective system chosen: the convolution refuses it.)"
BUNDLED_TEXT = (
    "Bundled check (state size {state}): all three agree to float64 rounding; "
    "a selective system's scan agrees with its loop to {worst:.0e}."
)


def recurrence_view(length, state, selective):
    """h_t = a_t·h_{t−1} + b_t·x_t, y_t = c_t·h_t computed sequentially, by a parallel scan and
    (time-invariant only) as a convolution, on a random stable system."""
    T = int(num("sequence length", length, 1, 65_536, integer=True))
    N = int(num("state size", state, 1, 256, integer=True))
    runs = recurrence.three_ways(T, N, selective=bool(selective), seed=0)
    rows = [
        [SHOWN[m.method], "—", "—", "—", m.error]
        if m.y is None
        else [
            SHOWN[m.method],
            f"{m.work:,}",
            f"{m.depth:,}",
            f"{m.ms:.2f}",
            f"max |Δ| vs loop {m.max_diff:.1e}",
        ]
        for m in runs
    ]
    shown = min(T, 200)
    fig = ui.line_figure(
        {SHOWN[m.method]: (list(range(shown)), list(m.y[:shown])) for m in runs if m.y is not None},
        f"Output y_t, first {shown} steps (the curves lie on top of each other)",
        "t",
        "y_t",
    )
    for i, tr in enumerate(fig.data):
        tr.line.dash = ("solid", "dash", "dot")[i % 3]
        tr.line.width = 4 - i
    text = RECURRENCE_TEXT.format(T=T, selective=SELECTIVE_NOTE if selective else "")
    return rows, fig, text


def recurrence_bundled():
    r = results()
    if r is None:
        return [], NONE
    rec = r.recurrence
    rows = []
    for row in rec.rows:
        for method in recurrence.METHODS:
            c = getattr(row, method)
            shown = method.replace("_", " ")
            rows.append([row.length, shown, f"{c.work:,}", c.depth, f"{c.max_abs_diff:.1e}"])
    worst = max(x.selective_scan_diff for x in rec.rows)
    return rows, BUNDLED_TEXT.format(state=rec.state, worst=worst)


def build_recurrence_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Recurrence three ways"):
        with gr.Row():
            rc_T = gr.Slider(8, 4096, value=256, step=8, label="sequence length T")
            rc_N = gr.Slider(1, 64, value=16, step=1, label="state size N")
            rc_sel = gr.Checkbox(value=False, label="selective (a, b, c depend on t)")
        rc_text = gr.Markdown()
        with gr.Row():
            rc_table = gr.Dataframe(
                headers=["method", "work", "depth", "ms", "check"], interactive=False
            )
            rc_fig = gr.Plot(show_label=False)
        ins, outs = [rc_T, rc_N, rc_sel], [rc_table, rc_fig, rc_text]
        for c in ins:
            c.input(recurrence_view, ins, outs, api_name=False, show_progress="hidden")
        demo.load(recurrence_view, ins, outs, api_name="recurrence")
        views.link(
            "recurrence-three-ways", (recurrence_view, ins, outs), T=rc_T, N=rc_N, selective=rc_sel
        )
        rc_btext = gr.Markdown()
        rc_btable = gr.Dataframe(
            headers=["T", "method", "work", "depth", "max |Δ| vs loop"], interactive=False
        )
        demo.load(recurrence_bundled, None, [rc_btable, rc_btext], api_name="recurrence_bundled")
