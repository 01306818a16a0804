"""Scaling arithmetic and published scaling laws (pure numpy; scipy imported lazily; no torch).

One name for four modules, read in this order: `scaling_laws` (compute, the laws, compute-optimal
allocation), `scaling_cost` (GPUs, training cost, notable models), `scaling_fit` (fitting laws to
runs) and `scaling_explore` (what the Scaling Laws Explorer shows, as dataclasses).

Everything here is a published law with its source, or plain arithmetic on one:

- Kaplan et al. 2020, *Scaling Laws for Neural Language Models* (arXiv 2001.08361):
  L(N) Eq. 1.1, L(D) Eq. 1.2, L(C_min) Eq. 1.3, L(N, D) Eq. 1.5, N_opt ∝ C^0.73 (Eq. 1.7 / Fig. 14).
  C ≈ 6·N·D; forward FLOPs per token 2N + 2·n_layer·n_ctx·d_attn (Table 1). 1 PF-day = 8.64e19.
- Hoffmann et al. 2022, *Training Compute-Optimal Large Language Models* (arXiv 2203.15556):
  Approach 3 law (Eq. 10 constants), closed-form allocation (Eq. 4), Huber/L-BFGS fitting,
  IsoFLOP (Approach 2).
- Besiroglu et al. 2024, *Chinchilla Scaling: A replication attempt* (arXiv 2404.10102): refit.
- PaLM (Chowdhery et al. 2022, App. B): MFU counts 6N + 12·L·H·Q·T FLOPs per token.

Parameter counts: Kaplan's laws use *non-embedding* parameters and nats on WebText2; Chinchilla's
use all parameters and nats on MassiveText. The losses of different laws are therefore not on
the same dataset and are not directly comparable as absolute numbers — only their shapes are.
"""

from __future__ import annotations

from . import scaling_explore as explore
from .scaling_cost import (
    GPT3_MFU,
    GPT3_MFU_SOURCE,
    GPT3_PRICE_RANGE,
    GPU,
    GPUS,
    NOTABLE_MODELS,
    TrainingCost,
    gpt3_cost_range,
    one_device,
    training_cost,
)
from .scaling_fit import (
    Approach2Fit,
    Approach3Fit,
    fit_approach2,
    fit_approach3,
    hoffmann_grid,
)
from .scaling_laws import (
    BESIROGLU_URL,
    HOFFMANN_URL,
    KAPLAN_URL,
    LAWS,
    PF_DAY_FLOPS,
    ChinchillaLaw,
    KaplanLaw,
    compute_optimal,
    diminishing_returns,
    flops_per_token,
    get_law,
    kaplan_forward_flops_per_token,
    kaplan_loss_c,
    kaplan_loss_d,
    kaplan_loss_n,
    optimal_loss,
    outside_fit_range,
    tokens_per_param,
    training_flops,
)

__all__ = [
    "BESIROGLU_URL",
    "GPT3_MFU",
    "GPT3_MFU_SOURCE",
    "GPT3_PRICE_RANGE",
    "GPU",
    "GPUS",
    "HOFFMANN_URL",
    "KAPLAN_URL",
    "LAWS",
    "NOTABLE_MODELS",
    "PF_DAY_FLOPS",
    "Approach2Fit",
    "Approach3Fit",
    "ChinchillaLaw",
    "KaplanLaw",
    "TrainingCost",
    "compute_optimal",
    "diminishing_returns",
    "explore",
    "fit_approach2",
    "fit_approach3",
    "flops_per_token",
    "get_law",
    "gpt3_cost_range",
    "hoffmann_grid",
    "kaplan_forward_flops_per_token",
    "kaplan_loss_c",
    "kaplan_loss_d",
    "kaplan_loss_n",
    "one_device",
    "optimal_loss",
    "outside_fit_range",
    "tokens_per_param",
    "training_cost",
    "training_flops",
]
