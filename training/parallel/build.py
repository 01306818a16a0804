"""`python -m training parallel`: the bundled results of real distributed runs, for the app.

One build runs, through `launch` (each a torchrun job with a time bound, cleaned up whatever
happens): DDP, the tensor-parallel MLP and FSDP2 on 2 ranks; GPipe and 1F1B on 2 ranks and on 4
(4 processes may share fewer cores — each entry records `oversubscribed` and `cpus`); and one GPT-2
layer's activation bytes for a few shapes (`activations`). It writes `results.json` through
`store.write_results` (manifest with sha256), with the command that rebuilds it and the machine.

The file's schema is `ParallelResults` (nested frozen dataclasses, below); `read_results` returns
it, hash-checked, and refuses a body that does not match with one line naming the field. This
module imports no torch (the app reads the results at start).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared import pipeline
from training import schema, store
from training.parallel import launch

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


# ---------------------------------------------------------------- the results schema
@dataclass(frozen=True)
class BuildMachine:
    """The machine the whole build ran on."""

    cpus: int
    torch: str
    gpus: int


@dataclass(frozen=True)
class RunMachine:
    """Where one torchrun job ran (`common.machine`) and its process-group backend."""

    cpus: int
    torch: str
    ranks: int
    oversubscribed: bool  # more ranks than cores (or GPUs): they took turns
    backend: str  # "gloo" (CPU) or "nccl" (GPU)
    gpus: int | None = None  # GPU runs only
    gpu: str | None = None  # GPU runs only: the device name


@dataclass(frozen=True)
class DDPRank:
    max_abs_grad_diff: float  # vs one process on the global batch
    compute_s: float  # median forward + backward with no sync
    step_s: float  # median step with DDP's overlapped all-reduce
    allreduce_s: float  # median all-reduce of every gradient alone


@dataclass(frozen=True)
class DDPRun:
    ranks: int
    max_abs_grad_diff: float  # the largest over the ranks
    compute_s: float
    step_s: float
    allreduce_s: float
    exposed_comm_s: float  # step − compute on the slowest rank: what overlap did not hide
    grad_bytes: int  # every gradient, fp32
    ring_bytes_per_rank: float  # 2(N−1)/N · grad_bytes
    allreduce_bytes_per_s: float
    width: int
    blocks: int
    batch: int  # the global batch
    per_rank: list[DDPRank]
    machine: RunMachine
    command: str
    wall_s: float  # the whole launch, torchrun start-up included


@dataclass(frozen=True)
class TPRank:
    max_abs_diff: float  # vs the unsplit MLP
    compute_s: float
    allreduce_s: float


@dataclass(frozen=True)
class TPRun:
    ranks: int
    max_abs_diff: float
    compute_s: float  # the slowest rank's median local compute
    allreduce_s: float
    allreduce_bytes: int  # the row-parallel output summed by one all-reduce
    ring_bytes_per_rank: float
    width: int
    tokens: int
    per_rank: list[TPRank]
    machine: RunMachine
    command: str
    wall_s: float


@dataclass(frozen=True)
class FSDPRank:
    params_bytes: int  # measured on this rank's shard
    grads_bytes: int
    optimizer_bytes: int  # exp_avg and exp_avg_sq
    step_s: float
    allgather_s: float  # all blocks' unshard
    allgather_block_s: list[float]


@dataclass(frozen=True)
class StateBytes:
    params: float
    grads: float
    optimizer: float


@dataclass(frozen=True)
class PredictedStates(StateBytes):
    total: float  # `memory.model_state_bytes` under ZeRO-3


@dataclass(frozen=True)
class FSDPRun:
    ranks: int
    n_params: int
    per_rank: list[FSDPRank]
    predicted_per_rank: PredictedStates  # fp32 AdamW: 4 + 4 + 8 bytes per parameter over N
    unsharded_bytes: StateBytes
    allgather_bytes: int  # what each rank holds after gathering every block
    allgather_bytes_received_per_rank: float
    allgather_block_bytes: list[int]
    width: int
    blocks: int
    batch: int
    machine: RunMachine
    command: str
    wall_s: float

    def distinct_bytes(self, state: Literal["params", "grads", "optimizer"]) -> list[int]:
        """The bytes of one state the ranks measured, each distinct value once (one when the
        shards are equal)."""
        return sorted({getattr(x, f"{state}_bytes") for x in self.per_rank})


@dataclass(frozen=True)
class Event:
    """One forward (F) or backward (B) of one micro-batch on one stage, seconds from the start."""

    kind: Literal["F", "B"]
    microbatch: int
    start: float
    end: float
    stage: int


@dataclass(frozen=True)
class PipelineRun:
    schedule: Literal["gpipe", "1f1b"]
    stages: int
    microbatches: int
    events: list[Event]  # measured
    simulated: list[Event]  # `shared.pipeline.simulate` with the measured mean F and B times
    measured_bubble: float  # idle share of the measured step
    formula_bubble: float  # (p−1)/(m+p−1)
    t_forward_mean: float
    t_backward_mean: float
    makespan_s: float
    oversubscribed: bool
    cpus: int
    batch: int
    width: int
    blocks: int
    command: str

    def timeline(self, simulated: bool = False) -> list[pipeline.Event]:
        """The measured (or simulated) events as `shared.pipeline` events, for its bubble and charts."""
        rows = self.simulated if simulated else self.events
        return [pipeline.Event(e.stage, e.microbatch, e.kind, e.start, e.end) for e in rows]


@dataclass(frozen=True)
class Activations:
    """One GPT-2 layer's bytes saved for backward beside Korthikanti et al.'s count."""

    seq: int
    batch: int
    hidden: int
    heads: int
    recompute: Literal["none", "full"]
    measured_bytes: int
    predicted_bytes: float  # `memory.activation_bytes_per_layer`
    ratio: float  # measured / predicted
    device: str
    dtype: str
    dropout: float
    explained_bytes: float  # the count with this device's probed mask and statistics bytes
    dropout_mask_bytes_per_element: float | None = None  # probed; recompute "none" only
    layernorm_stat_bytes_per_token: float | None = None  # probed; recompute "none" only


@dataclass(frozen=True)
class ParallelResults:
    """checkpoints/parallel/results.json."""

    SCHEMA_VERSION = 1

    rebuild: str  # the command that rebuilds this file
    machine: BuildMachine
    preset: str
    seconds: float  # the whole build
    pipeline: list[PipelineRun]  # every schedule on every rank count
    ddp: DDPRun
    tensor_parallel: TPRun
    fsdp: FSDPRun
    activations: list[Activations]  # both recompute settings for every shape

    def activation_ratios(self, recompute: str) -> list[float]:
        """measured / predicted of every shape with this recompute setting."""
        return [a.ratio for a in self.activations if a.recompute == recompute]


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


def read_results(path: str | Path | None = None) -> ParallelResults | None:
    """The bundled parallel results (hash-checked), or None when there are none; a body that does
    not match `ParallelResults` raises `store.CheckpointError` naming the field."""
    return store.read_results("parallel", path, schema=ParallelResults)


def pipeline_run(run: dict) -> PipelineRun:
    """A pipeline run as `launch.run("pipeline", ...)` returns it (its extra launch keys dropped),
    in the schema of a bundled one."""
    keys = {f.name for f in dataclasses.fields(PipelineRun)}
    return schema.parse(PipelineRun, {k: v for k, v in run.items() if k in keys})
