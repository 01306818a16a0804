"""`python -m training architectures`: an LSTM, a state-space model (Mamba) and a transformer,
parameter-matched, trained by the project's own loop and measured side by side.

The course's claims, each a section of the results:
  lm          language modelling on the world corpus: held-out loss vs steps and vs wall-clock
              (two parameter-matched sizes);
  mqar        multi-query associative recall (Zoology, Arora et al. 2023): accuracy vs sequence
              length and number of key-value pairs, at several model widths — attention recalls
              anything in its context, a fixed-size state must hold every pair at once;
  copy        selective copying (Gu & Dao 2023, Table 1): content-aware selection;
  throughput  training tokens/s vs sequence length (the LSTM's loop over time vs parallel layers);
  inference   per-token decode latency, FLOPs per token and cache/state bytes vs context, the bytes
              read from each model's real cache object;
  gradients   ‖∂ loss at the last position / ∂ input embedding at distance t‖ — vanishing
              gradients, measured, at initialisation and after training;
  recurrence  the SSM recurrence computed three ways (sequential, parallel scan, convolution):
              equal outputs, work and depth counted (`shared.recurrence`).

Parameter matching (`matched_specs`): every model has the same width d (token embedding and
hidden size) and as many layers as brings its non-embedding parameters closest to the
transformer's (a Llama-style block ≈ 12·d², a Mamba block ≈ 6·d² + small, an LSTM layer 8·d²:
2 transformer layers ≈ 3–4 Mamba layers ≈ 3 LSTM layers). So "vs width" and "vs size" are the
same axis, and each point compares equal budgets of parameters.

Honest about the CPU: Mamba runs `mambapy`'s parallel scan in plain PyTorch (no fused kernel), so
its wall-clock numbers are many times what the CUDA kernel would give; FLOPs and bytes are
reported beside every timing. Every section is cached in the work directory (resumable); the
results directory is written atomically, with the MQAR models of the widest size for the
recall probe (safetensors).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import statistics
import tempfile
import threading
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import store
from .data.tasks import FILLER, IGNORE, mqar, selective_copy

RESULTS = store.RESULTS
ARCHS = ("transformer", "mamba", "lstm")          # display names, in the order every chart uses
FACTORY = {"transformer": "llama", "mamba": "mamba", "lstm": "lstm"}
MODELS_DIR = "models"


@dataclass(frozen=True)
class Plan:
    # language modelling on the world corpus (the bundled tokenizer), two matched sizes
    lm_widths: tuple[int, ...] = (64, 128)
    lm_layers: int = 2                    # transformer layers; the others are matched to it
    lm_seq: int = 128
    lm_steps: int = 200
    lm_batch: int = 16
    lm_lr: float = 2e-3
    lm_eval_interval: int = 25
    lm_eval_blocks: int = 64
    world: str = "cpu"
    # MQAR: one model per (architecture, width), trained on a mixture of pair counts at one length
    mqar_widths: tuple[int, ...] = (32, 64)
    mqar_layers: int = 2
    mqar_seq: int = 64
    mqar_vocab: int = 64
    mqar_train_pairs: tuple[int, ...] = (2, 4, 8)
    mqar_train_examples: int = 6000
    mqar_steps: int = 3000
    mqar_batch: int = 32
    mqar_lr: float = 1e-3
    mqar_min_lr_ratio: float = 1.0        # constant after warmup: the recall circuit appears suddenly, late
    mqar_eval_interval: int = 100
    mqar_target: float = 0.99             # early stop once the held-out accuracy reaches this
    mqar_eval_seqs: tuple[int, ...] = (16, 32, 64)
    mqar_eval_pairs: tuple[int, ...] = (1, 2, 4, 8, 16)
    mqar_eval_examples: int = 200
    # selective copying, at one width
    copy_width: int = 64
    copy_seq: int = 64
    copy_tokens: int = 8
    copy_vocab: int = 12
    copy_steps: int = 500
    copy_batch: int = 32
    copy_lr: float = 2e-3
    # throughput / inference / gradients (the larger LM size)
    throughput_seqs: tuple[int, ...] = (64, 128, 256, 512)
    throughput_batch: int = 8
    inference_contexts: tuple[int, ...] = (16, 64, 256, 1024)
    inference_new_tokens: int = 16
    repeats: int = 3
    gradient_seq: int = 128
    gradient_samples: int = 8
    recurrence_lengths: tuple[int, ...] = (64, 256, 1024)
    recurrence_state: int = 16
    seed: int = 0


PLANS = {
    "tiny": Plan(lm_widths=(32,), lm_layers=1, lm_seq=32, lm_steps=6, lm_batch=4, lm_eval_interval=3,
                 lm_eval_blocks=8, world="tiny",
                 mqar_widths=(32,), mqar_layers=1, mqar_seq=24, mqar_vocab=32, mqar_train_pairs=(2, 4),
                 mqar_train_examples=64, mqar_steps=6, mqar_batch=8, mqar_eval_interval=3,
                 mqar_eval_seqs=(12, 24), mqar_eval_pairs=(1, 2, 4), mqar_eval_examples=16,
                 copy_width=32, copy_seq=16, copy_tokens=3, copy_vocab=8, copy_steps=6, copy_batch=8,
                 throughput_seqs=(16, 32), throughput_batch=2, inference_contexts=(8, 32),
                 inference_new_tokens=4, repeats=1, gradient_seq=16, gradient_samples=2,
                 recurrence_lengths=(16, 64), recurrence_state=4),
    "cpu": Plan(),
    "gpu": Plan(lm_widths=(256, 512), lm_layers=4, lm_seq=512, lm_steps=2000, lm_batch=32, lm_lr=1e-3,
                lm_eval_interval=100, lm_eval_blocks=256, world="gpu",
                mqar_widths=(64, 128, 256, 512), mqar_seq=256, mqar_vocab=8192, mqar_train_pairs=(4, 8, 16, 32, 64),
                mqar_train_examples=100_000, mqar_steps=8000, mqar_batch=64, mqar_eval_seqs=(64, 128, 256),
                mqar_eval_pairs=(4, 8, 16, 32, 64), mqar_eval_examples=1000,
                copy_width=256, copy_seq=256, copy_tokens=16, copy_vocab=16, copy_steps=4000, copy_batch=64,
                throughput_seqs=(256, 512, 1024, 2048, 4096), throughput_batch=8,
                inference_contexts=(64, 256, 1024, 4096, 16384), inference_new_tokens=32, repeats=5,
                gradient_seq=512, gradient_samples=32, recurrence_lengths=(256, 1024, 4096, 16384)),
}


# --- models ------------------------------------------------------------------------------------

def _spec(arch: str, width: int, layers: int, vocab: int, n_ctx: int):
    from .models import ModelSpec
    return ModelSpec(arch=FACTORY[arch], n_layer=layers, d_model=width, n_head=max(1, width // 32),
                     n_ctx=n_ctx, vocab_size=vocab)


def nonembedding_params(spec) -> int:
    """Non-embedding parameters of `spec`, counted on a model built on the meta device."""
    return spec_summary(spec)["params_nonembedding"]


def matched_specs(width: int, layers: int, vocab: int, n_ctx: int) -> dict:
    """{arch: ModelSpec} at one width: the transformer has `layers` layers; Mamba and the LSTM get
    the layer count whose non-embedding parameters come closest to the transformer's."""
    if not (isinstance(width, int) and width >= 8 and width % 8 == 0):
        raise ValueError(f"width={width!r}: use a multiple of 8, at least 8")
    if not (isinstance(layers, int) and 1 <= layers <= 48):
        raise ValueError(f"layers={layers!r}: choose 1 to 48")
    ref = _spec("transformer", width, layers, vocab, n_ctx)
    target = nonembedding_params(ref)
    out = {"transformer": ref}
    for arch in ("mamba", "lstm"):
        per_layer = nonembedding_params(_spec(arch, width, 2, vocab, n_ctx)) - nonembedding_params(
            _spec(arch, width, 1, vocab, n_ctx))
        fixed = nonembedding_params(_spec(arch, width, 1, vocab, n_ctx)) - per_layer
        n = max(1, round((target - fixed) / per_layer))
        out[arch] = _spec(arch, width, n, vocab, n_ctx)
    return out


def spec_summary(spec) -> dict:
    """Architecture, layers, width and parameter counts of `spec` (built on the meta device: no memory)."""
    import torch
    from .models import build_model, param_counts
    with torch.device("meta"):
        counts = param_counts(build_model(spec))
    return {"arch": spec.arch, "n_layer": spec.n_layer, "d_model": spec.d_model, **counts}


def new_model(spec, seed: int = 0):
    from .models import build_model
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(falling back|deprecated).*")
        return build_model(spec, seed=seed)


def quiet_model_warnings():
    """The reference-kernel notices transformers prints once per Mamba op (known, said in the docs)."""
    import logging
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()


# --- tasks as data for the training loop ------------------------------------------------------

def mqar_mixture(n: int, seq: int, pairs: tuple[int, ...], vocab: int, seed: int):
    """n MQAR examples of length `seq`, the pair counts taking turns (shuffled by the loop)."""
    chunks = [mqar(max(1, n // len(pairs)), seq, p, vocab, seed=seed * 1000 + p) for p in pairs]
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def task_accuracy(model, inputs, labels, batch: int = 64) -> float:
    """Share of scored positions (labels ≠ IGNORE) where the model's most likely next token is the label."""
    import torch
    right = total = 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for i in range(0, len(inputs), batch):
            x = torch.as_tensor(inputs[i: i + batch], device=device)
            y = torch.as_tensor(labels[i: i + batch], device=device)
            pred = model(input_ids=x).logits.argmax(-1)
            mask = y != IGNORE
            right += int((pred[mask] == y[mask]).sum())
            total += int(mask.sum())
    return right / max(1, total)


def train_task(spec, data, *, steps: int, batch: int, lr: float, eval_interval: int, run_dir: Path,
               accuracy_on=None, target: float | None = None, seed: int = 0, max_time_s: float = 0.0,
               min_lr_ratio: float = 0.1,
               on_eval: Callable[[dict], None] | None = None, progress: bool = False,
               measure_mfu: bool = True) -> dict:
    """Train a fresh model of `spec` on `data` (a `Prepared`) with the project's loop; at every
    evaluation record the accuracy on `accuracy_on` = (inputs, labels) and stop early once it
    reaches `target`. Returns {"curve": [...], "final": {...}, "seconds", "model"}."""
    from .presets import TrainConfig
    from .pretrain import pretrain
    cfg = TrainConfig(steps=steps, micro_batch=batch, lr=lr, warmup_steps=max(1, steps // 20), min_lr_ratio=min_lr_ratio,
                      eval_interval=eval_interval, ckpt_interval=0, seed=seed, max_time_s=max_time_s)
    model = new_model(spec, seed=seed)
    curve: list[dict] = []

    def hook(m, record):
        extra = {}
        if accuracy_on is not None:
            extra["accuracy"] = round(task_accuracy(m, *accuracy_on), 4)
        curve.append({k: record[k] for k in ("step", "tokens", "eval_loss", "elapsed_s") if k in record} | extra)
        if on_eval:
            on_eval(curve[-1])
        if target is not None and extra.get("accuracy", 0.0) >= target and record["step"] > 0:
            extra["stop"] = True
        return extra
    t0 = time.perf_counter()
    summary = pretrain(model, data, cfg, Path(run_dir), resume=False, progress=progress, eval_hook=hook,
                       measure_mfu=measure_mfu)
    return {"curve": curve, "seconds": round(time.perf_counter() - t0, 2), "steps": summary["step"],
            "tokens_per_s": summary.get("tokens_per_s"), "model": summary["model"].eval()}


# --- sections ----------------------------------------------------------------------------------

def rechunk(blocks, seq: int, limit: int | None = None):
    """Re-cut packed blocks into blocks of seq + 1 tokens (same token stream)."""
    flat = blocks.reshape(-1)
    n = len(flat) // (seq + 1)
    out = flat[: n * (seq + 1)].view(n, seq + 1)
    return out[:limit] if limit else out


def lm_section(plan: Plan, work: Path, progress: bool) -> dict:
    """Held-out loss vs steps and wall-clock for each architecture at each matched size."""
    from .data.blocks import Prepared, bundled_world
    world = bundled_world(plan.world)
    data = Prepared(Path("."), world.tokenizer, rechunk(world.train, plan.lm_seq),
                    rechunk(world.eval, plan.lm_seq, plan.lm_eval_blocks), {})
    vocab = len(world.tokenizer)
    runs = []
    for width in plan.lm_widths:
        for arch, spec in matched_specs(width, plan.lm_layers, vocab, plan.lm_seq).items():
            r = train_task(spec, data, steps=plan.lm_steps, batch=plan.lm_batch, lr=plan.lm_lr,
                           eval_interval=plan.lm_eval_interval, run_dir=work / f"lm-{arch}-{width}",
                           seed=plan.seed, progress=progress)
            runs.append({"arch": arch, "width": width, "model": spec_summary(spec), "curve": r["curve"],
                         "seconds": r["seconds"], "tokens_per_s": r["tokens_per_s"],
                         "final_eval_loss": r["curve"][-1]["eval_loss"]})
    return {"seq": plan.lm_seq, "steps": plan.lm_steps, "batch": plan.lm_batch, "vocab": vocab, "runs": runs}


def mqar_eval_grid(plan: Plan) -> list[tuple[int, int]]:
    return [(s, p) for s in plan.mqar_eval_seqs for p in plan.mqar_eval_pairs
            if s >= 3 * p + 1 and p < plan.mqar_vocab // 2 - 1]


def mqar_section(plan: Plan, work: Path, progress: bool) -> dict:
    """One model per (architecture, width) trained on MQAR at plan.mqar_seq with a mixture of pair
    counts, evaluated on fresh examples over a grid of (length, pairs). Each trained model stays in
    its run directory (work/mqar-<arch>-<width>/resume); the widest become the recall probe's."""
    from .data.blocks import task_data
    x, y = mqar_mixture(plan.mqar_train_examples, plan.mqar_seq, plan.mqar_train_pairs, plan.mqar_vocab, plan.seed)
    ex, ey = mqar_mixture(plan.mqar_eval_examples, plan.mqar_seq, plan.mqar_train_pairs, plan.mqar_vocab,
                          plan.seed + 1)
    data = task_data(x, y, ex, ey)
    grid = mqar_eval_grid(plan)
    tests = {(s, p): mqar(plan.mqar_eval_examples, s, p, plan.mqar_vocab, seed=10_000 + 31 * s + p) for s, p in grid}
    runs = []
    for width in plan.mqar_widths:
        for arch, spec in matched_specs(width, plan.mqar_layers, plan.mqar_vocab, plan.mqar_seq).items():
            r = train_task(spec, data, steps=plan.mqar_steps, batch=plan.mqar_batch, lr=plan.mqar_lr,
                           eval_interval=plan.mqar_eval_interval, run_dir=work / f"mqar-{arch}-{width}",
                           accuracy_on=(ex, ey), target=plan.mqar_target, seed=plan.seed, progress=progress,
                           min_lr_ratio=plan.mqar_min_lr_ratio)
            acc = {f"{s}x{p}": round(task_accuracy(r["model"], *tests[(s, p)]), 4) for s, p in grid}
            runs.append({"arch": arch, "width": width, "model": spec_summary(spec), "curve": r["curve"],
                         "steps": r["steps"], "seconds": r["seconds"], "accuracy": acc,
                         "train_mix_accuracy": r["curve"][-1]["accuracy"]})
    return {"seq": plan.mqar_seq, "vocab": plan.mqar_vocab, "train_pairs": list(plan.mqar_train_pairs),
            "train_examples": plan.mqar_train_examples, "steps": plan.mqar_steps, "batch": plan.mqar_batch,
            "lr": plan.mqar_lr, "min_lr_ratio": plan.mqar_min_lr_ratio, "target": plan.mqar_target,
            "grid": [{"seq": s, "pairs": p, "key": f"{s}x{p}"} for s, p in grid], "runs": runs}


def copy_section(plan: Plan, work: Path, progress: bool) -> dict:
    """Selective copying at one width (as many layers as the MQAR models; the same early stop):
    accuracy on the copied tokens over training."""
    from .data.blocks import task_data
    n = 4000 if plan.copy_steps > 50 else 64
    x, y = selective_copy(n, plan.copy_seq, plan.copy_tokens, plan.copy_vocab, seed=plan.seed)
    ex, ey = selective_copy(256 if n > 64 else 16, plan.copy_seq, plan.copy_tokens, plan.copy_vocab,
                            seed=plan.seed + 1)
    data = task_data(x, y, ex, ey)
    runs = []
    for arch, spec in matched_specs(plan.copy_width, plan.mqar_layers, plan.copy_vocab, plan.copy_seq).items():
        r = train_task(spec, data, steps=plan.copy_steps, batch=plan.copy_batch, lr=plan.copy_lr,
                       eval_interval=max(1, plan.copy_steps // 8), run_dir=work / f"copy-{arch}",
                       accuracy_on=(ex, ey), target=plan.mqar_target, seed=plan.seed, progress=progress)
        runs.append({"arch": arch, "model": spec_summary(spec), "curve": r["curve"], "steps": r["steps"],
                     "seconds": r["seconds"], "accuracy": r["curve"][-1]["accuracy"]})
    return {"seq": plan.copy_seq, "tokens": plan.copy_tokens, "vocab": plan.copy_vocab,
            "chance": round(1 / (plan.copy_vocab - 2), 4), "runs": runs}


def _device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _median_time(fn, repeats: int) -> float:
    import torch
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def throughput_section(plan: Plan) -> dict:
    """Training tokens/s (forward + backward + AdamW step) vs sequence length, larger LM size."""
    import torch
    import torch.nn.functional as F
    width, vocab = max(plan.lm_widths), 2048
    rows = {a: [] for a in ARCHS}
    specs = matched_specs(width, plan.lm_layers, vocab, max(plan.throughput_seqs))
    for arch, spec in specs.items():
        model = new_model(spec).to(_device()).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for seq in plan.throughput_seqs:
            x = torch.randint(0, vocab, (plan.throughput_batch, seq + 1), device=_device())

            def step():
                logits = model(input_ids=x[:, :-1]).logits
                F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1)).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            s = _median_time(step, plan.repeats)
            from .models import train_flops_per_token
            rows[arch].append({"seq": seq, "tokens_per_s": round(plan.throughput_batch * seq / s, 1),
                               "step_s": round(s, 4), "flops_per_token": train_flops_per_token(model, seq)})
    return {"width": width, "batch": plan.throughput_batch, "models": {a: spec_summary(s) for a, s in specs.items()},
            "rows": rows}


def inference_section(plan: Plan) -> dict:
    """Per-token decode latency, FLOPs per token and cache bytes (read from the real cache object)
    vs context length, for each architecture at the larger LM size; plus one-token decoding with
    the cache checked against a full forward pass."""
    import torch
    from .generate import cache_bytes
    from .models import forward_flops_per_token
    width, vocab = max(plan.lm_widths), 2048
    specs = matched_specs(width, plan.lm_layers, vocab, max(plan.inference_contexts) + plan.inference_new_tokens + 1)
    out = {}
    for arch, spec in specs.items():
        model = new_model(spec).to(_device()).eval()
        rows = []
        for ctx in plan.inference_contexts:
            prompt = torch.randint(0, vocab, (1, ctx), device=_device())
            with torch.inference_mode():
                first = model(input_ids=prompt, use_cache=True)
                nbytes = cache_bytes(first.cache)

                # every timed decode starts from the same prefix: caches are updated in place, so
                # each call gets its own copy, made before the clock starts
                fresh = [copy.deepcopy(first.cache) for _ in range(plan.repeats + 1)]

                def decode():
                    cache, tok = fresh.pop(), prompt[:, -1:]
                    for _ in range(plan.inference_new_tokens):
                        o = model(input_ids=tok, cache=cache, use_cache=True)
                        cache, tok = o.cache, o.logits[:, -1:].argmax(-1)
                    return cache
                s = _median_time(decode, plan.repeats)
            rows.append({"context": ctx, "ms_per_token": round(s * 1e3 / plan.inference_new_tokens, 3),
                         "cache_bytes": nbytes, "flops_per_token": forward_flops_per_token(model, ctx + 1)})
        out[arch] = {"model": spec_summary(spec), "rows": rows, "cache_check": cache_equivalence(model)}
    return {"width": width, "new_tokens": plan.inference_new_tokens, "archs": out}


def cache_equivalence(model, prompt: int = 12, steps: int = 6, seed: int = 0) -> float:
    """Max |logit difference| between decoding `steps` tokens one at a time with the model's cache
    and one full forward pass over the same tokens."""
    import torch
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, model.config.vocab_size, (1, prompt + steps), generator=g).to(next(model.parameters()).device)
    with torch.inference_mode():
        full = model(input_ids=x).logits
        o = model(input_ids=x[:, :prompt], use_cache=True)
        worst = float((o.logits - full[:, :prompt]).abs().max())
        cache = o.cache
        for t in range(prompt, prompt + steps):
            o = model(input_ids=x[:, t:t + 1], cache=cache, use_cache=True)
            cache = o.cache
            worst = max(worst, float((o.logits[:, -1] - full[:, t]).abs().max()))
    return worst


def gradient_norms(model, inputs) -> list[float]:
    """For each distance t = 0 … T−1 back from the last position: the mean over sequences of
    ‖∂ loss(last position) / ∂ e_{T−1−t}‖, e the input embeddings (the loss: cross-entropy of the
    last position's prediction of its true next token)."""
    import torch.nn.functional as F
    model.eval()
    emb = model.get_input_embeddings()
    x, target = inputs[:, :-1], inputs[:, -1]
    e = emb(x).detach().requires_grad_(True)
    logits = model(inputs_embeds=e).logits
    F.cross_entropy(logits[:, -1].float(), target, reduction="sum").backward()
    g = e.grad.norm(dim=-1).mean(0)          # [T]
    model.zero_grad(set_to_none=True)
    return [float(v) for v in g.flip(0)]


def load_trained(spec, run_dir: Path):
    """The model a `train_task` run left in `run_dir/resume` (hash-checked safetensors)."""
    from safetensors.torch import load_model
    path = Path(run_dir) / "resume"
    store.verify(path)
    model = new_model(spec)
    load_model(model, str(path / "model.safetensors"))
    return model.eval()


def gradient_section(plan: Plan, work: Path) -> dict:
    """Gradient norm vs distance for each architecture at the larger LM size, at initialisation
    and after the LM section's training (its models are read back from their run directories)."""
    from .data.blocks import bundled_world
    world = bundled_world(plan.world)
    blocks = rechunk(world.eval, plan.gradient_seq)[: plan.gradient_samples]
    width = max(plan.lm_widths)
    out = {}
    for arch, spec in matched_specs(width, plan.lm_layers, len(world.tokenizer), plan.lm_seq).items():
        fresh = new_model(replace(spec, n_ctx=max(spec.n_ctx, plan.gradient_seq)))
        trained = load_trained(spec, work / f"lm-{arch}-{width}") if spec.n_ctx >= plan.gradient_seq else None
        out[arch] = {"init": gradient_norms(fresh, blocks),
                     "trained": gradient_norms(trained, blocks) if trained is not None else None,
                     "model": spec_summary(spec)}
    return {"seq": plan.gradient_seq, "samples": len(blocks), "archs": out}


def recurrence_section(plan: Plan) -> dict:
    from shared.recurrence import convolution, parallel_scan, random_system, sequential
    rows = []
    for T in plan.recurrence_lengths:
        system = random_system(T, plan.recurrence_state, selective=False, seed=plan.seed)
        row = {"length": T}
        ref = None
        for name, fn in (("sequential", sequential), ("parallel_scan", parallel_scan), ("convolution", convolution)):
            t0 = time.perf_counter()
            y, cost = fn(*system)
            row[name] = {"seconds": round(time.perf_counter() - t0, 5), **cost}
            if ref is None:
                ref = y
            row[name]["max_abs_diff"] = float(np.abs(y - ref).max())
        sel = random_system(T, plan.recurrence_state, selective=True, seed=plan.seed)
        ys, _ = sequential(*sel)
        yp, _ = parallel_scan(*sel)
        row["selective_scan_diff"] = float(np.abs(ys - yp).max())
        rows.append(row)
    return {"state": plan.recurrence_state, "rows": rows}


# --- the build ---------------------------------------------------------------------------------

SECTIONS = ("recurrence", "inference", "throughput", "lm", "gradients", "mqar", "copy")


SECTION_FIELDS = {   # the plan fields each section's cached result depends on
    "recurrence": ("recurrence_", "seed"),
    "inference": ("inference_", "lm_widths", "lm_layers", "repeats"),
    "throughput": ("throughput_", "lm_widths", "lm_layers", "repeats"),
    "lm": ("lm_", "world", "seed"),
    "gradients": ("gradient_", "lm_", "world", "seed"),
    "mqar": ("mqar_", "seed"),
    "copy": ("copy_", "mqar_layers", "mqar_target", "seed"),
}


def _key(section: str, plan: Plan) -> str:
    """A section's cache key: its own settings only, so changing one section's plan reruns that
    section alone (and the gradients when the LM runs change)."""
    fields = {k: v for k, v in asdict(plan).items() if any(k == f or (f.endswith("_") and k.startswith(f))
                                                            for f in SECTION_FIELDS[section])}
    return hashlib.sha256(json.dumps([section, fields], sort_keys=True).encode()).hexdigest()[:16]


def build(preset: str = "cpu", out: str | Path | None = None, *, work_dir: str | Path | None = None,
          progress: bool = True) -> dict:
    """Run every section (each cached in the work directory: a rerun resumes after the last
    finished one) and write the results directory atomically: results.json and the MQAR models
    of the widest size (models/<arch>.safetensors + .json spec) for the recall probe."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    work = Path(work_dir or f"runs/architectures-{preset}")
    out = Path(out or (store.BUNDLED_DIR / "architectures" if preset == "cpu" else work / "results"))
    with store.run_lock(work):
        return _build(preset, plan, out, work, progress)


def _build(preset: str, plan: Plan, out: Path, work: Path, progress: bool) -> dict:
    import torch
    from tqdm import tqdm
    from .quiet import OtherLoad
    quiet_model_warnings()
    t0 = time.perf_counter()
    runs = {
        "recurrence": lambda: recurrence_section(plan),
        "inference": lambda: inference_section(plan),
        "throughput": lambda: throughput_section(plan),
        "lm": lambda: lm_section(plan, work, progress),
        "gradients": lambda: gradient_section(plan, work),
        "mqar": lambda: mqar_section(plan, work, progress),
        "copy": lambda: copy_section(plan, work, progress),
    }
    results, seconds, other = {}, {}, {}
    bar = tqdm(SECTIONS, desc="architectures", unit="section", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        cached = work / f"{name}.json"
        if cached.is_file():
            doc = json.loads(cached.read_text())
            if doc.get("key") == _key(name, plan):
                results[name], seconds[name], other[name] = doc["result"], doc["seconds"], doc["other_cores"]
                continue
        with OtherLoad() as load:
            results[name] = runs[name]()
        seconds[name], other[name] = round(time.perf_counter() - load.t0, 1), round(load.cores, 3)
        store.write_text_atomic(cached, json.dumps({"key": _key(name, plan), "seconds": seconds[name],
                                                    "other_cores": other[name], "result": results[name]}) + "\n")
    width = max(plan.mqar_widths)
    probe_specs = matched_specs(width, plan.mqar_layers, plan.mqar_vocab, plan.mqar_seq)
    body = {"rebuild": f"python -m training architectures --preset {preset}", "preset": preset,
            "plan": asdict(plan), "machine": {"cpus": os.cpu_count() or 1, "torch": torch.__version__,
                                              "torch_threads": torch.get_num_threads(),
                                              "cuda": torch.cuda.is_available()},
            "section_seconds": seconds, "section_other_cores": other,
            "seconds": round(time.perf_counter() - t0, 1),
            "probe": {"width": width, "seq": plan.mqar_seq, "vocab": plan.mqar_vocab,
                      "models": {a: asdict(s) for a, s in probe_specs.items()}},
            **results}

    models = {}
    for arch in probe_specs:
        src = work / f"mqar-{arch}-{width}" / "resume"
        store.verify(src)
        models[f"{MODELS_DIR}/{arch}.safetensors"] = src / "model.safetensors"
    store.write_results(out, body, {"kind": "architectures", "preset": preset, "rebuild": body["rebuild"],
                                    "machine": body["machine"]}, files=models)
    body["out"] = str(out)
    return body


def mqar_at_longest(results: dict) -> dict:
    """{arch: accuracy} at the longest evaluated length with the most pairs the models were
    trained on (larger counts in the grid test generalisation beyond training), widest models."""
    m = results["mqar"]
    seq = max(g["seq"] for g in m["grid"])
    trained = max(m["train_pairs"])
    pairs = max(g["pairs"] for g in m["grid"] if g["seq"] == seq and g["pairs"] <= trained)
    width = max(r["width"] for r in m["runs"])
    key = f"{seq}x{pairs}"
    return {"seq": seq, "pairs": pairs, "width": width,
            "accuracy": {r["arch"]: r["accuracy"][key] for r in m["runs"] if r["width"] == width}}


def headline(results: dict) -> dict:
    """The numbers to print after a build."""
    longest = mqar_at_longest(results)
    lm = {f"{r['arch']}-{r['width']}": r["final_eval_loss"] for r in results["lm"]["runs"]}
    inf = results["inference"]["archs"]
    return {"out": results.get("out"), "seconds": results.get("seconds"),
            "mqar_longest": longest,
            "mqar_ordering": sorted(longest["accuracy"], key=lambda a: -longest["accuracy"][a]),
            "lm_final_eval_loss": lm,
            "copy_accuracy": {r["arch"]: r["accuracy"] for r in results["copy"]["runs"]},
            "cache_bytes_at": {a: [inf[a]["rows"][0]["cache_bytes"], inf[a]["rows"][-1]["cache_bytes"]] for a in inf},
            "cache_check_max_diff": {a: inf[a]["cache_check"] for a in inf}}


def read_results(path: str | Path | None = None) -> dict:
    """The bundled architectures results (hash-checked), or {} when there are none."""
    return store.read_results("architectures", path)


# --- the recall probe --------------------------------------------------------------------------

MAX_KEY_CHARS = 16


def parse_probe(text: str, vocab: int, seq: int) -> tuple[list[tuple[str, int]], str]:
    """'A=3, B=17, C=5 ? B' → ([("A", 3), ("B", 17), ("C", 5)], "B"). Keys are words (letters,
    digits, _), values whole numbers 0 … vocab/2 − 1; pairs are separated by commas, semicolons or
    spaces; the query key follows a '?'. Raises a one-line ValueError saying what to fix."""
    import re
    if not isinstance(text, str) or not text.strip():
        raise ValueError("write some pairs and a query, e.g. 'A=3, B=17, C=5 ? B'")
    if text.count("?") != 1:
        raise ValueError("put exactly one '?' before the key to ask about, e.g. 'A=3, B=17 ? A'")
    body, query = (part.strip() for part in text.split("?"))
    top = vocab // 2 - 1
    pairs: list[tuple[str, int]] = []
    for item in filter(None, re.split(r"[,;\s]+", re.sub(r"\s*([=:])\s*", r"\1", body))):
        m = re.fullmatch(r"(\w+)[=:](-?\w+)", item)
        if not m:
            raise ValueError(f"{item!r} is not a pair: write key=value, e.g. A=3")
        key, value = m.group(1), m.group(2)
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"key {key[:20]!r}… is too long: use at most {MAX_KEY_CHARS} characters")
        if not re.fullmatch(r"\d+", value) or int(value) > top:
            raise ValueError(f"value {value!r} of key {key!r}: use a whole number from 0 to {top}")
        if any(k == key for k, _ in pairs):
            raise ValueError(f"key {key!r} appears twice: MQAR keys are distinct, give each key one value")
        pairs.append((key, int(value)))
    if not pairs:
        raise ValueError("no pairs before the '?': write key=value pairs, e.g. 'A=3, B=17 ? A'")
    if not re.fullmatch(r"\w+", query or ""):
        raise ValueError("after the '?' write one key from the pairs, e.g. '? A'")
    if query not in dict(pairs):
        raise ValueError(f"the query {query!r} is not among the keys ({', '.join(k for k, _ in pairs)})")
    if len(pairs) > top:
        raise ValueError(f"{len(pairs)} pairs: these models know {top} distinct keys, use at most that many")
    if 2 * len(pairs) + 1 > seq:
        raise ValueError(f"{len(pairs)} pairs and a query take {2 * len(pairs) + 1} tokens, beyond the "
                         f"{seq} the models were trained on: use at most {(seq - 1) // 2} pairs")
    return pairs, query


def probe_tokens(pairs: list[tuple[str, int]], query: str, vocab: int, gap: int = 0) -> list[int]:
    """The token sequence the MQAR models read: key i → token i + 1 (in order of appearance),
    value v → token vocab/2 + v; then `gap` filler tokens, then the queried key."""
    ids = {k: i + 1 for i, (k, _) in enumerate(pairs)}
    toks = [t for k, v in pairs for t in (ids[k], vocab // 2 + v)]
    return toks + [FILLER] * gap + [ids[query]]


def probe(models: dict, text: str, vocab: int, seq: int, gap: int = 0) -> dict:
    """Ask each model for the value of the queried key. Returns {"tokens": [...], "expected": v,
    "answers": {arch: {"answer": value or None, "token": id, "confidence": p, "p_expected": p}}}."""
    import torch
    pairs, query = parse_probe(text, vocab, seq)
    if isinstance(gap, bool) or not (isinstance(gap, int) and gap >= 0):
        raise ValueError(f"gap={gap!r}: use a whole number of filler tokens, 0 or more")
    toks = probe_tokens(pairs, query, vocab, gap)
    if len(toks) > seq:
        raise ValueError(f"the probe is {len(toks)} tokens, beyond the {seq} the models were trained on: "
                         f"shorten the gap to at most {seq - len(toks) + gap}")
    expected = dict(pairs)[query]
    answers = {}
    with torch.inference_mode():
        for arch, model in models.items():
            p = torch.softmax(model(input_ids=torch.tensor([toks])).logits[0, -1].float(), -1)
            tok = int(p.argmax())
            answers[arch] = {"answer": tok - vocab // 2 if tok >= vocab // 2 else None, "token": tok,
                             "confidence": round(float(p[tok]), 4),
                             "p_expected": round(float(p[vocab // 2 + expected]), 4)}
    return {"tokens": toks, "expected": expected, "query": query, "answers": answers}


_probe_models: dict = {}


def load_probe_models(path: str | Path | None = None) -> tuple[dict, dict]:
    """The bundled MQAR models (hash-checked, safetensors) and the probe's settings
    {"width", "seq", "vocab", "models"}; loaded once per process."""
    from safetensors.torch import load_model
    from .models import ModelSpec
    root = Path(path) if path else store.resolve("architectures", allow_hub=False)
    key = str(root.resolve())
    if key not in _probe_models:
        results = read_results(root)
        if not results:
            raise store.CheckpointError(f"{root}: no architectures results; build them with "
                                        f"`{store.BUILD_COMMANDS['architectures']}`")
        info = results["probe"]
        models = {}
        for arch in ARCHS:
            m = new_model(ModelSpec(**info["models"][arch]))
            load_model(m, str(root / MODELS_DIR / f"{arch}.safetensors"))
            models[arch] = m.eval()
        _probe_models[key] = (models, info)
    return _probe_models[key]


# --- the live race -----------------------------------------------------------------------------

RACE_TASKS = ("mqar", "copy")
RACE_MAX_STEPS = 400
RACE_SECONDS_PER_MODEL = 20.0
_race_lock = threading.Lock()


@dataclass(frozen=True)
class Race:
    task: str = "copy"
    steps: int = 200
    width: int = 32
    seq: int = 32
    seed: int = 0
    eval_every: int = 20

    def validate(self) -> None:
        if self.task not in RACE_TASKS:
            raise ValueError(f"task={self.task!r}: choose {' or '.join(RACE_TASKS)}")
        if isinstance(self.steps, bool) or not (isinstance(self.steps, int) and 10 <= self.steps <= RACE_MAX_STEPS):
            raise ValueError(f"steps={self.steps!r}: choose 10 to {RACE_MAX_STEPS}")
        if self.width not in (16, 32, 64):
            raise ValueError(f"width={self.width!r}: choose 16, 32 or 64")
        if self.seq not in (16, 32, 64):
            raise ValueError(f"sequence length={self.seq!r}: choose 16, 32 or 64")
        if not (isinstance(self.eval_every, int) and 1 <= self.eval_every <= self.steps):
            raise ValueError(f"eval_every={self.eval_every!r}: choose 1 to steps ({self.steps})")
        if isinstance(self.seed, bool) or not (isinstance(self.seed, int) and 0 <= self.seed < 2**31):
            raise ValueError(f"seed={self.seed!r}: use a whole number from 0 to 2^31 - 1")


def race_data(r: Race):
    from .data.blocks import task_data
    if r.task == "mqar":
        pairs = (1, 2) if r.seq <= 32 else (2, 4)   # learnable within a race's few hundred steps
        x, y = mqar_mixture(2000, r.seq, pairs, 32, r.seed)
        ex, ey = mqar_mixture(128, r.seq, pairs, 32, r.seed + 1)
        return task_data(x, y, ex, ey), 32
    tokens = max(2, r.seq // 8)
    x, y = selective_copy(2000, r.seq, tokens, 10, seed=r.seed)
    ex, ey = selective_copy(128, r.seq, tokens, 10, seed=r.seed + 1)
    return task_data(x, y, ex, ey), 10


def live_race(settings: dict) -> Iterator[dict]:
    """Train the three architectures one after another on a small task, each at most
    `steps` steps and RACE_SECONDS_PER_MODEL seconds; one race at a time. Yields {"kind":
    "progress", "arch", "point": {step, accuracy, eval_loss, elapsed_s}} at every evaluation, then
    {"kind": "done", "curves": {arch: [...]}, "stopped": {arch: None | "time limit"}, "models": …}
    or {"kind": "error", "text"}. Bad settings raise a one-line ValueError at once."""
    from . import live
    known = {f.name for f in Race.__dataclass_fields__.values()}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown race setting(s): {', '.join(sorted(unknown))}")
    r = Race(**settings)
    r.validate()

    def work(emit, stop):
        quiet_model_warnings()
        data, vocab = race_data(r)
        accuracy_on = (data.eval[:, :-1], data.eval_labels)
        curves, stopped, models = {}, {}, {}
        with tempfile.TemporaryDirectory(prefix="race-") as tmp:
            for arch, spec in matched_specs(r.width, 1, vocab, r.seq).items():
                if stop.is_set():
                    break
                curves[arch] = []

                def on_eval(point, arch=arch):
                    curves[arch].append(point)
                    emit({"kind": "progress", "arch": arch, "point": point, "steps": r.steps})
                    if stop.is_set():
                        raise InterruptedError("stopped")
                try:
                    res = train_task(spec, data, steps=r.steps, batch=16, lr=3e-3, eval_interval=r.eval_every,
                                     run_dir=Path(tmp) / arch, accuracy_on=accuracy_on, seed=r.seed,
                                     max_time_s=RACE_SECONDS_PER_MODEL, on_eval=on_eval, measure_mfu=False)
                except InterruptedError:
                    break
                stopped[arch] = None if res["steps"] >= r.steps else "time limit"
                models[arch] = spec_summary(spec)
        return {"curves": curves, "stopped": stopped, "models": models, "settings": asdict(r)}

    return live.stream(_race_lock, work, busy="a race is already running; wait for it to finish "
                       f"({3 * RACE_SECONDS_PER_MODEL:.0f} s at most)", name="architectures-race")
