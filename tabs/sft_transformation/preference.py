"""Preference tuning: DPO after SFT (the course's look ahead to RLHF) — the bundled results for
SFT alone, SFT + DPO and SFT trained longer on the chosen answers; the base, SFT and DPO models
side by side; and a bounded live DPO run."""

from __future__ import annotations

import math

import gradio as gr

from shared import gpu, ui
from training import store
from training.dpo import lab as dpo_lab
from training.dpo import results as dpo_results
from training.dpo.views import DPOView, dpo_view

from .preference_grid import build_grid_section
from .side_by_side import side_by_side_panel, stream_compare

TERMS = (  # glossary terms its table and note write
    "SFT",
    "LoRA",
    "LoRA rank",
    "adapter",
    "checkpoint",
    "held-out loss",
    "token",
    "greedy decoding",
    "nats",
)
DPO_URL = "https://arxiv.org/abs/2305.18290"
INSTRUCTGPT_URL = "https://arxiv.org/abs/2203.02155"
TRL_DPO_URL = "https://huggingface.co/docs/trl/dpo_trainer"
EXPLAIN = f"""
**After SFT, preferences.** RLHF (InstructGPT) trains a reward model on human comparisons and
then the policy against it; DPO gets the same objective without the reward model: for each
prompt, a *chosen* and a *rejected* reply, and a loss that raises the policy's log-probability
ratio to the SFT model on the chosen reply over the rejected one, −log σ(β·[(log π − log π_SFT)(chosen)
− (log π − log π_SFT)(rejected)]). β holds the policy near the SFT model; the price is measured
below as the KL from it. Here the pairs come from the world: chosen = the correct one-sentence
answer; rejected = a wrong fact (another person's value) or a rambling reply (the right fact
buried in more sentences). Questions are about the SFT people; every number below is on
held-out people. Two starting models: the bundled SFT model, which already answers well, and one
fine-tuned on noisy data (the LIMA ablation's recipe), which still rambles and states wrong facts.
Each gets DPO, and — the control — the same steps of plain SFT on the chosen answers only.

{ui.source_note("Rafailov et al. 2023, Direct Preference Optimization", DPO_URL)} ·
{ui.source_note("Ouyang et al. 2022, InstructGPT (RLHF)", INSTRUCTGPT_URL)} ·
{ui.source_note("TRL DPOTrainer", TRL_DPO_URL)}
"""
FINDING = (
    "- **{start}**: held-out accuracy {acc:.1f}% → {acc_dpo:.1f}% with DPO ({acc_more:.1f}% with "
    "more SFT on the chosen answers); wrong facts {wrong:.1f}% → {wrong_dpo:.1f}% "
    "({wrong_more:.1f}%); rambling {ramble:.1f}% → {ramble_dpo:.1f}% ({ramble_more:.1f}%); KL from "
    "the starting model {kl_dpo:.4f} nats per token with DPO ({kl_more:.4f})."
)
MISSING = "No bundled DPO results: build them with `python -m training dpo --preset cpu`."
NOTE = (
    "From `{rebuild}` (preset {preset}; DPO: LoRA r={lora_r} on the merged SFT model, {steps} "
    "steps × {batch} pairs, lr and β chosen on validation (below: {chosen}); the reference is "
    "the SFT model: TRL disables the adapter). Starting models: {starts}. DPO data: {pairs}. "
    "Control (SFT longer): {control}, same steps and LoRA, its lr chosen the same way. "
    "{n} held-out questions. **KL** = Σ over each reply's tokens of KL(π ‖ π_SFT) over the whole "
    "vocabulary, along the model's own greedy reply, divided by all reply tokens. **Margin** = "
    "mean log p(chosen) − log p(rejected), nats summed over each reply."
)
TABLE_HEADERS = [
    "model",
    "accuracy",
    "wrong fact",
    "rambling",
    "compliance",
    "KL from SFT (nats/token)",
    "margin, training pairs",
    "margin, held-out pairs",
    "margin, held-out wrong-fact pairs",
    "questions",
]
BARS = {"accuracy": "exact-answer accuracy", "wrong_fact": "wrong fact", "ramble": "rambling"}
BARS_TITLE = "Held-out people: what each arm answers"
CURVE_TITLE = "The DPO runs"
CURVE_SERIES = {"loss": "DPO loss", "margin": "implicit reward margin β·Δ"}
MODELS = ["base", "sft", "dpo", "live-dpo"]
OUT_LABELS = {
    "base": "base model (pre-trained only)",
    "sft": "SFT model (bundled LoRA adapter)",
    "dpo": "SFT + DPO (bundled DPO adapter)",
    "live-dpo": "your live DPO model",
}
LIVE_INTRO = (
    f"DPO on a copy of the bundled SFT model, here on the server's CPU: at most "
    f"{dpo_lab.LIVE_MAX_STEPS} steps × {dpo_lab.LIVE_BATCH} pairs and "
    f"{dpo_lab.LIVE_TIME_LIMIT_S:.0f} s, one run at a time. The same held-out questions and "
    "held-out people's pairs are measured before and after; then your model joins the "
    "comparison above (tick **live-dpo**)."
)
LIVE_HEADERS = ["measure", "before (SFT)", "after (your DPO)"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _nats(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.2f}"


def table(v: DPOView) -> list[list[str]]:
    return [
        [
            r.label,
            _pct(r.accuracy),
            _pct(r.wrong_fact),
            _pct(r.ramble),
            _pct(r.compliance),
            f"{r.kl_per_token:.4f}",
            _nats(r.margin_train),
            _nats(r.margin_heldout),
            _nats(r.margin_wrong_heldout),
            str(r.n),
        ]
        for r in v.rows
    ]


def note(r: dpo_results.DPOResults, v: DPOView) -> str:
    s = r.settings
    return NOTE.format(
        rebuild=r.rebuild,
        preset=r.preset,
        lora_r=s.lora_r,
        steps=s.steps,
        batch=s.batch_size,
        chosen="; ".join(
            f"{g.start}: {g.setting}" for g in v.grid if g.selected and g.arm != "sft"
        ),
        pairs=v.pairs,
        control=v.control,
        starts="; ".join(f"{label}: {made}" for label, made in v.starts.items()),
        n=v.rows[0].n if v.rows else 0,
    )


def figures(v: DPOView):
    bars = ui.grouped_bar_figure(
        [r.label for r in v.rows],
        {legend: [100 * getattr(r, k) for r in v.rows] for k, legend in BARS.items()},
        BARS_TITLE,
        "model",
        "% of held-out questions",
        y_range=(0, 105),
    )
    series = {}
    for start, c in v.curves.items():
        series[f"{start}: {CURVE_SERIES['loss']}"] = (c.steps, c.loss)
        pts = [(s, m) for s, m in zip(c.steps, c.margin) if m is not None]
        if pts:
            series[f"{start}: {CURVE_SERIES['margin']}"] = (
                [s for s, _ in pts],
                [m for _, m in pts],
            )
    return bars, ui.line_figure(series, CURVE_TITLE, "step", "nats")


def findings(v: DPOView) -> str:
    """One sentence per start, every number from the results."""
    by = {(r.start, r.arm): r for r in v.rows}
    out = []
    for start in dict.fromkeys(r.start for r in v.rows):
        sft, dpo, more = (by.get((start, a)) for a in ("sft", "dpo", "sft-longer"))
        if None in (sft, dpo, more):
            continue
        out.append(
            FINDING.format(
                start=sft.label,
                acc=100 * sft.accuracy,
                acc_dpo=100 * dpo.accuracy,
                acc_more=100 * more.accuracy,
                wrong=100 * sft.wrong_fact,
                wrong_dpo=100 * dpo.wrong_fact,
                wrong_more=100 * more.wrong_fact,
                ramble=100 * sft.ramble,
                ramble_dpo=100 * dpo.ramble,
                ramble_more=100 * more.ramble,
                kl_dpo=dpo.kl_per_token,
                kl_more=more.kl_per_token,
            )
        )
    return "\n".join(out)


def dpo_results_view():
    try:
        r = dpo_results.read_results()
    except store.CheckpointError as e:  # results that do not match this code: one line
        raise ui.user_error(e) from None
    if r is None:
        empty = ui.message_figure(MISSING)
        return empty, empty, MISSING, []
    v = dpo_view(r)
    bars, curve = figures(v)
    return bars, curve, findings(v) + "\n\n" + note(r, v), table(v)


def _prepare(models: list[str]) -> None:
    for m in models:
        dpo_lab.ensure_model(m)


@gpu.on_gpu(60)  # up to 4 models × 128 tokens in lock step, and the DPO model's first load
def compare_dpo(prompt: str, models: list[str], max_new_tokens: float, temperature: float):
    yield from stream_compare(MODELS, prompt, models, max_new_tokens, temperature, _prepare)


def _live_table(before, after) -> list[list[str]]:
    rows = [
        ("exact-answer accuracy", _pct(before.rates.accuracy), _pct(after.rates.accuracy)),
        ("wrong fact", _pct(before.rates.wrong_fact), _pct(after.rates.wrong_fact)),
        ("rambling", _pct(before.rates.ramble), _pct(after.rates.ramble)),
        ("KL from SFT (nats/token)", "0", f"{after.rates.kl_per_token:.4f}"),
        ("margin, held-out pairs (nats)", _nats(before.margin), _nats(after.margin)),
    ]
    return [list(r) for r in rows]


def _live_curve(points):
    if not points:
        return ui.message_figure("waiting for the first step …", "Live DPO")
    series = {CURVE_SERIES["loss"]: ([p.step for p in points], [p.loss for p in points])}
    m = [p for p in points if p.margin is not None]
    if m:
        series[CURVE_SERIES["margin"]] = ([p.step for p in m], [p.margin for p in m])
    return ui.line_figure(series, "Live DPO", "step", "nats")


@gpu.on_gpu(int(dpo_lab.LIVE_TIME_LIMIT_S) + 60)  # training + the before/after measurements
def live_dpo(kinds: str, steps: float, beta: float, lr: float, time_limit: float):
    try:
        req = dpo_lab.LiveRequest(
            kinds=kinds,
            steps=ui.checked_number("steps", steps, 1, dpo_lab.LIVE_MAX_STEPS, integer=True),
            beta=ui.checked_number("beta", beta, 0.01, 1.0),
            lr=ui.checked_number("learning rate", lr, 1e-5, 1e-2),
            time_limit_s=ui.checked_number("time limit", time_limit, 5, dpo_lab.LIVE_TIME_LIMIT_S),
        )
        req.validate()
    except ValueError as e:
        raise ui.user_error(e) from None
    history: list = []

    def render(ev):
        if ev.kind == "done":
            r = ev.data
            stop = {"time limit": " (stopped at the time limit)", "stopped": " (stopped)"}.get(
                r.stopped_early, ""
            )
            status = (
                f"**Done**: {r.steps_done} steps in {r.seconds:.0f} s{stop}. The margin on "
                f"held-out people's pairs went from {_nats(r.before.margin)} to "
                f"{_nats(r.after.margin)} nats; KL from the SFT model "
                f"{r.after.rates.kl_per_token:.4f} nats per token."
            )
            return status, _live_curve(r.history), _live_table(r.before, r.after)
        if ev.data is None:
            return f"**{ev.label}** …", _live_curve(history), []
        return f"step {ev.done} / {ev.total} · {ev.data.elapsed:.0f} s", _live_curve(history), []

    yield from ui.stream_live(
        lambda: dpo_lab.live_dpo(req),
        render,
        failed="live DPO failed",
        starting=("starting …", _live_curve(history), []),
        collect=lambda ev: ev.data is not None and history.append(ev.data),
        every_s=0,
    )


def build_preference_tab(demo: gr.Blocks) -> None:
    gr.Markdown(EXPLAIN)
    with gr.Row():
        bars = gr.Plot(show_label=False, elem_id="dpo-results-bars")
        curve = gr.Plot(show_label=False, elem_id="dpo-results-curve")
    r_note = gr.Markdown(elem_classes=["lab-note"], elem_id="dpo-results-note")
    r_table = gr.Dataframe(
        headers=TABLE_HEADERS,
        interactive=False,
        label="held-out people, every arm",
        wrap=True,
        elem_id="dpo-results-table",
    )
    demo.load(dpo_results_view, outputs=[bars, curve, r_note, r_table], api_name="dpo_results")
    build_grid_section(demo)
    gr.Markdown("### Side by side: base, SFT and DPO")
    side_by_side_panel(
        compare_dpo,
        models=MODELS,
        labels=OUT_LABELS,
        default=["sft", "dpo"],
        info="live-dpo = the model you train below",
        api_name="compare_dpo",
        prefix="dpo",
    )
    gr.Markdown("### Live DPO")
    gr.Markdown(LIVE_INTRO)
    default = dpo_lab.LiveRequest()
    with gr.Row():
        kinds = gr.Dropdown(list(dpo_lab.LIVE_KINDS), value=default.kinds, label="rejected replies")
        steps = gr.Slider(1, dpo_lab.LIVE_MAX_STEPS, value=default.steps, step=1, label="steps")
        beta = gr.Slider(0.01, 1.0, value=default.beta, step=0.01, label="β")
        lr = gr.Number(value=default.lr, label="learning rate", minimum=1e-5, maximum=1e-2)
        limit = gr.Slider(
            10,
            dpo_lab.LIVE_TIME_LIMIT_S,
            value=default.time_limit_s,
            step=5,
            label="time limit (s)",
        )
    go = gr.Button("Train", variant="primary", elem_id="dpo-live-go")
    status = gr.Markdown(elem_id="dpo-live-status")
    with gr.Row():
        live_plot = gr.Plot(show_label=False, elem_id="dpo-live-curve")
        live_table = gr.Dataframe(
            headers=LIVE_HEADERS, interactive=False, label="held-out, before and after"
        )
    go.click(
        live_dpo,
        [kinds, steps, beta, lr, limit],
        [status, live_plot, live_table],
        api_name="live_dpo",
        concurrency_limit=2,  # 2 workers, 1 run: the second is refused at once by the lab's lock
        concurrency_id="dpo-live",
        time_limit=300,
    )
