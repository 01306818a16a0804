"""Real tensor-parallel and FSDP2 (ZeRO-3) runs under torchrun, measured against the memory model.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.shard_runs --out runs/shard.json

- Tensor parallel (Megatron MLP): W1 split by output columns, W2 by input rows; each rank computes
  GELU(x·W1_rᵀ)·W2_rᵀ and one all-reduce sums the partial outputs. Checked equal to the unsplit MLP
  on the same weights; the all-reduce and the local compute are timed separately.
- FSDP2 (`torch.distributed.fsdp.fully_shard`): a stack of MLP blocks, one AdamW step; each rank's
  parameter, gradient and optimizer-state bytes are counted from its local shards and compared
  with `shared.memory.model_state_bytes(Ψ, zero_stage=3, dp=N, fp32 Adam: 4/4/8 bytes)`.
gloo on CPU; the same code runs with nccl on GPUs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training import store


def _local(t):
    """The rank-local part of a (possibly DTensor) tensor."""
    return t.to_local() if hasattr(t, "to_local") else t


def tensor_parallel(rank: int, world: int, width: int, tokens: int, repeats: int = 5) -> dict:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(4 * width, width, generator=g) / width ** 0.5
    w2 = torch.randn(width, 4 * width, generator=g) / (4 * width) ** 0.5
    x = torch.randn(tokens, width, generator=g)
    cols = 4 * width // world
    w1_r, w2_r = w1[rank * cols:(rank + 1) * cols], w2[:, rank * cols:(rank + 1) * cols]
    compute, comm = [], []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        y = F.gelu(x @ w1_r.T) @ w2_r.T          # column-parallel, then row-parallel: a partial sum
        t1 = time.perf_counter()
        dist.all_reduce(y)                        # the one all-reduce of the forward
        t2 = time.perf_counter()
        compute.append(t1 - t0)
        comm.append(t2 - t1)
    full = F.gelu(x @ w1.T) @ w2.T
    return {"max_abs_diff": float((y - full).abs().max()), "compute_s": sorted(compute)[len(compute) // 2],
            "allreduce_s": sorted(comm)[len(comm) // 2], "allreduce_bytes": y.numel() * y.element_size(),
            "width": width, "tokens": tokens}


def fsdp(rank: int, world: int, width: int, blocks: int) -> dict:
    import torch
    from torch import nn
    from torch.distributed.fsdp import fully_shard
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
                            for _ in range(blocks)])
    n_params = sum(p.numel() for p in model.parameters())
    for block in model:
        fully_shard(block)
    fully_shard(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(8, width, generator=torch.Generator().manual_seed(rank))
    t0 = time.perf_counter()
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    step_s = time.perf_counter() - t0

    def nbytes(ts):
        return sum(_local(t).numel() * _local(t).element_size() for t in ts)
    params = nbytes(model.parameters())
    grads = nbytes(p.grad for p in model.parameters() if p.grad is not None)
    states = nbytes(v for st in opt.state.values() for k, v in st.items() if torch.is_tensor(v) and v.dim() > 0)
    return {"n_params": n_params, "params_bytes": params, "grads_bytes": grads, "optimizer_bytes": states,
            "step_s": step_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.parallel.shard_runs", description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        if (4 * args.width) % world:
            raise ValueError(f"4·width ({4 * args.width}) must divide by the {world} ranks")
        torch.set_num_threads(1)
        tp = tensor_parallel(rank, world, args.width, args.tokens)
        fs = fsdp(rank, world, args.width, args.blocks)
        gathered = [None] * world
        dist.all_gather_object(gathered, {"tp": tp, "fsdp": fs})
        if rank == 0:
            from shared import memory
            predicted = memory.model_state_bytes(fs["n_params"], 3, world, optimizer_bytes=8, param_bytes=4,
                                                 grad_bytes=4)
            result = {"ranks": world, "tensor_parallel": [g["tp"] for g in gathered],
                      "fsdp": [g["fsdp"] for g in gathered],
                      "fsdp_predicted_per_rank": predicted,
                      "unsharded_bytes": {"params": 4 * fs["n_params"], "grads": 4 * fs["n_params"],
                                          "optimizer": 8 * fs["n_params"]}}
            store.write_text_atomic(Path(args.out), json.dumps(result, indent=1))
            print(json.dumps({"tp_max_abs_diff": max(g["tp"]["max_abs_diff"] for g in gathered),
                              "fsdp_params_bytes": [g["fsdp"]["params_bytes"] for g in gathered],
                              "predicted_params_bytes": predicted["params"]}))
    except ValueError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        dist.barrier()   # rank 0 writes the result; the others must not tear gloo down under it
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
