"""Parallelism Visualizer: where training memory goes, how data/tensor/pipeline parallelism and
ZeRO split it — computed with the formulas shown, then checked against real multi-process runs.

UI wiring only: the memory model is `shared/memory.py`, the schedules `shared/pipeline.py`, the
real runs `training/parallel/` (imported inside handlers: no torch at page build).
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

from shared import gpu, memory, pipeline, ui  # noqa: E402
from training import store  # noqa: E402  (no torch at import)

TITLE = "Parallelism Visualizer"
CUSTOM = "custom"
PRESETS = list(memory.SHAPES)
GB = 1e9
ZERO_URL = "https://arxiv.org/abs/1910.02054"
KORTHIKANTI_URL = "https://arxiv.org/abs/2205.05198"
MEGATRON_URL = "https://arxiv.org/abs/1909.08053"
NARAYANAN_URL = "https://arxiv.org/abs/2104.04473"
PLAYBOOK = "Hugging Face, The Ultra-Scale Playbook (2025)"
PLAYBOOK_URL = "https://huggingface.co/spaces/nanotron/ultrascale-playbook"
TP_SIZES = (1, 2, 4, 8, 16, 32, 64)
LIVE_KINDS = {
    "pipeline (1F1B)": ("pipeline", "1f1b"),
    "pipeline (GPipe)": ("pipeline", "gpipe"),
    "data parallel (DDP)": ("ddp", None),
    "tensor parallel (MLP)": ("tensor_parallel", None),
    "FSDP2 / ZeRO-3": ("fsdp", None),
}
NO_RESULTS = "No bundled parallel runs: build them with `python -m training parallel --preset cpu` (a few minutes)."


# ---------------------------------------------------------------- helpers
_num = ui.checked_number  # a finite number in [lo, hi], or a one-line error


def _gb(x: float) -> str:
    return f"{x / GB:,.2f}"


def _events(rows) -> list[pipeline.Event]:
    return [
        pipeline.Event(
            r["stage"], r["microbatch"], r["kind"], r["start"], r["end"], r.get("chunk", 0)
        )
        for r in rows
    ]


# ---------------------------------------------------------------- tab: memory
def preset_shape(name: str):
    """Fill the shape fields from a preset (custom leaves them as they are)."""
    if name not in memory.SHAPES:
        return [gr.skip()] * 9
    s = memory.SHAPES[name]
    return [
        s.layers,
        s.hidden,
        s.heads,
        s.kv_heads or s.heads,
        s.vocab,
        s.seq,
        s.ffn or 4 * s.hidden,
        s.gated_mlp,
        s.tied_embeddings,
    ]


def memory_breakdown(
    layers,
    hidden,
    heads,
    kv_heads,
    vocab,
    seq,
    ffn,
    gated,
    tied,
    dp,
    tp,
    pp,
    zero,
    sp,
    micro_batch,
    microbatches,
    schedule,
    recompute,
    param_bytes,
    grad_bytes,
    optimizer_bytes,
    activation_bytes,
    offload,
    gpu_gb,
):
    """Per-GPU memory of every part for a model shape and a parallel plan, beside the same model
    with no parallelism, with each formula filled in."""
    ints = {
        n: _num(n, v, 1, hi, integer=True)
        for n, v, hi in (
            ("layers", layers, 1000),
            ("hidden", hidden, 1_000_000),
            ("heads", heads, 4096),
            ("kv heads", kv_heads, 4096),
            ("vocab", vocab, 10_000_000),
            ("sequence length", seq, 10_000_000),
            ("MLP width", ffn, 10_000_000),
            ("DP", dp, 1_000_000),
            ("TP", tp, 1024),
            ("PP", pp, 1024),
            ("micro-batch", micro_batch, 100_000),
            ("micro-batches", microbatches, 100_000),
        )
    }
    zero_stage = int(_num("ZeRO stage", zero, 0, 3, integer=True))
    shape = memory.ModelShape(
        ints["layers"],
        ints["hidden"],
        ints["heads"],
        ints["vocab"],
        ints["sequence length"],
        ffn=ints["MLP width"],
        kv_heads=ints["kv heads"],
        tied_embeddings=bool(tied),
        gated_mlp=bool(gated),
    )
    plan = memory.Plan(
        dp=ints["DP"],
        tp=ints["TP"],
        pp=ints["PP"],
        zero_stage=zero_stage,
        sp=bool(sp),
        micro_batch=ints["micro-batch"],
        microbatches=ints["micro-batches"],
        schedule=schedule,
        recompute=recompute,
        param_bytes=_num("parameter bytes", param_bytes, 0, 8),
        grad_bytes=_num("gradient bytes", grad_bytes, 0, 8),
        optimizer_bytes=_num("optimizer bytes", optimizer_bytes, 0, 32),
        activation_bytes=_num("activation bytes", activation_bytes, 1, 4),
        offload_optimizer=bool(offload),
    )
    gpu = _num("GPU memory (GB)", gpu_gb, 1, 10_000)
    try:
        b = memory.breakdown(shape, plan)
        single = memory.breakdown(
            shape,
            memory.Plan(
                micro_batch=plan.micro_batch,
                recompute=plan.recompute,
                param_bytes=plan.param_bytes,
                grad_bytes=plan.grad_bytes,
                optimizer_bytes=plan.optimizer_bytes,
                activation_bytes=plan.activation_bytes,
            ),
        )
    except ValueError as e:
        raise ui.user_error(e) from None
    cats = [f"your plan ({b['gpus']:,} GPUs)", "no parallelism (1 GPU)"]
    fig = ui.grouped_bar_figure(
        cats,
        {k: [b["parts"][k] / GB, single["parts"][k] / GB] for k in b["parts"]},
        "Memory per GPU, by part",
        "",
        "GB per GPU",
        stacked=True,
    )
    fig.add_hline(
        y=gpu,
        line={"dash": "dash", "color": "#0f172a"},
        annotation_text=f"{gpu:g} GB GPU",
        annotation_position="top left",
    )
    rows = [[k, _gb(v), b["formulas"][k]] for k, v in b["parts"].items()]
    rows.append(["total", _gb(b["total"]), "sum of the parts"])
    fits = b["total"] <= gpu * GB
    text = (
        f"**{_gb(b['total'])} GB per GPU** on {b['gpus']:,} GPUs (DP {plan.dp} × TP {plan.tp} × PP {plan.pp}) — "
        + ("fits" if fits else "**does not fit**")
        + f" a {gpu:g} GB GPU. Without parallelism one GPU would "
        f"need {_gb(single['total'])} GB. Model: {shape.n_params() / 1e9:.2f}B parameters "
        f"({'SwiGLU' if gated else 'GELU'} MLP, {ints['kv heads']} KV heads).\n\n"
        "Every byte-per-value is an input above: mixed-precision Adam is 2 + 2 + 12 = 16 bytes per parameter "
        "(ZeRO); keep fp32 gradients and it is 18; fp32 everything is 4 + 4 + 8. Activations use Korthikanti et "
        "al.'s per-layer formula (a GPT-style layer; SwiGLU and GQA change the constants a little); the first "
        "pipeline stage holds the most micro-batches in flight, so it is the one shown. The **Real runs** tab "
        "checks these formulas against measured bytes.\n\n"
        + ui.source_note("Rajbhandari et al. 2020 (ZeRO)", ZERO_URL)
        + " · "
        + ui.source_note("Korthikanti et al. 2022", KORTHIKANTI_URL)
        + " · "
        + ui.source_note(PLAYBOOK, PLAYBOOK_URL)
    )
    return fig, rows, text


# ---------------------------------------------------------------- tab: data parallel & ZeRO
def zero(psi_b, dp, param_bytes, grad_bytes, optimizer_bytes, bandwidth_gbs):
    """Model-state memory per GPU under ZeRO stages 0–3, how it scales with DP, and what each
    stage sends per step."""
    psi = _num("parameters (billions)", psi_b, 1e-6, 1e5) * 1e9
    d = _num("data-parallel ranks", dp, 1, 1_000_000, integer=True)
    p, g, k = (
        _num(n, v, 0, 32)
        for n, v in (
            ("parameter bytes", param_bytes),
            ("gradient bytes", grad_bytes),
            ("optimizer bytes", optimizer_bytes),
        )
    )
    bw = _num("bandwidth (GB/s)", bandwidth_gbs, 0.001, 1e6) * GB
    stages = [memory.model_state_bytes(psi, z, d, k, p, g) for z in range(4)]
    labels = ["baseline DP", "ZeRO-1 (optimizer)", "ZeRO-2 (+ gradients)", "ZeRO-3 (+ parameters)"]
    fig = ui.grouped_bar_figure(
        labels,
        {
            "parameters": [s["params"] / GB for s in stages],
            "gradients": [s["grads"] / GB for s in stages],
            "optimizer states": [s["optimizer"] / GB for s in stages],
        },
        f"Model states per GPU: Ψ = {psi / 1e9:g}B, N_d = {d}",
        "",
        "GB per GPU",
        stacked=True,
    )
    dps = [2**i for i in range(0, 17) if 2**i <= max(d, 1024)]
    curves = {
        lab: (dps, [memory.model_state_bytes(psi, z, n, k, p, g)["total"] / GB for n in dps])
        for z, lab in enumerate(labels)
    }
    fig2 = ui.line_figure(
        curves,
        "Per-GPU model states as data parallelism grows",
        "data-parallel ranks N_d",
        "GB per GPU",
        log_x=True,
        log_y=True,
        markers=True,
    )
    rows = []
    for z, (lab, s) in enumerate(zip(labels, stages)):
        t = (
            memory.data_parallel_traffic(psi, d, z, g, bw)
            if d > 1
            else {"bytes": 0.0, "seconds": 0.0, "volume_in_psi": 0.0}
        )
        rows.append(
            [
                lab,
                _gb(s["total"]),
                f"{stages[0]['total'] / s['total']:.1f}×",
                f"{t['volume_in_psi']:g}Ψ",
                _gb(t["bytes"]),
                f"{1e3 * t['seconds']:,.1f}",
            ]
        )
    text = (
        f"Each data-parallel rank holds a full copy of the model and sees 1/{d} of the batch; gradients are "
        "averaged with an all-reduce. ZeRO removes the redundancy: stage 1 shards the optimizer states, "
        "stage 2 also the gradients, stage 3 also the parameters (gathered layer by layer when needed) — "
        "for 1.5× the traffic at stage 3. Ring all-reduce time = 2(N−1)/N · size / bandwidth.\n\n"
        "The paper's worked example is the default: Ψ = 7.5B, N_d = 64, K = 12 → 120 GB, 31.4 GB, 16.6 GB, "
        "1.9 GB. The **Real runs** tab measures FSDP2 (ZeRO-3) shards on real processes.\n\n"
        + ui.source_note("Rajbhandari et al. 2020, ZeRO, Fig. 1 and Sec. 7", ZERO_URL)
    )
    return fig, fig2, rows, text


# ---------------------------------------------------------------- tab: tensor parallel
def tensor(preset, tp, sp, micro_batch, recompute, bandwidth_gbs):
    """Megatron tensor parallelism for one layer of a real model: parameters and activations per
    GPU as TP grows (with and without sequence parallelism), and the all-reduces it costs."""
    if preset not in memory.SHAPES:
        raise ui.user_error(f"unknown model {preset!r}: choose one of {', '.join(memory.SHAPES)}")
    shape = memory.SHAPES[preset]
    t = _num("TP", tp, 1, 64, integer=True)
    b = _num("micro-batch", micro_batch, 1, 1024, integer=True)
    bw = _num("bandwidth (GB/s)", bandwidth_gbs, 0.001, 1e6) * GB
    if recompute not in memory.RECOMPUTE:
        raise ui.user_error(f"recompute must be one of {', '.join(memory.RECOMPUTE)}")
    if shape.heads % t or shape.hidden % t:
        raise ui.user_error(
            f"TP = {t} must divide {preset}'s {shape.heads} heads and hidden size {shape.hidden}"
        )
    s, h, a = shape.seq, shape.hidden, shape.heads
    sizes = [x for x in TP_SIZES if a % x == 0]

    def act(x, sp_, rc):
        return memory.activation_bytes_per_layer(s, b, h, a, x, sp_, rc) / GB

    curves = {
        "TP": (sizes, [act(x, False, "none") for x in sizes]),
        "TP + sequence parallel": (sizes, [act(x, True, "none") for x in sizes]),
        "TP + SP + selective recompute": (sizes, [act(x, True, "selective") for x in sizes]),
        "full recompute (+ SP)": (sizes, [act(x, True, "full") for x in sizes]),
    }
    fig = ui.line_figure(
        curves,
        f"{preset}: activations of one layer per GPU (s = {s}, b = {b})",
        "tensor-parallel size t",
        "GB per layer per GPU",
        log_x=True,
        log_y=True,
        markers=True,
    )
    mine = act(t, bool(sp), recompute)
    fig.add_scatter(
        x=[t],
        y=[mine],
        mode="markers",
        marker={"size": 14, "symbol": "x", "color": "black"},
        name=f"your choice: {mine:.3f} GB",
    )
    layer_p = shape.layer_params()
    msg = s * b * h * 2  # one all-reduce carries the s·b·h activations (16-bit)
    ar = memory.ring_allreduce_seconds(msg, t, bw) if t > 1 else 0.0
    rows = [
        [
            "parameters of one layer per GPU",
            f"{layer_p / t / 1e6:,.1f} M",
            f"{layer_p / 1e6:,.1f} M / t",
        ],
        [
            "activations of one layer per GPU",
            f"{mine:.3f} GB",
            memory.breakdown(
                shape, memory.Plan(tp=t, sp=bool(sp), micro_batch=b, recompute=recompute)
            )["formulas"]["activations"].split(" = ")[0],
        ],
        [
            "all-reduces per layer per step",
            "4" if t > 1 else "0",
            "2 in forward (after attention, after MLP), 2 in backward",
        ],
        ["size of each all-reduce", f"{msg / 1e6:,.1f} MB", "s·b·h × 2 bytes"],
        ["time of each (ring)", f"{1e3 * ar:.2f} ms", f"2(t−1)/t · size / {bw / GB:g} GB/s"],
        [
            "per step, all layers",
            f"{4 * shape.layers * ar * 1e3:,.0f} ms",
            "× 4 × layers (before overlap)",
        ],
    ]
    text = (
        "**How it splits** (Megatron-LM): the MLP's first matrix is cut by columns, so each GPU computes a slice "
        "of the hidden units with no communication; the second is cut by rows, so each GPU produces a partial sum "
        "of the output, and one all-reduce adds them up. Attention splits the same way by heads. Parameters and "
        "most activations shrink 1/t, but the layer's input and the LayerNorm/dropout activations stay replicated "
        "(the 10·sbh term) until sequence parallelism splits those along the sequence. The all-reduces sit on "
        "the critical path, which is why TP stays inside one node's fast links. The **Real runs** tab runs a "
        "column/row-parallel MLP on separate processes and checks it equals the unsplit one.\n\n"
        + ui.source_note("Shoeybi et al. 2019, Megatron-LM", MEGATRON_URL)
        + " · "
        + ui.source_note("Korthikanti et al. 2022, Table 2", KORTHIKANTI_URL)
    )
    return fig, rows, text


# ---------------------------------------------------------------- tab: pipeline
def pipeline_view(schedule, stages, microbatches, chunks, backward_ratio, shown_pct):
    """A schedule's Gantt chart (stepped by `shown_pct` of the step), its bubble vs the formula,
    and the bubble as micro-batches grow."""
    p = _num("stages", stages, 1, 32, integer=True)
    m = _num("micro-batches", microbatches, 1, 128, integer=True)
    v = _num("chunks", chunks, 1, 8, integer=True) if schedule == "interleaved" else 1
    r = _num("backward / forward time", backward_ratio, 0.25, 8)
    shown = _num("shown (%)", shown_pct, 0, 100)
    try:
        events = pipeline.simulate(schedule, p, m, v, 1.0, r)
        formula = pipeline.bubble_fraction(schedule, p, m, v)
    except ValueError as e:
        raise ui.user_error(e) from None
    span = max(e.end for e in events)
    measured = pipeline.measured_bubble(events)
    fig = ui.gantt_figure(
        events,
        f"{schedule}: {p} devices, {m} micro-batches"
        + (f", {v} chunks" if v > 1 else "")
        + f" — bubble {100 * measured:.1f}%",
        "time (one forward of one stage's share = 1)",
        until=span * shown / 100 if shown < 100 else None,
        x_range=(0, span),
    )
    ms = list(range(1, 65))
    curves = {
        "GPipe / 1F1B: (p−1)/(m+p−1)": (
            ms,
            [100 * pipeline.bubble_fraction("1f1b", p, x) for x in ms],
        )
    }
    for vv in sorted({2, 4, v} - {1}):
        xs = [x for x in ms if x % p == 0]
        if xs:
            curves[f"interleaved, v = {vv}"] = (
                xs,
                [100 * pipeline.bubble_fraction("interleaved", p, x, vv) for x in xs],
            )
    fig2 = ui.line_figure(
        curves,
        f"Bubble vs micro-batches ({p} stages)",
        "micro-batches m",
        "idle share of the step (%)",
        markers=False,
    )
    fig2.add_scatter(
        x=[m],
        y=[100 * measured],
        mode="markers",
        name="simulated (your schedule)",
        marker={"size": 13, "symbol": "x", "color": "black"},
    )
    peak = pipeline.peak_in_flight(events, chunks=v)
    text = (
        f"**Bubble: {100 * measured:.1f}% simulated = {100 * formula:.1f}% from the formula** "
        f"({'(p−1)/(m+p−1)' if v == 1 else '(p−1)/v ÷ (m + (p−1)/v)'}; bubble/ideal = (p−1)/(v·m) = "
        f"{pipeline.bubble_ratio(schedule, p, m, v):.3f}). Peak activations held (in micro-batches) per device: "
        + ", ".join(f"{k}: {x:g}" for k, x in peak.items())
        + ".\n\n"
        "GPipe runs all forwards, then all backwards: every device holds all m micro-batches' activations. "
        "1F1B has the same bubble but starts backwards early, so the first device holds at most p. Interleaving "
        "gives each device v smaller chunks: the bubble shrinks v× for more communication. Numbers on bars are "
        "micro-batches; drag *shown* to step through the schedule.\n\n"
        + ui.source_note(
            "Huang et al. 2019 (GPipe); Narayanan et al. 2021 (1F1B, interleaved)", NARAYANAN_URL
        )
    )
    return fig, fig2, text


# ---------------------------------------------------------------- tab: real runs
def _results():
    return store.read_results("parallel")


def _pipeline_label(run: dict) -> str:
    return (
        f"{'GPipe' if run['schedule'] == 'gpipe' else '1F1B'}, {run['stages']} ranks, "
        f"{run['microbatches']} micro-batches"
    )


def real_runs():
    """The bundled real runs: every check (measured vs predicted or vs the unsplit computation),
    DDP compute vs all-reduce, FSDP bytes per rank vs the memory model, activations vs Korthikanti."""
    r = _results()
    if not r:
        return [], ui.message_figure(NO_RESULTS), ui.message_figure(NO_RESULTS), [], NO_RESULTS
    ddp, tp, fs = r["ddp"], r["tensor_parallel"], r["fsdp"]
    pred = fs["predicted_per_rank"]
    rows = [
        [
            "DDP",
            f"{ddp['ranks']} ranks: gradients vs one process on the global batch",
            f"max |Δ| = {ddp['max_abs_grad_diff']:.1e}",
            "equal (fp32 rounding)",
        ],
        [
            "tensor parallel",
            f"{tp['ranks']} ranks: column/row-parallel MLP vs the unsplit MLP",
            f"max |Δ| = {tp['max_abs_diff']:.1e}",
            "equal (fp32 rounding)",
        ],
    ]
    for part, key in (
        ("parameters", "params"),
        ("gradients", "grads"),
        ("optimizer states", "optimizer"),
    ):
        got = sorted({x[f"{key}_bytes"] for x in fs["per_rank"]})
        rows.append(
            [
                "FSDP2 (ZeRO-3)",
                f"{fs['ranks']} ranks: {part} bytes per rank",
                " / ".join(f"{g:,}" for g in got),
                f"{pred[key]:,.0f} predicted",
            ]
        )
    acts = r.get("activations", [])
    for rc in ("none", "full"):
        ratios = [a["ratio"] for a in acts if a["recompute"] == rc]
        if ratios:
            rows.append(
                [
                    "activations",
                    f"{len(ratios)} GPT-2 layer shapes, recompute {rc}: bytes saved for backward",
                    f"{min(ratios):.3f}–{max(ratios):.3f}× the formula",
                    "explained byte for byte (below)" if rc == "none" else "2sbh: the layer input",
                ]
            )
    for run in r["pipeline"]:
        rows.append(
            [
                "pipeline",
                _pipeline_label(run) + (" (oversubscribed)" if run.get("oversubscribed") else ""),
                f"bubble {100 * run['measured_bubble']:.1f}%",
                f"{100 * run['formula_bubble']:.1f}% formula",
            ]
        )
    fig = ui.grouped_bar_figure(
        ["DDP step", "tensor-parallel MLP forward"],
        {
            "compute": [1e3 * ddp["compute_s"], 1e3 * tp["compute_s"]],
            "all-reduce": [1e3 * ddp["allreduce_s"], 1e3 * tp["allreduce_s"]],
            "whole step with sync": [1e3 * ddp["step_s"], 0.0],
        },
        "Measured: compute vs communication",
        "",
        "milliseconds (median)",
    )
    fig2 = ui.grouped_bar_figure(
        ["parameters", "gradients", "optimizer states"],
        {
            **{
                f"rank {i} (measured)": [
                    x["params_bytes"] / 1e6,
                    x["grads_bytes"] / 1e6,
                    x["optimizer_bytes"] / 1e6,
                ]
                for i, x in enumerate(fs["per_rank"])
            },
            "ZeRO-3 formula": [pred["params"] / 1e6, pred["grads"] / 1e6, pred["optimizer"] / 1e6],
            "unsharded": [fs["unsharded_bytes"][k] / 1e6 for k in ("params", "grads", "optimizer")],
        },
        f"FSDP2 on {fs['ranks']} ranks: bytes per rank vs the memory model",
        "",
        "MB",
    )
    act = [
        [
            a["recompute"],
            f"{a['seq']}×{a['batch']}×{a['hidden']}, {a['heads']} heads",
            f"{a['measured_bytes']:,}",
            f"{a['predicted_bytes']:,.0f}",
            f"{a['ratio']:.3f}",
        ]
        for a in r.get("activations", [])
    ]
    m = r.get("machine", {})
    text = (
        f"Measured on {m.get('cpus', '?')} CPU cores with torch {m.get('torch', '?')} (gloo; the same code runs with "
        f"nccl on GPUs). Rebuild: `{r.get('rebuild', 'python -m training parallel --preset cpu')}`. On CPU the "
        "all-reduce goes through shared memory and sockets, so the compute/communication balance is not a GPU "
        "cluster's; the byte counts and equalities are exact everywhere.\n\n"
        "**Activations**: a real GPT-2 layer (bf16, dropout 0.1, eager attention) stores every tensor Korthikanti "
        "et al. count, plus two things the paper's 34sbh + 5as²b leaves out on this device: dropout masks kept as "
        "2-byte values instead of 1-byte masks (+2sbh + as²b) and the LayerNorm mean and 1/std per token "
        "(a few bytes per token). With those the measurement is explained to the byte; without "
        "them it is 1.06–1.2× the "
        "formula, growing with sequence length. Full recompute keeps only the layer input: exactly 2sbh."
    )
    return rows, fig, fig2, act, text


def pipeline_labels() -> list[str]:
    """The bundled pipeline runs' names: the run picker's choices, known when the page is built."""
    return [_pipeline_label(x) for x in (_results() or {}).get("pipeline", [])]


def pipeline_run(label: str):
    """One bundled pipeline run: the measured Gantt chart beside the simulated one with the
    measured mean forward/backward times."""
    r = _results()
    if not r:
        return ui.message_figure(NO_RESULTS), ui.message_figure(NO_RESULTS), NO_RESULTS
    runs = {_pipeline_label(x): x for x in r["pipeline"]}
    if label not in runs:
        raise ui.user_error(f"unknown run {label!r}: choose one of {', '.join(runs)}")
    return _pipeline_figures(runs[label])


def _pipeline_figures(run: dict):
    measured, simulated = _events(run["events"]), _events(run["simulated"])
    span = max(max(e.end for e in measured), max(e.end for e in simulated))
    f1 = ui.gantt_figure(
        measured, f"Measured: {_pipeline_label(run)}", "seconds", x_range=(0, span)
    )
    f2 = ui.gantt_figure(
        simulated, "Simulated with the measured mean F and B times", "seconds", x_range=(0, span)
    )
    text = (
        f"Measured bubble **{100 * run['measured_bubble']:.1f}%** vs the formula's "
        f"**{100 * run['formula_bubble']:.1f}%** "
        f"(forward {1e3 * run['t_forward_mean']:.2f} ms, backward {1e3 * run['t_backward_mean']:.2f} ms per "
        "micro-batch per stage, means). Real steps add what the formula leaves out: sending activations and "
        "gradients between processes, the loss on the last stage, and uneven op times."
        + (
            " These ranks outnumber the CPU cores, so they also waited for a core."
            if run.get("oversubscribed")
            else ""
        )
    )
    return f1, f2, text


def live_run(kind_label: str, ranks, microbatches):
    """Launch a real multi-process run from the page (bounded; one at a time) and show what it
    measured."""
    from training.parallel import launch

    if kind_label not in LIVE_KINDS:
        raise ui.user_error(f"unknown run {kind_label!r}: choose one of {', '.join(LIVE_KINDS)}")
    kind, schedule = LIVE_KINDS[kind_label]
    n = _num("ranks", ranks, 2, 64, integer=True)
    opts = {}
    if kind == "pipeline":
        opts = {
            "schedule": schedule,
            "microbatches": _num("micro-batches", microbatches, 1, 32, integer=True),
        }
    try:
        out = launch.live_run(kind, n, **opts)
    except (ValueError, RuntimeError, TimeoutError) as e:
        raise ui.user_error(e) from None
    if kind == "pipeline":
        f1, f2, text = _pipeline_figures(out)
        return f1, f2, f"**Done** in {out.get('wall_s', 0):.1f} s. " + text
    if kind == "ddp":
        fig = ui.bar_figure(
            ["compute (no sync)", "all-reduce of all gradients", "step with sync"],
            [1e3 * out["compute_s"], 1e3 * out["allreduce_s"], 1e3 * out["step_s"]],
            f"DDP on {out['ranks']} processes",
            "",
            "milliseconds (median)",
        )
        text = (
            f"Gradients on every rank equal one process's on the global batch: max |Δ| = "
            f"{out['max_abs_grad_diff']:.1e}. All-reduce of {out['grad_bytes'] / 1e6:.2f} MB "
            f"(ring: {out['ring_bytes_per_rank'] / 1e6:.2f} MB sent per rank)."
        )
    elif kind == "tensor_parallel":
        fig = ui.bar_figure(
            ["local compute", "all-reduce"],
            [1e3 * out["compute_s"], 1e3 * out["allreduce_s"]],
            f"Tensor-parallel MLP on {out['ranks']} processes",
            "",
            "milliseconds (median)",
        )
        text = (
            f"Column- then row-parallel MLP equals the unsplit MLP: max |Δ| = {out['max_abs_diff']:.1e}; one "
            f"all-reduce of {out['allreduce_bytes'] / 1e6:.2f} MB."
        )
    else:
        pred = out["predicted_per_rank"]
        fig = ui.grouped_bar_figure(
            ["parameters", "gradients", "optimizer states"],
            {
                **{
                    f"rank {i}": [
                        x["params_bytes"] / 1e6,
                        x["grads_bytes"] / 1e6,
                        x["optimizer_bytes"] / 1e6,
                    ]
                    for i, x in enumerate(out["per_rank"])
                },
                "ZeRO-3 formula": [
                    pred["params"] / 1e6,
                    pred["grads"] / 1e6,
                    pred["optimizer"] / 1e6,
                ],
            },
            f"FSDP2 on {out['ranks']} processes: bytes per rank",
            "",
            "MB",
        )
        text = (
            f"Each rank holds exactly 1/{out['ranks']} of every state; all-gathers took "
            + ", ".join(f"{1e3 * x['allgather_s']:.1f} ms" for x in out["per_rank"])
            + " per forward."
        )
    return (
        fig,
        ui.message_figure("(a Gantt chart is drawn for pipeline runs)"),
        (f"**Done** in {out.get('wall_s', 0):.1f} s. " + text),
    )


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


# ---------------------------------------------------------------- tab: scale
def scale(log_n, log_d, gpu, mfu_pct, price, n_gpus):
    """What training a model of N parameters on D tokens takes on real hardware, and why one
    device — however powerful — cannot do it."""
    from shared import scaling

    N = 10 ** _num("log10 N", log_n, 6, 14)
    D = 10 ** _num("log10 D", log_d, 8, 15)
    mfu = _num("MFU (%)", mfu_pct, 1, 100) / 100
    usd = _num("price per GPU-hour ($)", price, 0, 100)
    n = _num("GPUs", n_gpus, 1, 1_000_000, integer=True)
    if gpu not in scaling.GPUS:
        raise ui.user_error(f"unknown GPU {gpu!r}: choose one of {', '.join(scaling.GPUS)}")
    g = scaling.GPUS[gpu]
    c = scaling.training_cost(scaling.training_flops(N, D), gpu, mfu, usd, n)
    one = scaling.one_device(N, D, gpu, mfu)
    rows = [
        ["compute C = 6·N·D", f"{c.flops:.3g} FLOPs"],
        [
            f"GPU-hours = C / ({g.peak_flops:.3g} FLOP/s × {100 * mfu:.1f}% MFU) / 3600",
            f"{c.gpu_hours:,.0f}",
        ],
        [f"wall-clock on {n:,} GPUs (perfect scaling)", f"{c.days:,.1f} days"],
        ["GPUs × days", f"{n:,} × {c.days:,.1f}"],
        [f"cost at ${usd:g} per GPU-hour", f"${c.dollars:,.0f}"],
        [f"energy (GPU boards at {g.watts:g} W, no cooling)", f"{c.energy_mwh:,.0f} MWh"],
        [
            "model states (16 bytes/param: bf16 weights + grads, fp32 master + Adam)",
            f"{one['state_bytes'] / 1e12:,.2f} TB vs {g.memory_gb:g} GB on one {gpu}",
        ],
        ["GPUs needed just to hold them (ZeRO-3 / FSDP)", f"≥ {one['devices_to_hold_states']:,}"],
        [f"time on ONE {gpu}", f"{one['years_on_one']:,.1f} years"],
    ]
    counts = [2**i for i in range(0, 18)]
    days = [c.gpu_hours / k / 24 for k in counts]
    fig = ui.line_figure(
        {f"{gpu} at {100 * mfu:.0f}% MFU": (counts, days)},
        "Wall-clock days vs number of GPUs (if scaling were perfect)",
        "GPUs",
        "days",
        log_x=True,
        log_y=True,
    )
    fig.add_scatter(
        x=[n],
        y=[c.days],
        mode="markers",
        marker={"size": 13, "symbol": "x", "color": "black"},
        name=f"{n:,} GPUs: {c.days:,.1f} days",
    )
    fig.add_hline(y=30, line={"dash": "dot", "color": "#64748b"}, annotation_text="one month")
    lo, hi = scaling.gpt3_cost_range()
    g3 = scaling.one_device(175e9, 300e9, "V100", scaling.GPT3_MFU)
    text = (
        f"**GPT-3, worked**: {lo.flops:.3g} FLOPs on V100s at {100 * scaling.GPT3_MFU:.1f}% MFU = "
        f"{lo.gpu_hours / 1e6:.2f}M GPU-hours: {lo.gpu_hours / 24 / 365:,.0f} years on one V100, "
        f"{lo.days:,.0f} days on 1,024 of them; at ${scaling.GPT3_PRICE_RANGE[0]:.2f}–"
        f"{scaling.GPT3_PRICE_RANGE[1]:.2f} per GPU-hour that is **${lo.dollars / 1e6:.1f}M–${hi.dollars / 1e6:.1f}M** "
        "— the course's $4–12M. Its model states alone (2.8 TB) need "
        f"{g3['devices_to_hold_states']} V100s of 32 GB before a single activation is stored. That is why training "
        "is split across thousands of GPUs for weeks: the memory forces a split (the tabs above show how), and "
        "the compute makes it worth splitting further. Real scaling is not perfect: communication and bubbles "
        "lower MFU as GPUs are added.\n\n"
        + ui.source_note(g.source)
        + " · "
        + ui.source_note(scaling.GPT3_MFU_SOURCE, "https://arxiv.org/abs/2204.02311")
    )
    return rows, fig, text


# ---------------------------------------------------------------- the page
def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        ui.header(
            TITLE,
            "Models outgrow one device, so training splits them: data, tensor and pipeline parallelism "
            "and ZeRO — computed with the formulas shown, then run for real on several processes.",
            course_ref="Session 2.3, computational challenges",
        )
        with gr.Tab("Memory"):
            with gr.Row():
                preset = gr.Dropdown(PRESETS + [CUSTOM], value="Llama 2 7B", label="model")
                gpu_gb = gr.Number(value=80, label="GPU memory (GB)", minimum=1, maximum=10_000)
            with gr.Row():
                layers = gr.Number(label="layers", precision=0, minimum=1, maximum=1000)
                hidden = gr.Number(label="hidden h", precision=0, minimum=1, maximum=1_000_000)
                heads = gr.Number(label="heads a", precision=0, minimum=1, maximum=4096)
                kv_heads = gr.Number(label="KV heads", precision=0, minimum=1, maximum=4096)
                vocab = gr.Number(label="vocabulary", precision=0, minimum=1, maximum=10_000_000)
                seq = gr.Number(label="sequence s", precision=0, minimum=1, maximum=10_000_000)
                ffn = gr.Number(label="MLP width", precision=0, minimum=1, maximum=10_000_000)
                gated = gr.Checkbox(label="SwiGLU MLP")
                tied = gr.Checkbox(label="tied embeddings")
            with gr.Row():
                dp = gr.Number(value=1, label="DP", precision=0, minimum=1, maximum=1_000_000)
                tp = gr.Number(value=1, label="TP", precision=0, minimum=1, maximum=1024)
                pp = gr.Number(value=1, label="PP", precision=0, minimum=1, maximum=1024)
                zero_stage = gr.Radio([0, 1, 2, 3], value=0, label="ZeRO stage")
                sp = gr.Checkbox(label="sequence parallel")
                offload = gr.Checkbox(label="optimizer offloaded to CPU")
            with gr.Row():
                micro = gr.Number(
                    value=1, label="micro-batch b", precision=0, minimum=1, maximum=100_000
                )
                nmicro = gr.Number(
                    value=1, label="micro-batches per step", precision=0, minimum=1, maximum=100_000
                )
                schedule = gr.Radio(["1f1b", "gpipe"], value="1f1b", label="pipeline schedule")
                recompute = gr.Radio(
                    list(memory.RECOMPUTE), value="none", label="activation recompute"
                )
            with gr.Accordion("bytes per value (every assumption is an input)", open=False):
                with gr.Row():
                    p_bytes = gr.Number(value=2, label="parameter bytes", minimum=0, maximum=8)
                    g_bytes = gr.Number(value=2, label="gradient bytes", minimum=0, maximum=8)
                    o_bytes = gr.Number(
                        value=12,
                        label="optimizer bytes (fp32 master + Adam m, v)",
                        minimum=0,
                        maximum=32,
                    )
                    a_bytes = gr.Number(value=2, label="activation bytes", minimum=1, maximum=4)
            mem_text = gr.Markdown(elem_id="par-mem-text")
            with gr.Row():
                mem_fig = gr.Plot(show_label=False, elem_id="par-mem-fig")
                mem_table = gr.Dataframe(
                    headers=["part", "GB per GPU", "formula"],
                    interactive=False,
                    wrap=True,
                    column_widths=["18%", "14%", "68%"],
                )
            shape_ins = [layers, hidden, heads, kv_heads, vocab, seq, ffn, gated, tied]
            mem_ins = shape_ins + [
                dp,
                tp,
                pp,
                zero_stage,
                sp,
                micro,
                nmicro,
                schedule,
                recompute,
                p_bytes,
                g_bytes,
                o_bytes,
                a_bytes,
                offload,
                gpu_gb,
            ]
            mem_outs = [mem_fig, mem_table, mem_text]
            # a preset fills the fields, then the breakdown follows (one event chain, no double draw)
            preset.input(
                preset_shape, preset, shape_ins, api_name=False, show_progress="hidden"
            ).then(memory_breakdown, mem_ins, mem_outs, api_name=False, show_progress="hidden")
            for c in mem_ins:
                c.input(memory_breakdown, mem_ins, mem_outs, api_name=False, show_progress="hidden")
            demo.load(preset_shape, preset, shape_ins, api_name="preset").then(
                memory_breakdown, mem_ins, mem_outs, api_name="memory"
            )

        with gr.Tab("Data parallel & ZeRO"):
            with gr.Row():
                z_psi = gr.Number(
                    value=7.5, label="parameters Ψ (billions)", minimum=1e-6, maximum=1e5
                )
                z_dp = gr.Number(
                    value=64,
                    label="data-parallel ranks N_d",
                    precision=0,
                    minimum=1,
                    maximum=1_000_000,
                )
                z_bw = gr.Number(
                    value=100, label="bandwidth per GPU (GB/s)", minimum=0.001, maximum=1e6
                )
            with gr.Row():
                z_p = gr.Number(value=2, label="parameter bytes", minimum=0, maximum=32)
                z_g = gr.Number(value=2, label="gradient bytes", minimum=0, maximum=32)
                z_k = gr.Number(value=12, label="optimizer bytes K", minimum=0, maximum=32)
            z_text = gr.Markdown()
            with gr.Row():
                z_fig = gr.Plot(show_label=False, elem_id="par-zero-fig")
                z_fig2 = gr.Plot(show_label=False)
            z_table = gr.Dataframe(
                headers=[
                    "stage",
                    "GB per GPU",
                    "saving",
                    "traffic",
                    "GB sent per rank",
                    "ring time (ms)",
                ],
                interactive=False,
            )
            z_ins = [z_psi, z_dp, z_p, z_g, z_k, z_bw]
            for c in z_ins:
                c.input(
                    zero,
                    z_ins,
                    [z_fig, z_fig2, z_table, z_text],
                    api_name=False,
                    show_progress="hidden",
                )
            demo.load(zero, z_ins, [z_fig, z_fig2, z_table, z_text], api_name="zero")

        with gr.Tab("Tensor parallel"):
            with gr.Row():
                t_preset = gr.Dropdown(PRESETS, value="GPT-3 175B", label="model")
                t_tp = gr.Radio(list(TP_SIZES[:5]), value=8, label="TP size t")
                t_sp = gr.Checkbox(value=False, label="sequence parallel")
                t_b = gr.Number(
                    value=1, label="micro-batch b", precision=0, minimum=1, maximum=1024
                )
                t_rc = gr.Radio(list(memory.RECOMPUTE), value="none", label="recompute")
                t_bw = gr.Number(
                    value=450, label="bandwidth (GB/s, NVLink-class)", minimum=0.001, maximum=1e6
                )
            with gr.Row():
                t_fig = gr.Plot(show_label=False, elem_id="par-tp-fig")
                with gr.Column():
                    t_table = gr.Dataframe(
                        headers=["quantity", "value", "formula"], interactive=False, wrap=True
                    )
                    t_text = gr.Markdown()
            t_ins = [t_preset, t_tp, t_sp, t_b, t_rc, t_bw]
            for c in t_ins:
                c.input(
                    tensor, t_ins, [t_fig, t_table, t_text], api_name=False, show_progress="hidden"
                )
            demo.load(tensor, t_ins, [t_fig, t_table, t_text], api_name="tensor")

        with gr.Tab("Pipeline"):
            with gr.Row():
                p_sched = gr.Radio(list(pipeline.KINDS), value="1f1b", label="schedule")
                p_stages = gr.Slider(1, 16, value=4, step=1, label="devices (stages) p")
                p_m = gr.Slider(1, 64, value=8, step=1, label="micro-batches m")
                p_v = gr.Slider(1, 8, value=2, step=1, label="chunks per device v (interleaved)")
                p_r = gr.Slider(0.5, 4, value=2, step=0.25, label="backward / forward time")
            p_shown = gr.Slider(
                0,
                100,
                value=100,
                step=1,
                label="shown (% of the step): drag to step through",
                elem_id="par-pp-shown",
            )
            p_text = gr.Markdown(elem_id="par-pp-text")
            with gr.Row():
                p_fig = gr.Plot(show_label=False, elem_id="par-pp-fig")
                p_fig2 = gr.Plot(show_label=False)
            p_ins = [p_sched, p_stages, p_m, p_v, p_r, p_shown]
            for c in p_ins:
                c.input(
                    pipeline_view,
                    p_ins,
                    [p_fig, p_fig2, p_text],
                    api_name=False,
                    show_progress="hidden",
                )
            demo.load(pipeline_view, p_ins, [p_fig, p_fig2, p_text], api_name="pipeline")

        with gr.Tab("Real runs"):
            gr.Markdown(
                "Every parallelism above, run for real: several processes with `torch.distributed` "
                "(DDP, FSDP2 `fully_shard`, `torch.distributed.pipelining` GPipe and 1F1B, a Megatron-style "
                "MLP), each checked against a single process or against the memory model."
            )
            r_text = gr.Markdown(elem_id="par-real-text")
            r_checks = gr.Dataframe(
                headers=["run", "what was checked", "measured", "expected"],
                interactive=False,
                wrap=True,
                elem_id="par-real-checks",
            )
            with gr.Row():
                r_fig = gr.Plot(show_label=False)
                r_fig2 = gr.Plot(show_label=False)
            r_act = gr.Dataframe(
                headers=[
                    "recompute",
                    "s×b×h, heads",
                    "measured bytes (saved for backward)",
                    "Korthikanti formula",
                    "measured / formula",
                ],
                interactive=False,
                label="activations of one real transformer layer vs the formula",
            )
            pick_labels = pipeline_labels()
            r_pick = gr.Dropdown(
                pick_labels,
                value=pick_labels[0] if pick_labels else None,
                label="bundled pipeline run",
            )
            r_ptext = gr.Markdown()
            with gr.Row():
                r_gantt = gr.Plot(show_label=False, elem_id="par-real-gantt")
                r_gantt2 = gr.Plot(show_label=False)
            demo.load(
                real_runs, None, [r_checks, r_fig, r_fig2, r_act, r_text], api_name="real_runs"
            )
            if pick_labels:
                demo.load(pipeline_run, r_pick, [r_gantt, r_gantt2, r_ptext], api_name=False)
            r_pick.input(
                pipeline_run,
                r_pick,
                [r_gantt, r_gantt2, r_ptext],
                api_name="pipeline_run",
                show_progress="hidden",
            )
            gr.Markdown(
                "**Launch a run now** (bounded: 30 s, one at a time; processes are always cleaned up)."
            )
            with gr.Row():
                l_kind = gr.Dropdown(list(LIVE_KINDS), value="pipeline (1F1B)", label="run")
                l_ranks = gr.Slider(2, 4, value=2, step=1, label="processes")
                l_m = gr.Slider(1, 16, value=4, step=1, label="micro-batches (pipeline)")
                l_go = gr.Button("Run", variant="primary", elem_id="par-live-go")
            l_text = gr.Markdown(elem_id="par-live-text")
            with gr.Row():
                l_fig = gr.Plot(show_label=False, elem_id="par-live-fig")
                l_fig2 = gr.Plot(show_label=False)
            l_go.click(
                live_run,
                [l_kind, l_ranks, l_m],
                [l_fig, l_fig2, l_text],
                api_name="launch_run",
                concurrency_limit=2,
                concurrency_id="parallel-live",
                time_limit=60,
            )

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
            from shared import scaling

            with gr.Row():
                s_n = gr.Slider(
                    6, 13, value=math.log10(175e9), step=0.01, label="log10 N (parameters)"
                )
                s_d = gr.Slider(8, 14, value=math.log10(300e9), step=0.01, label="log10 D (tokens)")
                s_gpu = gr.Dropdown(list(scaling.GPUS), value="H100", label="GPU")
            with gr.Row():
                s_mfu = gr.Slider(1, 100, value=40, step=0.5, label="MFU (%)")
                s_price = gr.Number(value=2.5, label="$ per GPU-hour", minimum=0, maximum=100)
                s_count = gr.Number(
                    value=1024, precision=0, label="GPUs", minimum=1, maximum=1_000_000
                )
            s_text = gr.Markdown(elem_id="par-scale-text")
            with gr.Row():
                s_fig = gr.Plot(show_label=False, elem_id="par-scale-fig")
                s_table = gr.Dataframe(headers=["quantity", "value"], interactive=False, wrap=True)
            s_ins = [s_n, s_d, s_gpu, s_mfu, s_price, s_count]
            for c in s_ins:
                c.input(
                    scale, s_ins, [s_table, s_fig, s_text], api_name=False, show_progress="hidden"
                )
            demo.load(scale, s_ins, [s_table, s_fig, s_text], api_name="scale")
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
