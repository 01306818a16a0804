"""training/live.py (one live job at a time, streamed as Events) and shared/ui.stream_live (the
one loop that shows a live job on a page)."""

from __future__ import annotations

import threading

import gradio as gr
import pytest

from shared import ui
from training import live
from training.live import Event


def _job(lock, steps=3, fail=False, gate=None):
    def work(emit, stop):
        for i in range(steps):
            if stop.is_set():
                return {"stopped_at": i}
            if gate:
                gate.wait(10)  # a hang guard
            emit(i + 1, steps, f"step {i + 1}", {"i": i})
        if fail:
            raise RuntimeError("the loss went to nan\nTraceback …")
        return {"steps": steps}

    return live.start(lock, work, busy="busy: wait for it", name="test-job")


def test_events_in_order_then_the_result_and_the_lock_is_free_before_it():
    lock = threading.Lock()
    events = list(_job(lock))
    assert [e.kind for e in events] == ["progress"] * 3 + ["done"]
    assert [(e.done, e.total, e.label) for e in events[:3]] == [
        (1, 3, "step 1"),
        (2, 3, "step 2"),
        (3, 3, "step 3"),
    ]
    assert events[-1] == Event("done", data={"steps": 3})
    assert not lock.locked()


def test_a_second_job_is_refused_at_once_and_an_error_is_one_line():
    lock, gate = threading.Lock(), threading.Event()
    first = _job(lock, fail=True, gate=gate)
    with pytest.raises(ValueError, match="^busy: wait for it$"):
        _job(lock)
    gate.set()
    last = list(first)[-1]
    assert last.kind == "error" and last.text == "the loss went to nan"
    assert first.finished.is_set() and not lock.locked()


def test_closing_the_events_stops_the_job_at_its_next_step():
    lock, gate = threading.Lock(), threading.Event()
    events = _job(lock, steps=100, gate=gate)
    events.close()
    gate.set()
    assert events.finished.wait(10)
    assert list(events) == [] and not lock.locked()


class _Progress:
    def __init__(self):
        self.calls = []

    def __call__(self, frac, desc=None, unit=None):
        self.calls.append((frac, desc))


def _fake(events, started=None):
    class Fake:
        closed = False

        def __iter__(self):
            return iter(events)

        def close(self):
            Fake.closed = True

    def start():
        if started is not None:
            started.append(1)
        return Fake()

    return start, Fake


def test_stream_live_renders_throttled_progress_and_always_the_result():
    evs = [Event("progress", i, 4, "training", i) for i in (1, 2, 3, 4)] + [Event("done", data="R")]
    start, fake = _fake(evs)
    seen, bar = [], _Progress()
    out = list(
        ui.stream_live(
            start,
            lambda e: f"shown {e.data}",
            bar,
            starting="starting",
            collect=seen.append,
            every_s=3600,
        )
    )
    assert out == ["starting", "shown 1", "shown R"]  # the first at once, then only the result
    assert [e.data for e in seen] == [1, 2, 3, 4]  # every point is collected
    assert bar.calls == [((i, 4), "training") for i in (1, 2, 3, 4)]
    assert fake.closed
    start, _ = _fake(evs)
    assert list(ui.stream_live(start, lambda e: e.data, every_s=0)) == [1, 2, 3, 4, "R"]
    start, _ = _fake(evs)
    assert list(
        ui.stream_live(start, lambda e: None if e.kind == "progress" else e.data, every_s=0)
    ) == ["R"]


def test_stream_live_errors_are_one_line_page_errors():
    start, fake = _fake([Event("progress", 1, 2), Event("error", text="out of memory")])
    with pytest.raises(gr.Error) as e:
        list(ui.stream_live(start, lambda e: e, failed="race failed"))
    assert e.value.message == "race failed: out of memory"
    assert fake.closed

    def busy():
        raise ValueError("a race is already running")

    with pytest.raises(gr.Error) as e:
        next(ui.stream_live(busy, lambda e: e, starting="never shown"))
    assert e.value.message == "a race is already running"


def test_stream_live_closed_by_the_page_closes_the_job():
    start, fake = _fake([Event("progress", 1, 9), Event("progress", 2, 9), Event("done")])
    gen = ui.stream_live(start, lambda e: e.done, every_s=0)
    assert next(gen) == 1
    gen.close()  # the browser left
    assert fake.closed
