"""RNN vs SSM vs Transformer: an LSTM, Mamba and a transformer, parameter-matched, trained and
measured side by side — recall, copying, language modelling, speed, memory, gradients.

UI wiring only: the models and experiments are `training/architectures.py` (results bundled in
checkpoints/architectures, rebuilt by `python -m training architectures --preset cpu`), the
recurrence `shared/recurrence.py`, the real model shapes `shared/memory.py`.
Run alone: `python spaces/architectures/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

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

from shared import gpu, memory, recurrence, ui  # noqa: E402
from training import store  # noqa: E402  (no torch at import)

TITLE = "RNN vs SSM vs Transformer"
ARCHS = ("transformer", "mamba", "lstm")
NAMES = {
    "transformer": "Transformer (Llama-style)",
    "mamba": "Mamba (selective SSM)",
    "lstm": "LSTM",
}
COLORS = {"transformer": ui.PALETTE[0], "mamba": ui.PALETTE[1], "lstm": ui.PALETTE[2]}
BUILD = "python -m training architectures --preset cpu"
NONE = f"No bundled architecture results: build them with `{BUILD}` (about half an hour on 2 CPU cores)."
ZOOLOGY = ("Arora et al. 2023, Zoology (MQAR)", "https://arxiv.org/abs/2312.04927")
MAMBA = ("Gu & Dao 2023, Mamba", "https://arxiv.org/abs/2312.00752")
BENGIO = (
    "Bengio et al. 1994, Learning long-term dependencies with gradient descent is difficult",
    "https://doi.org/10.1109/72.279181",
)
PROBE_EXAMPLE = "A=3, B=17, C=5, D=30 ? B"
STATE_CONTEXTS = "1024, 4096, 32768, 131072"
_num = ui.checked_number


def _results() -> dict:
    return store.read_results("architectures")


def _label(arch: str, run: dict | None = None) -> str:
    if run and "model" in run:
        m = run["model"]
        return f"{NAMES[arch]} · {m['n_layer']}L · {m['params_nonembedding'] / 1e3:.0f}k"
    return NAMES[arch]


def _lines(series: dict, title: str, x: str, y: str, **kw):
    """ui.line_figure with each architecture's colour (series keys start with the arch name)."""
    fig = ui.line_figure(series, title, x, y, markers=True, **kw)
    for tr in fig.data:
        arch = next(
            (a for a in ARCHS if tr.name.lower().startswith(a) or tr.name.startswith(NAMES[a])),
            None,
        )
        if arch:
            tr.line.color = COLORS[arch]
            if "init" in tr.name:
                tr.line.dash = "dot"
    return fig


def _runs_at(runs: list[dict], width) -> tuple[int, list[dict]]:
    """The bundled runs of one width (a radio value), or a one-line error naming the widths there are."""
    widths = sorted({x["width"] for x in runs})
    try:
        width = int(width)
    except (TypeError, ValueError):
        raise ui.user_error(f"width must be one of {widths} (got {width!r})") from None
    if width not in widths:
        raise ui.user_error(f"width {width}: the bundled runs have widths {widths}")
    return width, [x for x in runs if x["width"] == width]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# ---------------------------------------------------------------- overview
def overview():
    """The headline numbers and the two verdicts, each tied to the tab that shows it."""
    r = _results()
    if not r:
        return NONE
    from training.architectures import mqar_at_longest

    longest = mqar_at_longest(r)
    acc = longest["accuracy"]
    order = sorted(acc, key=lambda a: -acc[a])
    lm = {(x["arch"], x["width"]): x for x in r["lm"]["runs"]}
    w = max(x["width"] for x in r["lm"]["runs"])
    inf = r["inference"]["archs"]
    ctx = [row["context"] for row in inf["transformer"]["rows"]]
    kv_growth = (
        inf["transformer"]["rows"][-1]["cache_bytes"] / inf["transformer"]["rows"][0]["cache_bytes"]
    )
    tp = r["throughput"]["rows"]
    seq_hi = tp["transformer"][-1]["seq"]
    copy = {x["arch"]: x["accuracy"] for x in r["copy"]["runs"]}
    return (
        f"Three models of equal width and (nearly) equal parameters, trained by the same loop on the same data "
        f"(`{r.get('rebuild', BUILD)}`: {sum(r.get('section_seconds', {}).values()) / 60:.0f} min of sections on "
        f"{r.get('machine', {}).get('cpus', '?')} CPU cores).\n\n"
        f"**Recall (MQAR)** at length {longest['seq']} with {longest['pairs']} key-value pairs, width "
        f"{longest['width']}: "
        + ", ".join(f"{NAMES[a]} **{_pct(acc[a])}**" for a in order)
        + " → tab *Recall*.\n\n"
        f"**Language modelling** (width {w}, {r['lm']['steps']} steps): held-out loss "
        + ", ".join(
            f"{NAMES[a]} {lm[(a, w)]['final_eval_loss']:.3f}" for a in ARCHS if (a, w) in lm
        )
        + " → tab *Language modelling*.\n\n"
        f"**Memory while generating**: the transformer's KV cache grew ×{kv_growth:.0f} from {ctx[0]} to {ctx[-1]} "
        f"tokens; Mamba's and the LSTM's state did not change ({inf['mamba']['rows'][0]['cache_bytes']:,} and "
        f"{inf['lstm']['rows'][0]['cache_bytes']:,} bytes) → tab *Inference & memory*.\n\n"
        f"**Selective copying**: "
        + ", ".join(f"{NAMES[a]} {_pct(copy[a])}" for a in ARCHS if a in copy)
        + " → tab *Selective copy*.\n\n"
        "### Why transformers won (for now)\n"
        "- *They recall anything in their context.* Attention looks every earlier token up directly; a recurrent "
        "model must have squeezed it into a fixed state as it went by. The *Recall* tab measures this gap, and the "
        "probe lets you try it.\n"
        f"- *They train in parallel over time.* A layer is a few big matrix multiplies over all {seq_hi} positions at "
        "once; an LSTM must run its positions one after another (*Training speed*: sequential steps per layer). "
        "GPUs reward the first.\n"
        "- *Gradients reach far back.* The gradient from the last position to a token t steps earlier does not "
        "shrink with t through attention; through an LSTM it decays (*Gradient flow*).\n\n"
        "### Where SSMs shine\n"
        "- *Constant memory and cost per generated token.* Mamba's state is the same size at any length "
        "(*Inference & memory*: a 7B transformer's KV cache at 128k tokens vs a 7B Mamba's state), and FLOPs per "
        "token do not grow with the context.\n"
        "- *Parallel training anyway.* The recurrence is linear, so it can be computed as a parallel scan "
        "(depth log T) — or, when it does not depend on the input, as one long convolution (*Recurrence three ways*).\n"
        "- *Selection.* Mamba's input-dependent (selective) parameters let it skip noise and keep what matters "
        "(*Selective copy*), which a fixed convolution cannot.\n\n"
        "On this CPU, Mamba runs a plain-PyTorch parallel scan (`mambapy`) without the fused CUDA kernel, so its "
        "wall-clock times are many times what a GPU would show; FLOPs and bytes are given beside every timing.\n\n"
        + ui.source_note(*ZOOLOGY)
        + " · "
        + ui.source_note(*MAMBA)
    )


# ---------------------------------------------------------------- recall (MQAR)
def mqar_view(width):
    """Accuracy vs key-value pairs at each sequence length (one width), accuracy vs width at the
    longest length, and the training curves."""
    r = _results()
    if not r:
        return [ui.message_figure(NONE)] * 3 + [NONE]
    m = r["mqar"]
    width, runs = _runs_at(m["runs"], width)
    seqs = sorted({g["seq"] for g in m["grid"]})
    series = {}
    for x in runs:
        for s in seqs:
            cells = [g for g in m["grid"] if g["seq"] == s]
            series[f"{x['arch']} · length {s}"] = (
                [g["pairs"] for g in cells],
                [x["accuracy"][g["key"]] for g in cells],
            )
    f1 = _lines(
        series,
        f"MQAR accuracy vs key-value pairs (width {width})",
        "key-value pairs in the context",
        "accuracy on the queried values",
        log_x=True,
    )
    for tr in f1.data:
        s = int(tr.name.rsplit(" ", 1)[-1])
        tr.line.width = 1 + 2 * seqs.index(s) / max(1, len(seqs) - 1)
        tr.opacity = 0.45 + 0.55 * seqs.index(s) / max(1, len(seqs) - 1)
    f1.update_yaxes(range=[0, 1.05])
    from training.architectures import mqar_at_longest

    longest = mqar_at_longest(r)
    seq, pairs = longest["seq"], longest["pairs"]
    key = f"{seq}x{pairs}"
    widths = sorted({x["width"] for x in m["runs"]})
    f2 = _lines(
        {
            _label(a): (
                widths,
                [
                    next(
                        x["accuracy"][key] for x in m["runs"] if x["arch"] == a and x["width"] == w
                    )
                    for w in widths
                ],
            )
            for a in ARCHS
        },
        f"Accuracy vs model width (length {seq}, {pairs} pairs)",
        "model width d",
        "accuracy",
        log_x=True,
    )
    f2.update_yaxes(range=[0, 1.05])
    f3 = _lines(
        {
            _label(x["arch"], x): (
                [p["step"] for p in x["curve"]],
                [p["accuracy"] for p in x["curve"]],
            )
            for x in runs
        },
        f"Held-out accuracy while training (width {width}, mixture of {m['train_pairs']} pairs)",
        "step",
        "accuracy",
    )
    f3.update_yaxes(range=[0, 1.05])
    rows = ", ".join(
        f"{NAMES[x['arch']]} {x['model']['n_layer']} layers, {x['model']['params_nonembedding']:,} "
        f"non-embedding parameters, {x['steps']} steps"
        for x in runs
    )
    text = (
        f"**Multi-query associative recall**: the context lists key-value pairs (`k1 v1 k2 v2 …`), then asks "
        f"for keys again at random later positions; only the answers are scored. Each model was trained at length "
        f"{m['seq']} on a mixture of {m['train_pairs']} pairs ({m['train_examples']:,} examples, batch "
        f"{m['batch']}, up to {m['steps']} steps, stopping early at {m['target']:.0%} held-out accuracy) and is "
        f"tested on fresh examples — pair counts above {max(m['train_pairs'])} were never seen in training. "
        f"Width {width}: {rows}.\n\n"
        "Attention can look any key up, so once it has learned the trick (the sudden jump in the training curve — "
        "an induction head forming) it answers at any number of pairs. When that jump comes varies from run to run; "
        "within a fixed budget a run can stay on the plateau throughout (a small model especially), so read the "
        "training curves beside the final numbers. A recurrent model must carry every pair "
        "in its fixed-size state until it is asked: the more pairs and the narrower the model, the more it "
        "forgets. Zoology found this gap explains most of the quality difference between attention and "
        "efficient alternatives at scale.\n\n" + ui.source_note(*ZOOLOGY)
    )
    return f1, f2, f3, text


# ---------------------------------------------------------------- recall probe
@gpu.on_gpu(20)  # three forward passes of tiny models (and their first load)
def recall_probe(text, gap):
    """Each bundled MQAR model answers your key-value probe, with its confidence."""
    from training import architectures as arch

    gap = int(_num("filler gap", gap, 0, 4096, integer=True))
    try:
        models, info = arch.load_probe_models()
    except store.CheckpointError as e:
        raise ui.user_error(e) from None
    try:
        out = arch.probe(models, text, info["vocab"], info["seq"], gap)
    except ValueError as e:
        raise ui.user_error(e) from None
    rows = []
    for a in ARCHS:
        ans = out["answers"][a]
        said = "(not a value)" if ans["answer"] is None else str(ans["answer"])
        rows.append(
            [
                NAMES[a],
                said,
                "✓" if ans["answer"] == out["expected"] else "✗",
                f"{ans['confidence']:.3f}",
                f"{ans['p_expected']:.3f}",
            ]
        )
    fig = ui.grouped_bar_figure(
        [NAMES[a] for a in ARCHS],
        {
            "confidence in its answer": [out["answers"][a]["confidence"] for a in ARCHS],
            f"probability of the right value ({out['expected']})": [
                out["answers"][a]["p_expected"] for a in ARCHS
            ],
        },
        "What each model says",
        "",
        "probability",
        y_range=(0, 1.05),
    )
    summary = (
        f"Asked for **{out['query']}** (right answer **{out['expected']}**) after {len(out['tokens'])} tokens "
        f"({gap} filler). The models are the width-{info['width']} MQAR models, trained at length "
        f"{info['seq']}: keys become tokens 1, 2, … in the order you wrote them, value v becomes token "
        f"{info['vocab'] // 2}+v."
    )
    return rows, fig, summary


# ---------------------------------------------------------------- language modelling
def lm_view(width):
    """Held-out loss vs steps and vs wall-clock for one matched size."""
    r = _results()
    if not r:
        return [ui.message_figure(NONE)] * 2 + [NONE]
    lm = r["lm"]
    width, runs = _runs_at(lm["runs"], width)

    def curve(x, key):
        pts = [p for p in x["curve"] if "eval_loss" in p and key in p]
        return [p[key] for p in pts], [p["eval_loss"] for p in pts]

    f1 = _lines(
        {_label(x["arch"], x): curve(x, "step") for x in runs},
        f"Held-out loss vs steps (width {width})",
        "optimizer step",
        "held-out loss (nats/token)",
    )
    f2 = _lines(
        {_label(x["arch"], x): curve(x, "elapsed_s") for x in runs},
        f"Held-out loss vs wall-clock on this CPU (width {width})",
        "seconds",
        "held-out loss (nats/token)",
    )
    rows = "; ".join(
        f"{NAMES[x['arch']]} {x['final_eval_loss']:.3f} after {x['seconds']:.0f} s "
        f"({x['tokens_per_s']:,.0f} tokens/s at the end)"
        for x in runs
    )
    text = (
        f"The world corpus (biographies of invented people), {lm['seq']}-token sequences, batch {lm['batch']}, "
        f"{lm['steps']} steps of the project's pre-training loop, one learning rate for all. Final held-out loss: "
        f"{rows}.\n\nPer step, the question is which architecture learns most from the same data. Per second, "
        "the CPU decides: the LSTM's fused C++ loop and the transformer's matrix multiplies are efficient here, "
        "while Mamba's scan runs as plain PyTorch (no CUDA kernel) — on a GPU with `mamba_ssm` the order of the "
        "wall-clock curves changes."
    )
    return f1, f2, text


# ---------------------------------------------------------------- selective copy
def copy_view():
    r = _results()
    if not r:
        return ui.message_figure(NONE), NONE
    c = r["copy"]
    fig = _lines(
        {
            _label(x["arch"], x): (
                [p["step"] for p in x["curve"]],
                [p["accuracy"] for p in x["curve"]],
            )
            for x in c["runs"]
        },
        "Selective copying: accuracy on the copied tokens",
        "step",
        "accuracy",
    )
    fig.add_hline(y=c["chance"], line_dash="dot", annotation_text="chance")
    fig.update_yaxes(range=[0, 1.05])
    text = (
        f"{c['tokens']} data tokens (from {c['vocab'] - 2} symbols) scattered at random positions among noise in a "
        f"{c['seq']}-token sequence, then {c['tokens']} markers: at marker i the model must output the i-th data "
        "token. Because the positions change every time, a model must *select* by content what to keep — "
        "Mamba's input-dependent Δ, B, C do that, a time-invariant SSM (a fixed convolution) cannot. Final: "
        + ", ".join(
            f"{NAMES[x['arch']]} {_pct(x['accuracy'])} ({x['steps']} steps)" for x in c["runs"]
        )
        + ".\n\n"
        + ui.source_note(MAMBA[0] + ", Table 1", MAMBA[1])
    )
    return fig, text


# ---------------------------------------------------------------- training speed
def throughput_view():
    r = _results()
    if not r:
        return [ui.message_figure(NONE)] * 2 + [NONE]
    t = r["throughput"]
    rows = t["rows"]
    f1 = _lines(
        {
            _label(a, {"model": t["models"][a]}): (
                [x["seq"] for x in rows[a]],
                [x["tokens_per_s"] for x in rows[a]],
            )
            for a in ARCHS
        },
        "Training throughput vs sequence length (this CPU)",
        "sequence length",
        "tokens / s",
        log_x=True,
    )
    seqs = [x["seq"] for x in rows["transformer"]]
    layers = {a: t["models"][a]["n_layer"] for a in ARCHS}
    import math

    f2 = _lines(
        {
            f"{NAMES['transformer']}: L": (seqs, [layers["transformer"]] * len(seqs)),
            f"{NAMES['mamba']}: L·⌈log₂ T⌉ (parallel scan)": (
                seqs,
                [layers["mamba"] * math.ceil(math.log2(s)) for s in seqs],
            ),
            f"{NAMES['lstm']}: L·T": (seqs, [layers["lstm"] * s for s in seqs]),
        },
        "Sequential steps per forward pass (what parallel hardware cannot shorten)",
        "sequence length",
        "dependent steps",
        log_x=True,
        log_y=True,
    )
    text = (
        f"Forward + backward + AdamW step, batch {t['batch']}, width {t['width']}, median of repeats. On 2 CPU cores "
        "there is little parallel hardware to use, so the LSTM's tight C++ loop keeps up with the transformer "
        "here; what differs is the *dependency depth* (right): a transformer layer handles all T positions at "
        "once, a parallel scan needs ⌈log₂ T⌉ rounds, an LSTM needs T steps one after another. On a GPU with "
        "thousands of cores that depth is the wall-clock. Mamba's throughput here is the plain-PyTorch scan "
        "(it materialises every state: d_inner × d_state numbers per position), not the fused CUDA kernel."
    )
    return f1, f2, text


# ---------------------------------------------------------------- inference & memory
def inference_view():
    r = _results()
    if not r:
        return [ui.message_figure(NONE)] * 3 + [NONE]
    inf = r["inference"]["archs"]

    def xs(a):
        return [x["context"] for x in inf[a]["rows"]]

    f1 = _lines(
        {
            _label(a, inf[a]): (xs(a), [x["cache_bytes"] / 1024 for x in inf[a]["rows"]])
            for a in ARCHS
        },
        "Cache / state bytes vs context (read from each model's real cache object)",
        "context length (tokens)",
        "KiB per sequence",
        log_x=True,
        log_y=True,
    )
    f2 = _lines(
        {
            _label(a, inf[a]): (xs(a), [x["flops_per_token"] / 1e6 for x in inf[a]["rows"]])
            for a in ARCHS
        },
        "FLOPs per generated token vs context",
        "context length (tokens)",
        "MFLOPs per token",
        log_x=True,
    )
    f3 = _lines(
        {_label(a, inf[a]): (xs(a), [x["ms_per_token"] for x in inf[a]["rows"]]) for a in ARCHS},
        "Decode latency per token on this CPU",
        "context length (tokens)",
        "ms per token",
        log_x=True,
    )
    checks = ", ".join(f"{NAMES[a]} {inf[a]['cache_check']:.1e}" for a in ARCHS)
    text = (
        f"Each model (width {r['inference']['width']}, random weights — cost does not depend on them) reads a "
        f"prompt, then generates {r['inference']['new_tokens']} tokens one at a time with its cache. The bytes are "
        "summed over the tensors in the cache object each model returns (keys and values; conv + SSM states; "
        "h and c). Decoding with the cache gives the same logits as one full forward pass (max difference: "
        f"{checks}).\n\nThe transformer stores keys and values for every position, so its cache and its "
        "attention FLOPs grow with the context; Mamba and the LSTM carry a fixed state. At this tiny width the "
        "per-token latency is mostly fixed overhead, so the growth shows in FLOPs and bytes long before it shows "
        "in milliseconds."
    )
    return f1, f2, f3, text


def state_table(contexts, bytes_per_value):
    """Bytes a real model keeps per sequence while generating, at several context lengths."""
    parts = [c for c in str(contexts).replace(";", ",").split(",") if c.strip()]
    if not 1 <= len(parts) <= 8:
        raise ui.user_error("give 1 to 8 context lengths, separated by commas")
    ctxs = [_num("context length", c.strip(), 1, 100_000_000, integer=True) for c in parts]
    bpv = _num("bytes per value", bytes_per_value, 0.5, 8)
    rows = memory.cache_table(ctxs, bytes_per_value=bpv)
    table = [
        [r["model"], f"{r['params_b']:g}B", "KV cache" if r["kind"] == "kv" else "SSM state"]
        + [_bytes(b) for b in r["bytes"]]
        for r in rows
    ]
    fig = ui.line_figure(
        {r["model"]: (ctxs, [b / 2**30 for b in r["bytes"]]) for r in rows},
        "Per-sequence inference memory vs context",
        "context length (tokens)",
        "GiB per sequence",
        log_x=True,
        log_y=True,
        markers=True,
    )
    big = max(ctxs)
    kv7 = memory.CACHE_SHAPES["Llama 2 7B (MHA)"].bytes(big, 1, bpv)
    fm7 = memory.CACHE_SHAPES["Falcon Mamba 7B"].bytes(big, 1, bpv)
    text = (
        f"At {big:,} tokens a Llama 2 7B keeps {_bytes(kv7)} of keys and values per sequence; Falcon Mamba 7B keeps "
        f"{_bytes(fm7)} (×{kv7 / fm7:,.0f} less), the same at every length. KV: 2·layers·kv_heads·head_dim·context·"
        "bytes; SSM: layers·d_inner·(d_state + d_conv)·bytes. Shapes: "
        + "; ".join(r["source"] for r in rows)
        + "."
    )
    return (
        {"headers": ["model", "params", "kind"] + [f"{c:,} tokens" for c in ctxs], "data": table},
        fig,
        text,
    )


def _bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b:,.0f} B"


# ---------------------------------------------------------------- gradient flow
def gradient_view(which):
    r = _results()
    if not r:
        return ui.message_figure(NONE), NONE
    g = r["gradients"]
    if which not in ("init", "trained", "both"):
        raise ui.user_error("show: choose init, trained or both")
    series = {}
    for a in ARCHS:
        for kind in ("init", "trained") if which == "both" else (which,):
            ys = g["archs"][a][kind]
            if ys:
                series[f"{NAMES[a]} ({'at init' if kind == 'init' else 'trained'})"] = (
                    list(range(len(ys))),
                    ys,
                )
    fig = _lines(
        series,
        "‖∂ loss at the last position / ∂ input embedding t tokens back‖",
        "distance t (tokens back)",
        "gradient norm",
        log_y=True,
    )
    for tr in fig.data:
        tr.mode = "lines"
    ratio = {}
    for a in ARCHS:
        ys = g["archs"][a]["trained"] or g["archs"][a]["init"]
        far = ys[-1] if ys[-1] > 0 else min(v for v in ys if v > 0)
        ratio[a] = ys[1] / far
    text = (
        f"Mean over {g['samples']} held-out sequences of length {g['seq']}: how much the loss at the last position "
        "can still be changed by a token t steps back — the signal that lets a model learn long-range "
        "dependencies. Drop from t = 1 to the farthest token (trained models): "
        + ", ".join(f"{NAMES[a]} ×{ratio[a]:,.0f}" for a in ARCHS)
        + ". Through a recurrence the gradient is a product of one Jacobian per step, so it shrinks "
        "geometrically (the LSTM's gates slow this, they do not stop it); attention connects every position "
        "to every other in one step.\n\n" + ui.source_note(*BENGIO)
    )
    return fig, text


# ---------------------------------------------------------------- recurrence three ways
def recurrence_view(length, state, selective):
    """h_t = a_t·h_{t−1} + b_t·x_t, y_t = c_t·h_t computed sequentially, by a parallel scan and
    (time-invariant only) as a convolution, on a random stable system."""
    T = int(_num("sequence length", length, 1, 65_536, integer=True))
    N = int(_num("state size", state, 1, 256, integer=True))
    system = recurrence.random_system(T, N, selective=bool(selective), seed=0)
    rows, ys = [], {}
    for name, fn in (
        ("sequential loop", recurrence.sequential),
        ("parallel scan", recurrence.parallel_scan),
        ("convolution (FFT)", recurrence.convolution),
    ):
        t0 = time.perf_counter()
        try:
            y, cost = fn(*system)
        except ValueError as e:
            rows.append([name, "—", "—", "—", str(e).split(";")[0]])
            continue
        ms = (time.perf_counter() - t0) * 1e3
        ys[name] = y
        rows.append([name, f"{cost['work']:,}", f"{cost['depth']:,}", f"{ms:.2f}", ""])
    ref = ys["sequential loop"]
    for row in rows:
        if row[0] in ys:
            row[4] = f"max |Δ| vs loop {abs(ys[row[0]] - ref).max():.1e}"
    shown = min(T, 200)
    fig = ui.line_figure(
        {k: (list(range(shown)), list(v[:shown])) for k, v in ys.items()},
        f"Output y_t, first {shown} steps (the curves lie on top of each other)",
        "t",
        "y_t",
    )
    for i, tr in enumerate(fig.data):
        tr.line.dash = ("solid", "dash", "dot")[i % 3]
        tr.line.width = 4 - i
    text = (
        "**Work** counts multiply-adds, **depth** the rounds that must happen one after another (what parallel "
        f"hardware cannot shorten). The loop: depth T = {T}. The Hillis–Steele scan combines pairs "
        "(a₁,u₁)∘(a₂,u₂) = (a₁a₂, a₂u₁+u₂) — associative, so ⌈log₂ T⌉ rounds suffice (+1 for the readout), "
        "at more total work. "
        "When a, b, c do not depend on t (S4's LTI case) the whole map is one convolution with kernel "
        "K_k = Σ c·aᵏ·b, done by FFT. A *selective* SSM (Mamba) changes a, b, c with the input: no single kernel "
        "exists, so it uses the scan."
        + (" (Selective system chosen: the convolution refuses it.)" if selective else "")
    )
    return rows, fig, text


def recurrence_bundled():
    r = _results()
    if not r:
        return [], NONE
    rows = []
    for row in r["recurrence"]["rows"]:
        for name in ("sequential", "parallel_scan", "convolution"):
            c = row[name]
            rows.append(
                [
                    row["length"],
                    name.replace("_", " "),
                    f"{c['work']:,}",
                    c["depth"],
                    f"{c['max_abs_diff']:.1e}",
                ]
            )
    return rows, (
        f"Bundled check (state size {r['recurrence']['state']}): all three agree to float64 rounding; "
        "a selective system's scan agrees with its loop to "
        f"{max(x['selective_scan_diff'] for x in r['recurrence']['rows']):.0e}."
    )


# ---------------------------------------------------------------- live race
@gpu.on_gpu(90)  # three models × at most 20 s each (RACE_SECONDS_PER_MODEL), + data and evaluations
def race(task, steps, width, seq, progress=gr.Progress()):
    """Train the three architectures on a small task now (bounded, one race at a time) and draw
    their accuracy per step as it comes in."""
    from training import architectures as arch

    settings = {
        "task": task,
        "steps": int(_num("steps", steps, 10, arch.RACE_MAX_STEPS, integer=True)),
        "width": int(_num("width", width, 16, 64, integer=True)),
        "seq": int(_num("sequence length", seq, 16, 64, integer=True)),
    }
    settings["eval_every"] = max(5, settings["steps"] // 10)
    try:
        events = arch.live_race(settings)
    except ValueError as e:
        raise ui.user_error(e) from None
    curves: dict[str, list] = {}
    last = 0.0
    yield ui.message_figure("starting …"), "starting …"
    for ev in events:
        if ev["kind"] == "error":
            raise ui.user_error(f"race failed: {ev['text']}")
        if ev["kind"] == "progress":
            curves.setdefault(ev["arch"], []).append(ev["point"])
            done_models = list(curves).index(ev["arch"])
            progress(
                ((done_models * settings["steps"] + ev["point"]["step"]), 3 * settings["steps"]),
                desc=f"training {NAMES[ev['arch']]}",
                unit="steps",
            )
            if time.perf_counter() - last > 0.8:
                last = time.perf_counter()
                yield (
                    _race_fig(curves, settings),
                    f"{NAMES[ev['arch']]}: step {ev['point']['step']} / {settings['steps']}",
                )
        elif ev["kind"] == "done":
            stopped = [NAMES[a] for a, s in ev["stopped"].items() if s]
            final = ", ".join(
                f"{NAMES[a]} {_pct(c[-1].get('accuracy', 0))} in {c[-1].get('elapsed_s', 0):.0f} s"
                for a, c in ev["curves"].items()
                if c
            )
            yield (
                _race_fig(ev["curves"], settings),
                f"**Done.** Final accuracy: {final}."
                + (
                    f" Stopped at the {arch.RACE_SECONDS_PER_MODEL:.0f} s limit: {', '.join(stopped)}."
                    if stopped
                    else ""
                ),
            )
            return


def _race_fig(curves: dict, settings: dict):
    fig = _lines(
        {
            NAMES[a]: ([p["step"] for p in c], [p.get("accuracy", 0) for p in c])
            for a, c in curves.items()
        },
        f"Live race: {settings['task']} at length {settings['seq']}, width {settings['width']}",
        "step",
        "held-out accuracy",
    )
    fig.update_xaxes(range=[0, settings["steps"]])
    fig.update_yaxes(range=[0, 1.05])
    return fig


def warm() -> None:
    """What the recall probe's first click needs, ready before anyone clicks (`ui.launch` runs this
    in the background once the server answers): the three bundled MQAR models, loaded into the
    cache the probe reads, and one probe through the same path."""
    from training import architectures as arch

    models, info = arch.load_probe_models()
    arch.probe(models, PROBE_EXAMPLE, info["vocab"], info["seq"], 0)


# ---------------------------------------------------------------- page
def build_demo() -> gr.Blocks:
    r = _results()
    mq_widths = sorted({x["width"] for x in r["mqar"]["runs"]}) if r else [64]
    lm_widths = sorted({x["width"] for x in r["lm"]["runs"]}) if r else [64]
    with gr.Blocks(title=TITLE) as demo:
        ui.header(
            TITLE,
            "An LSTM, Mamba and a transformer with the same width and parameters, trained by the same loop "
            "— and measured: what they recall, how fast they train, what they keep in memory, how far their "
            "gradients reach.",
            course_ref="Session 2.3, knowledge point 4: from RNNs to state-space models",
        )
        with gr.Tab("Overview"):
            ov = gr.Markdown(elem_id="arch-overview")
            demo.load(overview, None, ov, api_name="overview")

        with gr.Tab("Recall"):
            mq_w = gr.Radio(
                [str(w) for w in mq_widths], value=str(max(mq_widths)), label="model width"
            )
            mq_text = gr.Markdown(elem_id="arch-mqar-text")
            with gr.Row():
                mq_f1 = gr.Plot(show_label=False, elem_id="arch-mqar-pairs")
                mq_f2 = gr.Plot(show_label=False)
            mq_f3 = gr.Plot(show_label=False)
            demo.load(mqar_view, mq_w, [mq_f1, mq_f2, mq_f3, mq_text], api_name="mqar")
            mq_w.input(
                mqar_view,
                mq_w,
                [mq_f1, mq_f2, mq_f3, mq_text],
                api_name=False,
                show_progress="hidden",
            )
            gr.Markdown(
                "### Try it: the recall probe\nWrite key=value pairs (values 0–31) and a query after `?`. "
                "Add filler tokens between the pairs and the query to make the models wait."
            )
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
            pr_go.click(
                recall_probe,
                [pr_text, pr_gap],
                [pr_table, pr_fig, pr_sum],
                api_name="probe",
                concurrency_limit=4,
            )
            pr_text.submit(
                recall_probe, [pr_text, pr_gap], [pr_table, pr_fig, pr_sum], api_name=False
            )

        with gr.Tab("Language modelling"):
            lm_w = gr.Radio(
                [str(w) for w in lm_widths], value=str(max(lm_widths)), label="model width"
            )
            lm_text = gr.Markdown()
            with gr.Row():
                lm_f1 = gr.Plot(show_label=False, elem_id="arch-lm-steps")
                lm_f2 = gr.Plot(show_label=False)
            demo.load(lm_view, lm_w, [lm_f1, lm_f2, lm_text], api_name="lm")
            lm_w.input(
                lm_view, lm_w, [lm_f1, lm_f2, lm_text], api_name=False, show_progress="hidden"
            )

        with gr.Tab("Selective copy"):
            cp_text = gr.Markdown()
            cp_fig = gr.Plot(show_label=False)
            demo.load(copy_view, None, [cp_fig, cp_text], api_name="copy")

        with gr.Tab("Training speed"):
            tp_text = gr.Markdown()
            with gr.Row():
                tp_f1 = gr.Plot(show_label=False)
                tp_f2 = gr.Plot(show_label=False)
            demo.load(throughput_view, None, [tp_f1, tp_f2, tp_text], api_name="throughput")

        with gr.Tab("Inference & memory"):
            in_text = gr.Markdown()
            with gr.Row():
                in_f1 = gr.Plot(show_label=False, elem_id="arch-cache-bytes")
                in_f2 = gr.Plot(show_label=False)
            in_f3 = gr.Plot(show_label=False)
            demo.load(inference_view, None, [in_f1, in_f2, in_f3, in_text], api_name="decode_cost")
            gr.Markdown("### Real model shapes: KV cache vs SSM state")
            with gr.Row():
                st_ctx = gr.Textbox(
                    value=STATE_CONTEXTS, label="context lengths (comma-separated)", max_length=200
                )
                st_bpv = gr.Number(
                    value=2, label="bytes per value (2 = fp16/bf16)", minimum=0.5, maximum=8
                )
            st_text = gr.Markdown()
            with gr.Row():
                st_table = gr.Dataframe(interactive=False, wrap=True)
                st_fig = gr.Plot(show_label=False)
            for c in (st_ctx, st_bpv):
                c.change(
                    state_table,
                    [st_ctx, st_bpv],
                    [st_table, st_fig, st_text],
                    api_name=False,
                    show_progress="hidden",
                )
            demo.load(
                state_table, [st_ctx, st_bpv], [st_table, st_fig, st_text], api_name="state_table"
            )

        with gr.Tab("Gradient flow"):
            gf_which = gr.Radio(["trained", "init", "both"], value="both", label="models")
            gf_text = gr.Markdown()
            gf_fig = gr.Plot(show_label=False)
            demo.load(gradient_view, gf_which, [gf_fig, gf_text], api_name="gradients")
            gf_which.input(
                gradient_view, gf_which, [gf_fig, gf_text], api_name=False, show_progress="hidden"
            )

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
            rc_ins = [rc_T, rc_N, rc_sel]
            for c in rc_ins:
                c.input(
                    recurrence_view,
                    rc_ins,
                    [rc_table, rc_fig, rc_text],
                    api_name=False,
                    show_progress="hidden",
                )
            demo.load(recurrence_view, rc_ins, [rc_table, rc_fig, rc_text], api_name="recurrence")
            rc_btext = gr.Markdown()
            rc_btable = gr.Dataframe(
                headers=["T", "method", "work", "depth", "max |Δ| vs loop"], interactive=False
            )
            demo.load(
                recurrence_bundled, None, [rc_btable, rc_btext], api_name="recurrence_bundled"
            )

        with gr.Tab("Race"):
            gr.Markdown(
                "Train all three, one after another, on a small task — each at most "
                "the chosen steps and 20 s; one race at a time on this machine."
            )
            with gr.Row():
                ra_task = gr.Radio(
                    ["copy", "mqar"], value="copy", label="task (selective copy or MQAR)"
                )
                ra_steps = gr.Slider(10, 400, value=200, step=10, label="steps per model")
                ra_w = gr.Radio([16, 32, 64], value=32, label="width")
                ra_seq = gr.Radio([16, 32, 64], value=32, label="sequence length")
                ra_go = gr.Button("Start the race", variant="primary", elem_id="arch-race-go")
            ra_status = gr.Markdown(elem_id="arch-race-status")
            ra_fig = gr.Plot(show_label=False)
            ra_go.click(
                race,
                [ra_task, ra_steps, ra_w, ra_seq],
                [ra_fig, ra_status],
                api_name="race",
                concurrency_limit=2,
                concurrency_id="arch-race",
                time_limit=120,
            )
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo, warm=warm)
