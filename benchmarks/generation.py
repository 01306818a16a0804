"""Generation speed of the bundled base model with and without the KV cache.

The project's one generation loop (`training.generate.generate_ids`), greedy, batch 1, on the
base checkpoint loaded through the store (hashes verified). A 16-token prompt is extended by
several lengths of new tokens; with the cache each step feeds one token, without it each step
re-runs the whole sequence. Cached and uncached runs alternate; tokens/s is new tokens over the
wall time of the whole loop (prefill included). The token ids of both must be identical.

    python benchmarks/generation.py               # 16 + 32/128/224 tokens, 5 repeats (~1-2 min)
    python benchmarks/generation.py --quick       # 16 + 8/32 tokens, 1 repeat
    python benchmarks/generation.py --checkpoint runs/x/checkpoint
    python benchmarks/generation.py --device cuda # on a GPU (writes results/generation_cuda.json)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import BASE_CHECKPOINT, OtherLoad, median, wait_quiet, write

PROMPT_TEXT = (
    "Marta Lindqvist was born on 12 May 1961 in Porto. She studied biology at the University of "
    "Leeds and later worked for a shipping company in Hamburg."
)


def prompt_ids(tokenizer, n: int) -> list[int]:
    ids = tokenizer(PROMPT_TEXT, add_special_tokens=False)["input_ids"]
    while len(ids) < n:  # a tokenizer with long merges: repeat the text
        ids = ids + ids
    return ids[:n]


def timed(model, ids: list[int], n: int, use_cache: bool) -> tuple[float, list[int]]:
    from training.generate import generate_ids

    t0 = time.perf_counter()
    out = list(generate_ids(model, ids, n, use_cache=use_cache))
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="new tokens 8 and 32, one repeat")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: checkpoints/base")
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, nargs="+", default=[32, 128, 224])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu (default) or cuda; not cpu: results/generation_<device>.json",
    )
    ap.add_argument(
        "--max-wait", type=float, default=300.0, help="seconds to wait at most for a quiet machine"
    )
    args = ap.parse_args()
    if args.quick:
        args.new_tokens, args.repeats = [8, 32], 1

    from training import store
    from training.generate import context_length

    ckpt = store.load(args.checkpoint or BASE_CHECKPOINT, device=args.device)
    model = ckpt.model.eval()
    ctx = context_length(model)
    ids = prompt_ids(ckpt.tokenizer, args.prompt_tokens)
    for n in args.new_tokens:
        if args.prompt_tokens + n > ctx:
            raise SystemExit(
                f"prompt {args.prompt_tokens} + {n} new tokens exceeds the context of {ctx}"
            )

    timed(model, ids, 8, True)  # warm-up: thread pool, allocator, first-call paths
    timed(model, ids, 8, False)

    rows = []
    waited = wait_quiet(args.max_wait)
    for n in args.new_tokens:
        cached, uncached, same = [], [], True
        with OtherLoad() as load:
            for _ in range(args.repeats):  # alternate, so drift hits both alike
                t_c, out_c = timed(model, ids, n, True)
                t_u, out_u = timed(model, ids, n, False)
                cached.append(n / t_c)
                uncached.append(n / t_u)
                same = same and out_c == out_u and len(out_c) == n
        row = {
            "prompt_tokens": len(ids),
            "new_tokens": n,
            "cached_tokens_per_s": {"median": median(cached), "samples": cached},
            "uncached_tokens_per_s": {"median": median(uncached), "samples": uncached},
            "speedup": median(cached) / median(uncached),
            "identical_ids": same,
            "other_processes_cores": round(load.cores, 3),
        }
        rows.append(row)
        print(
            f"{len(ids)}+{n}: cached {row['cached_tokens_per_s']['median']:.1f} tok/s, uncached "
            f"{row['uncached_tokens_per_s']['median']:.1f} tok/s, x{row['speedup']:.2f}, "
            f"identical ids: {same}",
            flush=True,
        )

    manifest = ckpt.manifest
    result = {
        "checkpoint": str(ckpt.path),
        "checkpoint_created": manifest.get("created"),
        "checkpoint_code_version": manifest.get("code_version"),
        "device": str(next(model.parameters()).device),
        "model": {
            "params": sum(p.numel() for p in model.parameters()),
            "context": ctx,
            "dtype": str(next(model.parameters()).dtype),
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
        },
        "settings": {
            "greedy": True,
            "batch": 1,
            "repeats": args.repeats,
            "prompt_text": PROMPT_TEXT,
            "prompt_ids": ids,
            "torch_grad": "inference_mode (inside generate_ids)",
        },
        "lengths": rows,
        "all_identical": all(r["identical_ids"] for r in rows),
        "target": {"identical_ids": True},
        "met": all(r["identical_ids"] for r in rows),
        "machine_busy": {
            "waited_for_quiet_s": round(waited, 1),
            "note": "other_processes_cores per length: cores other processes kept busy meanwhile",
        },
    }
    name = "generation" if args.device == "cpu" else f"generation_{args.device.replace(':', '')}"
    write(name, result, quick=args.quick)


if __name__ == "__main__":
    main()
