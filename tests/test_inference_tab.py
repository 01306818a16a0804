"""The Training at Scale app's Inference tab (tabs/training_at_scale/inference.py) in a gr.Blocks of its
own: its endpoint, and its handler's figures and table against the bundled measurements (numbers,
not formatted strings); no results is a message."""

from __future__ import annotations

import gradio as gr
import pytest

from tabs.training_at_scale import inference as tab
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
        assert float(row[4]) == pytest.approx(q.heldout_loss, abs=5e-5)
        assert float(row[5].rstrip("%")) == pytest.approx(100 * q.accuracy, abs=0.05)
        assert float(row[6].rstrip("%")) == pytest.approx(100 * q.top1_agreement, abs=0.05)
    s = inference.summarize(results)
    shown = float(text.split("(**×")[1].split("**")[0])
    assert shown == pytest.approx(s.speedup, abs=0.05) and "identical tokens: yes" in text
    assert f"at {s.context} tokens of context" in text and results.rebuild in text
    loss = float(text.split("trained on data alone vs **")[1].split("**")[0])
    assert loss == pytest.approx(s.distilled.heldout_loss, abs=5e-4)


def test_no_results_is_a_message(monkeypatch):
    monkeypatch.setattr(inference, "read_results", lambda path=None: None)
    *figs, table, text = tab.inference()
    assert text == tab.INF_NONE and table == [] and len(figs) == 3
    assert figs[0].to_plotly_json()["layout"]["annotations"][0]["text"] == tab.INF_NONE
