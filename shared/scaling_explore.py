"""What the Scaling Laws Explorer shows, computed (pure numpy): a law around one (N, D), the
compute-optimal allocation under each law, IsoFLOP curves, successive doublings, and the suite's
one cost sheet (Training at Scale's cost panel, which the Scaling app's Cost tab shows too).
Each function returns a dataclass of numbers; the app's tabs only format them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
from .scaling_laws import (
    PF_DAY_FLOPS,
    ChinchillaLaw,
    KaplanLaw,
    compute_optimal,
    diminishing_returns,
    get_law,
    optimal_loss,
    outside_fit_range,
    training_flops,
)

Law = ChinchillaLaw | KaplanLaw
PUBLISHED = ("chinchilla", "besiroglu", "kaplan")  # the published laws, in the app's order


@dataclass(frozen=True)
class LawView:
    """A law at one (N, D), and around it."""

    params: float  # N = 10**log_n
    tokens: float  # D = 10**log_d
    loss: float  # L(N, D)
    flops: float  # C = 6ND
    warning: str | None  # outside the range the law was fitted on
    n_grid: np.ndarray  # N within ±3 decades (1e3 to 1e14)
    loss_vs_n: np.ndarray  # L(n, D) on n_grid
    d_grid: np.ndarray  # D within ±3 decades (1e5 to 1e15)
    loss_vs_d: np.ndarray  # L(N, d) on d_grid
    c_grid: np.ndarray  # C within ±4 decades
    optimal: dict[str, np.ndarray]  # law name -> its loss at the compute-optimal split on c_grid

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params


def law_view(law: Law, log_n: float, log_d: float, compare: list[Law]) -> LawView:
    """`law` at N = 10**log_n, D = 10**log_d; `compare`: the laws whose compute-optimal loss is
    drawn against C (the published ones, and the chosen law when it is not one of them)."""
    N, D = 10**log_n, 10**log_d
    ns = np.logspace(max(3, log_n - 3), min(14, log_n + 3), 60)
    ds = np.logspace(max(5, log_d - 3), min(15, log_d + 3), 60)
    C = 6 * N * D
    cs = np.logspace(math.log10(C) - 4, math.log10(C) + 4, 60)
    return LawView(
        params=N,
        tokens=D,
        loss=float(law.loss(N, D)),
        flops=C,
        warning=outside_fit_range(law, N, D),
        n_grid=ns,
        loss_vs_n=law.loss(ns, D),
        d_grid=ds,
        loss_vs_d=law.loss(N, ds),
        c_grid=cs,
        optimal={lw.name: optimal_loss(cs, lw) for lw in compare},
    )


@dataclass(frozen=True)
class Allocation:
    """A law's compute-optimal split of one budget."""

    law: str  # the law's name
    params: float  # N_opt
    tokens: float  # D_opt
    loss: float  # L(N_opt, D_opt)
    a: float  # N_opt ∝ C^a
    b: float  # D_opt ∝ C^b

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.params


def allocations(flops: float, laws: list[Law]) -> list[Allocation]:
    """Each law's compute-optimal (N, D) at `flops`, and the loss it predicts there."""
    out = []
    for lw in laws:
        N, D = compute_optimal(flops, lw)
        out.append(Allocation(lw.name, N, D, float(lw.loss(N, D)), lw.a, lw.b))
    return out


@dataclass(frozen=True)
class Curve:
    """One line of a figure: its name (a law, a budget) and its points."""

    name: str
    x: np.ndarray
    y: np.ndarray


def frontiers(cs: np.ndarray | None = None) -> list[Curve]:
    """The compute-optimal (N, D) of each published law over budgets 1e18-1e26 FLOPs."""
    cs = np.logspace(18, 26, 40) if cs is None else cs
    out = []
    for k in PUBLISHED:
        lw = get_law(k)
        n, d = compute_optimal(cs, lw)
        out.append(Curve(lw.name, n, d))
    return out


@dataclass(frozen=True)
class IsoFlop:
    """Loss vs N at a fixed compute budget (D = C / 6N), ±1.5 decades around the law's N_opt."""

    flops: float
    params: np.ndarray
    loss: np.ndarray


def isoflops(flops: float, law: Law | str = "chinchilla") -> list[IsoFlop]:
    """IsoFLOP curves at flops / 10, flops and flops · 10."""
    law = get_law(law)
    out = []
    for c in (flops / 10, flops, flops * 10):
        mid = math.log10(compute_optimal(c, law)[0])
        ns = np.logspace(mid - 1.5, mid + 1.5, 50)
        out.append(IsoFlop(c, ns, law.loss(ns, c / (6 * ns))))
    return out


@dataclass(frozen=True)
class Doublings:
    """Loss gained by each of k successive doublings, starting from (N, D)."""

    factors: np.ndarray  # 1, 2, 4, ...: the doubling goes from ×f to ×2f
    of_params: np.ndarray  # double N, D fixed
    of_tokens: np.ndarray  # double D, N fixed
    of_compute: np.ndarray  # double C = 6ND, split compute-optimally

    @property
    def kept(self) -> float:
        """The last doubling of compute's gain as a share of the first's."""
        return float(self.of_compute[-1] / self.of_compute[0])


def doublings(law: Law, params: float, tokens: float, k: int) -> Doublings:
    steps = 2.0 ** np.arange(k)
    return Doublings(
        factors=steps,
        of_params=np.atleast_1d(diminishing_returns(law, params * steps, tokens, "N")),
        of_tokens=np.atleast_1d(diminishing_returns(law, params, tokens * steps, "D")),
        of_compute=np.atleast_1d(
            diminishing_returns(law, params * np.sqrt(steps), tokens * np.sqrt(steps), "C")
        ),
    )


# ---------------------------------------------------------------- what a training run costs
@dataclass(frozen=True)
class CostInputs:
    """The cost panel's inputs (one set for the whole suite: `COST_DEFAULTS`)."""

    params: float
    tokens: float
    gpu: str  # a key of GPUS
    mfu: float  # a fraction of the GPU's peak
    price: float  # $ per GPU-hour
    n_gpus: int
    source: str  # where each default comes from


COST_DEFAULTS = CostInputs(
    params=175e9,
    tokens=300e9,
    gpu="V100",
    mfu=GPT3_MFU,
    price=GPT3_PRICE_RANGE[0],
    n_gpus=1024,
    source=(
        "GPT-3 175B on 300B tokens (Brown et al. 2020, Table 2.1) on V100s, the GPUs it was "
        f"trained on (§2.3), at its measured {100 * GPT3_MFU:.1f}% MFU (Chowdhery et al. 2022, "
        f"Table 3), at ${GPT3_PRICE_RANGE[0]:.2f} per GPU-hour (the low end of the cloud prices "
        "behind the quoted $4–12M: OpenAI did not publish the bill), on 1,024 GPUs (the cluster "
        "size Narayanan et al. 2021 estimate GPT-3's training time for)"
    ),
)


@dataclass(frozen=True)
class CostSheet:
    """Training N params on D tokens: its compute priced on n GPUs, and set against ONE GPU."""

    flops: float  # C = 6ND
    pf_days: float
    gpu: GPU
    cost: TrainingCost  # on n_gpus
    state_bytes: float  # model states at 16 bytes per parameter (mixed-precision Adam)
    devices_to_hold_states: int  # GPUs of this kind needed just to hold them (ZeRO-3 / FSDP)
    years_on_one: float  # the whole run on one GPU
    counts: list[int]  # GPU counts of the days curve: 1, 2, 4, ... 131,072
    days: list[float]  # wall-clock days at each count, if scaling were perfect


def cost_sheet(
    params: float, tokens: float, gpu: str, mfu: float, price: float, n_gpus: int
) -> CostSheet:
    """6ND priced on `n_gpus` of `gpu` at `mfu` (a fraction) and `price` $ per GPU-hour
    (`training_cost`), and why one GPU cannot do it (`one_device`: memory and years); an unknown
    GPU or a bad number: ValueError naming it. The one cost calculation of the suite."""
    C = training_flops(params, tokens)
    cost = training_cost(C, gpu, mfu, price, n_gpus)
    one = one_device(params, tokens, gpu, mfu)
    counts = [2**i for i in range(18)]
    return CostSheet(
        flops=C,
        pf_days=C / PF_DAY_FLOPS,
        gpu=GPUS[gpu],
        cost=cost,
        state_bytes=one["state_bytes"],
        devices_to_hold_states=one["devices_to_hold_states"],
        years_on_one=one["years_on_one"],
        counts=counts,
        days=[cost.gpu_hours / k / 24 for k in counts],
    )


@dataclass(frozen=True)
class Gpt3Cost:
    """Where "$4–12M to train GPT-3" comes from, and why one computer could not have done it:
    its reported compute on V100s at its measured MFU, priced low and high."""

    flops: float  # reported (Brown et al. 2020, Table D.1)
    source: str
    mfu: float  # GPT-3's, Chowdhery et al. 2022
    mfu_source: str
    prices: tuple[float, float]  # $ per V100-hour, low and high
    low: TrainingCost  # at the low price, on COST_DEFAULTS.n_gpus V100s
    high: TrainingCost  # at the high price
    years_on_one: float  # the reported compute on one V100
    state_bytes: float  # 16 bytes per parameter
    v100s_to_hold_states: int  # 32 GB each


def gpt3_cost() -> Gpt3Cost:
    g3 = next(m for m in NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    lo, hi = gpt3_cost_range(COST_DEFAULTS.n_gpus)
    one = one_device(g3["params"], g3["tokens"], "V100", GPT3_MFU)
    return Gpt3Cost(
        flops=g3["flops"],
        source=g3["source"],
        mfu=GPT3_MFU,
        mfu_source=GPT3_MFU_SOURCE,
        prices=GPT3_PRICE_RANGE,
        low=lo,
        high=hi,
        years_on_one=lo.gpu_hours / 24 / 365,
        state_bytes=one["state_bytes"],
        v100s_to_hold_states=one["devices_to_hold_states"],
    )


# ---------------------------------------------------------------- Approach 3 vs Approaches 1-2
# Hoffmann et al. 2022, Table 2: the allocation exponents (N_opt ∝ C^a, D_opt ∝ C^b) each of
# their three approaches estimated, as published
HOFFMANN_TABLE2 = {
    "Approach 1": (0.50, 0.50),
    "Approach 2": (0.49, 0.51),
    "Approach 3": (0.46, 0.54),
}
# Gopher's budget, which Chinchilla was trained with (Hoffmann et al. 2022, Table 3: 5.76e23 FLOPs)
CHINCHILLA_BUDGET = 5.76e23


@dataclass(frozen=True)
class RefitComparison:
    """One budget split by Approach 3's published law (Hoffmann Eq. 10) and by Besiroglu et al.'s
    refit of the same data, beside the model DeepMind trained and each approach's exponents."""

    flops: float
    published: Allocation  # Approach 3, Eq. 10's constants
    refit: Allocation  # Besiroglu et al. 2024
    chinchilla: dict  # Chinchilla as trained (NOTABLE_MODELS): name, params, tokens, source
    exponents: dict[str, tuple[float, float]]  # Hoffmann Table 2: approach -> (a, b)


def approach3_vs_refit(flops: float = CHINCHILLA_BUDGET) -> RefitComparison:
    """Why Approach 3's optimum at Chinchilla's budget is not Chinchilla: both fits' splits of
    `flops` (compute_optimal of each law) and what Approaches 1-2 and the trained model say."""
    published, refit = allocations(flops, [get_law("chinchilla"), get_law("besiroglu")])
    chinchilla = next(m for m in NOTABLE_MODELS if m["name"] == "Chinchilla")
    return RefitComparison(flops, published, refit, chinchilla, dict(HOFFMANN_TABLE2))
