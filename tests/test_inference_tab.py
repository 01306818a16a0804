"""The Training at Scale app's Inference tab (tabs/training_at_scale/inference.py) in a gr.Blocks of its
own: its endpoints, and its handlers' figures, table and prose against the bundled measurements
(numbers, not formatted strings), the int4 row beside int8; no results is a message; and the same
through the served app with gradio_client."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from gradio_client import Client

from tabs.training_at_scale import inference as tab
from tests.client_util import call, plot_traces, rows
from training import inference


@pytest.fixture(scope="module")
def results() -> inference.InferenceResults:
    return inference.read_results()


def _traces(fig) -> dict[str, dict]:
    return {t["name"]: t for t in fig.to_plotly_json()["data"]}


def test_the_tab_wires_its_endpoint():
    with gr.Blocks() as demo:
        with gr.Tab("Inference"):
            tab.build_inference_tab(demo)
    fns = {f.api_name: f for f in demo.fns.values() if f.api_name}
    load = fns["inference"]
    assert [t[1] for t in load.targets] == ["load"] and not load.inputs
    kinds = [type(demo.blocks[o] if isinstance(o, int) else o).__name__ for o in load.outputs]
    assert kinds == ["Plot", "Plot", "Plot", "Dataframe", "Markdown"]
    weights = fns["inference_weights"]
    assert [t[1] for t in weights.targets] == ["load"] and not weights.inputs
    assert len(weights.outputs) == 1


def test_figures_table_and_text_are_the_measurements(results):
    kv_fig, prune_fig, dist_fig, table, text = tab.inference()
    kv = results.kv_cache
    t = _traces(kv_fig)
    assert list(t["with KV cache"]["x"]) == kv.contexts
    assert list(t["with KV cache"]["y"]) == kv.cached_ms_per_token
    assert list(t["without (recompute every position)"]["y"]) == kv.uncached_ms_per_token
    assert list(t["cache size (MB, right axis)"]["y"]) == [b / 1e6 for b in kv.cache_bytes]
    t = _traces(prune_fig)
    assert list(t["held-out loss"]["x"]) == [100 * p.sparsity for p in results.pruning]
    assert list(t["held-out loss"]["y"]) == [p.heldout_loss for p in results.pruning]
    acc = t['"born in" accuracy (%, right axis)']["y"]
    assert list(acc) == [100 * p.accuracy for p in results.pruning]
    t = _traces(dist_fig)
    for name, curve in results.distillation.curves.items():
        assert list(t[name]["y"]) == [p.eval_loss for p in curve]
    fp32 = results.quantization[0]
    assert [row[0] for row in table] == [q.name for q in results.quantization]
    for row, q in zip(table, results.quantization):
        assert float(row[1].removesuffix(" MB")) == pytest.approx(q.weight_bytes / 1e6, abs=0.005)
        ratio = float(row[2].removesuffix("×"))
        assert ratio == pytest.approx(q.weight_bytes / fp32.weight_bytes, abs=0.005)
        assert float(row[3]) == pytest.approx(q.ms_per_token, abs=0.005)
        assert float(row[4]) == pytest.approx(1e3 / q.ms_per_token, abs=0.5)  # tokens / s
        assert float(row[5]) == pytest.approx(q.heldout_loss, abs=5e-5)
        assert float(row[6].rstrip("%")) == pytest.approx(100 * q.accuracy, abs=0.05)
        assert float(row[7].rstrip("%")) == pytest.approx(100 * q.top1_agreement, abs=0.05)
    s = inference.summarize(results)
    shown = float(text.split("(**×")[1].split("**")[0])
    assert shown == pytest.approx(s.speedup, abs=0.05) and "identical tokens: yes" in text
    assert f"at {s.context} tokens of context" in text and results.rebuild in text
    loss = float(text.split("trained on data alone vs **")[1].split("**")[0])
    assert loss == pytest.approx(s.distilled.heldout_loss, abs=5e-4)
    check_int4_prose(text, results)


def check_int4_prose(text: str, results: inference.InferenceResults) -> None:
    """The int4 sentence's numbers are the int4 row's (the largest group size) and fp32's."""
    s = inference.summarize(results)
    assert s.int4.name.startswith("int4 g") and f"**{s.int4.name}**" in text
    m = re.search(
        r"\*\*int4 g(\d+) \(blocks\)\*\* \(([\d.]+) bits per weight.*?per (\d+) weights", text
    )
    assert m and int(m[1]) == int(m[3]) == max(results.int4.group_sizes)
    assert float(m[2]) == pytest.approx(s.int4_bits_per_weight, abs=5e-4)
    mb = float(text.split(f"{s.fp32.megabytes:.2f} → **")[1].split(" MB**")[0])
    assert mb == pytest.approx(s.int4.megabytes, abs=0.005)
    assert "bytes equal the formula's: yes" in text
    loss = re.search(r"held-out loss [\d.]+ → ([\d.]+), accuracy [\d.]+% → ([\d.]+)%, top-1", text)
    assert float(loss[1]) == pytest.approx(s.int4.heldout_loss, abs=5e-5)
    assert float(loss[2]) == pytest.approx(100 * s.int4.accuracy, abs=0.05)
    agree = re.search(r"top-1 agreement with fp32 ([\d.]+)% \(int8: ([\d.]+)%\)", text)
    assert float(agree[1]) == pytest.approx(100 * s.int4.top1_agreement, abs=0.05)
    assert float(agree[2]) == pytest.approx(100 * s.int8.top1_agreement, abs=0.05)
    tps = re.search(r"(\d+) vs (\d+) tokens/s \(×([\d.]+)", text)
    assert float(tps[1]) == pytest.approx(1e3 / s.int4.ms_per_token, abs=0.5)
    assert float(tps[2]) == pytest.approx(1e3 / s.fp32.ms_per_token, abs=0.5)
    assert float(tps[3]) == pytest.approx(s.fp32.ms_per_token / s.int4.ms_per_token, abs=0.005)


def test_the_weights_figure_is_bytes_against_loss(results):
    t = _traces(tab.inference_weights())
    assert list(t) == [q.name for q in results.quantization]
    for q in results.quantization:
        assert list(t[q.name]["x"]) == [q.weight_bytes / 1e6]
        assert list(t[q.name]["y"]) == [q.heldout_loss]


def test_no_results_is_a_message(monkeypatch):
    monkeypatch.setattr(inference, "read_results", lambda path=None: None)
    *figs, table, text = tab.inference()
    assert text == tab.INF_NONE and table == [] and len(figs) == 3
    assert figs[0].to_plotly_json()["layout"]["annotations"][0]["text"] == tab.INF_NONE
    fig = tab.inference_weights().to_plotly_json()
    assert fig["layout"]["annotations"][0]["text"] == tab.INF_NONE


def test_the_served_tab_shows_the_int4_row(bundled_url, results):
    """The endpoints as a course page calls them (gradio_client against `python app.py`)."""
    client = Client(bundled_url, verbose=False)
    *_, table, text = call(client, api_name="/inference")
    shown = {r[0]: r for r in rows(table)}
    assert list(shown) == [q.name for q in results.quantization]
    s = inference.summarize(results)
    int4_row = shown[s.int4.name]
    assert float(int4_row[1].removesuffix(" MB")) == pytest.approx(s.int4.megabytes, abs=0.005)
    assert float(int4_row[7].rstrip("%")) == pytest.approx(100 * s.int4.top1_agreement, abs=0.05)
    check_int4_prose(text, results)
    traces = {t["name"]: t for t in plot_traces(call(client, api_name="/inference_weights"))}
    assert list(traces[s.int4.name]["x"]) == [pytest.approx(s.int4.megabytes)]
