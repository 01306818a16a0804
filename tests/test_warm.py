"""The background warm-up (`ui.launch(demo, warm=…)`): what the first clicks need is loaded in one
daemon thread that starts only once the server answers, so neither the first HTTP 200 nor the page
waits for it; a failing step is one log line and the next still runs; the suite runs its own
(the base model) and every app's; and each warm-up fills the very cache the first click reads."""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from pathlib import Path

import gradio as gr

from shared import inputs, ui
from tests.conftest import _serve, free_port

ROOT = Path(__file__).resolve().parent.parent
WAIT_S = 120  # generous: the machine may be busy; nothing here is a timing assertion


def _status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status


def _page() -> gr.Blocks:
    with gr.Blocks() as demo:
        n = gr.Number(label="n", minimum=0, maximum=10, precision=0)
        out = gr.Textbox()
        n.submit(lambda x: str(x), n, out, api_name="echo")
    return demo


def test_warm_up_runs_in_a_background_thread_after_the_server_answers(log_records, monkeypatch):
    monkeypatch.delenv("LAB_WARM_UP", raising=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    release, started, ran = threading.Event(), threading.Event(), []

    def first():  # blocks until the test has seen the page served: the page must not wait for it
        thread = threading.current_thread()
        ran.append(
            ("first", thread.name, thread.daemon, thread is threading.main_thread(), _status(url))
        )
        started.set()
        release.wait(WAIT_S)

    def broken():
        raise RuntimeError("no checkpoint here\nsecond line")

    def last():
        ran.append(("last",))

    demo = _page()
    try:
        ui.launch(
            demo,
            warm=[first, broken, last],
            prevent_thread_lock=True,
            server_port=port,
            server_name="127.0.0.1",
            quiet=True,
        )
        assert started.wait(WAIT_S), "the warm-up never started"
        assert _status(url) == 200, "the page is served while the warm-up is still running"
        assert ran == [("first", "lab-warm-up", True, False, 200)], (
            "a daemon thread, after the server answered"
        )
        assert not inputs.warm_up_done.is_set(), "heavy handlers wait while the warm-up runs"
        release.set()
        assert inputs.warm_up_done.wait(WAIT_S), (
            "the warm-up never ended"
        )  # set when the thread ends
        assert ran[-1] == ("last",), "a failing step must not stop the next one"
    finally:
        release.set()
        demo.close()
    failed = [
        r.getMessage()
        for r in log_records
        if "warm-up" in r.getMessage() and r.levelno == logging.WARNING
    ]
    assert (
        len(failed) == 1 and "broken" in failed[0] and "no checkpoint here second line" in failed[0]
    ), failed
    assert "\n" not in failed[0] and not log_records[0].exc_info
    done = [
        r.getMessage()
        for r in log_records
        if r.levelno == logging.INFO and "warm-up" in r.getMessage()
    ]
    assert len(done) == 2 and "first" in done[0] and "last" in done[1], done


def test_lab_warm_up_0_turns_it_off(monkeypatch):
    monkeypatch.setenv("LAB_WARM_UP", "0")
    ran = threading.Event()
    port = free_port()
    demo = _page()
    try:
        ui.launch(
            demo,
            warm=ran.set,
            prevent_thread_lock=True,
            server_port=port,
            server_name="127.0.0.1",
            quiet=True,
        )
        assert _status(f"http://127.0.0.1:{port}/") == 200
        # ui.launch starts the warm-up thread before it returns when there is one, so by now the
        # hook has either run or its thread is alive: neither, and heavy handlers do not wait
        assert not ran.is_set()
        assert not any(t.name == "lab-warm-up" for t in threading.enumerate())
        assert inputs.warm_up_done.is_set()
    finally:
        demo.close()


def test_the_suite_warms_the_base_model_and_every_app_without_a_click(tiny_base, tmp_path):
    """`python app.py` as a user starts it: with no request but the 200 it polls for, the log says
    the server came up, then the base model's warm-up ran, then each app's."""
    log = tmp_path / "app.log"
    gen = _serve({"LAB_BASE_CHECKPOINT": str(tiny_base)}, log)
    next(gen)
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            if (
                "warm-up lab_space_architectures.warm" in text
            ):  # the last one, in the session's order (done, or failed: one line)
                break
            time.sleep(0.2)
        text = log.read_text(errors="replace")
    finally:
        gen.close()
    served = text.find("Running on local URL")
    base = text.find("warm-up __main__.warm done")
    assert served != -1 and base != -1, text[-3000:]
    assert served < base, "the warm-up must start after the server is listening"
    for name in ("lab_space_architectures", "training.sft.lab"):
        assert f"warm-up {name}.warm " in text[base:], text[-3000:]


def test_the_suite_collects_its_own_and_every_loaded_apps_warm_up(tmp_path, monkeypatch):
    import app

    found = app.discover_apps()
    hooks = app.warm_ups(found)
    assert hooks[0] is app.warm
    assert [h.__module__ for h in hooks[1:]] == [  # in the session's order
        "training.sft.lab",  # the SFT app's warm-up is lab.warm (also the warm process's)
        "lab_space_architectures",
    ]
    for a in found:
        a.error = "broken"  # an app that failed to build is not warmed
    assert app.warm_ups(found) == [app.warm]


def test_the_base_warm_up_fills_the_cache_the_first_completion_reads(tiny_base, monkeypatch):
    import app
    from training import store

    monkeypatch.setenv("LAB_BASE_CHECKPOINT", str(tiny_base))
    monkeypatch.setattr(app, "_cache", {})
    monkeypatch.setattr(store, "_shared", {})
    loads = []
    real = store.load
    monkeypatch.setattr(store, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    app.warm()
    assert len(loads) == 1 and app.base_checkpoint().path == Path(tiny_base)
    out = list(app.complete("He was born in", 4, 0.0, 0, 0))
    assert len(out) >= 2 and len(loads) == 1, (
        "the first completion after the warm-up must not load again"
    )


def test_one_base_model_per_process_the_suite_page_and_the_sft_app_share_it(tiny_base, monkeypatch):
    import app
    from training import store
    from training.sft import lab

    monkeypatch.setenv("LAB_BASE_CHECKPOINT", str(tiny_base))
    monkeypatch.setattr(app, "_cache", {})
    monkeypatch.setattr(store, "_shared", {})
    monkeypatch.setattr(lab, "_models", {})
    loads = []
    real = store.load
    monkeypatch.setattr(store, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    model, _ = lab.get_model("base")
    assert app.base_checkpoint().model is model and len(loads) == 1


def test_the_probe_warm_up_fills_the_cache_the_first_probe_reads(monkeypatch):
    import safetensors.torch

    from tests.client_util import load_space
    from training.architectures import recall_probe

    monkeypatch.setattr(recall_probe, "_probe_models", {})
    loads = []
    real = safetensors.torch.load_model
    monkeypatch.setattr(
        safetensors.torch, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k)
    )
    mod = load_space("architectures")
    mod.warm()
    assert len(loads) == 3, "the warm-up loads the three MQAR models"
    rows, _, _ = mod.recall_probe(mod.PROBE_EXAMPLE, 0)
    assert len(rows) == 3 and len(loads) == 3, (
        "the first probe after the warm-up must not load them again"
    )
