"""The Training at Scale app's Stability tab (tabs/training_at_scale/stability.py) in a gr.Blocks of its
own: its endpoints and limits, and its handlers' figures and table against the bundled records
(numbers, not formatted strings), the LR-decay section's curves, table and prose read from the
results, a bad selection or schedule as one line, no results as a message, and the live handler's
streamed curves beside the baseline."""

from __future__ import annotations

import math
from dataclasses import replace

import gradio as gr
import pytest

from tabs.training_at_scale import stability as tab
from training import stability as st
from training.schedules import lr_factor


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
    assert {"stability", "stability_live", "lr_decay"} <= set(fns)
    load = fns["stability"]
    assert [t[1] for t in load.targets] == ["load"] and len(load.outputs) == 6
    live = fns["stability_live"]
    assert (live.concurrency_limit, live.time_limit) == (2, 120)
    assert live.concurrency_id == "stability-live" and len(live.inputs) == 7
    sched = live.inputs[
        -1
    ]  # the live run's schedule: a Radio of the lab's choices, cosine first shown
    assert isinstance(sched, gr.Radio) and [c[1] for c in sched.choices] == list(st.SCHEDULES)
    assert sched.value == "cosine"
    decay = fns["lr_decay"]
    assert [t[1] for t in decay.targets] == ["load"] and len(decay.outputs) == 4
    assert not decay.inputs
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


def test_the_lr_decay_section_is_the_results(results):
    loss, lr, table, text = tab.lr_decay()
    rows = st.decay_table(results)
    assert [r[0] for r in table] == [x.label for x in results.schedules] == [x.label for x in rows]
    for run in results.schedules:
        t_loss, t_lr = _traces(loss)[run.label], _traces(lr)[run.label]
        losses = [x.loss for x in run.records]
        assert list(t_loss["x"]) == list(range(1, len(losses) + 1))
        assert t_loss["y"][-1] == pytest.approx(sum(losses[-10:]) / 10)  # trailing mean of 10
        assert t_loss["y"][0] == losses[0]
        assert list(t_lr["y"]) == [x.lr for x in run.records]  # the lr each step used
    n = len(results.schedules[0].records)
    layout = loss.to_plotly_json()["layout"]  # zoomed on the last two thirds, every value inside
    assert list(layout["xaxis"]["range"]) == [n / 3, n]
    lo, hi = layout["yaxis"]["range"]
    for t in _traces(loss).values():
        assert all(lo < y < hi for x, y in zip(t["x"], t["y"]) if x > n / 3)
        assert any(y > hi for y in t["y"])  # the start (loss ~7.7) is outside the zoom
    start = rows[0].decay_from
    marks = [m["x0"] for m in loss.to_plotly_json()["layout"]["shapes"]]
    assert marks == [start] and [m["x0"] for m in lr.to_plotly_json()["layout"]["shapes"]] == marks
    for row, x in zip(table, rows):
        assert float(row[1]) == pytest.approx(x.final_loss, abs=5.1e-4)
        assert float(row[2]) == pytest.approx(x.heldout_loss, abs=5.1e-4)
        assert float(row[3]) == pytest.approx(x.loss_at_decay_from, abs=5.1e-4)
        assert float(row[4]) == pytest.approx(x.late_drop, abs=5.1e-4)
        assert float(row[5]) == pytest.approx(x.vs_constant, abs=5.1e-4)
        assert float(row[6]) == pytest.approx(x.heldout_vs_constant, abs=5.1e-4)
        assert float(row[7]) == pytest.approx(x.last_lr, rel=5e-3)
    by = {x.name: x for x in rows}
    c, w = by["constant"], by["wsd"]
    assert f"ends at training loss {c.final_loss:.3f} (held-out {c.heldout_loss:.3f})" in text
    assert f"until step {start}" in text and f"{results.schedules[0].settings.steps} steps" in text
    assert f"falls {c.late_drop:.3f} and WSD's {w.late_drop:.3f}" in text
    assert f"{w.vs_constant:+.3f} in training loss, {w.heldout_vs_constant:+.3f} held out" in text
    assert (tab.DECAY_HELPS in text) == (w.heldout_vs_constant < 0)
    assert "arxiv.org/abs/2404.06395" in text  # MiniCPM, where WSD comes from


def test_no_lr_decay_runs_is_a_message(monkeypatch, results):
    for r in (None, replace(results, schedules=[])):  # no results; results from before the runs
        monkeypatch.setattr(st, "read_results", lambda path=None, r=r: r)
        loss, lr, table, text = tab.lr_decay()
        assert text == tab.DECAY_NONE and table == []
        assert loss.to_plotly_json()["layout"]["annotations"][0]["text"] == tab.DECAY_NONE


@pytest.mark.parametrize("bad", ["exp", "", None])
def test_a_bad_live_schedule_is_one_line(bad):
    with pytest.raises(gr.Error) as e:
        next(tab.stability_live(-2.5, 2, 1.0, 1.0, "fp32", 4, bad, progress=lambda *a, **k: None))
    msg = str(e.value)
    assert "\n" not in msg and "choose one of constant, cosine, linear, wsd" in msg


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
    events = tab.stability_live(
        -2.5, 2, 1.0, 1.0, "fp32", 4, "linear", progress=lambda *a, **k: None
    )
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
    last_lr = 10**-2.5 * lr_factor("linear", len(steps) - 1, 4, 2, 0.1)  # 0.55 x peak at step 4
    assert status.endswith(tab.LIVE_LR.format(schedule="linear", lr=last_lr))
