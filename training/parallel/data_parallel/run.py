"""Data parallelism, real: `DistributedDataParallel` on N processes, checked and timed.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.data_parallel.run --out runs/ddp.json

Every rank holds the whole model (a stack of MLP blocks, same seed) and 1/N of the global batch.
In backward DDP all-reduces the gradients in buckets and divides by N, so every rank ends with the
gradient of the mean loss over the *global* batch — checked here against one unwrapped copy of the
model run on the whole batch (each rank computes that reference itself).

Timed (median of a few steps after a warm-up): forward + backward under `ddp.no_sync()` (compute
only), the same with DDP's gradient all-reduce (overlapped with backward), and one explicit
`dist.all_reduce` of a flat buffer as large as all gradients; a ring all-reduce moves
2(N−1)/N · size bytes in and out of every rank.
"""

from __future__ import annotations

import copy
import sys

from training.parallel import common

MODULE = "training.parallel.data_parallel.run"


def add_args(ap) -> None:
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument(
        "--batch", type=int, default=32, help="global batch, split evenly across the ranks"
    )
    ap.add_argument("--repeats", type=int, default=5, help="timed steps (the median is reported)")


def check(args, world: int) -> None:
    if min(args.width, args.blocks, args.batch, args.repeats) < 1:
        raise ValueError("width, blocks, batch and repeats must be ≥ 1")
    if args.batch % world:
        raise ValueError(f"the global batch ({args.batch}) must split evenly across {world} ranks")


def work(args, ctx: common.Ctx) -> dict:
    # torch here, not at the top: `check` runs before it is imported
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    model = common.mlp_stack(args.blocks, args.width, args.seed).to(ctx.device)
    reference = copy.deepcopy(model)  # the same weights, never wrapped
    ddp = DDP(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    x, y = (t.to(ctx.device) for t in common.global_batch(args.batch, args.width, args.seed))
    per = args.batch // ctx.world
    xs, ys = x[ctx.rank * per : (ctx.rank + 1) * per], y[ctx.rank * per : (ctx.rank + 1) * per]

    F.mse_loss(ddp(xs), ys).backward()  # 1/N of the batch here, gradients averaged by DDP
    F.mse_loss(reference(x), y).backward()  # the whole batch, one process
    diff = max(
        float((p.grad - q.grad).abs().max())
        for p, q in zip(model.parameters(), reference.parameters())
    )

    def compute():
        ddp.zero_grad(set_to_none=True)
        with ddp.no_sync():
            F.mse_loss(ddp(xs), ys).backward()

    def step():
        ddp.zero_grad(set_to_none=True)
        F.mse_loss(ddp(xs), ys).backward()

    n_grad = sum(p.numel() for p in model.parameters())
    flat = torch.zeros(n_grad, dtype=next(model.parameters()).dtype, device=ctx.device)
    mine = {
        "max_abs_grad_diff": diff,
        "compute_s": common.median_time(ctx, compute, args.repeats, warmup=2),
        "step_s": common.median_time(ctx, step, args.repeats, warmup=2),
        "allreduce_s": common.median_time(
            ctx, lambda: dist.all_reduce(flat), args.repeats, warmup=2
        ),
    }
    ranks = common.gather(mine)
    grad_bytes = n_grad * flat.element_size()
    ring = 2 * (ctx.world - 1) / ctx.world * grad_bytes
    slowest = {k: max(r[k] for r in ranks) for k in ("compute_s", "step_s", "allreduce_s")}
    return {
        "ranks": ctx.world,
        "max_abs_grad_diff": max(r["max_abs_grad_diff"] for r in ranks),
        **slowest,
        "exposed_comm_s": slowest["step_s"] - slowest["compute_s"],  # what overlap did not hide
        "grad_bytes": grad_bytes,
        "ring_bytes_per_rank": ring,
        "allreduce_bytes_per_s": ring / slowest["allreduce_s"],
        "width": args.width,
        "blocks": args.blocks,
        "batch": args.batch,
        "per_rank": ranks,
    }


def main(argv=None) -> int:
    return common.main(MODULE, __doc__, add_args, check, work, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
