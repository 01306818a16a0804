"""The inference lab: what makes inference cheap, measured on the project's own models.

The course claims inference is made cheap by KV caching, quantization, pruning and distillation.
Each section measures one claim on the bundled base model (Llama-style, 4 layers, d 256, 3.6M
parameters, context 256) with the project's own code — `training.generate` (the one generation
loop), `training.pretrain.evaluate` (held-out loss), `training.evaluate.fact_accuracy` ("born in"
accuracy), `training.pretrain.pretrain` (the one training loop, given a teacher to distil):

1. KV cache on vs off: milliseconds per generated token against context length, greedy; the
   cache's bytes read from the real cache object beside `shared.memory.kv_cache_bytes`; forward
   FLOPs per token with and without the cache (`flops_per_token` below says how they are counted).
2. int8 dynamic quantization (`torch.ao.quantization.quantize_dynamic` on `nn.Linear`: int8
   weights with one scale per output channel, activations quantized on the fly; the eager
   `torch.ao.quantization` API is deprecated in favour of torchao's `quantize_`, its successor, so its
   deprecation warnings are silenced here alone). Weight bytes counted from the quantized modules,
   latency, held-out loss, accuracy, top-1 agreement and max |Δlogit| against fp32.
   Beside them, weight-only int4 (`int4`: group-wise asymmetric round-to-nearest, the w4 gG format
   GPTQ/AWQ checkpoints store, codes and zero points really packed two per byte, fp16 scales;
   dequantized at every forward) at each of the plan's group sizes, timed in the same interleaved
   runs; the `int4` section weighs its tensors beside the bytes formula. torchao's CPU int4 path
   was left out: a prototype API in a new dependency that peft then imports at every LoRA load.
3. Magnitude pruning (`torch.nn.utils.prune`, global L1 unstructured over the transformer blocks'
   Linear weights; the tied embedding/output matrix is not pruned) at 0 … 90 % sparsity, without
   any fine-tuning after pruning. Unstructured zeros save nothing in a dense matmul: this section
   measures what the model loses, not time.
4. Distillation: a small student trained on the base model's softened next-token distributions
   (KL at temperature T, weight alpha, the rest cross-entropy) against the same student trained on
   the data alone — same init, steps, data order and seed; only the targets differ.

`build("cpu")` is the bundled default (`checkpoints/inference/results.json`, ~8 min on 2 quiet
cores, plus the waits for quiet); each finished section is cached in `runs/inference-cpu/` (keyed by
its settings and the base model's digest; a section timed on a busy machine is not cached, so the
next build re-measures it) — and also reused from the results already at the output when their
settings and base match, so adding a section measures only that one — and a distillation run
resumes from its last checkpoint. `build("tiny")` runs every
section on the same bundled base with the tiny world's text, three prompts and a 4-step student,
in seconds, on one thread, caching nothing: its numbers prove the pipeline, not the claims.
Timings wait for a quiet machine first and record the cores other processes used meanwhile.

The package: `plan` (Plan, PLANS), `kv_cache` (section 1), `compression` (sections 2 and 3), `int4`
(the 4-bit format; imports torch, so load it directly),
`distill` (section 4), `lab` (the Lab and the build), `results` (InferenceResults, the schema of
results.json, and the page's figures; torch-free). `from training import inference` gives them all.
"""

from __future__ import annotations

from .. import store
from .compression import (
    compare_logits,
    int4_section,
    prune_global,
    pruning_section,
    quantization_section,
    quantize_int4,
    quantize_int8,
    weight_bytes,
    zero_weights,
)
from .distill import distillation_section, student_config, student_spec
from .kv_cache import (
    decode_ms_per_token,
    flops_per_token,
    kv_cache_section,
    measured_cache_bytes,
    predicted_cache_bytes,
    time_decode,
)
from .lab import SECTION_FIELDS, Lab, build, make_lab, timed_busy
from .plan import (
    INT4_METHOD,
    MAX_SPARSITIES,
    PLANS,
    QUIET_CORES,
    Plan,
    check_group_size,
    check_sparsities,
    quiet_waiter,
)
from .results import (
    BaseModelRef,
    Distillation,
    EvalPoint,
    EvalSets,
    InferenceResults,
    InferenceSummary,
    Int4Format,
    KVCache,
    Machine,
    ModelSize,
    PrunePoint,
    QuantVariant,
    Score,
    StudentSize,
    WeightsRow,
    headline,
    int4_name,
    read_results,
    summarize,
)

RESULTS = store.RESULTS

__all__ = [
    "BaseModelRef",
    "Distillation",
    "EvalPoint",
    "EvalSets",
    "InferenceResults",
    "InferenceSummary",
    "INT4_METHOD",
    "Int4Format",
    "KVCache",
    "Lab",
    "MAX_SPARSITIES",
    "Machine",
    "ModelSize",
    "PLANS",
    "Plan",
    "PrunePoint",
    "QUIET_CORES",
    "QuantVariant",
    "RESULTS",
    "SECTION_FIELDS",
    "Score",
    "StudentSize",
    "WeightsRow",
    "build",
    "check_group_size",
    "check_sparsities",
    "compare_logits",
    "decode_ms_per_token",
    "distillation_section",
    "flops_per_token",
    "headline",
    "int4_name",
    "int4_section",
    "kv_cache_section",
    "make_lab",
    "measured_cache_bytes",
    "predicted_cache_bytes",
    "prune_global",
    "pruning_section",
    "quantization_section",
    "quantize_int4",
    "quantize_int8",
    "quiet_waiter",
    "read_results",
    "student_config",
    "student_spec",
    "summarize",
    "time_decode",
    "timed_busy",
    "weight_bytes",
    "zero_weights",
]
