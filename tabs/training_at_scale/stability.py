"""The Stability tab: the bundled grid of real pre-training runs (loss, gradient norm, update size and
zero gradients per step, one setting changed at a time), the learning-rate decay runs (constant,
cosine, linear, warmup-stable-decay at equal steps) and one bounded live run drawn beside the
baseline. The runs and their figures are `training.stability` (StabilityResults, summarize,
curves, decay_table); this module wires the page and formats."""

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
SCHEDULES = list(lab.SCHEDULES)  # the live run's choices (training/schedules.py)
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
DECAY_HEADERS = [
    "schedule",
    "final training loss (mean, last 10 steps)",
    "held-out loss after the last step",
    "training loss before WSD's decay (mean, 10 steps)",
    "drop from then to the end",
    "final vs constant",
    "held-out vs constant",
    "last step's lr",
]
DECAY_NONE = (
    "No bundled LR-decay runs: rebuild them with `python -m training stability --preset cpu`."
)
DECAY_HELPS = (
    "That is the drop decay buys at the end of training: a high learning rate keeps the weights "
    "bouncing across the loss valley, and lowering it lets them settle."
)
DECAY_NO_HELP = (
    "Here the decay bought nothing held out: at this length the model is still far from settling."
)
DECAY_EARLY_COSTS = (
    "Both lower the learning rate from the end of warmup on, and end above constant: the model is "
    "still learning fast at this length, and smaller steps for most of the run cost more than the "
    "settling at the end gives back — WSD decays only at the end."
)
DECAY_EARLY_PAYS = "Decaying from the end of warmup on pays here too: both end below constant."
DECAY_LOSS_TITLE = "Training loss (trailing mean of 10 steps), the last two thirds"
DECAY_INTRO = "### Learning-rate decay: what the end of training buys"
DECAY_TEXT = (
    (
        "Four runs of the same {params:,}-parameter model for {steps} steps each, with the same warmup "
        "({warmup} steps), peak learning rate {lr:g}, seed and batches in the same order; only what the "
        "learning rate does after warmup differs (every decaying schedule ends at lr/10). "
        "**Constant** ends at training loss {c_final:.3f} (held-out {c_held:.3f}). "
        "**WSD** takes exactly constant's steps until step {start}, so its records are constant's until "
        "then; in the last {frac:.0%} of the steps constant's training loss falls {c_drop:.3f} and WSD's "
        "{w_drop:.3f}, ending {w_word} than constant: {w_vs:+.3f} in training loss, {w_held_vs:+.3f} "
        "held out. {verdict} **Cosine** ends at "
        "{cos_final:.3f} ({cos_held_vs:+.3f} held out vs constant) and **linear** at {lin_final:.3f} "
        "({lin_held_vs:+.3f}). {early} Lowest held-out loss: {best}. Losses are means over 10 steps (one batch's "
        "loss is noisy); the same batches in every run make the differences the schedule's.\n\n"
        "Left: training loss, the trailing mean of 10 steps, over the last two thirds of the steps "
        "(double-click the plot for all of them); right: the learning rate of each step, "
        "read from the runs. "
    )
    + ui.source_note(
        "Hu et al. 2024, MiniCPM (warmup-stable-decay), arXiv 2404.06395",
        "https://arxiv.org/abs/2404.06395",
    )
    + " "
    + ui.source_note(
        "Hägele et al. 2024, linear cooldown in the last 20% (arXiv 2405.18392)",
        "https://arxiv.org/abs/2405.18392",
    )
)
LIVE_LR = " Schedule {schedule}: the last step's learning rate was {lr:.3g}."
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
def stability_live(
    log_lr, warmup, clip, init_scale, precision, steps, schedule="cosine", progress=gr.Progress()
):
    """Train one run with the page's settings (bounded, one at a time), streaming its curves
    beside the bundled baseline."""
    settings = {
        "lr": 10 ** _num("log10 learning rate", log_lr, -5, 1),
        "warmup_steps": _num("warmup steps", warmup, 0, 10_000, integer=True),
        "clip": _num("clip", clip, 0, 1e6),
        "init_scale": _num("init scale", init_scale, 0.001, 100),
        "precision": precision,
        "steps": _num("steps", steps, 1, 100_000, integer=True),
        "schedule": schedule,  # checked with the other settings (training.stability.Settings)
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
        status += LIVE_LR.format(schedule=run.settings.schedule, lr=run.records[-1].lr)
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


def _decay_figures(r: lab.StabilityResults) -> list:
    """The LR-decay runs' smoothed training loss and learning rate per step, WSD's decay start marked."""
    loss, lr = {}, {}
    for run in r.schedules:
        steps = [x.step for x in run.records]
        loss[run.label] = (steps, lab.smoothed([x.loss for x in run.records]))
        lr[run.label] = (steps, [x.lr for x in run.records])
    figs = [
        ui.line_figure(loss, DECAY_LOSS_TITLE, "step", "loss (nats/token)"),
        ui.line_figure(lr, "Learning rate per step", "step", "learning rate"),
    ]
    # the loss axis shows the last two thirds, where the schedules part (double-click: all of it)
    n = max(len(run.records) for run in r.schedules)
    tail = [y for xs, ys in loss.values() for x, y in zip(xs, ys) if x > n / 3 and y is not None]
    if tail:
        figs[0].update_xaxes(range=[n / 3, n])
        figs[0].update_yaxes(range=[min(tail) - 0.05, max(tail) + 0.05])
    start = lab.wsd_decay_from(r)
    for fig in figs:
        fig.add_vline(
            x=start,
            line={"dash": "dot", "color": "#64748b"},
            annotation_text=f"WSD's decay starts after step {start}",
            annotation_position="top left",
        )
    return figs


def _decay_row(row: lab.DecayRow) -> list:
    return [
        row.label,
        _fmt(row.final_loss, ".3f"),
        _fmt(row.heldout_loss, ".3f"),
        _fmt(row.loss_at_decay_from, ".3f"),
        _fmt(row.late_drop, ".3f"),
        _fmt(row.vs_constant, "+.3f"),
        _fmt(row.heldout_vs_constant, "+.3f"),
        _fmt(row.last_lr, ".2e"),
    ]


def _decay_text(r: lab.StabilityResults, rows: list) -> str:
    by = {x.name: x for x in rows}
    c, w, cos, lin = by["constant"], by["wsd"], by["cosine"], by["linear"]
    s = r.schedules[0].settings
    best = min(rows, key=lambda x: lab.finite(x.heldout_loss) or float("inf"))
    return DECAY_TEXT.format(
        params=r.model.params,
        steps=c.steps,
        warmup=s.warmup_steps,
        lr=s.lr,
        c_final=c.final_loss,
        c_held=c.heldout_loss,
        start=c.decay_from,
        frac=r.wsd_decay_fraction,
        c_drop=c.late_drop,
        w_drop=w.late_drop,
        w_word="lower" if w.vs_constant < 0 else "higher",
        verdict=DECAY_HELPS if w.heldout_vs_constant < 0 else DECAY_NO_HELP,
        early=DECAY_EARLY_COSTS
        if min(cos.heldout_vs_constant, lin.heldout_vs_constant) > 0
        else DECAY_EARLY_PAYS
        if max(cos.heldout_vs_constant, lin.heldout_vs_constant) < 0
        else "",
        w_vs=w.vs_constant,
        w_held_vs=w.heldout_vs_constant,
        cos_final=cos.final_loss,
        cos_held_vs=cos.heldout_vs_constant,
        lin_final=lin.final_loss,
        lin_held_vs=lin.heldout_vs_constant,
        best=f"{best.label} ({best.heldout_loss:.3f})",
    )


def lr_decay():
    """The bundled LR-decay runs: their smoothed loss curves and learning rates, a table of each
    schedule's final and held-out loss and the drop decay buys, and the prose, read from them."""
    r = lab.read_results()
    rows = lab.decay_table(r) if r is not None else []
    if not rows:
        return [ui.message_figure(DECAY_NONE)] * 2 + [[], DECAY_NONE]
    return _decay_figures(r) + [[_decay_row(x) for x in rows], _decay_text(r, rows)]


def _build_decay(demo: gr.Blocks) -> None:
    """The LR-decay section: two figures, a table and the prose, drawn on load."""
    gr.Markdown(DECAY_INTRO)
    dc_text = gr.Markdown(elem_id="tas-decay-text")
    with gr.Row():
        dc_loss = gr.Plot(show_label=False, elem_id="tas-decay-loss")
        dc_lr = gr.Plot(show_label=False, elem_id="tas-decay-lr")
    dc_table = gr.Dataframe(
        headers=DECAY_HEADERS, interactive=False, wrap=True, elem_id="tas-decay-table"
    )
    demo.load(lr_decay, None, [dc_loss, dc_lr, dc_table, dc_text], api_name="lr_decay")


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
        sl_sched = gr.Radio(SCHEDULES, value="cosine", label="lr schedule after warmup")
        sl_go = gr.Button("Train", variant="primary", elem_id="tas-stab-go")
    sl_status = gr.Markdown(elem_id="tas-stab-status")
    sl_go.click(
        stability_live,
        [sl_lr, sl_warm, sl_clip, sl_init, sl_prec, sl_steps, sl_sched],
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
    _build_decay(demo)
