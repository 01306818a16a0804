"""The results directory: its schema (`ArchitecturesResults`), reading it back, and building
every section (cached, resumable) and writing it atomically with the recall probe's models.

Importable without torch (the app reads the results at start); the build imports it inside."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .. import schema, store
from ..models import ModelSpec
from ..quiet import OtherLoad
from .plan import MODELS_DIR, PLANS, Plan
from .sections import (
    copy_section,
    gradient_section,
    inference_section,
    lm_section,
    mqar_section,
    recurrence_section,
    throughput_section,
)
from .specs import matched_specs, quiet_model_warnings

SECTIONS = ("recurrence", "inference", "throughput", "lm", "gradients", "mqar", "copy")
Arch = Literal["transformer", "mamba", "lstm"]  # display names (ARCHS)


# ---------------------------------------------------------------- the schema
@dataclass(frozen=True)
class Machine:
    cpus: int
    torch: str  # torch.__version__
    torch_threads: int
    cuda: bool


@dataclass(frozen=True)
class ModelSummary:
    """A model's shape and parameter counts (`spec_summary`)."""

    arch: str  # the factory's name: "llama", "mamba" or "lstm"
    n_layer: int
    d_model: int
    params: int
    params_nonembedding: int
    params_matmul: int  # parameters in matrix multiplies (2 FLOPs each per token)


@dataclass(frozen=True)
class Probe:
    """The recall probe's models (models/<arch>.safetensors): the widest MQAR models."""

    width: int
    seq: int  # the length they were trained at
    vocab: int
    models: dict[str, ModelSpec]  # arch -> the spec to build before loading its weights


@dataclass(frozen=True)
class MethodCost:
    seconds: float
    work: int  # multiply-adds
    depth: int  # rounds that must run one after another
    max_abs_diff: float  # vs the sequential loop


@dataclass(frozen=True)
class RecurrenceRow:
    length: int
    sequential: MethodCost
    parallel_scan: MethodCost
    convolution: MethodCost
    selective_scan_diff: float  # a selective system: max |scan − loop|


@dataclass(frozen=True)
class Recurrence:
    state: int  # state size N
    rows: list[RecurrenceRow]


@dataclass(frozen=True)
class DecodeRow:
    context: int
    ms_per_token: float
    cache_bytes: int  # summed over the tensors of the model's real cache object
    flops_per_token: float


@dataclass(frozen=True)
class DecodeArch:
    model: ModelSummary
    rows: list[DecodeRow]
    cache_check: float  # max |logit difference|, cached decoding vs one full forward pass


@dataclass(frozen=True)
class Inference:
    width: int
    new_tokens: int  # tokens generated per timed decode
    archs: dict[str, DecodeArch]


@dataclass(frozen=True)
class ThroughputRow:
    seq: int
    tokens_per_s: float
    step_s: float
    flops_per_token: float


@dataclass(frozen=True)
class Throughput:
    width: int
    batch: int
    models: dict[str, ModelSummary]
    rows: dict[str, list[ThroughputRow]]


@dataclass(frozen=True)
class LMPoint:
    step: int
    tokens: int
    eval_loss: float
    elapsed_s: float | None = None  # absent at step 0


@dataclass(frozen=True)
class LMRun:
    arch: Arch
    width: int
    model: ModelSummary
    curve: list[LMPoint]
    seconds: float
    tokens_per_s: float
    final_eval_loss: float


@dataclass(frozen=True)
class LM:
    seq: int
    steps: int
    batch: int
    vocab: int
    runs: list[LMRun]


@dataclass(frozen=True)
class GradientArch:
    init: list[float]  # gradient norm at distance t = 0, 1, … (fresh model)
    trained: list[float] | None  # the same after the LM section (None: context too short)
    model: ModelSummary


@dataclass(frozen=True)
class Gradients:
    seq: int
    samples: int
    archs: dict[str, GradientArch]


@dataclass(frozen=True)
class TaskPoint:
    step: int
    tokens: int
    eval_loss: float
    accuracy: float  # held-out accuracy on the scored positions
    elapsed_s: float | None = None  # absent at step 0


@dataclass(frozen=True)
class GridCell:
    seq: int
    pairs: int
    key: str  # "<seq>x<pairs>", the key into MqarRun.accuracy


@dataclass(frozen=True)
class MqarRun:
    arch: Arch
    width: int
    model: ModelSummary
    curve: list[TaskPoint]
    steps: int  # steps trained (an early stop ends sooner)
    seconds: float
    accuracy: dict[str, float]  # GridCell.key -> accuracy on fresh examples
    train_mix_accuracy: float


@dataclass(frozen=True)
class Mqar:
    seq: int  # training length
    vocab: int
    train_pairs: list[int]
    train_examples: int
    steps: int
    batch: int
    lr: float
    min_lr_ratio: float
    target: float  # early stop at this held-out accuracy
    grid: list[GridCell]
    runs: list[MqarRun]


@dataclass(frozen=True)
class CopyRun:
    arch: Arch
    model: ModelSummary
    curve: list[TaskPoint]
    steps: int
    seconds: float
    accuracy: float


@dataclass(frozen=True)
class Copy:
    seq: int
    tokens: int  # data tokens to copy
    vocab: int
    chance: float
    runs: list[CopyRun]


@dataclass(frozen=True)
class ArchitecturesResults:
    SCHEMA_VERSION = 1
    rebuild: str  # the command that rebuilds these results
    preset: str
    plan: Plan
    machine: Machine
    section_seconds: dict[str, float]
    section_other_cores: dict[str, float]  # other processes' CPU load while each section ran
    seconds: float  # this build's own time (cached sections cost nothing)
    probe: Probe
    recurrence: Recurrence
    inference: Inference
    throughput: Throughput
    lm: LM
    gradients: Gradients
    mqar: Mqar
    copy: Copy


def read_results(path: str | Path | None = None) -> ArchitecturesResults | None:
    """The bundled architectures results (hash-checked), or None when there are none."""
    return store.read_results("architectures", path, schema=ArchitecturesResults)


# ---------------------------------------------------------------- the build
SECTION_FIELDS = {  # the plan fields each section's cached result depends on
    "recurrence": ("recurrence_", "seed"),
    "inference": ("inference_", "lm_widths", "lm_layers", "repeats"),
    "throughput": ("throughput_", "lm_widths", "lm_layers", "repeats"),
    "lm": ("lm_", "world", "seed"),
    "gradients": ("gradient_", "lm_", "world", "seed"),
    "mqar": ("mqar_", "seed"),
    "copy": ("copy_", "mqar_layers", "mqar_target", "seed"),
}


@dataclass(frozen=True)
class Built:
    """What `build` returns: the results it wrote, and where."""

    results: ArchitecturesResults
    out: Path


def _key(section: str, plan: Plan) -> str:
    """A section's cache key: its own settings only, so changing one section's plan reruns that
    section alone (and the gradients when the LM runs change)."""
    fields = {
        k: v
        for k, v in asdict(plan).items()
        if any(k == f or (f.endswith("_") and k.startswith(f)) for f in SECTION_FIELDS[section])
    }
    return hashlib.sha256(json.dumps([section, fields], sort_keys=True).encode()).hexdigest()[:16]


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    progress: bool = True,
) -> Built:
    """Run every section (each cached in the work directory: a rerun resumes after the last
    finished one) and write the results directory atomically: results.json and the MQAR models
    of the widest size (models/<arch>.safetensors + .json spec) for the recall probe."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    work = Path(work_dir or f"runs/architectures-{preset}")
    out = Path(
        out or (store.BUNDLED_DIR / "architectures" if preset == "cpu" else work / "results")
    )
    with store.run_lock(work):
        return _build(preset, plan, out, work, progress)


def _run_section(name: str, plan: Plan, work: Path, progress: bool) -> tuple[dict, float, float]:
    """One section's result, seconds and other processes' load: from its cache in the work
    directory when its key matches, else run now and cached."""
    cached = work / f"{name}.json"
    if cached.is_file():
        doc = json.loads(cached.read_text())
        if doc.get("key") == _key(name, plan):
            return doc["result"], doc["seconds"], doc["other_cores"]
    runs = {  # looked up here, at call time (tests replace them to see that none reruns)
        "recurrence": lambda: recurrence_section(plan),
        "inference": lambda: inference_section(plan),
        "throughput": lambda: throughput_section(plan),
        "lm": lambda: lm_section(plan, work, progress),
        "gradients": lambda: gradient_section(plan, work),
        "mqar": lambda: mqar_section(plan, work, progress),
        "copy": lambda: copy_section(plan, work, progress),
    }
    with OtherLoad() as load:
        result = runs[name]()
    seconds, other = round(time.perf_counter() - load.t0, 1), round(load.cores, 3)
    doc = {"key": _key(name, plan), "seconds": seconds, "other_cores": other, "result": result}
    store.write_text_atomic(cached, json.dumps(doc) + "\n")
    return result, seconds, other


def _build(preset: str, plan: Plan, out: Path, work: Path, progress: bool) -> Built:
    import torch  # the build's imports here: the app reads this module at start, torch-free
    from tqdm import tqdm

    quiet_model_warnings()
    t0 = time.perf_counter()
    results, seconds, other = {}, {}, {}
    bar = tqdm(SECTIONS, desc="architectures", unit="section", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        results[name], seconds[name], other[name] = _run_section(name, plan, work, progress)
    width = max(plan.mqar_widths)
    probe_specs = matched_specs(width, plan.mqar_layers, plan.mqar_vocab, plan.mqar_seq)
    machine = Machine(
        cpus=os.cpu_count() or 1,
        torch=str(torch.__version__),
        torch_threads=torch.get_num_threads(),
        cuda=torch.cuda.is_available(),
    )
    body = {
        "rebuild": f"python -m training architectures --preset {preset}",
        "preset": preset,
        "plan": asdict(plan),
        "machine": asdict(machine),
        "section_seconds": seconds,
        "section_other_cores": other,
        "seconds": round(time.perf_counter() - t0, 1),
        "probe": {
            "width": width,
            "seq": plan.mqar_seq,
            "vocab": plan.mqar_vocab,
            "models": {a: asdict(s) for a, s in probe_specs.items()},
        },
        **results,
    }
    typed = schema.parse(ArchitecturesResults, body)  # never write what the reader refuses
    models = {}
    for arch in probe_specs:
        src = work / f"mqar-{arch}-{width}" / "resume"
        store.verify(src)
        models[f"{MODELS_DIR}/{arch}.safetensors"] = src / "model.safetensors"
    manifest = {
        "kind": "architectures",
        "preset": preset,
        "rebuild": typed.rebuild,
        "machine": body["machine"],
    }
    store.write_results(out, typed, manifest, files=models)
    return Built(results=typed, out=out)
