"""`python -m training architectures`: an LSTM, a state-space model (Mamba) and a transformer,
parameter-matched, trained by the project's own loop and measured side by side.

The course's claims, each a section of the results:
  lm          language modelling on the world corpus: held-out loss vs steps and vs wall-clock
              (two parameter-matched sizes);
  mqar        multi-query associative recall (Zoology, Arora et al. 2023): accuracy vs sequence
              length and number of key-value pairs, at several model widths — attention recalls
              anything in its context, a fixed-size state must hold every pair at once;
  copy        selective copying (Gu & Dao 2023, Table 1): content-aware selection;
  throughput  training tokens/s vs sequence length (the LSTM's loop over time vs parallel layers);
  inference   per-token decode latency, FLOPs per token and cache/state bytes vs context, the bytes
              read from each model's real cache object;
  gradients   ‖∂ loss at the last position / ∂ input embedding at distance t‖ — vanishing
              gradients, measured, at initialisation and after training;
  recurrence  the SSM recurrence computed three ways (sequential, parallel scan, convolution):
              equal outputs, work and depth counted (`shared.recurrence`).

Parameter matching (`matched_specs`): every model has the same width d (token embedding and
hidden size) and as many layers as brings its non-embedding parameters closest to the
transformer's (a Llama-style block ≈ 12·d², a Mamba block ≈ 6·d² + small, an LSTM layer 8·d²:
2 transformer layers ≈ 3–4 Mamba layers ≈ 3 LSTM layers). So "vs width" and "vs size" are the
same axis, and each point compares equal budgets of parameters.

Honest about the CPU: Mamba runs `mambapy`'s parallel scan in plain PyTorch (no fused kernel), so
its wall-clock numbers are many times what the CUDA kernel would give; FLOPs and bytes are
reported beside every timing. Every section is cached in the work directory (resumable); the
results directory is written atomically, with the MQAR models of the widest size for the
recall probe (safetensors).

Modules: `plan` (the presets), `specs` (parameter-matched models), `tasks` (the training runs),
`sections` (one function per section), `results` (the schema `ArchitecturesResults`, reading and
the build), `figures` (what the app's tabs show, as dataclasses), `recall_probe`, `race`.
"""

from __future__ import annotations

from .figures import MqarLongest, headline, mqar_at_longest
from .plan import ARCHS, FACTORY, MODELS_DIR, PLANS, Plan
from .race import RACE_MAX_STEPS, RACE_SECONDS_PER_MODEL, RACE_TASKS, Race, live_race, race_data
from .recall_probe import (
    MAX_KEY_CHARS,
    Answer,
    ProbeResult,
    load_probe_models,
    parse_probe,
    probe,
    probe_tokens,
)
from .results import SECTIONS, ArchitecturesResults, Built, build, read_results
from .sections import cache_equivalence, gradient_norms, load_trained, mqar_eval_grid, rechunk
from .specs import (
    arch_spec,
    matched_specs,
    new_model,
    nonembedding_params,
    quiet_model_warnings,
    spec_summary,
)
from .tasks import mqar_mixture, task_accuracy, train_task

__all__ = [
    "ARCHS",
    "Answer",
    "ArchitecturesResults",
    "Built",
    "MqarLongest",
    "ProbeResult",
    "FACTORY",
    "MAX_KEY_CHARS",
    "MODELS_DIR",
    "PLANS",
    "RACE_MAX_STEPS",
    "RACE_SECONDS_PER_MODEL",
    "RACE_TASKS",
    "SECTIONS",
    "Plan",
    "Race",
    "arch_spec",
    "build",
    "cache_equivalence",
    "gradient_norms",
    "headline",
    "live_race",
    "load_probe_models",
    "load_trained",
    "matched_specs",
    "mqar_at_longest",
    "mqar_eval_grid",
    "mqar_mixture",
    "new_model",
    "nonembedding_params",
    "parse_probe",
    "probe",
    "probe_tokens",
    "quiet_model_warnings",
    "race_data",
    "read_results",
    "rechunk",
    "spec_summary",
    "task_accuracy",
    "train_task",
]
