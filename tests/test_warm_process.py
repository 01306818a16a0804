"""The first clicks' process (`shared.warm_process`): started before the page is built, it runs its
warm-ups, and while the server's own warm-up is not over it answers `run(...)` calls; after that,
or when anything is wrong with it (an error, a dead process, a caller that stops reading, a
result that is not JSON, a call already in flight), the call runs in the server's process. Real
models answer the same there and here; `python app.py` serves its first click from it."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from shared import inputs, warm_process
from tests.conftest import _serve

WAIT_S = 120  # generous: the machine may be busy; nothing here is a timing assertion
ME = os.getpid()


def _until(cond, what: str, wait: float = WAIT_S) -> None:
    deadline = time.monotonic() + wait
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture()
def process(tmp_path, monkeypatch):
    """A warm process with the test warm-up, and the server's warm-up "in progress"."""
    marker = tmp_path / "warmed"
    monkeypatch.setenv("LAB_TEST_WARMED", str(marker))
    monkeypatch.setattr(warm_process, "wanted", lambda env=None: True)
    monkeypatch.setattr(inputs, "WARM_UP_WAIT_S", 0.5)  # a fallback's wait, kept short
    inputs.warm_up_done.clear()
    try:
        assert warm_process.start("tests.warm_targets:warm")
        _until(warm_process.ready, "the warm process to be ready")
        yield marker
    finally:
        inputs.warm_up_done.set()
        warm_process.stop()


def remote_pid() -> int:
    p = warm_process._process
    assert p is not None
    return p.proc.pid


def test_targets_are_module_colon_function():
    assert warm_process.target("tests.warm_targets:one")(2) == [ME, 4]
    for bad in ("tests.warm_targets", "tests.warm_targets:", ":one", "a b:c", "x:1y"):
        with pytest.raises(ValueError, match="write it as 'package.module:function'"):
            warm_process.start(bad)
    assert warm_process._process is None, "a malformed target starts nothing"


@pytest.mark.parametrize(
    "env, wanted",
    [
        ({}, True),
        ({"LAB_WARM_UP": "0"}, False),
        ({"LAB_WARM_PROCESS": " 0 "}, False),
        ({"SPACES_ZERO_GPU": "true"}, False),
        ({"LAB_WARM_PROCESS": "1", "SPACES_ZERO_GPU": ""}, True),
    ],
)
def test_when_it_is_wanted(env, wanted, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    assert warm_process.wanted(env) is wanted
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0})
    assert warm_process.wanted(env) is False, "one core: the process would slow the page"


def test_without_a_process_it_runs_here():
    assert warm_process._process is None
    assert list(warm_process.run("tests.warm_targets:items", 2, "a")) == [
        [ME, 0, "a"],
        [ME, 1, "a"],
    ]
    assert list(warm_process.run("tests.warm_targets:one", 1.5)) == [[ME, 3.0]]


def test_it_warms_up_then_answers_while_the_servers_warm_up_runs(process, log_records):
    pid = remote_pid()
    assert pid != ME and process.read_text() == str(pid), "the warm-up ran there, before 'ready'"
    assert list(warm_process.run("tests.warm_targets:items", 3, "x")) == [
        [pid, 0, "x"],
        [pid, 1, "x"],
        [pid, 2, "x"],
    ]
    assert list(warm_process.run("tests.warm_targets:one", 4)) == [[pid, 8]]
    assert any("tests.warm_targets:items answered" in r.getMessage() for r in log_records)
    inputs.warm_up_done.set()  # the server's warm-up is over: from now on, here
    assert list(warm_process.run("tests.warm_targets:one", 4)) == [[ME, 8]]


def test_an_error_there_runs_the_call_here(process, log_records):
    with pytest.raises(ValueError, match="boom"):
        list(warm_process.run("tests.warm_targets:fails", "boom"))
    said = [r.getMessage() for r in log_records if r.levelno == logging.WARNING]
    assert said == ["warm process: tests.warm_targets:fails: ValueError: boom; running it here"]
    pid = remote_pid()
    assert list(warm_process.run("tests.warm_targets:one", 1)) == [[pid, 2]], "still in use"
    # a result that is not JSON: the same
    assert list(warm_process.run("tests.warm_targets:not_json")) == [{1, 2}]


def test_a_call_that_fails_half_way_starts_again_here(process):
    """Its error message ends the call there (the process waits for the next one)."""
    pid = remote_pid()
    got = []
    with pytest.raises(RuntimeError, match="stopped half way"):
        for item in warm_process.run("tests.warm_targets:fails_after", 2):
            got.append(item)
    assert got == [[pid, 0, ""], [pid, 1, ""], [ME, 0, ""], [ME, 1, ""]]
    assert list(warm_process.run("tests.warm_targets:one", 1)) == [[pid, 2]]


def test_a_silent_process_is_given_up(process, monkeypatch):
    """No item within ITEM_TIMEOUT_S: the call runs here, and the process, which may still
    answer it later, is stopped."""
    monkeypatch.setattr(warm_process, "ITEM_TIMEOUT_S", 0.3)
    assert list(warm_process.run("tests.warm_targets:slow_items", 2, 2.0)) == [[ME, 0], [ME, 1]]
    _until(lambda: warm_process._process is None, "the process to be stopped")


def test_a_caller_that_stops_reading_stops_the_process(process):
    stream = warm_process.run("tests.warm_targets:slow_items", 50, 0.05)
    assert next(stream)[0] == remote_pid()
    stream.close()
    _until(lambda: warm_process._process is None, "the process to be stopped")
    assert list(warm_process.run("tests.warm_targets:one", 1)) == [[ME, 2]]


def test_a_dead_process_is_not_asked(process):
    p = warm_process._process
    p.proc.kill()
    p.proc.wait()
    assert not warm_process.ready()
    assert list(warm_process.run("tests.warm_targets:one", 3)) == [[ME, 6]]


@pytest.mark.parametrize("lock_wait, where", [(0.05, "here"), (60.0, "there")])
def test_a_second_call_waits_for_the_one_in_flight_then_runs_there_or_here(
    process, monkeypatch, lock_wait, where
):
    """One call at a time there: the next waits (at most LOCK_WAIT_S) for the one in flight."""
    monkeypatch.setattr(warm_process, "LOCK_WAIT_S", lock_wait)
    pid = remote_pid()
    first: list = []
    started = threading.Event()

    def consume():
        for item in warm_process.run("tests.warm_targets:slow_items", 20, 0.05):
            first.append(item)
            started.set()

    t = threading.Thread(target=consume)
    t.start()
    assert started.wait(WAIT_S)
    second = list(warm_process.run("tests.warm_targets:one", 5))
    t.join(WAIT_S)
    assert [i[0] for i in first] == [pid] * 20 and [i[1] for i in first] == list(range(20))
    assert second == [[ME if where == "here" else pid, 10]]


def test_a_call_before_the_process_is_ready_waits_for_it(tmp_path, monkeypatch):
    """Its warm-ups end seconds before the server's would: a first click waits for them."""
    marker = tmp_path / "warmed"
    monkeypatch.setenv("LAB_TEST_WARMED", str(marker))
    monkeypatch.setenv("LAB_TEST_WARM_S", "1.5")
    monkeypatch.setattr(warm_process, "wanted", lambda env=None: True)
    inputs.warm_up_done.clear()
    try:
        assert warm_process.start("tests.warm_targets:slow_warm")
        assert not warm_process.ready()
        got = list(warm_process.run("tests.warm_targets:one", 2))
        assert got == [[remote_pid(), 4]] and marker.read_text() == str(remote_pid())
    finally:
        inputs.warm_up_done.set()
        warm_process.stop()


def test_stop_ends_the_process(process):
    proc = warm_process._process.proc
    warm_process.stop()
    assert proc.wait(timeout=WAIT_S) == 0 and not warm_process.ready()
    assert list(warm_process.run("tests.warm_targets:one", 1)) == [[ME, 2]]


def test_the_base_model_completes_the_same_there_and_here(tiny_base, monkeypatch):
    """The page's Generate, `training.generate:stream_checkpoint`, on the tiny base model."""
    monkeypatch.setenv("LAB_BASE_CHECKPOINT", str(tiny_base))
    monkeypatch.setattr(warm_process, "wanted", lambda env=None: True)
    inputs.warm_up_done.clear()
    args = ("training.generate:stream_checkpoint", str(tiny_base), "He was born in", 6, 0.0, 0, 0)
    try:
        assert warm_process.start("training.generate:warm_base")
        _until(warm_process.ready, "the warm process to load the tiny base")
        there = list(warm_process.run(*args))
    finally:
        inputs.warm_up_done.set()
        warm_process.stop()
    here = list(warm_process.run(*args))
    assert there == here and len(here) >= 2 and all(isinstance(t, str) for t in here)


def test_the_sft_side_by_side_is_the_same_there_and_here(monkeypatch, log_records):
    """The SFT app's Compare, `training.sft.lab:stream_side_by_side`, on the bundled models."""
    monkeypatch.setattr(warm_process, "wanted", lambda env=None: True)
    inputs.warm_up_done.clear()
    args = ("training.sft.lab:stream_side_by_side", "Where was Ada born?", ["base", "sft"], 8, 0.0)
    try:
        assert warm_process.start("training.sft.lab:warm")
        _until(warm_process.ready, "the warm process to load the base and SFT models")
        pid = remote_pid()
        there = list(warm_process.run(*args))
        assert remote_pid() == pid and any(
            "stream_side_by_side answered" in r.getMessage() for r in log_records
        ), "it answered, without a failure"
    finally:
        inputs.warm_up_done.set()
        warm_process.stop()
    here = list(warm_process.run(*args))
    assert there == here and len(here) >= 2 and all(len(texts) == 2 for texts in here)


def test_the_suite_serves_its_first_click_from_the_warm_process(tiny_base, tmp_path):
    """`python app.py` as a user starts it: a Generate sent the moment / answers is answered by
    the warm process (its log line), with the text the server's own model gives after warm-up."""
    from gradio_client import Client

    log = tmp_path / "app.log"
    gen = _serve({"LAB_BASE_CHECKPOINT": str(tiny_base), "LAB_WARM_PROCESS": None}, log)
    url, _ = next(gen)
    try:
        client = Client(url, verbose=False)
        first = client.predict("He was born in", 6, 0.0, 0, 0, api_name="/complete")
        _until(  # the last of the server's warm-ups (done, or failed: one line)
            lambda: "warm-up lab_space_architectures.warm" in log.read_text(),
            "the server's warm-up",
        )
        later = client.predict("He was born in", 6, 0.0, 0, 0, api_name="/complete")
        text = log.read_text(errors="replace")
    finally:
        gen.close()
    assert text.count("warm process: training.generate:stream_checkpoint answered") == 1, text[
        -3000:
    ]
    assert first == later and first, (first, later)
    ready = text.find("warm process: warm-up training.sft.lab:warm")  # its last (done, or failed)
    started = text.find("warm-up: starting, the warm process ready")
    assert -1 < ready < started < text.find("warm-up __main__.warm done"), (
        "the server's own warm-up waits for the process: they would compete for the cores"
    )


def test_the_suite_warms_every_apps_first_clicks_there():
    """The suite's process warms what each app's first clicks need (their FIRST_CLICKS)."""
    import app

    root = Path(app.__file__).resolve().parent
    declared = set()
    for path in sorted((root / "spaces").glob("*/app.py")):
        text = path.read_text()
        if "FIRST_CLICKS = (" in text:
            line = text.split("FIRST_CLICKS = (", 1)[1].split(")", 1)[0]
            declared |= {s.strip().strip('"') for s in line.split(",") if s.strip()}
    assert declared and declared <= set(app.FIRST_CLICKS)
    for spec in app.FIRST_CLICKS:
        assert callable(warm_process.target(spec))
