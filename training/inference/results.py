"""What the inference lab's build writes (`InferenceResults`, checkpoints/inference/results.json)
and the figures its readers take from it (`summarize`: the page's comparisons; `headline`: the
CLI's). Torch-free: the app imports this at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import store
from .plan import Plan


@dataclass(frozen=True)
class Machine:
    cpus: int
    torch: str
    torch_threads: dict[str, int]  # section -> torch threads it ran on


@dataclass(frozen=True)
class BaseModelRef:
    path: str  # the base checkpoint measured
    digest: str  # its manifest's sha256 (sections are cached against it)
    created: str | None


@dataclass(frozen=True)
class ModelSize:
    params: int
    n_layer: int
    d_model: int
    n_ctx: int


@dataclass(frozen=True)
class EvalSets:
    heldout_blocks: int  # held-out blocks for the loss
    heldout_tokens: int
    logit_blocks: int  # held-out blocks for top-1 agreement and max |Δlogit|
    people: int  # people probed for "born in" accuracy
    world: str


@dataclass(frozen=True)
class KVCache:
    """Section 1: one entry per context length in every list."""

    contexts: list[int]  # prompt lengths (tokens)
    cached_ms_per_token: list[float]  # median over repeats, decode steps after the first token
    uncached_ms_per_token: list[float]
    cache_bytes: list[int]  # weighed from the real cache after the prompt's forward
    predicted_cache_bytes: list[float]  # shared.memory.kv_cache_bytes
    flops_per_token_cached: list[float]  # forward FLOPs, averaged over the timed steps
    flops_per_token_uncached: list[float]
    identical_tokens: bool  # cached and uncached greedy tokens agree at every context
    other_cores: float  # the most cores other processes used during a timing
    other_cores_per_context: list[float]
    waited_for_quiet_s: float
    new_tokens: int
    repeats: int
    batch: int
    greedy: bool
    dtype: str
    note: str


@dataclass(frozen=True)
class QuantVariant:
    """Section 2: one way of storing the weights (fp32 first)."""

    name: str
    weight_bytes: int
    ms_per_token: float
    heldout_loss: float
    accuracy: float  # "born in" accuracy, a share
    top1_agreement: float  # share of positions whose argmax agrees with fp32
    max_abs_logit_diff: float
    other_cores: float
    context: int  # prompt length of the latency timing
    waited_for_quiet_s: float


@dataclass(frozen=True)
class Int4Format:
    """The int4 rows' storage, per group size (`plan.int4_groups`), over the blocks' Linears."""

    method: str  # how the int4 rows are stored and computed
    group_sizes: list[int]
    quantized_weights: int  # weights in the blocks' Linear layers
    fp32_bytes: int  # those weights in fp32
    formula_bytes: list[int]  # codes n/2 + per group an fp16 scale (2) + a 4-bit zero (1/2)
    tensor_bytes: list[int]  # summed from the int4 layers' real packed tensors


@dataclass(frozen=True)
class PrunePoint:
    """Section 3: one sparsity, no fine-tuning after pruning."""

    sparsity: float  # share of the block Linear weights set to zero
    heldout_loss: float
    accuracy: float
    pruned_weights: int  # weights ranked (the block Linear weights)
    zeroed: int  # exact zeros among them after pruning


@dataclass(frozen=True)
class StudentSize:
    n_layer: int
    d_model: int
    params: int


@dataclass(frozen=True)
class EvalPoint:
    step: int
    tokens: int
    eval_loss: float


@dataclass(frozen=True)
class Score:
    heldout_loss: float
    accuracy: float


@dataclass(frozen=True)
class Distillation:
    """Section 4: the student trained on the teacher's distributions vs on the data alone."""

    student: StudentSize
    teacher_params: int
    teacher_heldout_loss: float
    steps: int
    tokens_per_step: int
    temperature: float
    alpha: float  # weight of the soft (teacher) term
    lr: float
    seed: int
    curves: dict[str, list[EvalPoint]]  # "distilled" / "data only" -> held-out loss per eval
    final: dict[str, Score]  # "distilled" / "data only" -> the final student's scores


@dataclass(frozen=True)
class InferenceResults:
    SCHEMA_VERSION = 1
    rebuild: str  # the command that rebuilds these results
    machine: Machine
    preset: str
    plan: Plan
    base: BaseModelRef
    model: ModelSize
    eval: EvalSets
    int4: Int4Format
    section_seconds: dict[str, float]  # section -> seconds as built (waits included)
    section_other_cores: dict[str, float]
    section_note: str
    seconds: float
    kv_cache: KVCache
    quantization: list[QuantVariant]
    pruning: list[PrunePoint]
    distillation: Distillation


def read_results(path: str | Path | None = None) -> InferenceResults | None:
    """The bundled inference results (hash-checked), or None when there are none."""
    return store.read_results("inference", path, schema=InferenceResults)


# ---------------------------------------------------------------------------------------------
# What the page compares
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightsRow:
    """A quantization variant next to fp32."""

    name: str
    megabytes: float
    size_ratio: float  # weight bytes / fp32's
    ms_per_token: float
    heldout_loss: float
    accuracy: float
    top1_agreement: float
    max_abs_logit_diff: float


@dataclass(frozen=True)
class InferenceSummary:
    context: int  # the longest context timed
    cached_ms: float  # ms per token there, with the KV cache
    uncached_ms: float
    speedup: float  # uncached / cached
    cache_megabytes: float
    identical_tokens: bool
    weights: list[WeightsRow]  # fp32 first
    fp32: WeightsRow
    int8: WeightsRow  # the blocks' Linear layers in int8 (the head stays fp32)
    int4: WeightsRow  # the blocks' Linear layers in int4 at the largest group size (fewest bytes)
    int4_bits_per_weight: float  # the int4 row's bits per quantized weight (codes, scales, zeros)
    steps: int  # distillation steps per student
    temperature: float
    distilled: Score
    data_only: Score


def int4_name(group_size: int) -> str:
    """The quantization row of the int4 variant with this group size (as the build names it)."""
    return f"int4 g{group_size} (blocks)"


def summarize(r: InferenceResults) -> InferenceSummary:
    """The figures the page states: the KV cache at the longest context, each weight format
    against fp32, the two students' final scores."""
    kv, q, d = r.kv_cache, r.quantization, r.distillation
    i = len(kv.contexts) - 1
    f4 = r.int4
    g = f4.group_sizes.index(max(f4.group_sizes)) if f4.group_sizes else -1
    rows = [
        WeightsRow(
            name=x.name,
            megabytes=x.weight_bytes / 1e6,
            size_ratio=x.weight_bytes / q[0].weight_bytes,
            ms_per_token=x.ms_per_token,
            heldout_loss=x.heldout_loss,
            accuracy=x.accuracy,
            top1_agreement=x.top1_agreement,
            max_abs_logit_diff=x.max_abs_logit_diff,
        )
        for x in q
    ]
    return InferenceSummary(
        context=kv.contexts[i],
        cached_ms=kv.cached_ms_per_token[i],
        uncached_ms=kv.uncached_ms_per_token[i],
        speedup=kv.uncached_ms_per_token[i] / kv.cached_ms_per_token[i],
        cache_megabytes=kv.cache_bytes[i] / 1e6,
        identical_tokens=kv.identical_tokens,
        weights=rows,
        fp32=rows[0],
        int8=rows[1] if len(rows) > 1 else rows[0],
        int4=next((w for w in rows if g >= 0 and w.name == int4_name(f4.group_sizes[g])), rows[0]),
        int4_bits_per_weight=8 * f4.tensor_bytes[g] / f4.quantized_weights if g >= 0 else 32.0,
        steps=d.steps,
        temperature=d.temperature,
        distilled=d.final["distilled"],
        data_only=d.final["data only"],
    )


def headline(results: dict) -> dict:
    """The numbers to print after a build."""
    kv, q, d = results["kv_cache"], results["quantization"], results["distillation"]
    fp32, int8 = q[0], q[1]
    fin = d["final"]
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "kv_cache": {
            "context": kv["contexts"][-1],
            "speedup": round(kv["uncached_ms_per_token"][-1] / kv["cached_ms_per_token"][-1], 2),
            "flops_ratio": round(
                kv["flops_per_token_uncached"][-1] / kv["flops_per_token_cached"][-1], 1
            ),
            "cache_bytes": kv["cache_bytes"][-1],
            "identical_tokens": kv["identical_tokens"],
            "other_cores": kv["other_cores"],
        },
        "int8": {
            "name": int8["name"],
            "size_ratio": round(int8["weight_bytes"] / fp32["weight_bytes"], 3),
            "loss_change": round(int8["heldout_loss"] - fp32["heldout_loss"], 4),
            "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
            "ms_per_token": [fp32["ms_per_token"], int8["ms_per_token"]],
            "top1_agreement": int8["top1_agreement"],
        },
        "int4": {
            r["name"]: {
                "size_ratio": round(r["weight_bytes"] / fp32["weight_bytes"], 3),
                "loss_change": round(r["heldout_loss"] - fp32["heldout_loss"], 4),
                "accuracy_change": round(r["accuracy"] - fp32["accuracy"], 4),
                "speed_vs_fp32": round(fp32["ms_per_token"] / r["ms_per_token"], 3),
                "top1_agreement": r["top1_agreement"],
            }
            for r in q
            if r["name"].startswith("int4")
        },
        "int4_bytes_equal_formula": results["int4"]["formula_bytes"]
        == results["int4"]["tensor_bytes"],
        "pruning_loss": {f"{r['sparsity']:.0%}": r["heldout_loss"] for r in results["pruning"]},
        "distillation": {
            "steps": d["steps"],
            "distilled_loss": fin["distilled"]["heldout_loss"],
            "data_only_loss": fin["data only"]["heldout_loss"],
            "gain": round(fin["data only"]["heldout_loss"] - fin["distilled"]["heldout_loss"], 4),
        },
    }
