"""Tensor parallelism, real: a Megatron MLP split across N processes, checked and timed.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.tensor_parallel.run --out runs/tp.json

W1 (h→4h) is split by output columns and W2 (4h→h) by input rows (Shoeybi et al. 2019): rank r
computes GELU(x·W1_rᵀ)·W2_rᵀ with no communication — GELU acts elementwise on its own columns —
and gets a partial sum of the output; one all-reduce of the s·b·h output adds the partial sums.
Checked equal to the unsplit MLP on the same weights; the local compute and the all-reduce are
timed separately (medians over a few repeats after a warm-up).
"""

from __future__ import annotations

import sys

from training.parallel import common

MODULE = "training.parallel.tensor_parallel.run"


def add_args(ap) -> None:
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument(
        "--tokens", type=int, default=256, help="rows of the input (sequence × micro-batch)"
    )
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (the median is reported)")


def check(args, world: int) -> None:
    if min(args.width, args.tokens, args.repeats) < 1:
        raise ValueError("width, tokens and repeats must be ≥ 1")
    if (4 * args.width) % world:
        raise ValueError(
            f"the MLP's 4·width = {4 * args.width} columns must split evenly across {world} ranks"
        )


def work(args, ctx: common.Ctx) -> dict:
    # torch here, not at the top: `check` runs before it is imported
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(args.seed)
    h = args.width
    w1 = (torch.randn(4 * h, h, generator=g) / h**0.5).to(ctx.device)
    w2 = (torch.randn(h, 4 * h, generator=g) / (4 * h) ** 0.5).to(ctx.device)
    x = torch.randn(args.tokens, h, generator=g).to(ctx.device)
    cols = 4 * h // ctx.world
    w1_r, w2_r = (
        w1[ctx.rank * cols : (ctx.rank + 1) * cols],
        w2[:, ctx.rank * cols : (ctx.rank + 1) * cols],
    )

    def local():
        return F.gelu(x @ w1_r.T) @ w2_r.T  # column-parallel, then row-parallel: a partial sum

    y = local()
    dist.all_reduce(y)  # the one all-reduce of the forward
    diff = float((y - F.gelu(x @ w1.T) @ w2.T).abs().max())
    buf = torch.zeros_like(y)
    mine = {
        "max_abs_diff": diff,
        "compute_s": common.median_time(ctx, local, args.repeats, warmup=2),
        "allreduce_s": common.median_time(
            ctx, lambda: dist.all_reduce(buf), args.repeats, warmup=2
        ),
    }
    ranks = common.gather(mine)
    size = y.numel() * y.element_size()
    return {
        "ranks": ctx.world,
        "max_abs_diff": max(r["max_abs_diff"] for r in ranks),
        "compute_s": max(r["compute_s"] for r in ranks),
        "allreduce_s": max(r["allreduce_s"] for r in ranks),
        "allreduce_bytes": size,
        "ring_bytes_per_rank": 2 * (ctx.world - 1) / ctx.world * size,
        "width": h,
        "tokens": args.tokens,
        "per_rank": ranks,
    }


def main(argv=None) -> int:
    return common.main(MODULE, __doc__, add_args, check, work, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
