"""The sweep's results (checkpoints/sweep/results.json) as typed dataclasses, and reading them.

Torch-free: the Scaling Laws Explorer imports this at start. `read_results()` takes about 0.13 s
on 2 cores for the 5.5 MB body (hash check, json, then 0.05 s to parse): its 71k curve points are
checked by `check_curve` in one pass, not field by field (that took 0.26 s for them alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import scaling

from .. import store
from ..models import ModelSpec
from ..schema import SchemaError
from .plan import SweepPlan

TOKENIZER = "tokenizer"  # sub-directory of a sweep's results: the tokenizer its runs used
CURVE_KEYS = ("step", "tokens", "loss", "eval_loss")  # and eval_loss/<bucket>, one per bucket
EVAL = "eval_loss"


@dataclass(frozen=True)
class Approach3Result:
    """Chinchilla Approach 3 on the fit runs: L(N, D) = E + A/N^alpha + B/D^beta."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    a: float  # N_opt ∝ C^a, a = beta / (alpha + beta)
    b: float  # D_opt ∝ C^b
    objective: float  # the Huber objective at the optimum
    ci: dict[str, tuple[float, float]]  # parameter -> 95% bootstrap interval (lo, hi)
    n_boot: int  # bootstrap refits kept


@dataclass(frozen=True)
class Approach2Result:
    """Chinchilla Approach 2 (IsoFLOP parabolas); only `error` when the fit was impossible."""

    a: float | None = None  # N_opt ∝ C^a
    b: float | None = None  # D_opt ∝ C^b, 1 - a
    coef: float | None = None  # N_opt = coef · C^a
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95% bootstrap intervals
    budgets: tuple[float, ...] = ()  # the budgets whose parabola has a minimum
    n_opt: tuple[float, ...] = ()  # the parabola's vertex per budget
    error: str | None = None  # why there is no fit


@dataclass(frozen=True)
class Prediction:
    """A held-out run: its measured loss and the Approach 3 law's prediction."""

    name: str
    params: int
    tokens: int
    measured: float
    predicted: float  # rounded to 5 decimals
    error_pct: float  # 100 · (predicted - measured) / measured, rounded to 2 decimals


@dataclass(frozen=True)
class Headline:
    """The sweep's figures in a line (also in the manifest)."""

    approach3_a: float
    approach3_a_ci: tuple[float, float] | None
    approach2_a: float | None
    approach2_a_ci: tuple[float, float] | None
    heldout_max_abs_error_pct: float | None
    heldout_mean_abs_error_pct: float | None
    n_runs: int
    n_fit: int
    n_heldout: int


@dataclass(frozen=True)
class RunTrain:
    """The training settings a run was made with (a kept run with others is trained again)."""

    steps: int
    micro_batch: int
    lr: float  # peak lr (SweepPlan.lr_at its width)
    warmup_steps: int
    min_lr_ratio: float
    seed: int


@dataclass(frozen=True)
class SweepRun:
    name: str  # C<budget>_L<n_layer>d<d_model>
    budget: float  # the IsoFLOP slice's C = 6·N·D
    shape: tuple[int, int, int]  # (n_layer, d_model, n_head)
    spec: ModelSpec
    params: int  # all parameters (Chinchilla's N)
    params_nonembedding: int
    params_matmul: int
    steps: int
    tokens: int  # D = steps · micro_batch · n_ctx
    flops: int  # 6 · params · tokens
    train: RunTrain
    eval_loss: float  # final held-out loss
    train_loss: float
    seconds: float
    tokens_per_s: float
    # {"step", "tokens", then "loss" (a training step) and/or "eval_loss" and "eval_loss/<bucket>"
    # (an evaluation): numbers}, one per step; checked by check_curve
    curve: list[Any]

    def evals(self) -> list[dict[str, float]]:
        """The curve's evaluations (points with a held-out loss), first to last."""
        return [m for m in self.curve if EVAL in m]


@dataclass(frozen=True)
class SweepCorpus:
    """The world corpus the runs trained on (World.stats() and its source)."""

    source: str
    n_people: int
    n_records: int
    n_words: int
    mentions_min: int
    mentions_max: int
    mentions_mean: float
    zipf_s: float
    zipf_slope: float | None  # the measured slope of mentions vs rank (log-log)
    n_sft: int
    n_heldout: int


@dataclass(frozen=True)
class SweepData:
    corpus: SweepCorpus
    train_tokens: int


@dataclass(frozen=True)
class SweepResults:
    """checkpoints/sweep/results.json: the fits, the held-out check, and every run with its curve."""

    SCHEMA_VERSION = 1
    approach3: Approach3Result
    approach2: Approach2Result
    heldout_budgets: list[float]  # the largest budget(s): held out of the fit, predicted
    predictions: list[Prediction]  # one per held-out run
    headline: Headline
    preset: str
    plan: SweepPlan  # the plan the runs were made with
    buckets: list[str]  # mention buckets of the held-out people ("4-7", ..., "128+")
    runs: list[SweepRun]  # every run, by shape then budget
    data: SweepData
    rebuild: str  # the command that builds these results

    def __post_init__(self):
        for i, run in enumerate(self.runs):
            check_curve(run.curve, self.buckets, f"runs[{i}].curve")


def check_curve(curve: list, buckets: list[str], where: str = "curve") -> None:
    """Every point a dict with "step" and "tokens", its keys CURVE_KEYS or eval_loss/<bucket>, its
    values numbers; else SchemaError naming the first bad point and field (one pass, no per-value
    calls when the curve is good)."""
    allowed = {*CURVE_KEYS, *(f"{EVAL}/{b}" for b in buckets)}
    good = (
        all(type(m) is dict and "step" in m and "tokens" in m for m in curve)
        and allowed.issuperset(set().union(*curve))
        and {type(v) for m in curve for v in m.values()} <= {int, float}
    )
    if good:
        return
    for j, m in enumerate(curve):
        at = f"{where}[{j}]"
        if type(m) is not dict:
            raise SchemaError(f"{at}: expected an object (a curve point), got {type(m).__name__}")
        for k in ("step", "tokens"):
            if k not in m:
                raise SchemaError(f"{at}.{k}: missing")
        for k, v in m.items():
            if k not in allowed:
                raise SchemaError(f"{at}.{k}: unexpected field (a curve point has no such field)")
            if type(v) not in (int, float):
                raise SchemaError(f"{at}.{k}: expected a number, got {type(v).__name__} {v!r:.40}")


def read_results(path: str | Path | None = None) -> SweepResults | None:
    """The bundled sweep results (hash-checked), or None when there are none."""
    return store.read_results("sweep", path, schema=SweepResults)


def lab_law(results: SweepResults | None) -> scaling.ChinchillaLaw | None:
    """The sweep's Approach 3 fit as a law, with the range of parameters and tokens its runs
    cover; None without results."""
    if results is None:
        return None
    a3, runs = results.approach3, results.runs
    return scaling.ChinchillaLaw(
        name="our lab fit (Approach 3 on our sweep)",
        E=a3.E,
        A=a3.A,
        B=a3.B,
        alpha=a3.alpha,
        beta=a3.beta,
        citation=f"fitted here: {results.rebuild}",
        url="",
        params_range=(min(x.params for x in runs), max(x.params for x in runs)) if runs else None,
        tokens_range=(min(x.tokens for x in runs), max(x.tokens for x in runs)) if runs else None,
    )
