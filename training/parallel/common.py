"""What every torchrun script in `training/parallel/` shares, written once: parse the options,
check them before any process group exists, start the process group (gloo on CPU, nccl on GPUs),
time collectives fairly, gather every rank's numbers to rank 0, write the result JSON atomically,
and end cleanly (barrier, then destroy) or with one line and exit status 2.

A run module supplies three functions to `main`: `add_args(parser)`, `check(args, world)` (raise
ValueError on bad input; it runs on every rank before `init_process_group`, so a bad option never
leaves a rank waiting in a collective) and `work(args, ctx) -> dict` (called on every rank; rank 0's
return value is the result, the other ranks' is ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from training import store


@dataclass
class Ctx:
    """One rank's view of the run."""

    rank: int
    world: int
    device: Any  # torch.device: cuda:<local rank> with nccl, cpu with gloo
    backend: str

    def sync(self) -> None:
        """Wait for queued GPU work before reading a clock (a no-op on CPU)."""
        if self.device.type == "cuda":
            # torch inside functions: options are checked before it is imported (bad input fails fast)
            import torch

            torch.cuda.synchronize(self.device)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # every rank parses; only rank 0 speaks
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def mlp_stack(blocks: int, width: int, seed: int = 0):
    """The model every run uses: `blocks` transformer-style MLP blocks (Linear h→4h, GELU, Linear
    4h→h), the same weights on every rank (same seed) — what DP replicates, FSDP shards and a pipeline
    cuts into stages."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        *[
            nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
            for _ in range(blocks)
        ]
    )


def global_batch(batch: int, width: int, seed: int = 0):
    """Inputs and targets of the whole (global) batch, identical on every rank."""
    import torch

    g = torch.Generator().manual_seed(1000 + seed)
    return torch.randn(batch, width, generator=g), torch.randn(batch, width, generator=g)


def median_time(
    ctx: Ctx,
    fn: Callable[[], Any],
    repeats: int,
    warmup: int = 1,
    after: Callable[[], Any] | None = None,
) -> float:
    """Median seconds of `fn` over `repeats` calls after `warmup` untimed ones (`after`, if given,
    runs untimed after every call). A barrier before every call lines the ranks up, so a
    collective's time is its own and not a wait for a slower rank."""
    import torch.distributed as dist

    times = []
    for i in range(warmup + repeats):
        dist.barrier()
        ctx.sync()
        t0 = time.perf_counter()
        fn()
        ctx.sync()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        if after is not None:
            after()
    return statistics.median(times)


def gather(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (all_gather_object works on gloo and nccl)."""
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def machine(world: int) -> dict:
    """Where the run happened, and whether its processes had to share cores."""
    import torch

    cpus = os.cpu_count() or 1
    info = {"cpus": cpus, "torch": torch.__version__, "ranks": world}
    if torch.cuda.is_available():
        info["gpus"] = torch.cuda.device_count()
        info["gpu"] = torch.cuda.get_device_name(0)
        info["oversubscribed"] = world > info["gpus"]
    else:
        info["oversubscribed"] = world > cpus
    return info


def _exit_with_parent() -> None:
    """torchrun starts every rank in its own session, so killing the launcher's process group does
    not reach the ranks; if torchrun dies without stopping them, each rank stops itself."""
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def main(
    module: str,
    doc: str,
    add_args: Callable,
    check: Callable,
    work: Callable,
    summary: Callable[[dict], dict] | None = None,
    argv: list[str] | None = None,
) -> int:
    """Run one parallelism script on this rank; see the module docstring for the contract."""
    ap = _OneLineParser(
        prog=f"torchrun --nproc_per_node N -m {module}", description=doc.splitlines()[0]
    )
    ap.add_argument("--out", required=True, help="result JSON (written by rank 0)")
    ap.add_argument("--seed", type=int, default=0)
    add_args(ap)
    args = ap.parse_args(argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    try:
        if world < 2:
            raise ValueError(
                f"needs at least 2 ranks (got {world}); start it with torchrun --nproc_per_node N"
            )
        check(args, world)
    except ValueError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    _exit_with_parent()
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)  # one core per rank: ranks must not fight for cores
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    else:
        backend, device = "gloo", torch.device("cpu")
    dist.init_process_group(backend)
    ctx = Ctx(dist.get_rank(), dist.get_world_size(), device, backend)
    try:
        result = work(args, ctx)
    except ValueError as e:  # one line; torchrun stops the other ranks
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    if ctx.rank == 0:
        result = {
            **result,
            "machine": {**machine(ctx.world), "backend": backend},
            "command": f"torchrun --nproc_per_node {ctx.world} -m {module} "
            + " ".join(argv if argv is not None else sys.argv[1:]),
        }
        store.write_text_atomic(Path(args.out), json.dumps(result, indent=1))
        print(
            json.dumps(
                summary(result)
                if summary
                else {k: v for k, v in result.items() if not isinstance(v, (list, dict))}
            )
        )
    dist.barrier()  # rank 0 writes the result; the others must not tear gloo down under it
    dist.destroy_process_group()
    return 0
