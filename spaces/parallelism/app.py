"""Parallelism Visualizer: where training memory goes, how data/tensor/pipeline parallelism and
ZeRO split it — computed with the formulas shown, then checked against real multi-process runs.

UI wiring only: each tab is a module of `tabs/parallelism/` (the memory model is
`shared/memory.py` and `shared/parallel_plan.py`, the schedules `shared/pipeline.py`, the real runs
`training/parallel/`, imported inside handlers: no torch at page build); this file composes them.
Run alone: `python spaces/parallelism/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

import math
import sys
import time
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
from tabs.parallelism.memory import (  # noqa: E402, F401  (handlers: benchmarks and tests call them)
    build_memory_tab,
    memory_breakdown,
    preset_shape,
)
from tabs.parallelism.pipeline import build_pipeline_tab, pipeline_view  # noqa: E402, F401
from tabs.parallelism.real_runs import (  # noqa: E402, F401
    LIVE_KINDS,
    build_real_runs_tab,
    live_run,
    pipeline_run,
    real_runs,
)
from tabs.parallelism.scale import build_scale_tab, scale  # noqa: E402, F401
from tabs.parallelism.tensor import build_tensor_tab, tensor  # noqa: E402, F401
from tabs.parallelism.zero import build_zero_tab, zero  # noqa: E402, F401
from training import store  # noqa: E402  (no torch at import)

TITLE = "Parallelism Visualizer"
INTRO = (
    "Models outgrow one device, so training splits them: data, tensor and pipeline parallelism "
    "and ZeRO — computed with the formulas shown, then run for real on several processes."
)
_num = ui.checked_number  # a finite number in [lo, hi], or a one-line error


# ---------------------------------------------------------------- tab: stability
STAB_PLOTS = (
    ("loss", "Training loss", "loss (nats/token)", True),
    ("grad_norm", "Gradient norm before clipping", "‖g‖ (log)", True),
    ("update_ratio", "Update size per step", "‖Δθ‖ / ‖θ‖ (log)", True),
    (
        "head_zero_frac",
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


def _finite(v):
    return (
        v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None
    )


def _stability_figures(runs: list[dict]):
    figs = []
    for key, title, y_title, log_y in STAB_PLOTS:
        series = {
            r["label"]: (
                [x["step"] for x in r["records"]],
                [_finite(x.get(key)) for x in r["records"]],
            )
            for r in runs
        }
        fig = ui.line_figure(series, title, "step", y_title, log_y=log_y)
        for r in runs:
            if r.get("diverged_at") is not None:
                fig.add_vline(
                    x=r["diverged_at"],
                    line={"dash": "dot", "color": "#e11d48"},
                    annotation_text=f"{r['label']}: NaN/inf at step {r['diverged_at']}",
                    annotation_position="top left",
                )
        figs.append(fig)
    return figs


def _fmt(v, spec: str, none: str = "—") -> str:
    """A summary figure for the table: a number formatted, a non-finite one named, a missing one a dash."""
    if _finite(v) is not None:
        return format(v, spec)
    return none if v is None else {"nan": "NaN", "-inf": "−inf"}.get(str(v), str(v))


def _stability_row(r: dict) -> list:
    from training.stability import summary

    s = summary(r)
    zeros = s["max_head_zero_frac"]
    return [
        r["label"],
        r.get("explains", ""),
        _fmt(s["final_loss"], ".3f"),
        _fmt(s["max_grad_norm"], ".3g"),
        str(s["diverged_at"]) if s["diverged_at"] is not None else "no",
        "—" if zeros is None else f"{100 * zeros:.1f}%",
        str(s["skipped_steps"]),
    ]


def _stability_results() -> dict:
    return store.read_results("stability")


def stability(selected):
    """The bundled grid of real pre-training runs: loss, gradient norm, update size and zero
    gradients per step for the chosen runs, and a table of every run."""
    r = _stability_results()
    if not r:
        return [ui.message_figure(STAB_NONE)] * 4 + [[], STAB_NONE]
    labels = [x["label"] for x in r["runs"]]
    chosen = [x for x in r["runs"] if x["label"] in (selected or [])]
    unknown = sorted(set(selected or []) - set(labels))
    if unknown:
        raise ui.user_error(f"unknown run {unknown[0]!r}: choose from {', '.join(labels)}")
    m = r["model"]
    text = (
        f"Each curve is a real pre-training run of a {m['params']:,}-parameter Llama-style model "
        f"({m['n_layer']} layers, "
        f"d = {m['d_model']}) on the world corpus, the same data and seed, one setting changed at a time. "
        "A too-high learning rate makes the loss spike or diverge; warmup lets Adam's moment estimates settle "
        "before full-size steps; clipping caps the gradient norm the optimizer sees; fp16 without loss scaling "
        "loses small gradients to underflow (they become exactly 0), which a GradScaler (×2¹⁶ to start) "
        "prevents; bf16 has fp32's exponent range and needs no scaling. A NaN is recorded, not a crash.\n\n"
        f"Rebuild: `{r.get('rebuild', 'python -m training stability --preset cpu')}` · "
        + ui.source_note(
            "Micikevicius et al. 2018, Mixed Precision Training", "https://arxiv.org/abs/1710.03740"
        )
    )
    return _stability_figures(chosen) + [[_stability_row(x) for x in r["runs"]], text]


@gpu.on_gpu(
    90
)  # at most 60 s in all (training.stability.LIVE_TIME_LIMIT_S), + the final evaluation
def stability_live(log_lr, warmup, clip, init_scale, precision, steps, progress=gr.Progress()):
    """Train one run with the page's settings (bounded, one at a time), streaming its curves
    beside the bundled baseline."""
    from training import stability as lab

    settings = {
        "lr": 10 ** _num("log10 learning rate", log_lr, -5, 1),
        "warmup_steps": _num("warmup steps", warmup, 0, 10_000, integer=True),
        "clip": _num("clip", clip, 0, 1e6),
        "init_scale": _num("init scale", init_scale, 0.001, 100),
        "precision": precision,
        "steps": _num("steps", steps, 1, 100_000, integer=True),
    }
    try:
        events = lab.live_run(settings)
    except ValueError as e:
        raise ui.user_error(e) from None
    base = [x for x in (_stability_results().get("runs") or []) if x["name"] == "baseline"][:1]
    records, last_draw = [], 0.0
    yield (
        *_stability_figures(base),
        "starting (the first run in a process also packs the corpus) …",
    )
    for ev in events:
        if ev["kind"] == "error":
            raise ui.user_error(f"live run failed: {ev['text']}")
        if ev["kind"] == "progress":
            records.append(ev["record"])
            progress((ev["step"], ev["steps"]), desc="training", unit="steps")
            if time.perf_counter() - last_draw > 1.0:
                last_draw = time.perf_counter()
                live = {"label": "your run", "records": records, "diverged_at": None}
                yield (*_stability_figures(base + [live]), f"step {ev['step']} / {ev['steps']}")
        elif ev["kind"] == "done":
            run = {**ev["run"], "label": "your run"}
            s = lab.summary(run)
            status = f"**Done** in {run['seconds']:.0f} s: " + (
                f"diverged (NaN/inf) at step {s['diverged_at']}."
                if s["diverged_at"] is not None
                else f"final loss {s['final_loss']:.3f} (mean of the last {lab.FINAL_LOSS_STEPS} steps)."
            )
            yield (*_stability_figures(base + [run]), status)
            return


# ---------------------------------------------------------------- tab: inference
INF_NONE = (
    "No bundled inference results: build them with `python -m training inference --preset cpu`."
)


def inference():
    """KV cache, int8 quantization, magnitude pruning and distillation, measured on the bundled
    base model (and a student of it)."""
    r = store.read_results("inference")
    if not r:
        return [ui.message_figure(INF_NONE)] * 3 + [[], INF_NONE]
    kv = r["kv_cache"]
    ctx = kv["contexts"]
    f_kv = ui.line_figure(
        {
            "with KV cache": (ctx, kv["cached_ms_per_token"]),
            "without (recompute every position)": (ctx, kv["uncached_ms_per_token"]),
        },
        "Latency per generated token vs context",
        "context length (tokens)",
        "ms per token",
        markers=True,
    )
    f_kv.add_scatter(
        x=ctx,
        y=[b / 1e6 for b in kv["cache_bytes"]],
        mode="lines+markers",
        name="cache size (MB, right axis)",
        yaxis="y2",
        line={"dash": "dot", "color": ui.PALETTE[2]},
    )
    f_kv.update_layout(
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": {"text": "KV cache (MB)"},
            "showgrid": False,
        },
        margin={"r": 70},
    )
    q = r["quantization"]
    rows = [
        [
            x["name"],
            f"{x['weight_bytes'] / 1e6:.2f} MB",
            f"{x['weight_bytes'] / q[0]['weight_bytes']:.2f}×",
            f"{x['ms_per_token']:.2f}",
            f"{x['heldout_loss']:.4f}",
            f"{100 * x['accuracy']:.1f}%",
            f"{100 * x['top1_agreement']:.1f}%",
            f"{x['max_abs_logit_diff']:.3g}",
        ]
        for x in q
    ]
    pr = r["pruning"]
    f_pr = ui.line_figure(
        {"held-out loss": ([100 * x["sparsity"] for x in pr], [x["heldout_loss"] for x in pr])},
        "Magnitude pruning (no fine-tuning after)",
        "weights removed (%)",
        "held-out loss",
        markers=True,
    )
    f_pr.add_scatter(
        x=[100 * x["sparsity"] for x in pr],
        y=[100 * x["accuracy"] for x in pr],
        mode="lines+markers",
        name='"born in" accuracy (%, right axis)',
        yaxis="y2",
    )
    f_pr.update_layout(
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 105],
            "showgrid": False,
            "title": {"text": "accuracy (%)"},
        },
        margin={"r": 70},
    )
    d = r["distillation"]
    f_d = ui.line_figure(
        {k: ([x["step"] for x in v], [x["eval_loss"] for x in v]) for k, v in d["curves"].items()},
        f"Distillation: a {d['student']['params']:,}-param student, {d['steps']} steps each",
        "step",
        "held-out loss (log)",
        log_y=True,
        markers=True,
    )
    i = len(ctx) - 1
    q8 = q[1] if len(q) > 1 else q[0]  # the blocks' Linear layers in int8 (the head stays fp32)
    fin = d["final"]
    text = (
        f"**KV cache**: at {ctx[i]} tokens of context a token costs "
        f"{kv['cached_ms_per_token'][i]:.2f} ms with the cache "
        f"vs {kv['uncached_ms_per_token'][i]:.2f} ms without "
        f"(**×{kv['uncached_ms_per_token'][i] / kv['cached_ms_per_token'][i]:.1f}**), "
        f"identical tokens: {'yes' if kv['identical_tokens'] else 'NO'}; the cache is "
        f"{kv['cache_bytes'][i] / 1e6:.2f} MB, "
        "equal to 2·layers·kv_heads·head_dim·seq·bytes. Without the cache each token recomputes every earlier "
        "position; with it, each token does one position's work and reads the stored keys and values.\n\n"
        f"**{q8['name']}**: weights {q[0]['weight_bytes'] / 1e6:.2f} → {q8['weight_bytes'] / 1e6:.2f} MB "
        f"({q8['weight_bytes'] / q[0]['weight_bytes']:.2f}×); held-out loss {q[0]['heldout_loss']:.4f} → "
        f"{q8['heldout_loss']:.4f}, accuracy {100 * q[0]['accuracy']:.1f}% → {100 * q8['accuracy']:.1f}%.  \n"
        f"**Distillation** ({d['steps']} steps each, T = {d['temperature']}): held-out loss "
        f"{fin['data only']['heldout_loss']:.3f} trained on data alone vs **{fin['distilled']['heldout_loss']:.3f}** "
        f"on the teacher's distributions; accuracy {100 * fin['data only']['accuracy']:.1f}% vs "
        f"{100 * fin['distilled']['accuracy']:.1f}%.\n\n"
        f"Rebuild: `{r.get('rebuild', 'python -m training inference --preset cpu')}` · "
        + ui.source_note(
            "Hinton et al. 2015, Distilling the Knowledge in a Neural Network",
            "https://arxiv.org/abs/1503.02531",
        )
    )
    return f_kv, f_pr, f_d, rows, text


# ---------------------------------------------------------------- the page
def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        ui.header(TITLE, INTRO, course_ref="Session 2.3, computational challenges")
        with gr.Tab("Memory"):
            build_memory_tab(demo)
        with gr.Tab("Data parallel & ZeRO"):
            build_zero_tab(demo)
        with gr.Tab("Tensor parallel"):
            build_tensor_tab(demo)
        with gr.Tab("Pipeline"):
            build_pipeline_tab(demo)
        with gr.Tab("Real runs"):
            build_real_runs_tab(demo)

        with gr.Tab("Stability"):
            st_text = gr.Markdown(elem_id="par-stab-text")
            st_runs = _stability_results().get("runs", [])
            st_labels = [x["label"] for x in st_runs]
            st_pick = gr.CheckboxGroup(
                st_labels,
                value=[x["label"] for x in st_runs if x["name"] in STAB_DEFAULT],
                label="runs to show",
            )
            with gr.Row():
                st_loss = gr.Plot(show_label=False, elem_id="par-stab-loss")
                st_norm = gr.Plot(show_label=False)
            with gr.Row():
                st_upd = gr.Plot(show_label=False)
                st_zero = gr.Plot(show_label=False)
            st_table = gr.Dataframe(
                headers=[
                    "run",
                    "what it shows",
                    "final loss (mean, last 10 steps)",
                    "max ‖g‖",
                    "diverged at",
                    "peak zero head grads",
                    "skipped steps",
                ],
                interactive=False,
                wrap=True,
            )
            st_outs = [st_loss, st_norm, st_upd, st_zero, st_table, st_text]
            demo.load(stability, st_pick, st_outs, api_name="stability")
            st_pick.input(stability, st_pick, st_outs, api_name=False, show_progress="hidden")
            gr.Markdown(
                "**Train one now** (bounded: one run at a time, 60 s at most) — drawn beside the baseline."
            )
            with gr.Row():
                sl_lr = gr.Slider(-4, 0, value=-2.5, step=0.1, label="log10 learning rate")
                sl_warm = gr.Number(
                    value=10, precision=0, label="warmup steps (0 = off)", minimum=0, maximum=10_000
                )
                sl_clip = gr.Number(value=1.0, label="clip norm (0 = off)", minimum=0, maximum=1e6)
                sl_init = gr.Number(value=1.0, label="init scale ×", minimum=0.001, maximum=100)
                sl_prec = gr.Radio(PRECISIONS, value="fp32", label="precision")
                sl_steps = gr.Slider(10, 300, value=100, step=10, label="steps")
                sl_go = gr.Button("Train", variant="primary", elem_id="par-stab-go")
            sl_status = gr.Markdown(elem_id="par-stab-status")
            sl_go.click(
                stability_live,
                [sl_lr, sl_warm, sl_clip, sl_init, sl_prec, sl_steps],
                [st_loss, st_norm, st_upd, st_zero, sl_status],
                api_name="stability_live",
                concurrency_limit=2,
                concurrency_id="parallel-stability-live",
                time_limit=120,
            )

        with gr.Tab("Inference"):
            in_text = gr.Markdown(elem_id="par-inf-text")
            with gr.Row():
                in_kv = gr.Plot(show_label=False, elem_id="par-inf-kv")
                in_dist = gr.Plot(show_label=False)
            in_table = gr.Dataframe(
                headers=[
                    "weights",
                    "size",
                    "vs fp32",
                    "ms / token",
                    "held-out loss",
                    "accuracy",
                    "top-1 agrees with fp32",
                    "max |Δlogit|",
                ],
                interactive=False,
                label="int8 dynamic quantization of the base model",
            )
            in_prune = gr.Plot(show_label=False)
            demo.load(
                inference, None, [in_kv, in_prune, in_dist, in_table, in_text], api_name="inference"
            )

        with gr.Tab("Scale"):
            build_scale_tab(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
