"""`python -m training parallel`: the bundled results of real distributed runs, for the app.

One build runs, through `launch` (each a torchrun job with a time bound, cleaned up whatever
happens): DDP, the tensor-parallel MLP and FSDP2 on 2 ranks; GPipe and 1F1B on 2 ranks and on 4
(4 processes may share fewer cores — each entry records `oversubscribed` and `cpus`); and one GPT-2
layer's activation bytes for a few shapes (`activations`). It writes `results.json` through
`store.write_results` (manifest with sha256), with the command that rebuilds it and the machine.

The file's schema is `ParallelResults` (training/parallel/results.py, with `read_results`, which
returns it hash-checked and refuses a body that does not match with one line naming the field).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from training import schema, store
from training.parallel import launch
from training.parallel.results import ParallelResults

RESULTS = store.RESULTS


@dataclass(frozen=True)
class Plan:
    ddp: dict
    tensor_parallel: dict
    fsdp: dict
    pipeline: dict
    pipeline_ranks: tuple[int, ...] = (2, 4)
    activation_shapes: tuple[tuple[int, int, int, int], ...] = ()  # (seq, batch, hidden, heads)
    timeout_s: float = 300.0  # per torchrun job


PLANS = {
    # seconds: the tests build it
    "tiny": Plan(
        ddp={"width": 64, "blocks": 2, "batch": 16, "repeats": 3},
        tensor_parallel={"width": 64, "tokens": 128, "repeats": 3},
        fsdp={"width": 64, "blocks": 2, "batch": 8, "repeats": 3},
        pipeline={"width": 64, "blocks": 4, "batch": 16, "microbatches": 4},
        activation_shapes=((64, 1, 64, 4), (128, 2, 32, 2)),
        timeout_s=60.0,
    ),
    # the bundled default: a few minutes on 2 cores; widths where compute is not lost in overheads
    "cpu": Plan(
        ddp={"width": 256, "blocks": 4, "batch": 64, "repeats": 10},
        tensor_parallel={"width": 256, "tokens": 512, "repeats": 10},
        fsdp={"width": 256, "blocks": 4, "batch": 16, "repeats": 10},
        pipeline={"width": 512, "blocks": 12, "batch": 64, "microbatches": 8},
        activation_shapes=(
            (64, 4, 256, 4),
            (128, 2, 64, 4),
            (256, 1, 128, 4),
            (512, 1, 128, 8),
            (1024, 1, 256, 8),
        ),
    ),
}


@dataclass(frozen=True)
class Built:
    """What `build` returns: the results and where they were written."""

    results: ParallelResults
    out: str


def build(preset: str = "cpu", out: str | Path | None = None, progress: bool = True) -> Built:
    """Run every measurement of the preset and write the results directory atomically."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    out = Path(
        out or (store.BUNDLED_DIR / "parallel" if preset == "cpu" else f"runs/parallel-{preset}")
    )
    t0 = time.perf_counter()
    measured = _measure(plan, progress)
    # torch inside build(): the app imports this module at start and must not pay for it
    import torch

    body = {
        "rebuild": f"python -m training parallel --preset {preset}",
        "machine": {
            "cpus": os.cpu_count() or 1,
            "torch": str(torch.__version__),  # a TorchVersion, a str subclass
            "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        },
        "preset": preset,
        "seconds": round(time.perf_counter() - t0, 1),
        **measured,
    }
    results = schema.parse(ParallelResults, body)  # never write what read_results would refuse
    store.write_results(
        out,
        results,
        {
            "kind": "parallel",
            "preset": preset,
            "rebuild": body["rebuild"],
            "machine": body["machine"],
        },
    )
    return Built(results, str(out))


def _measure(plan: Plan, progress: bool) -> dict:
    """Every run of the plan, each through `launch` (a bounded torchrun job), as the body's keys."""
    steps = (
        [("ddp", 2), ("tensor_parallel", 2), ("fsdp", 2)]
        + [("pipeline", r) for r in plan.pipeline_ranks]
        + [("activations", 0)]
    )
    from tqdm import tqdm

    bar = tqdm(steps, desc="parallel runs", disable=not progress, unit="run")
    results: dict = {"pipeline": []}
    for kind, ranks in bar:
        bar.set_postfix_str(f"{kind}" + (f" × {ranks} ranks" if ranks else ""))
        if kind == "activations":
            from training.parallel import activations

            results["activations"] = activations.measure_all(plan.activation_shapes)
        elif kind == "pipeline":
            r = launch.run_raw(
                "pipeline",
                ranks,
                plan.timeout_s,
                allow_oversubscribe=True,
                schedules=launch.SCHEDULES,
                **plan.pipeline,
            )
            results["pipeline"] += [{**run, "command": r["command"]} for run in r["runs"]]
        else:
            results[kind] = launch.run_raw(
                kind, ranks, plan.timeout_s, allow_oversubscribe=True, **getattr(plan, kind)
            )
    return results


def headline(built: Built) -> dict:
    """The numbers to print after a build."""
    r = built.results
    return {
        "out": built.out,
        "seconds": r.seconds,
        "ddp_max_abs_grad_diff": r.ddp.max_abs_grad_diff,
        "ddp_compute_s": r.ddp.compute_s,
        "ddp_allreduce_s": r.ddp.allreduce_s,
        "tp_max_abs_diff": r.tensor_parallel.max_abs_diff,
        "fsdp_allgather_s": [x.allgather_s for x in r.fsdp.per_rank],
        "pipeline_bubbles": [
            {
                "schedule": p.schedule,
                "stages": p.stages,
                "measured": round(p.measured_bubble, 3),
                "formula": round(p.formula_bubble, 3),
            }
            for p in r.pipeline
        ],
        "activation_ratios": [
            {
                "shape": f"s{a.seq} b{a.batch} h{a.hidden} a{a.heads}",
                "recompute": a.recompute,
                "ratio": round(a.ratio, 4),
            }
            for a in r.activations
        ],
    }
