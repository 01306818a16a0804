"""The schema of `checkpoints/parallel/results.json` (nested frozen dataclasses) and its reader:
what `training.parallel.build` writes, what the Parallelism Visualizer reads, and the type of a
live launch's result. Torch-free (the app reads the results at start)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared import pipeline
from training import schema, store


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


def read_results(path: str | Path | None = None) -> ParallelResults | None:
    """The bundled parallel results (hash-checked), or None when there are none; a body that does
    not match `ParallelResults` raises `store.CheckpointError` naming the field."""
    return store.read_results("parallel", path, schema=ParallelResults)


def pipeline_run(run: dict) -> PipelineRun:
    """A pipeline run as `launch.run("pipeline", ...)` returns it (its extra launch keys dropped),
    in the schema of a bundled one."""
    keys = {f.name for f in dataclasses.fields(PipelineRun)}
    return schema.parse(PipelineRun, {k: v for k, v in run.items() if k in keys})


RUN_TYPES = {
    "ddp": "DDPRun",
    "tensor_parallel": "TPRun",
    "fsdp": "FSDPRun",
    "pipeline": "PipelineRun",
}


def run_result(kind: str, run: dict):
    """One run as `launch.run(kind, ...)` returns it (extra launch keys dropped), in the schema of
    a bundled one: DDPRun, TPRun, FSDPRun or PipelineRun."""
    cls = globals()[RUN_TYPES[kind]]
    keys = {f.name for f in dataclasses.fields(cls)}
    return schema.parse(cls, {k: v for k, v in run.items() if k in keys})


@dataclass(frozen=True)
class LiveLaunch:
    """A live run launched from the page (`launch.live_run`'s result)."""

    kind: str  # a key of RUN_TYPES
    run: DDPRun | TPRun | FSDPRun | PipelineRun
    wall_s: float  # the whole launch, torchrun start-up included
