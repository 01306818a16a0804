"""What the Scaling Laws Explorer shows, computed (pure numpy): a law around one (N, D), the
compute-optimal allocation under each law, IsoFLOP curves, successive doublings, a cost sheet.
Each function returns a dataclass of numbers; the app's tabs only format them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .scaling_cost import (
    GPU,
    GPUS,
    NOTABLE_MODELS,
    TrainingCost,
    gpt3_cost_range,
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


@dataclass(frozen=True)
class CostSheet:
    """What training N params on D tokens costs on a GPU."""

    flops: float  # 6ND
    pf_days: float
    gpu: GPU
    cost: TrainingCost


def cost_sheet(
    params: float, tokens: float, gpu: str, mfu: float, price: float, n_gpus: int
) -> CostSheet:
    """6ND priced on `n_gpus` of `gpu` at `mfu` (a fraction) and `price` $ per GPU-hour; an unknown
    GPU or a bad number: ValueError naming it."""
    C = training_flops(params, tokens)
    cost = training_cost(C, gpu, mfu, price, n_gpus)
    return CostSheet(C, C / PF_DAY_FLOPS, GPUS[gpu], cost)


@dataclass(frozen=True)
class Gpt3Cost:
    """Where "$4–12M to train GPT-3" comes from: its reported compute, priced low and high."""

    flops: float  # reported (Brown et al. 2020, Table D.1)
    source: str
    low: TrainingCost  # at $1.50 per V100-hour
    high: TrainingCost  # at $3.50


def gpt3_cost() -> Gpt3Cost:
    g3 = next(m for m in NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    lo, hi = gpt3_cost_range()
    return Gpt3Cost(g3["flops"], g3["source"], lo, hi)
