"""Scaling arithmetic, published scaling laws and compute-optimal allocation (pure numpy; no torch).

Part of `shared.scaling` (which re-exports it): see that module for the sources. Parameter counts:
Kaplan's laws use *non-embedding* parameters and nats on WebText2; Chinchilla's use all parameters
and nats on MassiveText — compare the laws' shapes, not their absolute losses.
"""

from __future__ import annotations

from dataclasses import dataclass
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
