"""The live run (the app): one bounded run at a time, streamed step by step. It runs as a
`training.live` job: one at a time, streamed, stopped when its page closes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from .. import live
from .loop import run
from .results import Record, StabilityRun, describe, outcome, records_of
from .settings import LIVE_MAX_STEPS, LIVE_TIME_LIMIT_S, Settings
from .settings import cpu_shape as _cpu_shape

_live_lock = threading.Lock()


@dataclass(frozen=True)
class LiveRun:
    run: StabilityRun  # named "live", labelled by its settings
    stopped: str | None  # None (all steps), "stop" (the page closed) or "time limit"


def live_run(settings: dict) -> live.Events:
    """Train the cpu preset's model with `settings` (a dict of Settings fields; missing ones take
    the defaults) on the world corpus, at most LIVE_MAX_STEPS steps and LIVE_TIME_LIMIT_S seconds
    of wall time in all, as this process's one live job (`training.live`): a progress event per
    step carries its `Record`; the last event carries a `LiveRun`. Bad settings, or a live run
    already in progress, raise a one-line ValueError at once. Closing the events stops the
    training at the next step."""
    s = Settings.from_dict(settings)
    s.validate(max_steps=LIVE_MAX_STEPS)

    def work(emit, stop) -> LiveRun:
        from ..data.blocks import bundled_world  # the corpus (and torch): when a run starts

        t0 = time.perf_counter()
        data = bundled_world("cpu")
        left = LIVE_TIME_LIMIT_S - (time.perf_counter() - t0)
        r = run(
            s,
            data,
            _cpu_shape(),
            stop=stop,
            max_time_s=max(1.0, left),
            on_step=lambda rec: emit(rec["step"], s.steps, "training", Record(**rec)),
        )
        done = {"records": r["records"], "diverged_at": r["diverged_at"]}
        limit = " Stopped at the time limit." if r["stopped"] == "time limit" else ""
        result = StabilityRun(
            name="live",
            label=describe(s),
            explains=outcome(done) + limit,
            settings=s,
            diverged_at=r["diverged_at"],
            seconds=round(time.perf_counter() - t0, 2),
            records=records_of(done),
        )
        return LiveRun(result, r["stopped"])

    return live.start(
        _live_lock,
        work,
        name="stability-live-run",
        busy=f"a live run is already in progress; wait for it to finish ({LIVE_TIME_LIMIT_S:.0f} s at most)",
    )
