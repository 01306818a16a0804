"""The linear recurrence at the heart of a state-space model, computed three ways (numpy).

    h_t = a_t · h_{t−1} + b_t · x_t,      y_t = c_t · h_t          (h_0 = 0, diagonal state)

1. **Sequential loop** (how an RNN runs and how an SSM *infers*): T steps, each depends on the last —
   work O(T), depth T.
2. **Parallel (associative) scan** (how Mamba *trains*): the pairs (a, u) compose associatively,
   (a₁, u₁) ∘ (a₂, u₂) = (a₁a₂, a₂u₁ + u₂), so a Hillis–Steele scan gets every prefix in ⌈log₂T⌉
   rounds — depth O(log T) for work O(T log T) (Blelloch's work-efficient version: 2T, depth 2 log T).
3. **Convolution** (how S4 trains, only when a, b, c do not depend on t — a linear *time-invariant*
   system): y = K * x with kernel K_k = c · a^k · b, computed for all t at once — depth O(log T) with
   an FFT, work O(T log T). Mamba's *selective* (input-dependent) a_t, b_t, c_t rule this out, which
   is why it needs the scan.

Each function returns the outputs and a count of the multiply-adds it did (`work`) and of its
dependent sequential rounds (`depth`), so the app can show the trade-off next to equal results:
`three_ways` runs all three on one random system, timed and checked against the loop, and
`sequential_depth` counts the dependent steps of a whole forward pass (attention, scan, RNN).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


def _arrays(a, b, c, x):
    a, b, c, x = (np.asarray(v, dtype=np.float64) for v in (a, b, c, x))
    if x.ndim != 1 or x.size == 0:
        raise ValueError("x must be a non-empty 1-D sequence")
    T = x.size

    def per_step(v):  # [N]: the same at every step (time-invariant); [T, N]: one row per step
        if v.ndim == 1:
            return np.broadcast_to(v, (T, v.size))
        if v.ndim == 2 and v.shape[0] == T:
            return v
        raise ValueError(
            f"a, b and c must be [N] (time-invariant) or [T, N] with T = {T}; got shape {v.shape}"
        )

    a, b, c = (per_step(v) for v in (a, b, c))
    if not a.shape == b.shape == c.shape or a.shape[1] == 0:
        raise ValueError(
            f"a, b and c must have the same state size N ≥ 1; got {a.shape[1]}, {b.shape[1]}, {c.shape[1]}"
        )
    if not all(np.all(np.isfinite(v)) for v in (a, b, c, x)):
        raise ValueError("a, b, c and x must be finite")
    return a, b, c, x


def sequential(a, b, c, x) -> tuple[np.ndarray, dict]:
    """h_t = a_t h_{t−1} + b_t x_t one step after another. a, b, c: [T, N] (or [N]: time-invariant)."""
    a, b, c, x = _arrays(a, b, c, x)
    T, N = a.shape
    h = np.zeros(N)
    y = np.empty(T)
    for t in range(T):
        h = a[t] * h + b[t] * x[t]
        y[t] = c[t] @ h
    return y, {"work": 3 * T * N, "depth": T}


def parallel_scan(a, b, c, x) -> tuple[np.ndarray, dict]:
    """Hillis–Steele inclusive scan over (a, u = b·x) with (a₁,u₁)∘(a₂,u₂) = (a₁a₂, a₂u₁ + u₂):
    round k combines every element with the one 2^k before it (all in parallel)."""
    a, b, c, x = _arrays(a, b, c, x)
    T, N = a.shape
    A = a.copy()
    U = b * x[:, None]
    work, depth, shift = T * N, 0, 1
    while shift < T:
        A_prev, U_prev = A[:-shift].copy(), U[:-shift].copy()
        U[shift:] = A[shift:] * U_prev + U[shift:]  # uses the old A[shift:], so update U first
        A[shift:] = A[shift:] * A_prev
        work += 3 * (T - shift) * N
        depth += 1
        shift *= 2
    y = np.einsum("tn,tn->t", c, U)
    return y, {"work": work + T * N, "depth": depth + 1}


def convolution(a, b, c, x) -> tuple[np.ndarray, dict]:
    """Time-invariant case only: y = K * x with K_k = Σ_n c_n a_n^k b_n, via FFT."""
    a, b, c, x = _arrays(a, b, c, x)
    if not (np.all(a == a[0]) and np.all(b == b[0]) and np.all(c == c[0])):
        raise ValueError(
            "a convolution needs a time-invariant system (the same a, b, c at every step); "
            "input-dependent (selective) parameters need the scan"
        )
    T, N = a.shape
    k = np.arange(T)[:, None]
    K = (c[0] * b[0] * a[0] ** k).sum(axis=1)  # [T] kernel
    n = 1 << (2 * T - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(K, n), n)[:T]
    logn = int(math.log2(n))
    return y, {"work": T * N * 2 + 3 * n * logn, "depth": 3 * logn}


def random_system(T: int, N: int = 4, selective: bool = False, seed: int = 0):
    """A stable diagonal system (|a| < 1) and an input; `selective` makes a, b, c depend on t."""
    if not (isinstance(T, int) and 1 <= T <= 1_000_000 and isinstance(N, int) and 1 <= N <= 4096):
        raise ValueError("T must be 1..1e6 and N 1..4096 (whole numbers)")
    rng = np.random.default_rng(seed)
    shape = (T, N) if selective else (N,)
    a = rng.uniform(0.5, 0.99, shape)
    b = rng.normal(size=shape)
    c = rng.normal(size=shape)
    return a, b, c, rng.normal(size=T)


METHODS = ("sequential", "parallel_scan", "convolution")


@dataclass(frozen=True)
class MethodRun:
    """One way of computing the recurrence, on one system."""

    method: str  # one of METHODS
    y: np.ndarray | None  # the outputs (None: the method refused the system)
    work: int  # multiply-adds
    depth: int  # rounds that must run one after another
    ms: float  # wall-clock on this machine
    max_diff: float | None  # max |y − the loop's y|
    error: str = ""  # why the method refused the system (its first clause)


def three_ways(T: int, N: int, selective: bool, seed: int = 0) -> list[MethodRun]:
    """The sequential loop, the parallel scan and the convolution on one random stable system of
    length T and state size N, each timed and compared with the loop (a selective system: the
    convolution refuses it, with its reason)."""
    system = random_system(T, N, selective=selective, seed=seed)
    runs, ref = [], None
    for name, fn in zip(METHODS, (sequential, parallel_scan, convolution)):
        t0 = time.perf_counter()
        try:
            y, cost = fn(*system)
        except ValueError as e:
            runs.append(MethodRun(name, None, 0, 0, 0.0, None, str(e).split(";")[0]))
            continue
        ms = (time.perf_counter() - t0) * 1e3
        ref = y if ref is None else ref
        diff = float(np.abs(y - ref).max())
        runs.append(MethodRun(name, y, cost["work"], cost["depth"], ms, diff))
    return runs


@dataclass(frozen=True)
class Depth:
    """Dependent steps of one forward pass at each sequence length T — what parallel hardware
    cannot shorten."""

    seqs: list[int]
    attention: list[int]  # L: a layer handles all T positions at once
    scan: list[int]  # L·⌈log₂ T⌉: a parallel scan's rounds
    loop: list[int]  # L·T: an RNN, one position after another


def sequential_depth(
    seqs: list[int], attention_layers: int, scan_layers: int, loop_layers: int
) -> Depth:
    return Depth(
        seqs=list(seqs),
        attention=[attention_layers] * len(seqs),
        scan=[scan_layers * math.ceil(math.log2(s)) for s in seqs],
        loop=[loop_layers * s for s in seqs],
    )
