"""Scaling arithmetic and published scaling laws (pure numpy; scipy imported lazily; no torch).

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

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PF_DAY_FLOPS = 8.64e19  # 1 PF-day = 1e15 FLOP/s × 86400 s (Kaplan et al. 2020, Sec. 1.3)


# ----------------------------------------------------------------------------------------------
# compute
# ----------------------------------------------------------------------------------------------


def training_flops(params: float, tokens: float) -> float:
    """C ≈ 6·N·D (Kaplan et al. 2020): 2N forward + 4N backward per token."""
    return 6.0 * params * tokens


def flops_per_token(params: float, n_layer: int, d_model: int, n_ctx: int) -> float:
    """Training FLOPs per token with the attention term (PaLM appendix B): 6N + 12·L·d·T.

    `params` are the parameters that take part in matrix multiplies (for a small model with tied
    embeddings that includes the output projection, which is a large share of its compute)."""
    return 6.0 * params + 12.0 * n_layer * d_model * n_ctx


def kaplan_forward_flops_per_token(
    n_nonembed: float, n_layer: int, n_ctx: int, d_attn: int
) -> float:
    """Forward-pass FLOPs per token, Kaplan et al. 2020 Table 1: C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn.
    Training is about 3× this (backward ≈ 2× forward)."""
    return 2.0 * n_nonembed + 2.0 * n_layer * n_ctx * d_attn


def _check_positive(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a finite number (got {x!r})")
    if np.any(a <= 0):
        raise ValueError(f"{name} must be positive (got {x!r})")
    return a


def _out(a: np.ndarray):
    """Return a Python float for 0-d results, the array otherwise."""
    return float(a) if np.ndim(a) == 0 else a


# ----------------------------------------------------------------------------------------------
# laws
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChinchillaLaw:
    """L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, Eq. 2). N = all parameters."""

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    citation: str
    url: str
    # the range of the runs the constants were fitted on: (min, max); None where unknown
    params_range: tuple[float, float] | None = None
    tokens_range: tuple[float, float] | None = None
    form: str = "chinchilla"

    def loss(self, params, tokens):
        N = np.asarray(params, dtype=float)
        D = np.asarray(tokens, dtype=float)
        return _out(self.E + self.A / N**self.alpha + self.B / D**self.beta)

    @property
    def a(self) -> float:
        """Allocation exponent of N: N_opt ∝ C^a, a = β/(α+β) (Hoffmann Eq. 4)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Allocation exponent of D: D_opt ∝ C^b, b = α/(α+β) (Hoffmann Eq. 4)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """G = (αA/(βB))^(1/(α+β)) (Hoffmann Eq. 4)."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))


@dataclass(frozen=True)
class KaplanLaw:
    """L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D (Kaplan et al. 2020, Eq. 1.5).
    N = non-embedding parameters, D = tokens, loss in nats on WebText2."""

    name: str
    N_c: float
    alpha_N: float
    D_c: float
    alpha_D: float
    C_c_pf_days: float
    alpha_C: float
    # compute-efficient frontier N_opt = n_opt_coef · C_min[PF-days]^n_opt_exp (see compute_optimal)
    n_opt_coef: float
    n_opt_exp: float
    citation: str
    url: str
    params_range: tuple[float, float] | None = None
    tokens_range: tuple[float, float] | None = None
    form: str = "kaplan"

    def loss(self, params, tokens):
        N = np.asarray(params, dtype=float)
        D = np.asarray(tokens, dtype=float)
        return _out(
            ((self.N_c / N) ** (self.alpha_N / self.alpha_D) + self.D_c / D) ** self.alpha_D
        )

    @property
    def a(self) -> float:
        return self.n_opt_exp

    @property
    def b(self) -> float:
        return 1.0 - self.n_opt_exp


KAPLAN_URL = "https://arxiv.org/abs/2001.08361"
HOFFMANN_URL = "https://arxiv.org/abs/2203.15556"
BESIROGLU_URL = "https://arxiv.org/abs/2404.10102"

LAWS: dict[str, ChinchillaLaw | KaplanLaw] = {
    "kaplan": KaplanLaw(
        name="Kaplan et al. 2020",
        N_c=8.8e13,
        alpha_N=0.076,
        D_c=5.4e13,
        alpha_D=0.095,
        C_c_pf_days=3.1e8,
        alpha_C=0.050,
        # Fig. 14 (left) of Kaplan et al.: N = (1.3·10^9)·C_min^0.73, C_min in PF-days; Eq. 1.7.
        n_opt_coef=1.3e9,
        n_opt_exp=0.73,
        citation=(
            "Kaplan et al. 2020, Scaling Laws for Neural Language Models, Eq. 1.5: "
            "L(N,D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D, N_c = 8.8e13, α_N = 0.076, "
            "D_c = 5.4e13, α_D = 0.095 (N non-embedding params, WebText2 nats)"
        ),
        url=KAPLAN_URL,
        # Sec. 1: models from 768 to 1.5e9 non-embedding params, datasets 22e6 to 23e9 tokens
        params_range=(768.0, 1.5e9),
        tokens_range=(22e6, 23e9),
    ),
    "chinchilla": ChinchillaLaw(
        name="Hoffmann et al. 2022 (Chinchilla, Approach 3)",
        E=1.69,
        A=406.4,
        B=410.7,
        alpha=0.34,
        beta=0.28,
        citation=(
            "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, "
            "Approach 3, Eq. 10: L(N,D) = 1.69 + 406.4/N^0.34 + 410.7/D^0.28"
        ),
        url=HOFFMANN_URL,
        # Sec. 1: over 400 models from 70M to over 16B params, 5B to 500B tokens
        params_range=(70e6, 16e9),
        tokens_range=(5e9, 500e9),
    ),
    "besiroglu": ChinchillaLaw(
        name="Besiroglu et al. 2024 (Chinchilla replication)",
        E=1.8172,
        A=482.01,
        B=2085.43,
        alpha=0.3478,
        beta=0.3658,
        citation=(
            "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt: refit of "
            "Approach 3, E = 1.8172, A = 482.01, B = 2085.43, α = 0.3478, β = 0.3658"
        ),
        url=BESIROGLU_URL,
        # refit to the data reconstructed from Hoffmann et al.'s Fig. 4: the same runs
        params_range=(70e6, 16e9),
        tokens_range=(5e9, 500e9),
    ),
}


def get_law(law) -> ChinchillaLaw | KaplanLaw:
    if isinstance(law, (ChinchillaLaw, KaplanLaw)):
        return law
    try:
        return LAWS[str(law).lower()]
    except KeyError:
        raise ValueError(f"unknown law {law!r}; choose one of {sorted(LAWS)}") from None


def outside_fit_range(law, params, tokens) -> str | None:
    """A one-line warning when (N, D) lies outside the range the law was fitted on, else None."""
    law = get_law(law)
    N = np.asarray(params, dtype=float)
    D = np.asarray(tokens, dtype=float)
    msgs = []
    if law.params_range is not None:
        lo, hi = law.params_range
        if np.any(N < lo) or np.any(N > hi):
            msgs.append(f"N outside the fitted {lo:.3g}–{hi:.3g} params")
    if law.tokens_range is not None:
        lo, hi = law.tokens_range
        if np.any(D < lo) or np.any(D > hi):
            msgs.append(f"D outside the fitted {lo:.3g}–{hi:.3g} tokens")
    if not msgs:
        return None
    return f"{law.name}: extrapolating — " + "; ".join(msgs) + "."


# Kaplan's single-variable laws (Eqs. 1.1–1.3)
def kaplan_loss_n(params):
    """L(N) = (N_c/N)^α_N, N_c = 8.8e13 non-embedding params, α_N = 0.076 (Kaplan Eq. 1.1);
    for models trained to convergence on enough data."""
    k = LAWS["kaplan"]
    return _out((k.N_c / np.asarray(params, dtype=float)) ** k.alpha_N)


def kaplan_loss_d(tokens):
    """L(D) = (D_c/D)^α_D, D_c = 5.4e13 tokens, α_D = 0.095 (Kaplan Eq. 1.2); large models,
    early stopping."""
    k = LAWS["kaplan"]
    return _out((k.D_c / np.asarray(tokens, dtype=float)) ** k.alpha_D)


def kaplan_loss_c(flops):
    """L(C_min) = (C_c/C_min)^α_C, C_c = 3.1e8 PF-days, α_C = 0.050 (Kaplan Eq. 1.3).
    `flops` in FLOPs (converted with 1 PF-day = 8.64e19 FLOPs)."""
    k = LAWS["kaplan"]
    c_pf = np.asarray(flops, dtype=float) / PF_DAY_FLOPS
    return _out((k.C_c_pf_days / c_pf) ** k.alpha_C)


# ----------------------------------------------------------------------------------------------
# compute-optimal allocation
# ----------------------------------------------------------------------------------------------


def compute_optimal(flops, law="chinchilla"):
    """(N_opt, D_opt) for a compute budget C (FLOPs) with C = 6·N·D.

    Chinchilla-form laws: closed form (Hoffmann et al. 2022, Eq. 4)
        N_opt = G·(C/6)^a, D_opt = G⁻¹·(C/6)^b, G = (αA/(βB))^(1/(α+β)), a = β/(α+β), b = α/(α+β).
    "kaplan": Kaplan et al.'s compute-efficient frontier N_opt = 1.3e9 · C_min[PF-days]^0.73
        (Fig. 14 left; exponent Eq. 1.7), D_opt = C/(6·N_opt) so D ∝ C^0.27. (Minimising Eq. 1.5
        along 6ND = C would instead give N ∝ C^(α_D/(α_N+α_D)) ≈ C^0.56: Kaplan's 0.73 comes from
        their L(N, S_min) analysis with early stopping, not from Eq. 1.5.)
    """
    law = get_law(law)
    C = _check_positive("compute budget (FLOPs)", flops)
    if isinstance(law, KaplanLaw):
        N = law.n_opt_coef * (C / PF_DAY_FLOPS) ** law.n_opt_exp
        D = C / (6.0 * N)
    else:
        N = law.G * (C / 6.0) ** law.a
        D = (C / 6.0) ** law.b / law.G
    return _out(N), _out(D)


def tokens_per_param(flops, law="chinchilla"):
    """D_opt / N_opt at a compute budget under a law (Chinchilla's rule of thumb is ~20)."""
    N, D = compute_optimal(flops, law)
    return _out(np.asarray(D) / np.asarray(N))


def optimal_loss(flops, law="chinchilla"):
    """The law's loss at the compute-optimal (N, D) for budget C."""
    law = get_law(law)
    N, D = compute_optimal(flops, law)
    return law.loss(N, D)


def diminishing_returns(law, params, tokens, axis: str = "N"):
    """Loss gained (L before − L after, > 0) by doubling N (D fixed), D (N fixed) or C (compute,
    allocated compute-optimally under the law, starting from C = 6·N·D). Vectorised: pass
    params = N0·2**arange(k) to see successive doublings buy smaller gains."""
    law = get_law(law)
    N = _check_positive("params", params)
    D = _check_positive("tokens", tokens)
    axis = axis.upper()
    if axis == "N":
        gain = np.asarray(law.loss(N, D)) - np.asarray(law.loss(2 * N, D))
    elif axis == "D":
        gain = np.asarray(law.loss(N, D)) - np.asarray(law.loss(N, 2 * D))
    elif axis == "C":
        C = 6.0 * N * D
        gain = np.asarray(optimal_loss(C, law)) - np.asarray(optimal_loss(2 * C, law))
    else:
        raise ValueError(f"axis must be 'N', 'D' or 'C' (got {axis!r})")
    return _out(gain)


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


# ----------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------


def _huber(r: np.ndarray, delta: float):
    a = np.abs(r)
    quad = a <= delta
    val = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    grad = np.where(quad, r, delta * np.sign(r))
    return val, grad


def _a3_objective(theta, logN, logD, logL, delta):
    """Sum of Huber(LSE(a − α logN, b − β logD, e) − log L) and its gradient; θ = (a, b, e, α, β)."""
    a, b, e, al, be = theta
    t1 = a - al * logN
    t2 = b - be * logD
    t3 = np.full_like(logN, e)
    m = np.maximum(np.maximum(t1, t2), t3)
    x1, x2, x3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(t3 - m)
    s = x1 + x2 + x3
    lse = m + np.log(s)
    r = lse - logL
    val, g = _huber(r, delta)
    w1, w2, w3 = g * x1 / s, g * x2 / s, g * x3 / s
    grad = np.array([w1.sum(), w2.sum(), w3.sum(), -(w1 * logN).sum(), -(w2 * logD).sum()])
    return float(val.sum()), grad


@dataclass(frozen=True)
class Approach3Fit:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    a: float  # allocation exponent of N, β/(α+β)
    b: float  # allocation exponent of D, α/(α+β)
    objective: float
    ci: dict = field(default_factory=dict)  # name -> (lo, hi), 95% percentile bootstrap
    n_boot: int = (
        0  # bootstrap refits kept (degenerate ones, with an overflowing A, B or E, are dropped)
    )

    def law(
        self, name: str = "our lab fit", citation: str = "fitted here (Approach 3)"
    ) -> ChinchillaLaw:
        return ChinchillaLaw(
            name=name,
            E=self.E,
            A=self.A,
            B=self.B,
            alpha=self.alpha,
            beta=self.beta,
            citation=citation,
            url="",
        )


def hoffmann_grid() -> np.ndarray:
    """Hoffmann et al.'s initialisation grid (App. D.2): α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −.5, …, 1},
    a, b ∈ {0, 5, …, 25}; rows are (a, b, e, α, β)."""
    a = np.arange(0.0, 25.1, 5.0)
    e = np.arange(-1.0, 1.01, 0.5)
    al = np.arange(0.0, 2.01, 0.5)
    g = np.meshgrid(a, a, e, al, al, indexing="ij")
    return np.stack([x.ravel() for x in g], axis=1)


def _a3_grid_values(grid, logN, logD, logL, delta):
    """Objective at every grid row at once (vectorised screen of the initialisations)."""
    a, b, e, al, be = (grid[:, i : i + 1] for i in range(5))
    t = np.stack([a - al * logN, b - be * logD, np.broadcast_to(e, (grid.shape[0], logN.size))])
    m = t.max(axis=0)
    lse = m + np.log(np.exp(t - m).sum(axis=0))
    val, _ = _huber(lse - logL, delta)
    return val.sum(axis=1)


def _a3_minimise(logN, logD, logL, delta, starts):
    from scipy.optimize import minimize

    best = None
    from threadpoolctl import threadpool_limits

    # L-BFGS-B calls BLAS on 5-vectors: a BLAS thread pool only spins (~20x slower on 2 busy cores)
    with threadpool_limits(1, user_api="blas"):
        for x0 in starts:
            res = minimize(
                _a3_objective, x0, args=(logN, logD, logL, delta), jac=True, method="L-BFGS-B"
            )
            if np.all(np.isfinite(res.x)) and (best is None or res.fun < best.fun):
                best = res
    return best


def _validate_fit_inputs(**arrays):
    out = []
    n = None
    for name, x in arrays.items():
        a = _check_positive(name, x).ravel()
        if n is None:
            n = a.size
        elif a.size != n:
            raise ValueError(f"{name} has {a.size} values, expected {n}")
        out.append(a)
    return out


def fit_approach3(
    params,
    tokens,
    losses,
    n_boot: int = 50,
    seed: int = 0,
    delta: float = 1e-3,
    grid: np.ndarray | None = None,
    n_starts: int = 16,
) -> Approach3Fit:
    """Chinchilla Approach 3 (Hoffmann et al. 2022, Sec. 3.3 / App. D.2): minimise
    Σ Huber_δ(LSE(a − α log N, b − β log D, e) − log L) with L-BFGS from a grid of
    initialisations, A = e^a, B = e^b, E = e^e.

    Speed: Hoffmann et al. run L-BFGS from every one of their 4,500 grid points; here the objective
    is evaluated on the whole grid at once and L-BFGS runs from the `n_starts` best grid points
    (the result is the best local optimum found). 95% CIs: percentile nonparametric bootstrap
    (resample runs with replacement; each refit starts from the full-data optimum and the two best
    grid points)."""
    N, D, L = _validate_fit_inputs(params=params, tokens=tokens, losses=losses)
    if N.size < 5:
        raise ValueError(f"Approach 3 fits 5 parameters: need at least 5 runs (got {N.size})")
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    grid = hoffmann_grid() if grid is None else np.atleast_2d(np.asarray(grid, dtype=float))
    order = np.argsort(_a3_grid_values(grid, logN, logD, logL, delta))
    # L-BFGS is run on centred logs (a' = a − α·mean log N, b' = b − β·mean log D): the same
    # objective, far better conditioned (uncentred, L-BFGS stops early on the flat Huber tails)
    mN, mD = float(logN.mean()), float(logD.mean())
    shift = np.array([mN, mD])

    def to_c(x):
        x = np.array(x, dtype=float)
        x[:2] -= x[3:] * shift
        return x

    def from_c(x):
        x = np.array(x, dtype=float)
        x[:2] += x[3:] * shift
        return x

    starts = [to_c(grid[i]) for i in order[: max(1, int(n_starts))]]
    best = _a3_minimise(logN - mN, logD - mD, logL, delta, starts)

    def unpack(x):
        a, b, e, al, be = (float(v) for v in from_c(x))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            E, A, B = (float(np.exp(v)) for v in (e, a, b))  # a degenerate refit may overflow: inf
            s = float(np.float64(al) + be)
            share_n, share_d = (
                (float(np.float64(be) / s), float(np.float64(al) / s))
                if s
                else (math.nan, math.nan)
            )
        return {"E": E, "A": A, "B": B, "alpha": al, "beta": be, "a": share_n, "b": share_d}

    est = unpack(best.x)
    ci: dict = {}
    if n_boot and n_boot > 0:
        rng = np.random.default_rng(seed)
        boot_starts = [best.x] + starts[:2]
        samples = []
        for _ in range(n_boot):
            idx = rng.integers(0, N.size, N.size)
            r = _a3_minimise(logN[idx] - mN, logD[idx] - mD, logL[idx], delta, boot_starts)
            if r is not None:
                fit = unpack(r.x)
                if all(math.isfinite(v) for v in fit.values()):  # drop degenerate refits (counted)
                    samples.append(fit)
        n_ok = len(samples)
        if not samples:
            samples = [est]
        for k in est:
            v = np.array([s[k] for s in samples])
            ci[k] = (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
    else:
        n_ok = 0
    return Approach3Fit(objective=float(best.fun), ci=ci, n_boot=int(n_ok), **est)


@dataclass(frozen=True)
class Approach2Fit:
    a: float  # N_opt ∝ C^a
    coef: float  # N_opt = coef · C^a
    b: float  # D_opt ∝ C^b, b = 1 − a (from C = 6ND)
    budgets: tuple  # compute budgets used
    n_opt: tuple  # parabola-vertex N_opt per budget
    ci: dict = field(default_factory=dict)
    n_boot: int = 0

    def n_opt_at(self, flops):
        return _out(self.coef * np.asarray(flops, dtype=float) ** self.a)


def _group_budgets(C: np.ndarray, rtol: float):
    order = np.argsort(C)
    groups, cur = [], [order[0]]
    for i in order[1:]:
        if abs(C[i] - C[cur[0]]) <= rtol * C[cur[0]]:
            cur.append(i)
        else:
            groups.append(np.array(cur))
            cur = [i]
    groups.append(np.array(cur))
    return groups


def _a2_once(logN, L, groups, C):
    budgets, nopt = [], []
    for g in groups:
        if g.size < 3 or np.unique(logN[g]).size < 3:
            continue
        c2, c1, _ = np.polyfit(logN[g], L[g], 2)
        if not (c2 > 0):
            continue  # no minimum: the slice does not bracket the optimum
        budgets.append(float(np.exp(np.mean(np.log(C[g])))))
        nopt.append(float(np.exp(-c1 / (2 * c2))))
    if len(budgets) < 2:
        return None
    slope, icpt = np.polyfit(np.log(budgets), np.log(nopt), 1)
    return float(slope), float(math.exp(icpt)), budgets, nopt


def fit_approach2(
    params, tokens, losses, flops, n_boot: int = 200, seed: int = 0, rtol: float = 0.05
) -> Approach2Fit:
    """Chinchilla Approach 2 (IsoFLOP profiles, Hoffmann et al. 2022 Sec. 3.2): group runs by
    compute budget (budgets equal within `rtol`), fit a parabola of loss vs log N per budget, take
    its vertex as N_opt(C), then fit log N_opt = a·log C + log k. 95% CIs by resampling runs within
    each budget. `tokens` is accepted for symmetry with fit_approach3 (checked, not needed)."""
    N, D, L, C = _validate_fit_inputs(params=params, tokens=tokens, losses=losses, flops=flops)
    logN = np.log(N)
    groups = _group_budgets(C, rtol)
    res = _a2_once(logN, L, groups, C)
    if res is None:
        raise ValueError(
            "need at least 2 compute budgets with ≥3 distinct model sizes whose "
            "loss curve has a minimum (a U shape)"
        )
    a, coef, budgets, nopt = res
    ci: dict = {}
    if n_boot and n_boot > 0:
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(n_boot):
            bg = [g[rng.integers(0, g.size, g.size)] for g in groups]
            r = _a2_once(logN, L, bg, C)
            if r is not None:
                samples.append(r[0])
        if samples:
            v = np.array(samples)
            lo, hi = float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))
            ci = {"a": (lo, hi), "b": (1.0 - hi, 1.0 - lo)}
    return Approach2Fit(
        a=a,
        coef=coef,
        b=1.0 - a,
        budgets=tuple(budgets),
        n_opt=tuple(nopt),
        ci=ci,
        n_boot=int(n_boot or 0),
    )
