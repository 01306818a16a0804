"""The Training at Scale app's Stability tab (tabs/training_at_scale/stability.py) in a gr.Blocks of its
own: its endpoints and limits, and its handlers' figures and table against the bundled records
(numbers, not formatted strings), a bad selection as one line, no results as a message, and the
live handler's streamed curves beside the baseline."""

from __future__ import annotations

import math

import gradio as gr
import pytest

from tabs.training_at_scale import stability as tab
from training import stability as st


@pytest.fixture(scope="module")
def results() -> st.StabilityResults:
    return st.read_results()


@pytest.fixture(scope="module")
def demo():
    with gr.Blocks() as demo:
        with gr.Tab("Stability"):
            tab.build_stability_tab(demo)
    return demo


def _by_name(results, name):
    return next(r for r in results.runs if r.name == name)


def _traces(fig) -> dict[str, dict]:
    return {t["name"]: t for t in fig.to_plotly_json()["data"]}


def test_the_tab_wires_its_endpoints(demo, results):
    fns = {f.api_name: f for f in demo.fns.values() if f.api_name}
    assert {"stability", "stability_live"} <= set(fns)
    load = fns["stability"]
    assert [t[1] for t in load.targets] == ["load"] and len(load.outputs) == 6
    live = fns["stability_live"]
    assert (live.concurrency_limit, live.time_limit) == (2, 120)
    assert live.concurrency_id == "stability-live" and len(live.inputs) == 6
    assert live.outputs == load.outputs[:4] + [live.outputs[-1]]  # the same four figures
    pick = next(b for b in demo.blocks.values() if isinstance(b, gr.CheckboxGroup))
    assert [c[1] for c in pick.choices] == [r.label for r in results.runs]
    assert pick.value == [r.label for r in results.runs if r.name in tab.STAB_DEFAULT]
    assert len(pick.value) == len(tab.STAB_DEFAULT)


def test_figures_and_table_are_the_records(results):
    fp16, over = _by_name(results, "fp16"), _by_name(results, "fp16-overflow")
    loss, norm, upd, zero, table, text = tab.stability([fp16.label, over.label])
    t = _traces(zero)
    assert set(t) == {fp16.label, over.label}
    assert list(t[fp16.label]["y"]) == [x.head_zero_frac for x in fp16.records]
    assert list(t[fp16.label]["x"]) == [x.step for x in fp16.records]
    assert list(_traces(loss)[over.label]["y"]) == [None]  # the NaN loss is a gap, not a point
    assert list(_traces(norm)[fp16.label]["y"]) == [x.grad_norm for x in fp16.records]
    assert list(_traces(upd)[fp16.label]["y"]) == [x.update_ratio for x in fp16.records]
    marks = [s for s in loss.to_plotly_json()["layout"]["shapes"]]
    assert [m["x0"] for m in marks] == [1]  # the divergence, marked at its step
    assert len(table) == len(results.runs)
    for row, run in zip(table, results.runs):
        s = st.summarize(run.records, run.diverged_at)
        assert row[0] == run.label and row[1] == run.explains
        if run.diverged_at is None:
            last = [x.loss for x in run.records[-10:]]
            assert float(row[2]) == pytest.approx(sum(last) / 10, abs=1e-3)  # 3 decimals shown
            assert float(row[3]) == pytest.approx(s.max_grad_norm, rel=5e-3)
            assert row[4] == "no"
        else:
            assert (row[2], row[4]) == ("NaN", str(run.diverged_at))
        assert float(row[5].rstrip("%")) == pytest.approx(100 * s.max_head_zero_frac, abs=0.05)
        assert int(row[6]) == s.skipped_steps
    assert f"{results.model.params:,}-parameter" in text and results.rebuild in text


def test_an_unknown_run_is_one_line():
    with pytest.raises(gr.Error) as e:
        tab.stability(["no such run"])
    assert "\n" not in str(e.value) and "unknown run 'no such run'" in str(e.value)


def test_no_results_is_a_message(monkeypatch):
    monkeypatch.setattr(st, "read_results", lambda path=None: None)
    *figs, table, text = tab.stability([])
    assert text == tab.STAB_NONE and table == [] and len(figs) == 4
    assert figs[0].to_plotly_json()["layout"]["annotations"][0]["text"] == tab.STAB_NONE
    with gr.Blocks() as demo:
        tab.build_stability_tab(demo)  # the page still builds, with nothing to pick
    pick = next(b for b in demo.blocks.values() if isinstance(b, gr.CheckboxGroup))
    assert pick.choices == [] and pick.value == []


def test_the_live_handler_streams_a_run_beside_the_baseline(results):
    events = tab.stability_live(-2.5, 2, 1.0, 1.0, "fp32", 4, progress=lambda *a, **k: None)
    outs = list(events)
    *figs, status = outs[-1]
    assert status.startswith("**Done**") and "final loss" in status
    t = _traces(figs[0])
    base = results.runs[0]
    assert list(t) == [base.label, "your run"]
    assert list(t[base.label]["y"]) == [x.loss for x in base.records]
    # 4 steps, or fewer when packing the corpus left less of the 60 s (a busy machine)
    steps, losses = list(t["your run"]["x"]), list(t["your run"]["y"])
    assert steps == list(range(1, len(steps) + 1)) and 1 <= len(steps) <= 4
    assert all(math.isfinite(y) for y in losses)
    final = float(status.split("final loss ")[1].split(" ")[0])
    assert final == pytest.approx(sum(losses) / len(losses), abs=1e-3)
