"""The Stability tab: the bundled grid of real pre-training runs (loss, gradient norm, update size and
zero gradients per step, one setting changed at a time) and one bounded live run drawn beside the
baseline. The runs and their figures are `training.stability` (StabilityResults, summarize,
curves); this module wires the page and formats."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr

from shared import gpu, ui, views
from training import stability as lab

_num = ui.checked_number  # a finite number in [lo, hi], or a one-line error

STAB_PLOTS = (  # (series of a run's Curves, title, y axis, log y)
    (lambda c: c.loss, "Training loss", "loss (nats/token)", True),
    (lambda c: c.grad_norm, "Gradient norm before clipping", "‖g‖ (log)", True),
    (lambda c: c.update_ratio, "Update size per step", "‖Δθ‖ / ‖θ‖ (log)", True),
    (
        lambda c: c.head_zero_frac,
        "Output-head gradients that are exactly zero (fp16 underflow)",
        "share exactly 0",
        False,
    ),
)
STAB_NONE = (
    "No bundled stability runs: build them with `python -m training stability --preset cpu`."
)
PRECISIONS = ["fp32", "bf16", "fp16", "fp16-scaled"]
STAB_DEFAULT = (
    "baseline",
    "lr-x10-no-warmup",
    "lr-x10-bare",
    "fp16",
    "fp16-scaled",
)  # run names shown first
TABLE_HEADERS = [
    "run",
    "what it shows",
    "final loss (mean, last 10 steps)",
    "max ‖g‖",
    "diverged at",
    "peak zero head grads",
    "skipped steps",
]
STAB_TEXT = (
    "Each curve is a real pre-training run of a {params:,}-parameter Llama-style model "
    "({n_layer} layers, "
    "d = {d_model}) on the world corpus, the same data and seed, one setting changed at a time. "
    "A too-high learning rate makes the loss spike or diverge; warmup lets Adam's moment estimates settle "
    "before full-size steps; clipping caps the gradient norm the optimizer sees; fp16 without loss scaling "
    "loses small gradients to underflow (they become exactly 0), which a GradScaler (×2¹⁶ to start) "
    "prevents; bf16 has fp32's exponent range and needs no scaling. A NaN is recorded, not a crash.\n\n"
    "Rebuild: `{rebuild}` · "
) + ui.source_note(
    "Micikevicius et al. 2018, Mixed Precision Training", "https://arxiv.org/abs/1710.03740"
)
LIVE_INTRO = (
    "**Train one now** (bounded: one run at a time, 60 s at most) — drawn beside the baseline."
)


def _curves(run) -> lab.Curves:
    """A run's plotted series (a run already reduced to its curves passes through)."""
    if isinstance(run, lab.Curves):
        return run
    return lab.curves(run.label, run.records, run.diverged_at)


def _stability_figures(runs: list) -> list:
    """The four per-step figures of `runs`, a divergence marked on each."""
    series = [_curves(r) for r in runs]
    figs = []
    for values, title, y_title, log_y in STAB_PLOTS:
        fig = ui.line_figure(
            {c.label: (c.steps, values(c)) for c in series}, title, "step", y_title, log_y=log_y
        )
        for c in series:
            if c.diverged_at is not None:
                fig.add_vline(
                    x=c.diverged_at,
                    line={"dash": "dot", "color": "#e11d48"},
                    annotation_text=f"{c.label}: NaN/inf at step {c.diverged_at}",
                    annotation_position="top left",
                )
        figs.append(fig)
    return figs


def _fmt(v, spec: str, none: str = "—") -> str:
    """A summary figure for the table: a number formatted, a non-finite one named, a missing one a dash."""
    if lab.finite(v) is not None:
        return format(v, spec)
    return none if v is None else {"nan": "NaN", "-inf": "−inf"}.get(str(v), str(v))


def _stability_row(r: lab.StabilityRun) -> list:
    s = lab.summarize(r.records, r.diverged_at)
    zeros = s.max_head_zero_frac
    return [
        r.label,
        r.explains,
        _fmt(s.final_loss, ".3f"),
        _fmt(s.max_grad_norm, ".3g"),
        str(s.diverged_at) if s.diverged_at is not None else "no",
        "—" if zeros is None else f"{100 * zeros:.1f}%",
        str(s.skipped_steps),
    ]


def stability(selected):
    """The bundled grid of real pre-training runs: loss, gradient norm, update size and zero
    gradients per step for the chosen runs, and a table of every run."""
    r = lab.read_results()
    if r is None:
        return [ui.message_figure(STAB_NONE)] * 4 + [[], STAB_NONE]
    try:
        chosen = lab.choose_runs(r, selected or [])
    except ValueError as e:
        raise ui.user_error(e) from None
    m = r.model
    text = STAB_TEXT.format(
        params=m.params, n_layer=m.n_layer, d_model=m.d_model, rebuild=r.rebuild
    )
    return _stability_figures(chosen) + [[_stability_row(x) for x in r.runs], text]


@gpu.on_gpu(
    90
)  # at most 60 s in all (training.stability.LIVE_TIME_LIMIT_S), + the final evaluation
def stability_live(log_lr, warmup, clip, init_scale, precision, steps, progress=gr.Progress()):
    """Train one run with the page's settings (bounded, one at a time), streaming its curves
    beside the bundled baseline."""
    settings = {
        "lr": 10 ** _num("log10 learning rate", log_lr, -5, 1),
        "warmup_steps": _num("warmup steps", warmup, 0, 10_000, integer=True),
        "clip": _num("clip", clip, 0, 1e6),
        "init_scale": _num("init scale", init_scale, 0.001, 100),
        "precision": precision,
        "steps": _num("steps", steps, 1, 100_000, integer=True),
    }
    bundled = lab.read_results()
    base = [x for x in (bundled.runs if bundled else []) if x.name == "baseline"][:1]
    records: list = []

    def render(ev):
        if ev.kind == "progress":
            mine = lab.curves("your run", records, None)
            return (*_stability_figures([*base, mine]), f"step {ev.done:.0f} / {ev.total:.0f}")
        run = replace(ev.data.run, label="your run")
        s = lab.summarize(run.records, run.diverged_at)
        status = f"**Done** in {run.seconds:.0f} s: " + (
            f"diverged (NaN/inf) at step {s.diverged_at}."
            if s.diverged_at is not None
            else f"final loss {s.final_loss:.3f} (mean of the last {lab.FINAL_LOSS_STEPS} steps)."
        )
        return (*_stability_figures([*base, run]), status)

    yield from ui.stream_live(
        lambda: lab.live_run(settings),
        render,
        progress,
        failed="live run failed",
        starting=(
            *_stability_figures(base),
            "starting (the first run in a process also packs the corpus) …",
        ),
        collect=lambda ev: records.append(ev.data),
        every_s=1.0,
    )


def _build_live(figures: list) -> None:
    """The live run's settings, button and status; it redraws `figures` (loss, ‖g‖, update, zeros)."""
    gr.Markdown(LIVE_INTRO)
    with gr.Row():
        sl_lr = gr.Slider(-4, 0, value=-2.5, step=0.1, label="log10 learning rate")
        sl_warm = gr.Number(
            value=10, precision=0, label="warmup steps (0 = off)", minimum=0, maximum=10_000
        )
        sl_clip = gr.Number(value=1.0, label="clip norm (0 = off)", minimum=0, maximum=1e6)
        sl_init = gr.Number(value=1.0, label="init scale ×", minimum=0.001, maximum=100)
        sl_prec = gr.Radio(PRECISIONS, value="fp32", label="precision")
        sl_steps = gr.Slider(10, 300, value=100, step=10, label="steps")
        sl_go = gr.Button("Train", variant="primary", elem_id="tas-stab-go")
    sl_status = gr.Markdown(elem_id="tas-stab-status")
    sl_go.click(
        stability_live,
        [sl_lr, sl_warm, sl_clip, sl_init, sl_prec, sl_steps],
        [*figures, sl_status],
        api_name="stability_live",
        concurrency_limit=2,
        concurrency_id="stability-live",
        time_limit=120,
    )


def build_stability_tab(demo: gr.Blocks) -> None:
    """The Stability tab's components and events; call it inside the app's `with gr.Tab("Stability")`."""
    st_text = gr.Markdown(elem_id="tas-stab-text")
    results = lab.read_results()
    st_runs = results.runs if results else []
    st_pick = gr.CheckboxGroup(
        [x.label for x in st_runs],
        value=[x.label for x in st_runs if x.name in STAB_DEFAULT],
        label="runs to show",
    )
    with gr.Row():
        st_loss = gr.Plot(show_label=False, elem_id="tas-stab-loss")
        st_norm = gr.Plot(show_label=False)
    with gr.Row():
        st_upd = gr.Plot(show_label=False)
        st_zero = gr.Plot(show_label=False)
    st_table = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, wrap=True)
    st_outs = [st_loss, st_norm, st_upd, st_zero, st_table, st_text]
    demo.load(stability, st_pick, st_outs, api_name="stability")
    st_pick.input(stability, st_pick, st_outs, api_name=False, show_progress="hidden")
    views.link("stability", (stability, [st_pick], st_outs), runs=st_pick)
    _build_live([st_loss, st_norm, st_upd, st_zero])
