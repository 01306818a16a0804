"""Training throughput of the project's loop (`training.pretrain.pretrain`) against a bare PyTorch
loop on the same model, batch and data: how much do warmup/cosine, clipping, metrics and the
`accelerate` wrapping cost per step?

The bare loop is the course's four lines and nothing else: forward, F.cross_entropy, backward,
AdamW step, zero_grad (batches are gathered before its clock starts). Both loops run the `cpu`
preset's model (vocab from the prepared tokenizer) at the preset's micro-batch and context,
interleaved A B A B ... so that drift in the machine's speed hits both alike.

Our loop's time per round is read from its own metrics.jsonl (`elapsed_s` at the first and last
timed step), so it covers every line of the loop body: data indexing, clipping, scheduler, the
loss read-back, the JSON log line. Eval and checkpoints are pushed out of reach (huge intervals)
and progress is off. Each call of `pretrain` also builds an Accelerator, measures the matmul peak
(~1 s) and evaluates once at step 0 (on one micro-batch here); that per-call setup is reported
apart, not counted in tokens/s.

    python benchmarks/loop_overhead.py            # the real measurement (~3 min on 2 cores)
    python benchmarks/loop_overhead.py --quick    # a smoke check (seconds)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from common import ROOT, OtherLoad, median, wait_quiet, write

TARGET_OVERHEAD = 0.10  # our loop may be at most 10% slower than the bare loop


def load_data(data_dir: Path | None, preset, tmp: Path):
    """The cpu preset's prepared blocks: reuse a run's data dir read-only, else build them in tmp."""
    from training.data.blocks import load_prepared, prepare

    default = ROOT / "runs" / f"base-{preset.name}" / "data"
    data_dir = data_dir or (default if (default / "manifest.json").is_file() else None)
    if data_dir is not None:
        return load_prepared(data_dir), str(data_dir)
    return prepare(tmp, preset), "prepared in a temporary dir"


def bare_round(model, optimizer, batches, warm: int) -> list[float]:
    """Seconds of each of batches[warm:] (the first `warm` steps are untimed)."""
    import torch.nn.functional as F

    times = []
    for i, batch in enumerate(batches):
        t0 = time.perf_counter()
        logits = model(input_ids=batch[:, :-1]).logits  # forward
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1)
        )  # cross-entropy
        loss.backward()  # backward
        optimizer.step()  # update
        optimizer.zero_grad(set_to_none=True)
        if i >= warm:
            times.append(time.perf_counter() - t0)
    return times


def ours_round(model, data, cfg, run_dir: Path, warm: int, n: int) -> dict:
    """One call of pretrain for warm + n steps; seconds for the last n from its metrics.jsonl."""
    from training.pretrain import pretrain

    t0 = time.perf_counter()
    summary = pretrain(model, data, cfg, run_dir, resume=False, stop_after=warm + n, progress=False)
    wall = time.perf_counter() - t0
    rows = {
        r["step"]: r
        for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
        if "loss" in r
    }
    span = rows[warm + n]["elapsed_s"] - rows[warm]["elapsed_s"]
    timed = [rows[s] for s in range(warm + 1, warm + n + 1)]
    return {
        "seconds": span,
        "wall_s": wall,
        "outside_timed_s": wall - span,
        "mfu": [r["mfu"] for r in timed],
        "logged_tokens_per_s": [r["tokens_per_s"] for r in timed],
        "peak_flops": summary["peak_flops"],
        "flops_per_token": summary["flops_per_token"],
    }


def profile_phases(model, data, cfg, steps: int) -> dict:
    """Where a step of our loop goes: its body replayed line by line (same calls, same objects as
    pretrain builds them) with a clock between the lines. Median milliseconds per phase."""
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator

    from training.data.blocks import batch_indices
    from training.pretrain import lr_lambda, make_optimizer

    accelerator = Accelerator(mixed_precision="no", cpu=True)
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    model, optimizer = accelerator.prepare(model, optimizer)
    model.train()
    phases: dict[str, list[float]] = {}
    for step in range(steps + 1):
        t = [time.perf_counter()]

        def mark(t=t):
            t.append(time.perf_counter())

        idx = batch_indices(step, len(data.train), cfg.micro_batch, cfg.seed)
        batch = data.train[idx].to(accelerator.device)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        mark()
        with accelerator.autocast():
            logits = model(input_ids=inputs).logits
        mark()
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))
        mark()
        accelerator.backward(loss / cfg.grad_accum)
        mark()
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        mark()
        optimizer.step()
        mark()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        mark()
        loss_mean = float(accelerator.reduce(loss.detach(), reduction="mean"))
        line = json.dumps(
            {"step": step, "loss": round(loss_mean, 5), "grad_norm": round(float(grad_norm), 5)}
        )
        mark()
        names = [
            "data",
            "forward",
            "cross_entropy",
            "backward",
            "clip_grad_norm",
            "optimizer_step",
            "scheduler+zero_grad",
            "reduce+log",
        ]
        if step:  # the first step allocates AdamW state
            for name, a, b in zip(names, t, t[1:]):
                phases.setdefault(name, []).append(1000 * (b - a))
        del line
    return {name: median(ms) for name, ms in phases.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="a smoke check: 2 rounds of 2 steps, micro-batch 2"
    )
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round and loop")
    ap.add_argument("--warm", type=int, default=1, help="untimed steps at the start of every round")
    ap.add_argument("--micro-batch", type=int, default=None, help="default: the cpu preset's (16)")
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="STEPS",
        help="also time the phases of our loop's step over STEPS steps",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="a prepared data dir to read (default: runs/base-cpu/data if present)",
    )
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.steps, args.micro_batch = 2, 2, args.micro_batch or 2

    import torch

    from training.data.blocks import Prepared, batch_indices
    from training.models import build_model, param_counts
    from training.presets import get_preset

    preset = get_preset("cpu")
    huge = 10**9
    cfg = replace(
        preset.train,
        steps=huge,
        eval_interval=huge,
        ckpt_interval=huge,
        log_interval=1,
        micro_batch=args.micro_batch or preset.train.micro_batch,
    )
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        tmp = Path(tmp)
        data, data_source = load_data(args.data_dir, preset, tmp)
        # pretrain evaluates once at step 0 of every call: on one micro-batch, not the whole held-out set
        data = Prepared(
            data.path, data.tokenizer, data.train, data.eval[: cfg.micro_batch], data.meta
        )
        spec = replace(preset.model, vocab_size=len(data.tokenizer))
        kw = dict(
            seed=cfg.seed, eos_id=data.tokenizer.eos_token_id, pad_id=data.tokenizer.pad_token_id
        )
        ours_model, bare_model = build_model(spec, **kw), build_model(spec, **kw)
        bare_opt = torch.optim.AdamW(
            bare_model.parameters(),
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            weight_decay=cfg.weight_decay,
        )
        n_ctx = data.train.size(1) - 1
        tokens_per_step = cfg.micro_batch * n_ctx
        batches = [
            data.train[batch_indices(s, len(data.train), cfg.micro_batch, cfg.seed)]
            for s in range(args.warm + args.steps)
        ]  # the blocks our loop sees at steps 0..

        # warm-up: thread pools, allocator, first-call paths of both loops
        bare_round(bare_model, bare_opt, batches[:2], 1)
        ours_round(ours_model, data, replace(cfg), tmp / "warmup", 1, 1)

        bare_s, bare_steps, ours, others = [], [], [], []
        waited = wait_quiet()
        for r in range(args.rounds):
            with OtherLoad() as load_ours:
                ours.append(
                    ours_round(ours_model, data, cfg, tmp / f"ours-{r}", args.warm, args.steps)
                )
            with OtherLoad() as load_bare:
                bare_steps.append(bare_round(bare_model, bare_opt, batches, args.warm))
            others.append([round(load_ours.cores, 3), round(load_bare.cores, 3)])
            bare_s.append(sum(bare_steps[-1]))
            print(
                f"round {r + 1}/{args.rounds}: ours {args.steps * tokens_per_step / ours[-1]['seconds']:.0f} tok/s, "
                f"bare {args.steps * tokens_per_step / bare_s[-1]:.0f} tok/s",
                flush=True,
            )

        profile = profile_phases(ours_model, data, cfg, args.profile) if args.profile else None

    ours_tps = [args.steps * tokens_per_step / o["seconds"] for o in ours]
    bare_tps = [args.steps * tokens_per_step / s for s in bare_s]
    ours_step_tps = [t for o in ours for t in o["logged_tokens_per_s"]]
    bare_step_tps = [tokens_per_step / t for ts in bare_steps for t in ts]
    per_round_overhead = [1 - o / b for o, b in zip(ours_tps, bare_tps)]
    overhead = 1 - median(ours_tps) / median(bare_tps)
    peaks = [o["peak_flops"] for o in ours]
    flops_tok = ours[0]["flops_per_token"]
    mfu_all = [m for o in ours for m in o["mfu"]]
    result = {
        "setup": {
            "model": {**spec.__dict__, "params": param_counts(ours_model)},
            "micro_batch": cfg.micro_batch,
            "n_ctx": n_ctx,
            "tokens_per_step": tokens_per_step,
            "rounds": args.rounds,
            "timed_steps_per_round": args.steps,
            "untimed_steps_per_round": args.warm,
            "order": "ours, bare, ours, bare, ... (after one warm-up call of each)",
            "data": data_source,
            "train_blocks": len(data.train),
            "ours": "training.pretrain.pretrain, eval/ckpt intervals 1e9, log_interval 1, progress off, "
            "grad_clip %.1f, warmup+cosine lr, fp32" % cfg.grad_clip,
            "bare": "forward, F.cross_entropy, backward, AdamW.step, zero_grad",
        },
        "ours_tokens_per_s": {"median": median(ours_tps), "samples": ours_tps},
        "bare_tokens_per_s": {"median": median(bare_tps), "samples": bare_tps},
        "overhead": {
            "value": overhead,
            "definition": "1 - median(ours) / median(bare)",
            "per_round": per_round_overhead,
            "per_round_median": median(per_round_overhead),
        },
        "per_step": {
            "ours_tokens_per_s_median": median(ours_step_tps),
            "bare_tokens_per_s_median": median(bare_step_tps),
            "overhead": 1 - median(ours_step_tps) / median(bare_step_tps),
            "ours_samples": ours_step_tps,
            "bare_samples": bare_step_tps,
            "note": "medians over single steps (robust to a burst of other work on the machine); ours from "
            "the loop's own logged tokens_per_s, which leaves out only its JSON log write after dt",
        },
        "mfu": {
            "median": median(mfu_all),
            "samples": mfu_all,
            "source": "metrics.jsonl `mfu` of the timed steps",
            "bare_equivalent": median(bare_tps) * flops_tok / median(peaks),
        },
        "peak_flops": {
            "median": median(peaks),
            "samples": peaks,
            "source": "pretrain's measured fp32 matmul peak (1024x1024, best window)",
        },
        "flops_per_token": flops_tok,
        "per_call_setup_s": {
            "median": median([o["outside_timed_s"] for o in ours]),
            "note": "pretrain wall time outside the timed steps (Accelerator, peak "
            "measurement, step-0 eval on one micro-batch, the untimed first steps)",
        },
        "profile_ms_per_step": profile,
        "machine_busy": {
            "waited_for_quiet_s": round(waited, 1),
            "other_processes_cores_per_round": others,
            "note": "cores kept busy by other processes during each [ours, bare] half-round",
        },
        "target": {"overhead_max": TARGET_OVERHEAD},
        "met": overhead <= TARGET_OVERHEAD,
    }
    print(
        f"ours {median(ours_tps):.0f} tok/s, bare {median(bare_tps):.0f} tok/s, overhead {100 * overhead:.1f}% "
        f"(target <= {100 * TARGET_OVERHEAD:.0f}%: {'met' if result['met'] else 'NOT met'}); "
        f"per-step medians: ours {median(ours_step_tps):.0f}, bare {median(bare_step_tps):.0f} tok/s; "
        f"MFU {100 * result['mfu']['median']:.1f}% of {median(peaks) / 1e9:.1f} GFLOP/s"
    )
    if profile:
        print(
            "ms per step of our loop, by phase: "
            + ", ".join(f"{k} {v:.1f}" for k, v in profile.items())
        )
    write("loop_overhead", result, quick=args.quick)


if __name__ == "__main__":
    main()
