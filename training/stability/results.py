"""What the Stability lab's build writes (`StabilityResults`, checkpoints/stability/results.json)
and the figures every reader takes from a run: its summary (CLI, page, README), its plotted
curves, the runs a reader picks by label. Torch-free: the app imports this at start."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from .. import schema, store
from ..schedules import WSD_DECAY_FRACTION, decay_start
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
    heldout_loss: float | NonFinite | None = None  # after the last step (the LR-decay runs)


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
    seconds: float  # the training time of every run
    model: ModelSize
    batch: Batch
    runs: list[StabilityRun]  # the grid's runs, in GRID order
    # the LR-decay runs, in SCHEDULE_RUNS order: one per schedule, equal steps (none before 2026-12)
    schedules: list[StabilityRun] = field(default_factory=list)
    wsd_decay_fraction: float = WSD_DECAY_FRACTION  # the share of the steps WSD decays over


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
    res = schema.parse(StabilityResults, {k: v for k, v in results.items() if k != "out"})
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "runs": {r["name"]: summary(r) for r in results["runs"]},
        "lr_decay": [asdict(row) for row in decay_table(res)],
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
# The LR-decay runs: what decay buys at the end of training
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecayRow:
    """One LR-decay run's figures. Every run has the same steps, warmup, peak lr, seed and batches,
    so differences between rows are the schedule's alone. Training losses are averaged over
    FINAL_LOSS_STEPS steps (one batch's loss is noisy)."""

    name: str  # the schedule
    label: str
    steps: int
    final_loss: float | NonFinite | None  # mean training loss of the last FINAL_LOSS_STEPS steps
    heldout_loss: float | NonFinite | None  # on held-out biographies after the last step
    decay_from: int  # the last step before WSD's decay: the same window for every row
    loss_at_decay_from: float | None  # mean training loss of the FINAL_LOSS_STEPS steps up to it
    late_drop: float | None  # loss_at_decay_from − final_loss: what the last steps bought
    vs_constant: float | None  # final_loss − constant's (negative: lower than no decay)
    heldout_vs_constant: float | None  # the same on the held-out loss
    last_lr: float  # the learning rate of the last step


def _mean(xs: Sequence) -> float | None:
    xs = [finite(x) for x in xs]
    return None if not xs or None in xs else sum(xs) / len(xs)


def _minus(a, b) -> float | None:
    a, b = finite(a), finite(b)
    return None if a is None or b is None else round(a - b, 4)


def wsd_decay_from(results: StabilityResults) -> int | None:
    """The last step (1-based) of the LR-decay runs that WSD takes at the peak lr, or None
    without LR-decay runs: step s uses lr_factor(s − 1), and the factor first drops after the
    decay phase begins."""
    if not results.schedules:
        return None
    s = results.schedules[0].settings
    return decay_start("wsd", s.steps, s.warmup_steps, results.wsd_decay_fraction) + 1


def decay_table(results: StabilityResults) -> list[DecayRow]:
    """The LR-decay runs' figures (`DecayRow`), in SCHEDULE_RUNS order ([] without them)."""
    start = wsd_decay_from(results)
    if start is None:
        return []
    rows = []
    const = {"final": None, "held": None}
    for r in results.schedules:
        summ = summarize(r.records, r.diverged_at)
        before = [x.loss for x in r.records if start - FINAL_LOSS_STEPS < x.step <= start]
        at = _mean(before)
        at = None if at is None else round(at, 4)
        if r.settings.schedule == "constant":
            const = {"final": summ.final_loss, "held": r.heldout_loss}
        rows.append(
            DecayRow(
                name=r.name,
                label=r.label,
                steps=len(r.records),
                final_loss=summ.final_loss,
                heldout_loss=r.heldout_loss,
                decay_from=start,
                loss_at_decay_from=at,
                late_drop=_minus(at, summ.final_loss),
                vs_constant=None,
                heldout_vs_constant=None,
                last_lr=r.records[-1].lr if r.records else float("nan"),
            )
        )
    return [
        replace(
            row,
            vs_constant=_minus(row.final_loss, const["final"]),
            heldout_vs_constant=_minus(row.heldout_loss, const["held"]),
        )
        for row in rows
    ]


def smoothed(values: Sequence, window: int = FINAL_LOSS_STEPS) -> list[float | None]:
    """The trailing mean of the last `window` values at each point (fewer at the start); None
    where a value in the window is missing or non-finite."""
    return [_mean(values[max(0, i + 1 - window) : i + 1]) for i in range(len(values))]


# ---------------------------------------------------------------------------------------------
# Words for a run (the live run's label and outcome)
# ---------------------------------------------------------------------------------------------


def describe(s: Settings) -> str:
    """A short label for settings: "lr 0.002, warmup 15, clip 1, init ×1, fp32, cosine"."""
    return (
        f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, clip {s.clip:g}"
        if s.clip
        else f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, no clipping"
    ) + f", init ×{s.init_scale:g}, {s.precision}, {s.schedule}"


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
