"""The one way to run a live job from a page: one at a time, in a thread, streamed as `Event`s.

`start(lock, work, busy)` takes the lock without waiting (a second request gets `busy` as a
one-line ValueError at once), runs `work(emit, stop)` in a daemon thread and returns its events
(`Events`, an iterator of `Event`). `work` calls `emit(done=…, total=…, label=…, data=…)` as it
goes and returns its result, which arrives as the last event, `Event("done", data=result)`; an
exception arrives as `Event("error", text=one line)`. Closing the events, or dropping them (the
browser left), sets `stop`, which `work` checks between steps. The lock is released when `work`
ends, however it ends, before the final event is sent; `Events.finished` is set right after (a
caller may wait on it instead of polling the lock). Every live job also has its own time bound,
which ends it even if nobody reads the events. `shared.ui.stream_live` shows them on a page.

The live jobs: `training.sweep.live_run` (one scaling-law point), `training.stability.live_run`
(a training run with chosen tricks), `training.parallel.launch.live_run` (a multi-process run),
`training.architectures.live_race` (three architectures on one task) and
`training.sft.lab.live_sft` (a LoRA fine-tune).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Literal


@dataclass(frozen=True)
class Event:
    """One step of a live job, as a page shows it."""

    kind: Literal["progress", "done", "error"]
    done: float = 0  # work done so far, in `total`'s unit (steps, models, ranks)
    total: float = 0  # work in all; 0 when unknown (no progress bar)
    label: str = ""  # what is happening now, for the progress bar ("training Mamba")
    data: Any = None  # progress: the job's new point; done: its result
    text: str = ""  # error: the one-line reason


def one_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


Emit = Callable[..., None]


def start(
    lock: threading.Lock,
    work: Callable[[Emit, threading.Event], Any],
    busy: str,
    name: str = "live-job",
) -> Events:
    """Run `work(emit, stop)` as this process's one live job under `lock` (see the module)."""
    if not lock.acquire(blocking=False):
        raise ValueError(busy)
    events: queue.Queue = queue.Queue()
    stop, finished = threading.Event(), threading.Event()

    def emit(done: float = 0, total: float = 0, label: str = "", data: Any = None) -> None:
        events.put(Event("progress", done, total, label, data))

    def run():
        try:
            final = Event("done", data=work(emit, stop))
        except Exception as e:  # noqa: BLE001 - reported as one line
            final = Event("error", text=one_line(e))
        finally:
            lock.release()  # before the last event: a caller reacting to it may start the next job
            finished.set()
        events.put(final)

    threading.Thread(target=run, name=name, daemon=True).start()
    return Events(events, stop, finished)


class Events:
    """The events of one live job, in order, ending after "done" or "error". `close()` — or
    dropping the last reference, as when a page's handler is cancelled — tells the job to stop,
    whether or not any event was read yet. `finished` is set once the job has ended and released
    its lock, whether or not its events were read."""

    def __init__(self, events: queue.Queue, stop: threading.Event, finished: threading.Event):
        self._events, self._stop, self._ended = events, stop, False
        self.finished = finished

    def __iter__(self) -> Events:
        return self

    def __next__(self) -> Event:
        if self._ended:
            raise StopIteration
        ev = self._events.get()
        if ev.kind in ("done", "error"):
            self._ended = True
            self._stop.set()
        return ev

    def close(self) -> None:
        self._ended = True
        self._stop.set()

    def __del__(self):
        self._stop.set()
