"""The live run (the app): one bounded run at a time, streamed step by step. `live_run` is kept
as it was (the lead redoes every live run with one event type); only its package-relative imports
moved one level up with the module."""

from __future__ import annotations

import threading
import time
from typing import Iterator

from .loop import run
from .results import describe, outcome
from .settings import LIVE_MAX_STEPS, LIVE_TIME_LIMIT_S, Settings
from .settings import cpu_shape as _cpu_shape

_live_lock = threading.Lock()


def live_run(settings: dict) -> Iterator[dict]:
    """Train the cpu preset's model with `settings` (a dict of Settings fields; missing ones take
    the defaults) on the world corpus, at most LIVE_MAX_STEPS steps and LIVE_TIME_LIMIT_S seconds
    of wall time in all. Bad settings, or a live run already in progress, raise a one-line
    ValueError at once. Yields {"kind": "progress", "step", "steps", "record"} per step, then
    {"kind": "done", "run": {...as a results run, name "live", plus "stopped": null | "stop" |
    "time limit"}} or {"kind": "error", "text"}. Closing the generator stops the training at the
    next step."""
    s = Settings.from_dict(settings)
    s.validate(max_steps=LIVE_MAX_STEPS)
    from .. import live

    def work(emit, stop):
        from ..data.blocks import bundled_world

        t0 = time.perf_counter()
        data = bundled_world("cpu")
        left = LIVE_TIME_LIMIT_S - (time.perf_counter() - t0)
        r = run(
            s,
            data,
            _cpu_shape(),
            stop=stop,
            max_time_s=max(1.0, left),
            on_step=lambda rec: emit(
                {"kind": "progress", "step": rec["step"], "steps": s.steps, "record": rec}
            ),
        )
        done = {
            "name": "live",
            "label": describe(s),
            "explains": "",
            "settings": r["settings"],
            "diverged_at": r["diverged_at"],
            "seconds": round(time.perf_counter() - t0, 2),
            "records": r["records"],
            "stopped": r["stopped"],
        }
        done["explains"] = outcome(done) + (
            " Stopped at the time limit." if r["stopped"] == "time limit" else ""
        )
        return {"run": done}

    return live.stream(
        _live_lock,
        work,
        name="stability-live-run",
        busy=f"a live run is already in progress; wait for it to finish ({LIVE_TIME_LIMIT_S:.0f} s at most)",
    )
