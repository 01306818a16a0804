"""ZeroGPU readiness (`shared.gpu.on_gpu`): with the `spaces` package's `GPU`, heavy handlers are
wrapped with their duration and still work behind the input layer (generators stay generators,
gr.Progress still arrives); without it they are the very same functions; and importing and
building every app initialises no CUDA (imports no torch at all)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import Client

from shared import gpu, ui
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for the ZeroGPU package, shaped like the real one (spaces/zero/wrappers.py): GPU(duration=…)
# returns a decorator whose wrapper keeps the function's name and signature (functools.wraps) and is a
# generator function exactly when the task is one. It records what it decorated and each call.
FAKE_SPACES = """
import functools, inspect

DECORATED = []   # (module, qualname, duration)
CALLS = []       # qualname per call that went through the wrapper

def GPU(task=None, *, duration=None, **kwargs):
    def decorate(fn):
        DECORATED.append((fn.__module__, fn.__qualname__, duration))
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def handler(*args, **kw):
                CALLS.append(fn.__qualname__)
                yield from fn(*args, **kw)
        else:
            @functools.wraps(fn)
            def handler(*args, **kw):
                CALLS.append(fn.__qualname__)
                return fn(*args, **kw)
        return handler
    return decorate if task is None else decorate(task)
"""

# What must run on a GPU on ZeroGPU: generation, live training, the recall probe (module, handler).
HEAVY = {
    ("app", "complete"),
    ("tabs.sft_transformation.side_by_side", "compare"),
    ("tabs.sft_transformation.token_view", "token_view"),
    ("tabs.sft_transformation.live", "live_train"),
    ("tabs.sft_transformation.preference", "compare_dpo"),
    ("tabs.sft_transformation.preference", "live_dpo"),
    ("lab_space_architectures", "recall_probe"),
    ("lab_space_architectures", "race"),
    ("tabs.training_at_scale.stability", "stability_live"),
    ("lab_space_scaling_explorer", "live_run"),
}
MAX_DURATION_S = 300  # the most one ZeroGPU call may request (logged-in users)


def fake_spaces() -> types.ModuleType:
    mod = types.ModuleType("spaces")
    exec(FAKE_SPACES, mod.__dict__)  # noqa: S102 - our own constant source, above
    return mod


def test_with_zerogpu_the_handler_is_wrapped_with_its_duration(monkeypatch):
    fake = fake_spaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)

    def handler(x, progress=gr.Progress()):
        return 2 * x

    wrapped = gpu.on_gpu(45)(handler)
    assert wrapped is not handler
    assert fake.DECORATED == [(handler.__module__, handler.__qualname__, 45)]
    assert wrapped(4) == 8 and fake.CALLS == [handler.__qualname__]
    assert inspect.signature(wrapped) == inspect.signature(handler)


@pytest.mark.parametrize("present", ["namespace folder", "not installed"])
def test_without_zerogpu_the_function_comes_back_unchanged(monkeypatch, present):
    if (
        present == "namespace folder"
    ):  # what `import spaces` finds at this repo's root: no GPU attribute
        monkeypatch.setitem(sys.modules, "spaces", types.ModuleType("spaces"))
    else:
        monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError

    def stream(text, progress=gr.Progress()):
        yield text

    def plain(x):
        return x

    assert gpu.zerogpu() is None
    assert gpu.on_gpu(60)(stream) is stream and inspect.isgeneratorfunction(stream)
    assert gpu.on_gpu(1)(plain) is plain


def test_the_repos_spaces_folder_is_not_taken_for_zerogpu():
    """From the repo root `import spaces` finds the spaces/ folder (a namespace package, no GPU)."""
    code = (
        "import sys, app; from shared.gpu import zerogpu; import spaces; "
        "assert zerogpu() is None; assert not hasattr(spaces, 'GPU') and getattr(spaces, '__file__', None) is None; "
        "assert not hasattr(app.complete, '__wrapped__'), 'decorated without ZeroGPU'"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("duration", [0, -5, 2.5, True, "60", None])
def test_a_duration_is_a_positive_whole_number_of_seconds(duration):
    with pytest.raises(ValueError, match="duration"):
        gpu.on_gpu(duration)


def test_every_heavy_handler_is_decorated_and_no_cuda_is_touched(tmp_path):
    """The suite imported and built with a ZeroGPU-like `spaces` installed (a regular package later
    on sys.path than the repo root, as on a Space): exactly the heavy handlers are wrapped, each
    with a duration ZeroGPU accepts; generators stay generators behind the input layer; no torch."""
    site = tmp_path / "site"
    (site / "spaces").mkdir(parents=True)
    (site / "spaces" / "__init__.py").write_text(FAKE_SPACES)
    code = textwrap.dedent("""
        import inspect, json, sys
        import app, spaces
        from shared import inputs
        found = app.discover_apps()
        demo = inputs.guard(app.build_suite(found))
        gens = {}
        for block_fn in demo.fns.values():   # guarded -> GPU wrapper -> handler, for the wrapped ones
            if block_fn.fn is not None and hasattr(getattr(block_fn.fn, "__wrapped__", None), "__wrapped__"):
                inner = inspect.unwrap(block_fn.fn)
                gens[inner.__qualname__] = [inspect.isgeneratorfunction(inner),
                                            inspect.isgeneratorfunction(block_fn.fn)]
        print(json.dumps({"spaces_file": spaces.__file__, "decorated": spaces.DECORATED, "generators": gens,
                          "errors": [a.error for a in found if a.error], "torch": "torch" in sys.modules}))
    """)
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p),
    }
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["spaces_file"].startswith(str(site)), (
        "the installed package must win over the spaces/ folder"
    )
    assert not out["errors"]
    assert {(m, q) for m, q, _ in out["decorated"]} == HEAVY
    assert len(out["decorated"]) == len(HEAVY)
    assert all(isinstance(d, int) and 0 < d <= MAX_DURATION_S for _, _, d in out["decorated"]), out[
        "decorated"
    ]
    assert {name for _, name in HEAVY} <= set(out["generators"]), out["generators"]
    assert all(inner == guarded for inner, guarded in out["generators"].values()), out["generators"]
    assert out["torch"] is False, (
        "building the apps imported torch (CUDA could be initialised before ZeroGPU)"
    )


@pytest.fixture()
def zerogpu_page(monkeypatch):
    """A page with a streaming handler that takes gr.Progress, wrapped by a ZeroGPU-like GPU and
    launched behind the input layer like every app."""
    fake = fake_spaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    seen = []

    @gpu.on_gpu(30)
    def count(n, progress=gr.Progress()):
        seen.append(type(progress))
        for i in range(int(n)):
            progress((i, int(n)), desc="counting")
            yield str(i)

    with gr.Blocks() as demo:
        n = gr.Number(label="n", minimum=1, maximum=5, precision=0)
        out = gr.Textbox()
        n.submit(count, n, out, api_name="count")
    demo.queue()
    port = free_port()
    ui.launch(demo, prevent_thread_lock=True, server_port=port, server_name="127.0.0.1", quiet=True)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False), fake, seen
    demo.close()


def test_a_wrapped_generator_with_progress_works_behind_the_input_layer(zerogpu_page):
    client, fake, seen = zerogpu_page
    job = client.submit(3.0, api_name="/count")
    assert job.result(timeout=60) == "2"
    assert [o for o in job.outputs()] == ["0", "1", "2"]
    assert fake.CALLS == ["zerogpu_page.<locals>.count"]
    assert seen == [gr.Progress], (
        "gr.Progress must still be injected through the wrapper and the guard"
    )
