"""The build's sections, one function each: LM, MQAR, selective copy, throughput, inference
cost, gradient flow, the SSM recurrence. Each returns its JSON-able result."""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from shared.recurrence import convolution, parallel_scan, random_system, sequential

from .. import store
from ..data.blocks import Prepared, bundled_world, task_data
from ..data.tasks import mqar, selective_copy
from ..models import forward_flops_per_token, train_flops_per_token
from .plan import ARCHS, Plan
from .specs import matched_specs, new_model, spec_summary
from .tasks import mqar_mixture, task_accuracy, train_task


def rechunk(blocks, seq: int, limit: int | None = None):
    """Re-cut packed blocks into blocks of seq + 1 tokens (same token stream)."""
    flat = blocks.reshape(-1)
    n = len(flat) // (seq + 1)
    out = flat[: n * (seq + 1)].view(n, seq + 1)
    return out[:limit] if limit else out


def lm_section(plan: Plan, work: Path, progress: bool) -> dict:
    """Held-out loss vs steps and wall-clock for each architecture at each matched size."""
    world = bundled_world(plan.world)
    data = Prepared(
        Path("."),
        world.tokenizer,
        rechunk(world.train, plan.lm_seq),
        rechunk(world.eval, plan.lm_seq, plan.lm_eval_blocks),
        {},
    )
    vocab = len(world.tokenizer)
    runs = []
    for width in plan.lm_widths:
        for arch, spec in matched_specs(width, plan.lm_layers, vocab, plan.lm_seq).items():
            r = train_task(
                spec,
                data,
                steps=plan.lm_steps,
                batch=plan.lm_batch,
                lr=plan.lm_lr,
                eval_interval=plan.lm_eval_interval,
                run_dir=work / f"lm-{arch}-{width}",
                seed=plan.seed,
                progress=progress,
            )
            runs.append(
                {
                    "arch": arch,
                    "width": width,
                    "model": spec_summary(spec),
                    "curve": r["curve"],
                    "seconds": r["seconds"],
                    "tokens_per_s": r["tokens_per_s"],
                    "final_eval_loss": r["curve"][-1]["eval_loss"],
                }
            )
    return {
        "seq": plan.lm_seq,
        "steps": plan.lm_steps,
        "batch": plan.lm_batch,
        "vocab": vocab,
        "runs": runs,
    }


def mqar_eval_grid(plan: Plan) -> list[tuple[int, int]]:
    return [
        (s, p)
        for s in plan.mqar_eval_seqs
        for p in plan.mqar_eval_pairs
        if s >= 3 * p + 1 and p < plan.mqar_vocab // 2 - 1
    ]


def mqar_section(plan: Plan, work: Path, progress: bool) -> dict:
    """One model per (architecture, width) trained on MQAR at plan.mqar_seq with a mixture of pair
    counts, evaluated on fresh examples over a grid of (length, pairs). Each trained model stays in
    its run directory (work/mqar-<arch>-<width>/resume); the widest become the recall probe's."""
    x, y = mqar_mixture(
        plan.mqar_train_examples, plan.mqar_seq, plan.mqar_train_pairs, plan.mqar_vocab, plan.seed
    )
    ex, ey = mqar_mixture(
        plan.mqar_eval_examples,
        plan.mqar_seq,
        plan.mqar_train_pairs,
        plan.mqar_vocab,
        plan.seed + 1,
    )
    data = task_data(x, y, ex, ey)
    grid = mqar_eval_grid(plan)
    tests = {
        (s, p): mqar(plan.mqar_eval_examples, s, p, plan.mqar_vocab, seed=10_000 + 31 * s + p)
        for s, p in grid
    }
    runs = []
    for width in plan.mqar_widths:
        for arch, spec in matched_specs(
            width, plan.mqar_layers, plan.mqar_vocab, plan.mqar_seq
        ).items():
            r = train_task(
                spec,
                data,
                steps=plan.mqar_steps,
                batch=plan.mqar_batch,
                lr=plan.mqar_lr,
                eval_interval=plan.mqar_eval_interval,
                run_dir=work / f"mqar-{arch}-{width}",
                accuracy_on=(ex, ey),
                target=plan.mqar_target,
                seed=plan.seed,
                progress=progress,
                min_lr_ratio=plan.mqar_min_lr_ratio,
            )
            acc = {f"{s}x{p}": round(task_accuracy(r["model"], *tests[(s, p)]), 4) for s, p in grid}
            runs.append(
                {
                    "arch": arch,
                    "width": width,
                    "model": spec_summary(spec),
                    "curve": r["curve"],
                    "steps": r["steps"],
                    "seconds": r["seconds"],
                    "accuracy": acc,
                    "train_mix_accuracy": r["curve"][-1]["accuracy"],
                }
            )
    return {
        "seq": plan.mqar_seq,
        "vocab": plan.mqar_vocab,
        "train_pairs": list(plan.mqar_train_pairs),
        "train_examples": plan.mqar_train_examples,
        "steps": plan.mqar_steps,
        "batch": plan.mqar_batch,
        "lr": plan.mqar_lr,
        "min_lr_ratio": plan.mqar_min_lr_ratio,
        "target": plan.mqar_target,
        "grid": [{"seq": s, "pairs": p, "key": f"{s}x{p}"} for s, p in grid],
        "runs": runs,
    }


def copy_section(plan: Plan, work: Path, progress: bool) -> dict:
    """Selective copying at one width (as many layers as the MQAR models; the same early stop):
    accuracy on the copied tokens over training."""
    n = 4000 if plan.copy_steps > 50 else 64
    x, y = selective_copy(n, plan.copy_seq, plan.copy_tokens, plan.copy_vocab, seed=plan.seed)
    ex, ey = selective_copy(
        256 if n > 64 else 16, plan.copy_seq, plan.copy_tokens, plan.copy_vocab, seed=plan.seed + 1
    )
    data = task_data(x, y, ex, ey)
    runs = []
    for arch, spec in matched_specs(
        plan.copy_width, plan.mqar_layers, plan.copy_vocab, plan.copy_seq
    ).items():
        r = train_task(
            spec,
            data,
            steps=plan.copy_steps,
            batch=plan.copy_batch,
            lr=plan.copy_lr,
            eval_interval=max(1, plan.copy_steps // 8),
            run_dir=work / f"copy-{arch}",
            accuracy_on=(ex, ey),
            target=plan.mqar_target,
            seed=plan.seed,
            progress=progress,
        )
        runs.append(
            {
                "arch": arch,
                "model": spec_summary(spec),
                "curve": r["curve"],
                "steps": r["steps"],
                "seconds": r["seconds"],
                "accuracy": r["curve"][-1]["accuracy"],
            }
        )
    return {
        "seq": plan.copy_seq,
        "tokens": plan.copy_tokens,
        "vocab": plan.copy_vocab,
        "chance": round(1 / (plan.copy_vocab - 2), 4),
        "runs": runs,
    }


def _device():
    import torch  # torch inside the functions: the app imports this package at start, torch-free

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

            def step(model=model, x=x, opt=opt):  # timed at once, within this iteration
                logits = model(input_ids=x[:, :-1]).logits
                F.cross_entropy(logits.reshape(-1, vocab), x[:, 1:].reshape(-1)).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)

            s = _median_time(step, plan.repeats)
            rows[arch].append(
                {
                    "seq": seq,
                    "tokens_per_s": round(plan.throughput_batch * seq / s, 1),
                    "step_s": round(s, 4),
                    "flops_per_token": train_flops_per_token(model, seq),
                }
            )
    return {
        "width": width,
        "batch": plan.throughput_batch,
        "models": {a: spec_summary(s) for a, s in specs.items()},
        "rows": rows,
    }


def inference_section(plan: Plan) -> dict:
    """Per-token decode latency, FLOPs per token and cache bytes (read from the real cache object)
    vs context length, for each architecture at the larger LM size; plus one-token decoding with
    the cache checked against a full forward pass."""
    import torch

    from ..generate import cache_bytes

    width, vocab = max(plan.lm_widths), 2048
    specs = matched_specs(
        width, plan.lm_layers, vocab, max(plan.inference_contexts) + plan.inference_new_tokens + 1
    )
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

                def decode(model=model, prompt=prompt, fresh=fresh):  # timed at once
                    cache, tok = fresh.pop(), prompt[:, -1:]
                    for _ in range(plan.inference_new_tokens):
                        o = model(input_ids=tok, cache=cache, use_cache=True)
                        cache, tok = o.cache, o.logits[:, -1:].argmax(-1)
                    return cache

                s = _median_time(decode, plan.repeats)
            rows.append(
                {
                    "context": ctx,
                    "ms_per_token": round(s * 1e3 / plan.inference_new_tokens, 3),
                    "cache_bytes": nbytes,
                    "flops_per_token": forward_flops_per_token(model, ctx + 1),
                }
            )
        out[arch] = {
            "model": spec_summary(spec),
            "rows": rows,
            "cache_check": cache_equivalence(model),
        }
    return {"width": width, "new_tokens": plan.inference_new_tokens, "archs": out}


def cache_equivalence(model, prompt: int = 12, steps: int = 6, seed: int = 0) -> float:
    """Max |logit difference| between decoding `steps` tokens one at a time with the model's cache
    and one full forward pass over the same tokens."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, model.config.vocab_size, (1, prompt + steps), generator=g).to(
        next(model.parameters()).device
    )
    with torch.inference_mode():
        full = model(input_ids=x).logits
        o = model(input_ids=x[:, :prompt], use_cache=True)
        worst = float((o.logits - full[:, :prompt]).abs().max())
        cache = o.cache
        for t in range(prompt, prompt + steps):
            o = model(input_ids=x[:, t : t + 1], cache=cache, use_cache=True)
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
    g = e.grad.norm(dim=-1).mean(0)  # [T]
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
    world = bundled_world(plan.world)
    blocks = rechunk(world.eval, plan.gradient_seq)[: plan.gradient_samples]
    width = max(plan.lm_widths)
    out = {}
    for arch, spec in matched_specs(
        width, plan.lm_layers, len(world.tokenizer), plan.lm_seq
    ).items():
        fresh = new_model(replace(spec, n_ctx=max(spec.n_ctx, plan.gradient_seq)))
        trained = (
            load_trained(spec, work / f"lm-{arch}-{width}")
            if spec.n_ctx >= plan.gradient_seq
            else None
        )
        out[arch] = {
            "init": gradient_norms(fresh, blocks),
            "trained": gradient_norms(trained, blocks) if trained is not None else None,
            "model": spec_summary(spec),
        }
    return {"seq": plan.gradient_seq, "samples": len(blocks), "archs": out}


def recurrence_section(plan: Plan) -> dict:
    rows = []
    for T in plan.recurrence_lengths:
        system = random_system(T, plan.recurrence_state, selective=False, seed=plan.seed)
        row = {"length": T}
        ref = None
        for name, fn in (
            ("sequential", sequential),
            ("parallel_scan", parallel_scan),
            ("convolution", convolution),
        ):
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
