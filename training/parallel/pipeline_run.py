"""A real pipeline-parallel step, timed: `torch.distributed.pipelining` (GPipe or 1F1B) on 2–4
processes, recording when every forward and backward of every micro-batch starts and ends.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.pipeline_run --schedule 1f1b \
        --microbatches 4 --out runs/pipeline.json

The model is a stack of MLP blocks split evenly across the ranks; each rank's stage is wrapped
so that its forward records (start, end) and backward hooks record the backward's. Ranks share
one monotonic clock (same machine), so rank 0 gathers one Gantt chart; `shared.pipeline`
simulates the same schedule with the measured mean forward/backward times beside it.
gloo on CPU; the same code runs with nccl on GPUs.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from training import store


def build_stage(rank: int, world: int, blocks: int, width: int, seed: int = 0):
    import torch
    from torch import nn
    torch.manual_seed(seed)
    layers = [nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
              for _ in range(blocks)]
    per = blocks // world
    return nn.Sequential(*layers[rank * per:(rank + 1) * per])


class Timed:
    """Wrap a stage: each forward call and each backward pass appends (kind, index, start, end).
    Backward start: the gradient reaching the stage's output (a tensor hook); backward end: the
    gradient accumulated into the stage's first weight, the last one backward reaches."""

    def __init__(self, module):
        import torch
        self.events: list[dict] = []
        self._n_f = self._n_b = 0
        self._b_start: list[float] = []
        outer = self

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = module

            def forward(self, x):
                t0 = time.perf_counter()
                y = self.inner(x)
                outer.events.append({"kind": "F", "microbatch": outer._n_f, "start": t0, "end": time.perf_counter()})
                outer._n_f += 1
                if y.requires_grad:
                    y.register_hook(outer._grad_reaches_output)
                return y
        self.module = Wrapped()
        next(self.module.parameters()).register_post_accumulate_grad_hook(self._grad_reaches_first_weight)

    def _grad_reaches_output(self, grad):
        self._b_start.append(time.perf_counter())
        return grad

    def _grad_reaches_first_weight(self, param):
        self.events.append({"kind": "B", "microbatch": self._n_b, "start": self._b_start.pop(0),
                            "end": time.perf_counter()})
        self._n_b += 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.parallel.pipeline_run", description=__doc__.splitlines()[0])
    ap.add_argument("--schedule", default="1f1b", choices=["gpipe", "1f1b"])
    ap.add_argument("--microbatches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32, help="global batch, split into micro-batches")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    import torch
    import torch.distributed as dist
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        if world < 2 or args.blocks % world or args.batch % args.microbatches:
            raise ValueError(f"need ≥ 2 ranks, blocks divisible by ranks ({args.blocks} % {world}) and batch "
                             f"divisible by micro-batches ({args.batch} % {args.microbatches})")
        torch.set_num_threads(1)
        timed = Timed(build_stage(rank, world, args.blocks, args.width))
        stage = PipelineStage(timed.module, rank, world, torch.device("cpu"))
        loss_fn = lambda out, target: torch.nn.functional.mse_loss(out, target)  # noqa: E731
        sched = (ScheduleGPipe if args.schedule == "gpipe" else Schedule1F1B)(stage, args.microbatches, loss_fn=loss_fn)
        x = torch.randn(args.batch, args.width, generator=torch.Generator().manual_seed(1))
        y = torch.randn(args.batch, args.width, generator=torch.Generator().manual_seed(2))

        def step():
            if rank == 0:
                sched.step(x)
            elif rank == world - 1:
                sched.step(target=y)
            else:
                sched.step()
        step()                              # warm-up step (allocations, first communication)
        timed.events.clear()
        timed._n_f = timed._n_b = 0
        timed._b_start.clear()
        dist.barrier()
        step()
        events = [{**e, "stage": rank} for e in timed.events]
        gathered = [None] * world
        dist.all_gather_object(gathered, events)
        if rank == 0:
            from shared import pipeline
            allev = [e for g in gathered for e in g]
            t0 = min(e["start"] for e in allev)
            for e in allev:
                e["start"], e["end"] = round(e["start"] - t0, 6), round(e["end"] - t0, 6)
            t_f = sum(e["end"] - e["start"] for e in allev if e["kind"] == "F") / (world * args.microbatches)
            t_b = sum(e["end"] - e["start"] for e in allev if e["kind"] == "B") / (world * args.microbatches)
            measured = pipeline.measured_bubble([pipeline.Event(e["stage"], e["microbatch"], e["kind"], e["start"],
                                                                e["end"]) for e in allev])
            sim = pipeline.simulate(args.schedule, world, args.microbatches, 1, t_f, t_b)
            result = {"schedule": args.schedule, "stages": world, "microbatches": args.microbatches,
                      "events": sorted(allev, key=lambda e: (e["start"], e["stage"])),
                      "t_forward_mean": t_f, "t_backward_mean": t_b, "measured_bubble": measured,
                      "formula_bubble": pipeline.bubble_fraction(args.schedule, world, args.microbatches),
                      "simulated": [vars(e) for e in sim],
                      "command": "torchrun --nproc_per_node {} -m training.parallel.pipeline_run {}".format(
                          world, " ".join(argv if argv is not None else sys.argv[1:]))}
            store.write_text_atomic(Path(args.out), json.dumps(result, indent=1))
            print(json.dumps({k: result[k] for k in ("schedule", "stages", "microbatches", "measured_bubble",
                                                     "formula_bubble", "t_forward_mean", "t_backward_mean")}))
    except ValueError as e:
        if rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
