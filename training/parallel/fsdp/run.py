"""Fully sharded data parallelism (ZeRO-3), real: FSDP2 `fully_shard` on N processes, measured.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.fsdp.run --out runs/fsdp.json

A stack of MLP blocks, each block `fully_shard`-ed (one all-gather unit) and the whole model too,
trained with AdamW on each rank's own data. Each rank's parameter, gradient and optimizer-state
bytes are counted from its local shards and must equal `shared.memory.model_state_bytes(Ψ,
zero_stage=3, dp=N)` with fp32 Adam (4 + 4 + 8 bytes per parameter) exactly: FSDP2 splits every
parameter along dim 0, so when the widths divide by N each rank holds exactly 1/N.

The price is communication: before a block's forward (and again in backward) its parameters are
all-gathered from the N shards. Timed here directly: `block.unshard()` (the all-gather) for every
block, then `block.reshard()` (free the gathered copy), medians over a few repeats; and the whole
training step (forward, backward, optimizer).
"""

from __future__ import annotations

import sys
from dataclasses import asdict

from shared import memory
from training.parallel import common

MODULE = "training.parallel.fsdp.run"


def add_args(ap) -> None:
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8, help="samples per rank")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (the median is reported)")


def check(args, world: int) -> None:
    if min(args.width, args.blocks, args.batch, args.repeats) < 1:
        raise ValueError("width, blocks, batch and repeats must be ≥ 1")
    if args.width % world:
        raise ValueError(
            f"width ({args.width}) must divide by the {world} ranks, so that every shard is exactly 1/N"
        )


def _local(t):
    """The rank-local part of a (possibly DTensor) tensor."""
    return t.to_local() if hasattr(t, "to_local") else t


def _nbytes(tensors) -> int:
    return sum(_local(t).numel() * _local(t).element_size() for t in tensors)


def work(args, ctx: common.Ctx) -> dict:
    # torch here, not at the top: `check` runs before it is imported
    import torch
    from torch.distributed.fsdp import fully_shard

    model = common.mlp_stack(args.blocks, args.width, args.seed).to(ctx.device)
    n_params = sum(p.numel() for p in model.parameters())
    block_bytes = [sum(p.numel() * p.element_size() for p in b.parameters()) for b in model]
    for block in model:
        fully_shard(block)
    fully_shard(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(
        args.batch, args.width, generator=torch.Generator().manual_seed(args.seed + ctx.rank)
    ).to(ctx.device)

    def step():
        opt.zero_grad(set_to_none=False)
        model(x).pow(2).mean().backward()
        opt.step()

    step_s = common.median_time(ctx, step, args.repeats, warmup=1)
    mine = {
        "params_bytes": _nbytes(model.parameters()),
        "grads_bytes": _nbytes(p.grad for p in model.parameters() if p.grad is not None),
        "optimizer_bytes": _nbytes(
            v
            for st in opt.state.values()
            for v in st.values()
            if torch.is_tensor(v) and v.dim() > 0
        ),  # exp_avg, exp_avg_sq; not `step`
        "step_s": step_s,
    }

    block_s = [
        common.median_time(
            ctx,
            block.unshard,
            args.repeats,
            warmup=1,  # the all-gather from N shards
            after=block.reshard,
        )  # free the gathered copy
        for block in model
    ]
    mine.update(allgather_s=sum(block_s), allgather_block_s=block_s)
    ranks = common.gather(mine)
    predicted = memory.model_state_bytes(
        n_params, 3, ctx.world, optimizer_bytes=8, param_bytes=4, grad_bytes=4
    )
    return {
        "ranks": ctx.world,
        "n_params": n_params,
        "per_rank": ranks,
        "predicted_per_rank": asdict(predicted),
        "unsharded_bytes": {
            "params": 4 * n_params,
            "grads": 4 * n_params,
            "optimizer": 8 * n_params,
        },
        "allgather_bytes": sum(block_bytes),  # what each rank holds after gathering
        "allgather_bytes_received_per_rank": (ctx.world - 1) / ctx.world * sum(block_bytes),
        "allgather_block_bytes": block_bytes,
        "width": args.width,
        "blocks": args.blocks,
        "batch": args.batch,
    }


def main(argv=None) -> int:
    return common.main(MODULE, __doc__, add_args, check, work, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
