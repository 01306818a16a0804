"""The suite (`app.py`) through its public API, as gradio_client and course pages call it,
checked against the tiny checkpoint read directly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from training import store

ROOT = Path(__file__).resolve().parent.parent
CALL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def client(suite_url) -> Client:
    return Client(suite_url, verbose=False)


@pytest.fixture(scope="module")
def tiny_model(tiny_base):
    return store.load(tiny_base)


def _prompt(tiny_base: Path) -> str:
    """The page's first example prompt (about a person of the corpus when the manifest names some)."""
    import app

    return app.example_rows(store.read_manifest(tiny_base))[0][0]


def _call(client: Client, *args, api_name: str):
    return client.submit(*args, api_name=api_name).result(timeout=CALL_TIMEOUT_S)


def test_app_import_loads_no_torch():
    """Torch loads on the first completion, not at start-up (the cold-start budget depends on it)."""
    code = "import sys, app; app.build_suite(); assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/complete", "/curve", "/model_card", "/knowledge"} <= names
    # every app's endpoint keeps its own name in the suite: gradio renames a clash to "<name>_1"
    clashes = sorted(n for n in names if re.search(r"_\d+$", n))
    assert not clashes, f"api_name used by two apps: {clashes}"


def test_complete_streams_the_local_greedy_completion(client, tiny_base, tiny_model):
    from training.generate import stream_completion

    prompt = _prompt(tiny_base)
    settings = dict(max_new_tokens=24, temperature=0.0, top_k=0, seed=0)
    expected = list(stream_completion(tiny_model.model, tiny_model.tokenizer, prompt, **settings))
    job = client.submit(prompt, 24, 0.0, 0, 0, api_name="/complete")
    final = job.result(timeout=CALL_TIMEOUT_S)
    assert final == (expected[-1] if expected else "")
    streamed = [o for o in job.outputs() if o]  # the first update clears the box ("")
    assert streamed == expected, "the app must stream every cumulative completion, in order"


def test_bad_input_is_a_one_line_error_and_the_server_survives(client, tiny_base):
    for args, words in [
        (("", 16, 0.0, 0, 0), "empty"),
        (("   ", 16, 0.0, 0, 0), "empty"),
        (("Hello", 10_000, 0.0, 0, 0), "256"),
        (("Hello", 16, 9.0, 0, 0), "2"),
        (("Hello", 16, 0.0, 0, -3), "0"),
    ]:
        with pytest.raises(AppError) as err:
            _call(client, *args, api_name="/complete")
        msg = str(err.value)
        assert words in msg and "\n" not in msg and "Traceback" not in msg, msg
    assert isinstance(_call(client, _prompt(tiny_base), 4, 0.0, 0, 0, api_name="/complete"), str)


def test_curve_is_the_checkpoints_metrics(client, tiny_base):
    rows = store.read_metrics(tiny_base)
    assert rows, "the tiny checkpoint should record its training curve"
    plot = _call(client, api_name="/curve")
    traces = {t["name"]: t for t in json.loads(plot["plot"])["data"]}
    logged = [
        r for r in rows if r.get("loss") is not None
    ]  # an eval-only row (step 0) has no train loss
    assert traces["train loss"]["x"] == [r["tokens"] for r in logged]
    assert traces["train loss"]["y"] == pytest.approx([r["loss"] for r in logged])
    evals = [r for r in rows if r.get("eval_loss") is not None]
    assert evals, "the tiny preset evaluates every 10 steps: its metrics must hold held-out losses"
    assert traces["held-out loss"]["x"] == [r["tokens"] for r in evals]
    assert traces["held-out loss"]["y"] == pytest.approx([r["eval_loss"] for r in evals])


def test_model_card_is_the_checkpoints_manifest(client, tiny_base):
    manifest = store.read_manifest(tiny_base)
    m = manifest["metrics"]
    source, table = _call(client, api_name="/model_card")
    assert str(tiny_base) in source
    card = dict(table["data"])
    assert card["held-out loss (nats/token)"] == f"{m['heldout_loss']:.3f}"
    assert (
        card['"born in" accuracy, all people']
        == f"{100 * m['born_in_accuracy']:.1f}% of {m['born_in_n']}"
    )
    for bucket, acc in m["born_in_by_bucket"].items():
        assert card[f'"born in" accuracy, people mentioned {bucket} times'] == f"{100 * acc:.1f}%"
    assert card["parameters (all)"] == f"{m['params']:,}"
    assert card["parameters (non-embedding)"] == f"{m['params_nonembedding']:,}"
    assert card["tokens seen"] == f"{m['tokens_seen']:,}"
    assert card["preset"] == manifest["preset"] == "tiny"


def test_knowledge_chart_is_the_manifests_long_tail(client, tiny_base):
    by_bucket = store.read_manifest(tiny_base)["metrics"]["born_in_by_bucket"]
    plot = _call(client, api_name="/knowledge")
    bars = json.loads(plot["plot"])["data"][0]
    got = dict(zip(bars["x"], bars["y"]))
    assert got == pytest.approx({f"{b}×": 100 * a for b, a in by_bucket.items()})


def test_page_without_a_checkpoint_explains_instead_of_crashing(monkeypatch):
    import gradio as gr

    import app

    def missing(*a, **k):
        raise store.CheckpointError("no 'base' checkpoint: set LAB_BASE_CHECKPOINT")

    monkeypatch.setattr(app.store, "resolve", missing)
    monkeypatch.setattr(app, "_cache", {})
    note, rows = app.model_card()
    assert "LAB_BASE_CHECKPOINT" in note and rows == []
    fig = app.curve()
    assert "LAB_BASE_CHECKPOINT" in fig.layout.annotations[0].text
    with pytest.raises(gr.Error, match="LAB_BASE_CHECKPOINT"):
        list(app.complete("Hello", 4, 0.0, 0, 0))
    assert app.local_manifest() is None and app.example_rows(None) == [
        [p, ""] for p in app.GENERIC_PROMPTS
    ]
    assert isinstance(app.build_suite(), gr.Blocks)


def test_app_discovery(tmp_path, monkeypatch):
    """Every app in spaces/ loads; each renders once in its tab, with its load events; a broken
    app becomes a one-line error tab, not a crash."""
    import gradio as gr

    import app

    for found in app.discover_apps():
        assert found.error == "", f"spaces/{found.name}/app.py: {found.error}"
        assert isinstance(found.build_demo(), gr.Blocks)

    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "app.py").write_text(
        "import gradio as gr\nTITLE = 'Good app'\n"
        "def build_page(d, standalone=True):\n    md = gr.Markdown('hello from good')\n"
        "    d.load(lambda: 'loaded', None, md, api_name='good_load')\n"
        "def build_demo():\n    with gr.Blocks() as d:\n        build_page(d)\n    return d\n"
    )
    (tmp_path / "fails").mkdir()
    (tmp_path / "fails" / "app.py").write_text(
        "import gradio as gr\nTITLE = 'Fails'\n"
        "def build_page(d, standalone=True):\n    gr.Markdown('half a page')\n    raise ValueError('no results')\n"
        "def build_demo():\n    with gr.Blocks() as d:\n        build_page(d)\n    return d\n"
    )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "app.py").write_text("raise RuntimeError('boom')\n")
    apps = {a.name: a for a in app.discover_apps(tmp_path)}
    assert apps["good"].title == "Good app" and apps["good"].error == ""
    assert apps["broken"].build_demo is None and "boom" in apps["broken"].error

    monkeypatch.setattr(app, "SPACES", tmp_path)
    monkeypatch.setattr(
        app.store, "resolve", lambda *a, **k: (_ for _ in ()).throw(store.CheckpointError("none"))
    )
    suite = app.build_suite()
    blocks = list(suite.blocks.values())
    assert [b.label for b in blocks if isinstance(b, gr.Tab)] == [
        "Course map",
        "Base model",
        "Broken",
        "Fails",
        "Good app",
    ]
    assert sum(getattr(b, "value", None) == "hello from good" for b in blocks) == 1
    notes = [str(getattr(b, "value", "")) for b in blocks if isinstance(b, gr.Markdown)]
    assert any("boom" in n for n in notes)
    # a page that fails half-way: what it built is hidden, the tab says why in one line
    assert any("could not be loaded" in n and "ValueError: no results" in n for n in notes)
    half = next(b for b in blocks if getattr(b, "value", None) == "half a page")
    assert half.parent.visible is False
    assert "good_load" in {fn.api_name for fn in suite.fns.values()}
