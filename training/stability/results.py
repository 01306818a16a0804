"""What the Stability lab's build writes (`StabilityResults`, checkpoints/stability/results.json)
and the figures every reader takes from a run: its summary (CLI, page, README), its plotted
curves, the runs a reader picks by label. Torch-free: the app imports this at start."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from .. import store
from .settings import Settings

NonFinite = Literal["inf", "-inf", "nan"]  # JSON has no inf/NaN: a non-finite float as a string
FINAL_LOSS_STEPS = 10  # "final loss" everywhere (CLI, page, README): the mean of the last 10 steps


def json_number(x) -> float | str:
    """A float for JSON: non-finite values as the strings "inf", "-inf", "nan"."""
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def _f(x) -> float:
    return float(x) if x is not None else float("nan")  # "inf"/"nan" strings parse too


# ---------------------------------------------------------------------------------------------
# The schema of checkpoints/stability/results.json
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One training step, measured (training.stability's docstring defines each figure)."""

    step: int
    loss: float | NonFinite  # the loss of the step's batch
    grad_norm: float | NonFinite  # global L2 norm of the unscaled gradients, before clipping
    update_norm: float | NonFinite | None  # ‖θ_after − θ_before‖; None on a diverged step
    update_ratio: float | NonFinite | None  # update_norm / ‖θ_before‖
    zero_frac: float  # share of non-embedding weight-matrix gradient elements exactly 0
    head_zero_frac: float  # the same in the tied embedding / output-head matrix
    n_inf: int  # non-finite gradient elements (after unscaling)
    n_nan: int
    loss_scale: float | None  # the GradScaler's scale this step used (None without one)
    skipped: bool  # the step took no update (GradScaler skip, or the diverged step)
    lr: float  # the learning rate this step used


@dataclass(frozen=True)
class StabilityRun:
    name: str  # the grid's key ("baseline", "fp16", ...)
    label: str  # what the page shows
    explains: str  # one sentence: what the run shows
    settings: Settings
    diverged_at: int | None  # the step whose loss was NaN/inf (the run stopped there)
    seconds: float
    records: list[Record]


@dataclass(frozen=True)
class Machine:
    cpus: int
    torch: str


@dataclass(frozen=True)
class ModelSize:
    n_layer: int
    d_model: int
    n_head: int
    params: int


@dataclass(frozen=True)
class Batch:
    micro_batch: int  # sequences per step
    n_ctx: int  # tokens per sequence


@dataclass(frozen=True)
class StabilityResults:
    SCHEMA_VERSION = 1
    rebuild: str  # the command that rebuilds these results
    machine: Machine
    preset: str
    seconds: float  # the grid's training time
    model: ModelSize
    batch: Batch
    runs: list[StabilityRun]  # the grid's runs, in GRID order


def read_results(path: str | Path | None = None) -> StabilityResults | None:
    """The bundled stability results (hash-checked), or None when there are none."""
    return store.read_results("stability", path, schema=StabilityResults)


# ---------------------------------------------------------------------------------------------
# A run's figures
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """The one definition of a run's figures, used by the CLI, the page and the README."""

    final_loss: float | NonFinite | None  # mean of the last FINAL_LOSS_STEPS losses; a diverged
    # run's non-finite last loss; None without records
    max_grad_norm: float | NonFinite | None
    diverged_at: int | None
    mean_zero_frac: float | None
    mean_head_zero_frac: float | None
    max_head_zero_frac: float | None
    skipped_steps: int


def summarize(records: Sequence[Record], diverged_at: int | None) -> RunSummary:
    """A run's summary from its records."""
    if not records:
        return RunSummary(None, None, diverged_at, None, None, None, 0)
    norms = [_f(r.grad_norm) for r in records]
    tail = [r.loss for r in records[-FINAL_LOSS_STEPS:]]
    n = len(records)
    return RunSummary(
        final_loss=records[-1].loss if diverged_at else round(sum(tail) / len(tail), 4),
        max_grad_norm=json_number(max(norms, key=lambda v: (math.isnan(v), v))),
        diverged_at=diverged_at,
        mean_zero_frac=round(sum(r.zero_frac for r in records) / n, 6),
        mean_head_zero_frac=round(sum(r.head_zero_frac for r in records) / n, 6),
        max_head_zero_frac=max(r.head_zero_frac for r in records),
        skipped_steps=sum(1 for r in records if r.skipped),
    )


def records_of(run_: dict) -> list[Record]:
    """A run dict's records (a live run's events, a run the training loop returned) as Records."""
    return [Record(**r) for r in run_["records"]]


def summary(run_: dict) -> dict:
    """`summarize` for a run held as a dict ({"records", "diverged_at", ...}): its figures as a
    dict (the CLI prints them; the live run's events carry dicts)."""
    return asdict(summarize(records_of(run_), run_["diverged_at"]))


def headline(results: dict) -> dict:
    """The numbers the CLI prints after a build."""
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "runs": {r["name"]: summary(r) for r in results["runs"]},
    }


def choose_runs(results: StabilityResults, labels: Sequence[str]) -> list[StabilityRun]:
    """The runs with these labels, in the grid's order; an unknown label is a one-line ValueError."""
    known = [r.label for r in results.runs]
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise ValueError(f"unknown run {unknown[0]!r}: choose from {', '.join(known)}")
    return [r for r in results.runs if r.label in labels]


@dataclass(frozen=True)
class Curves:
    """A run's plotted series per step; a missing or non-finite value is None (a gap)."""

    label: str
    steps: list[int]
    loss: list[float | None]
    grad_norm: list[float | None]
    update_ratio: list[float | None]
    head_zero_frac: list[float | None]
    diverged_at: int | None  # marked on every plot


def finite(v) -> float | None:
    """`v` if it is a finite number, else None (a missing or non-finite figure)."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return v if ok else None


def curves(label: str, records: Sequence[Record], diverged_at: int | None) -> Curves:
    """The series the page plots for one run."""
    return Curves(
        label=label,
        steps=[r.step for r in records],
        loss=[finite(r.loss) for r in records],
        grad_norm=[finite(r.grad_norm) for r in records],
        update_ratio=[finite(r.update_ratio) for r in records],
        head_zero_frac=[finite(r.head_zero_frac) for r in records],
        diverged_at=diverged_at,
    )


# ---------------------------------------------------------------------------------------------
# Words for a run (the live run's label and outcome)
# ---------------------------------------------------------------------------------------------


def describe(s: Settings) -> str:
    """A short label for settings: "lr 0.002, warmup 15, clip 1, init ×1, fp32"."""
    return (
        f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, clip {s.clip:g}"
        if s.clip
        else f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, no clipping"
    ) + f", init ×{s.init_scale:g}, {s.precision}"


def outcome(run_: dict) -> str:
    """One sentence on what a run did, from its records."""
    recs, d = run_["records"], summary(run_)
    if run_["diverged_at"]:
        return (
            f"The loss became {recs[-1]['loss']} at step {run_['diverged_at']}: the run diverged."
        )
    skipped = sum(r["skipped"] for r in recs)
    return (
        f"Loss {recs[0]['loss']:.2f} at step 1, {d['final_loss']:.2f} over the last 10 of {len(recs)} steps; largest "
        f"gradient norm {_f(d['max_grad_norm']):.3g}; {100 * d['mean_zero_frac']:.3g}% of weight-matrix and "
        f"{100 * d['mean_head_zero_frac']:.3g}% of output-head gradients exactly zero on average"
        + (f"; the GradScaler skipped {skipped} step(s)." if skipped else ".")
    )
