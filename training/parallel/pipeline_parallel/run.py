"""Pipeline parallelism, real: `torch.distributed.pipelining` (GPipe and/or 1F1B) on 2–4 processes,
recording when every forward and backward of every micro-batch starts and ends.

    torchrun --standalone --nproc_per_node 2 -m training.parallel.pipeline_parallel.run \
        --schedules gpipe 1f1b --microbatches 4 --out runs/pipeline.json

The model is a stack of MLP blocks split evenly across the ranks (12 blocks by default: divisible by
2, 3 and 4 stages); each rank's stage is wrapped so that its forward records (start, end) and
backward hooks record the backward's. Ranks share one monotonic clock (same machine), so rank 0
gathers one Gantt chart per schedule; `shared.pipeline` simulates the same schedule with the
measured mean forward/backward times beside it. Each schedule runs one warm-up step, then one
recorded step. The result is {"runs": [one entry per schedule]}.
"""

from __future__ import annotations

import sys
import time

from training.parallel import common

MODULE = "training.parallel.pipeline_parallel.run"
SCHEDULES = ("gpipe", "1f1b")


def add_args(ap) -> None:
    ap.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=SCHEDULES)
    ap.add_argument("--microbatches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32, help="global batch, split into micro-batches")
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument(
        "--blocks", type=int, default=12, help="MLP blocks, split evenly across the ranks"
    )


def check(args, world: int) -> None:
    if min(args.microbatches, args.batch, args.width, args.blocks) < 1:
        raise ValueError("microbatches, batch, width and blocks must be ≥ 1")
    if args.blocks % world:
        raise ValueError(f"{args.blocks} blocks do not split evenly into {world} pipeline stages")
    if args.batch % args.microbatches:
        raise ValueError(
            f"the batch ({args.batch}) must split evenly into {args.microbatches} micro-batches"
        )


class Timed:
    """Wrap a stage: each forward call and each backward pass appends (kind, index, start, end).
    Backward start: the gradient reaching the stage's output (a tensor hook); backward end: the
    gradient accumulated into the stage's first weight, the last one backward reaches."""

    def __init__(self, module, ctx: common.Ctx):
        # torch here, not at the top: `check` runs before it is imported
        import torch

        self.events: list[dict] = []
        self._n_f = self._n_b = 0
        self._b_start: list[float] = []
        self.ctx = ctx
        outer = self

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = module

            def forward(self, x):
                t0 = time.perf_counter()
                y = self.inner(x)
                ctx.sync()
                outer.events.append(
                    {"kind": "F", "microbatch": outer._n_f, "start": t0, "end": time.perf_counter()}
                )
                outer._n_f += 1
                if y.requires_grad:
                    y.register_hook(outer._grad_reaches_output)
                return y

        self.module = Wrapped()
        next(self.module.parameters()).register_post_accumulate_grad_hook(
            self._grad_reaches_first_weight
        )

    def reset(self) -> None:
        self.events.clear()
        self._n_f = self._n_b = 0
        self._b_start.clear()

    def _grad_reaches_output(self, grad):
        self._b_start.append(time.perf_counter())
        return grad

    def _grad_reaches_first_weight(self, param):
        self.ctx.sync()
        self.events.append(
            {
                "kind": "B",
                "microbatch": self._n_b,
                "start": self._b_start.pop(0),
                "end": time.perf_counter(),
            }
        )
        self._n_b += 1


def one_schedule(schedule: str, args, ctx: common.Ctx) -> dict | None:
    """One warm-up step and one recorded step of `schedule`; rank 0 returns the gathered result."""
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

    from shared import pipeline

    model = common.mlp_stack(args.blocks, args.width, args.seed)
    per = args.blocks // ctx.world
    timed = Timed(model[ctx.rank * per : (ctx.rank + 1) * per].to(ctx.device), ctx)
    # runtime shape inference: explicit input_args/output_args break backward here
    stage = PipelineStage(timed.module, ctx.rank, ctx.world, ctx.device)
    sched = (ScheduleGPipe if schedule == "gpipe" else Schedule1F1B)(
        stage, args.microbatches, loss_fn=F.mse_loss
    )
    x, y = (t.to(ctx.device) for t in common.global_batch(args.batch, args.width, args.seed))

    def step():
        if ctx.rank == 0:
            sched.step(x)
        elif ctx.rank == ctx.world - 1:
            sched.step(target=y)
        else:
            sched.step()

    step()  # warm-up step (allocations, first communication)
    timed.reset()
    dist.barrier()
    step()
    gathered = common.gather([{**e, "stage": ctx.rank} for e in timed.events])
    if ctx.rank:
        return None
    events = [e for g in gathered for e in g]
    t0 = min(e["start"] for e in events)
    for e in events:
        e["start"], e["end"] = round(e["start"] - t0, 6), round(e["end"] - t0, 6)
    n = ctx.world * args.microbatches
    t_f = sum(e["end"] - e["start"] for e in events if e["kind"] == "F") / n
    t_b = sum(e["end"] - e["start"] for e in events if e["kind"] == "B") / n
    measured = pipeline.measured_bubble(
        [
            pipeline.Event(e["stage"], e["microbatch"], e["kind"], e["start"], e["end"])
            for e in events
        ]
    )
    sim = pipeline.simulate(schedule, ctx.world, args.microbatches, 1, t_f, t_b)
    info = common.machine(ctx.world)
    return {
        "schedule": schedule,
        "stages": ctx.world,
        "microbatches": args.microbatches,
        "events": sorted(events, key=lambda e: (e["start"], e["stage"])),
        "simulated": [{k: v for k, v in vars(e).items() if k != "chunk"} for e in sim],
        "measured_bubble": measured,
        "formula_bubble": pipeline.bubble_fraction(schedule, ctx.world, args.microbatches),
        "t_forward_mean": t_f,
        "t_backward_mean": t_b,
        "makespan_s": max(e["end"] for e in events),
        "oversubscribed": info["oversubscribed"],
        "cpus": info["cpus"],
        "batch": args.batch,
        "width": args.width,
        "blocks": args.blocks,
    }


def work(args, ctx: common.Ctx) -> dict:
    runs = [one_schedule(s, args, ctx) for s in dict.fromkeys(args.schedules)]
    return {"runs": runs}


def summary(result: dict) -> dict:
    return {
        "runs": [
            {
                k: r[k]
                for k in (
                    "schedule",
                    "stages",
                    "microbatches",
                    "measured_bubble",
                    "formula_bubble",
                    "t_forward_mean",
                    "t_backward_mean",
                )
            }
            for r in result["runs"]
        ]
    }


def main(argv=None) -> int:
    return common.main(MODULE, __doc__, add_args, check, work, summary=summary, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
