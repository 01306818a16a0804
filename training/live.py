"""The one pattern for a live run started from a page: one at a time, in a thread, streamed.

`stream(lock, work, busy)` takes the lock without waiting (a second request gets `busy` as a
one-line ValueError, or the given `error` class, at once), runs `work(emit, stop)` in a daemon
thread and returns the events it emits (`Events`, an iterator). `work` calls `emit({...})` for
progress and returns the final payload, which arrives as `{"kind": "done", **payload}`; an
exception arrives as `{"kind": "error", "text": one line}`. Closing the events, or dropping them
(the browser left), sets `stop`, which `work` should check between steps. The lock is released
when `work` ends, however it ends, before the final event is sent; `Events.finished` is set
right after (a caller may wait on it instead of polling the lock). Every live run also has its
own time bound, which ends it even if nobody reads the events.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable


def one_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def stream(
    lock: threading.Lock,
    work: Callable[[Callable[[dict], None], threading.Event], dict],
    busy: str,
    name: str = "live-run",
    error: type[Exception] = ValueError,
) -> "Events":
    if not lock.acquire(blocking=False):
        raise error(busy)
    events: queue.Queue = queue.Queue()
    stop, finished = threading.Event(), threading.Event()

    def run():
        try:
            final = {"kind": "done", **(work(events.put, stop) or {})}
        except Exception as e:  # noqa: BLE001 - reported as one line
            final = {"kind": "error", "text": one_line(e)}
        finally:
            lock.release()  # before the last event: a caller reacting to it may start the next run
            finished.set()
        events.put(final)

    threading.Thread(target=run, name=name, daemon=True).start()

    return Events(events, stop, finished)


class Events:
    """The events of one live run, in order, ending after "done" or "error". `close()` — or
    dropping the last reference, as when a page's handler is cancelled — tells the run to stop,
    whether or not any event was read yet. `finished` is set once the run has ended and released
    its lock, whether or not its events were read."""

    def __init__(self, events: queue.Queue, stop: threading.Event, finished: threading.Event):
        self._events, self._stop, self._ended = events, stop, False
        self.finished = finished

    def __iter__(self) -> "Events":
        return self

    def __next__(self) -> dict:
        if self._ended:
            raise StopIteration
        ev = self._events.get()
        if ev["kind"] in ("done", "error"):
            self._ended = True
            self._stop.set()
        return ev

    def close(self) -> None:
        self._ended = True
        self._stop.set()

    def __del__(self):
        self._stop.set()
