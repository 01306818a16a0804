"""Training cost (GPU-hours, days, dollars, energy), the GPUs behind it, and the notable models
people trained (pure arithmetic; part of `shared.scaling`, which re-exports it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .scaling_laws import _check_positive, training_flops

# ----------------------------------------------------------------------------------------------
# cost
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GPU:
    name: str
    peak_flops: float  # dense peak FLOP/s in the training precision
    precision: str
    watts: float  # board power (TDP)
    source: str
    memory_gb: float = 80.0  # on-board memory (HBM)


GPUS: dict[str, GPU] = {
    "V100": GPU(
        "NVIDIA V100 SXM2",
        125e12,
        "fp16 tensor",
        300.0,
        "NVIDIA Tesla V100 datasheet: 125 TFLOPS tensor (fp16), 300 W SXM2, 32 GB",
        32.0,
    ),
    "A100": GPU(
        "NVIDIA A100 SXM 80GB",
        312e12,
        "bf16 dense",
        400.0,
        "NVIDIA A100 datasheet: 312 TFLOPS bf16 tensor (dense; 624 with sparsity), 400 W, 80 GB",
        80.0,
    ),
    "H100": GPU(
        "NVIDIA H100 SXM",
        989e12,
        "bf16 dense",
        700.0,
        "NVIDIA H100 datasheet: 1,979 TFLOPS bf16 with sparsity = 989 dense, 700 W SXM, 80 GB",
        80.0,
    ),
    "H200": GPU(
        "NVIDIA H200 SXM",
        989e12,
        "bf16 dense",
        700.0,
        "NVIDIA H200 datasheet: same compute as H100 SXM (1,979 sparse = 989 dense "
        "bf16), more/faster memory (141 GB HBM3e), up to 700 W",
        141.0,
    ),
}


@dataclass(frozen=True)
class TrainingCost:
    flops: float
    gpu: str
    mfu: float
    n_gpus: int
    price_per_gpu_hour: float
    gpu_hours: float
    days: float  # wall-clock days on n_gpus
    dollars: float
    energy_mwh: float  # GPU board energy only (no CPU, network, cooling/PUE)


def training_cost(
    flops: float,
    gpu: str | GPU = "A100",
    mfu: float = 0.4,
    price_per_gpu_hour: float = 2.0,
    n_gpus: int = 1024,
    watts_per_gpu: float | None = None,
) -> TrainingCost:
    """GPU-hours = C / (peak · MFU) / 3600; days = GPU-hours / n_gpus / 24;
    dollars = GPU-hours · price; energy = GPU-hours · watts (GPU boards at TDP, no PUE)."""
    g = gpu if isinstance(gpu, GPU) else GPUS.get(str(gpu))
    if g is None:
        raise ValueError(f"unknown GPU {gpu!r}; choose one of {sorted(GPUS)}")
    C = float(_check_positive("compute (FLOPs)", flops))
    mfu = float(_check_positive("MFU", mfu))
    if mfu > 1:
        raise ValueError(f"MFU is a fraction of peak in (0, 1] (got {mfu})")
    price = float(np.asarray(price_per_gpu_hour, dtype=float))
    if not math.isfinite(price) or price < 0:
        raise ValueError(
            f"price per GPU-hour must be a non-negative number (got {price_per_gpu_hour!r})"
        )
    n = int(_check_positive("GPU count", n_gpus))
    if n < 1:
        raise ValueError(f"GPU count must be at least 1 (got {n_gpus!r})")
    w = g.watts if watts_per_gpu is None else float(_check_positive("watts per GPU", watts_per_gpu))
    gpu_hours = C / (g.peak_flops * mfu) / 3600.0
    return TrainingCost(
        flops=C,
        gpu=g.name,
        mfu=mfu,
        n_gpus=n,
        price_per_gpu_hour=price,
        gpu_hours=gpu_hours,
        days=gpu_hours / n / 24.0,
        dollars=gpu_hours * price,
        energy_mwh=gpu_hours * w / 1e6,
    )


GPT3_MFU = 0.213  # Chowdhery et al. 2022 (PaLM), Table 3
GPT3_MFU_SOURCE = "GPT-3's MFU 21.3%: Chowdhery et al. 2022 (PaLM), Table 3"
GPT3_PRICE_RANGE = (
    1.5,
    3.5,
)  # $ per V100-hour: the spread of cloud prices the $4-12M estimates assume


def gpt3_cost_range(n_gpus: int = 1024) -> tuple[TrainingCost, TrainingCost]:
    """Where the often-quoted "$4–12M to train GPT-3" comes from: GPT-3's reported compute on V100s
    at its measured MFU, priced at $1.50–3.50 per GPU-hour (OpenAI did not publish the bill)."""
    flops = next(m["flops"] for m in NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    return tuple(training_cost(flops, "V100", GPT3_MFU, p, n_gpus) for p in GPT3_PRICE_RANGE)


def one_device(
    params: float, tokens: float, gpu: str = "H100", mfu: float = 0.4, bytes_per_param: float = 16.0
) -> dict[str, float]:
    """Why not one very powerful computer: the model states alone (mixed-precision Adam:
    16 bytes per parameter, ZeRO) against one device's memory, and the training compute 6·N·D
    against one device's speed."""
    g = GPUS.get(str(gpu))
    if g is None:
        raise ValueError(f"unknown GPU {gpu!r}; choose one of {sorted(GPUS)}")
    n = float(_check_positive("parameters", params))
    c = training_cost(training_flops(n, float(_check_positive("tokens", tokens))), g, mfu, 0.0, 1)
    states = n * float(_check_positive("bytes per parameter", bytes_per_param))
    return {
        "state_bytes": states,
        "device_bytes": g.memory_gb * 1e9,
        "devices_to_hold_states": math.ceil(states / (g.memory_gb * 1e9)),
        "years_on_one": c.gpu_hours / 24 / 365,
        "flops": c.flops,
    }


# ----------------------------------------------------------------------------------------------
# notable models
# ----------------------------------------------------------------------------------------------

_GPT3 = "Brown et al. 2020 (arXiv 2005.14165), Table 2.1; all sizes trained on 300B tokens"
_HOFF = "Hoffmann et al. 2022 (arXiv 2203.15556), Table 1"
_LLAMA = "Touvron et al. 2023, LLaMA (arXiv 2302.13971), Table 2"
_LLAMA2 = "Touvron et al. 2023, Llama 2 (arXiv 2307.09288), Table 1; 2.0T tokens"


def _m(name, params, tokens, source, flops=None, note=""):
    d = {
        "name": name,
        "params": float(params),
        "tokens": float(tokens),
        "flops": float(flops) if flops is not None else training_flops(params, tokens),
        "flops_source": "reported" if flops is not None else "6ND",
        "source": source,
    }
    if note:
        d["note"] = note
    return d


NOTABLE_MODELS: list[dict] = [
    _m("GPT-3 Small", 125e6, 300e9, _GPT3),
    _m("GPT-3 Medium", 350e6, 300e9, _GPT3),
    _m("GPT-3 Large", 760e6, 300e9, _GPT3),
    _m("GPT-3 XL", 1.3e9, 300e9, _GPT3),
    _m("GPT-3 2.7B", 2.7e9, 300e9, _GPT3),
    _m("GPT-3 6.7B", 6.7e9, 300e9, _GPT3),
    _m("GPT-3 13B", 13e9, 300e9, _GPT3),
    _m(
        "GPT-3 175B",
        175e9,
        300e9,
        _GPT3,
        flops=3.14e23,
        note="Brown et al. report 3.14e23 FLOPs (3,640 PF-days), Table D.1",
    ),
    _m("Gopher", 280e9, 300e9, _HOFF),
    _m("Chinchilla", 70e9, 1.4e12, _HOFF),
    _m("LLaMA 7B", 6.7e9, 1.0e12, _LLAMA),
    _m("LLaMA 13B", 13.0e9, 1.0e12, _LLAMA),
    _m("LLaMA 33B", 32.5e9, 1.4e12, _LLAMA),
    _m("LLaMA 65B", 65.2e9, 1.4e12, _LLAMA),
    _m("Llama 2 7B", 7e9, 2.0e12, _LLAMA2),
    _m("Llama 2 13B", 13e9, 2.0e12, _LLAMA2),
    _m("Llama 2 70B", 70e9, 2.0e12, _LLAMA2),
]
