"""The live race: the three architectures trained one after another on a small task, streamed."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import live
from ..data.blocks import task_data
from ..data.tasks import selective_copy
from .specs import matched_specs, quiet_model_warnings, spec_summary
from .tasks import mqar_mixture, train_task

RACE_TASKS = ("mqar", "copy")
RACE_MAX_STEPS = 400
RACE_SECONDS_PER_MODEL = 20.0
_race_lock = threading.Lock()


@dataclass(frozen=True)
class Race:
    task: str = "copy"
    steps: int = 200
    width: int = 32
    seq: int = 32
    seed: int = 0
    eval_every: int = 20

    def validate(self) -> None:
        if self.task not in RACE_TASKS:
            raise ValueError(f"task={self.task!r}: choose {' or '.join(RACE_TASKS)}")
        if isinstance(self.steps, bool) or not (
            isinstance(self.steps, int) and 10 <= self.steps <= RACE_MAX_STEPS
        ):
            raise ValueError(f"steps={self.steps!r}: choose 10 to {RACE_MAX_STEPS}")
        if self.width not in (16, 32, 64):
            raise ValueError(f"width={self.width!r}: choose 16, 32 or 64")
        if self.seq not in (16, 32, 64):
            raise ValueError(f"sequence length={self.seq!r}: choose 16, 32 or 64")
        if not (isinstance(self.eval_every, int) and 1 <= self.eval_every <= self.steps):
            raise ValueError(f"eval_every={self.eval_every!r}: choose 1 to steps ({self.steps})")
        if isinstance(self.seed, bool) or not (
            isinstance(self.seed, int) and 0 <= self.seed < 2**31
        ):
            raise ValueError(f"seed={self.seed!r}: use a whole number from 0 to 2^31 - 1")


def race_data(r: Race):
    if r.task == "mqar":
        pairs = (1, 2) if r.seq <= 32 else (2, 4)  # learnable within a race's few hundred steps
        x, y = mqar_mixture(2000, r.seq, pairs, 32, r.seed)
        ex, ey = mqar_mixture(128, r.seq, pairs, 32, r.seed + 1)
        return task_data(x, y, ex, ey), 32
    tokens = max(2, r.seq // 8)
    x, y = selective_copy(2000, r.seq, tokens, 10, seed=r.seed)
    ex, ey = selective_copy(128, r.seq, tokens, 10, seed=r.seed + 1)
    return task_data(x, y, ex, ey), 10


@dataclass(frozen=True)
class RacePoint:
    """One evaluation of one architecture in the race."""

    arch: str
    step: int
    accuracy: float
    eval_loss: float
    elapsed_s: float | None = None  # None at step 0 (no clock yet)


@dataclass(frozen=True)
class RaceResult:
    curves: dict[str, list[RacePoint]]  # arch -> its evaluations, in order
    stopped: dict[str, str | None]  # arch -> None (all steps done) or "time limit"
    models: dict[str, dict]  # arch -> its shape and parameter count
    settings: Race


def live_race(settings: dict) -> live.Events:
    """Train the three architectures one after another on a small task, each at most `steps`
    steps and RACE_SECONDS_PER_MODEL seconds; one race at a time (`training.live`). Progress
    events carry a `RacePoint` at every evaluation (done/total count steps over the three
    models); the last event carries the `RaceResult`. Bad settings raise a one-line ValueError."""
    known = {f.name for f in Race.__dataclass_fields__.values()}
    unknown = set(settings) - known
    if unknown:
        raise ValueError(f"unknown race setting(s): {', '.join(sorted(unknown))}")
    r = Race(**settings)
    r.validate()

    def work(emit, stop) -> RaceResult:
        quiet_model_warnings()
        data, vocab = race_data(r)
        accuracy_on = (data.eval[:, :-1], data.eval_labels)
        curves, stopped, models = {}, {}, {}
        with tempfile.TemporaryDirectory(prefix="race-") as tmp:
            for i, (arch, spec) in enumerate(matched_specs(r.width, 1, vocab, r.seq).items()):
                if stop.is_set():
                    break
                curves[arch] = []

                def on_eval(point, arch=arch, i=i):
                    p = RacePoint(
                        arch,
                        point["step"],
                        point["accuracy"],
                        point["eval_loss"],
                        point.get("elapsed_s"),
                    )
                    curves[arch].append(p)
                    emit(i * r.steps + p.step, 3 * r.steps, f"training {arch}", p)
                    if stop.is_set():
                        raise InterruptedError("stopped")

                try:
                    res = train_task(
                        spec,
                        data,
                        steps=r.steps,
                        batch=16,
                        lr=3e-3,
                        eval_interval=r.eval_every,
                        run_dir=Path(tmp) / arch,
                        accuracy_on=accuracy_on,
                        seed=r.seed,
                        max_time_s=RACE_SECONDS_PER_MODEL,
                        on_eval=on_eval,
                        measure_mfu=False,
                    )
                except InterruptedError:
                    break
                stopped[arch] = None if res["steps"] >= r.steps else "time limit"
                models[arch] = spec_summary(spec)
        return RaceResult(curves, stopped, models, r)

    return live.start(
        _race_lock,
        work,
        busy="a race is already running; wait for it to finish "
        f"({3 * RACE_SECONDS_PER_MODEL:.0f} s at most)",
        name="architectures-race",
    )
