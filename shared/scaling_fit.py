"""Fitting scaling laws to runs: Chinchilla Approach 3 (Huber on log loss, L-BFGS from a grid)
and Approach 2 (IsoFLOP parabolas), with bootstrap intervals (numpy; scipy imported when a fit runs;
part of `shared.scaling`, which re-exports it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .scaling_laws import ChinchillaLaw, _check_positive, _out

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
    # scipy (~0.3 s) only when a law is fitted: the apps read fits, they do not make them
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
