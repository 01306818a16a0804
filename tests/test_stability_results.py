"""StabilityResults, the schema of checkpoints/stability/results.json: the bundled file parses
exactly (written = read back), a renamed or mistyped field is refused naming it, and each run's
figures (summary, curves, the runs chosen by label) recomputed from the raw JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from training import schema, store
from training import stability as st

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "checkpoints" / "stability"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads((BUNDLED / store.RESULTS).read_text())


@pytest.fixture(scope="module")
def results() -> st.StabilityResults:
    r = st.read_results()
    assert r is not None, (
        "checkpoints/stability is missing: python -m training stability --preset cpu"
    )
    return r


def test_the_bundled_results_parse_exactly(raw, results):
    assert isinstance(results, st.StabilityResults)
    assert schema.dump(results) == {"schema_version": 1, **raw}  # nothing lost, nothing added
    assert [r.name for r in results.runs] == [g.name for g in st.GRID]
    for run, g in zip(results.runs, st.GRID):
        assert run.settings == st.plan_settings(st.PLANS["cpu"], g.settings)
        assert isinstance(run.records[0], st.Record) and run.records[0].step == 1
    assert results.model.params == 3_639_552 and results.batch == st.Batch(8, 128)


def _rewrite(tmp_path: Path, raw: dict, edit) -> Path:
    body = json.loads(json.dumps(raw))
    edit(body)
    return store.write_results(tmp_path / "bad", body, {"kind": "stability"})


@pytest.mark.parametrize(
    "edit, field",
    [
        (
            lambda b: b["runs"][2]["records"][4].update(
                losss=b["runs"][2]["records"][4].pop("loss")
            ),
            "runs[2].records[4].losss",
        ),
        (lambda b: b["runs"][0]["records"][0].update(loss="NaN"), "runs[0].records[0].loss"),
        (lambda b: b["model"].update(params="3.6M"), "model.params"),
        (lambda b: b["runs"][1]["settings"].update(lr=None), "runs[1].settings.lr"),
        (lambda b: b["runs"][3].pop("diverged_at"), "runs[3].diverged_at"),
    ],
)
def test_a_renamed_or_mistyped_field_is_refused_naming_it(tmp_path, raw, edit, field):
    path = _rewrite(tmp_path, raw, edit)
    with pytest.raises(store.CheckpointError) as e:
        st.read_results(path)
    msg = str(e.value)
    assert "\n" not in msg and f"{field}:" in msg and "python -m training stability" in msg, msg


def test_no_results_is_none(tmp_path):
    assert st.read_results(tmp_path / "nothing-here") is None


def _raw_run(raw, name):
    return next(r for r in raw["runs"] if r["name"] == name)


def test_summaries_recomputed_from_the_raw_records(raw, results):
    for run in results.runs:
        rr = _raw_run(raw, run.name)
        s = st.summarize(run.records, run.diverged_at)
        assert asdict(s) == st.summary(rr)  # the dict form (CLI, live run, README) agrees
        recs = rr["records"]
        assert s.skipped_steps == sum(x["skipped"] for x in recs)
        assert s.max_head_zero_frac == max(x["head_zero_frac"] for x in recs)
        assert s.mean_zero_frac == pytest.approx(
            sum(x["zero_frac"] for x in recs) / len(recs), abs=1e-6
        )
        if rr["diverged_at"] is None:
            last = [x["loss"] for x in recs[-10:]]
            assert s.final_loss == pytest.approx(sum(last) / 10, abs=1e-4)
            assert s.max_grad_norm == max(x["grad_norm"] for x in recs)
    base = st.summarize(results.runs[0].records, None)
    assert base.final_loss == pytest.approx(3.51, abs=0.005) and base.skipped_steps == 0
    over = next(r for r in results.runs if r.name == "fp16-overflow")
    s = st.summarize(over.records, over.diverged_at)
    assert s.diverged_at == 1 and s.final_loss == "nan" and s.max_grad_norm == "nan"
    assert st.summarize([], None) == st.RunSummary(None, None, None, None, None, None, 0)


def test_curves_leave_gaps_for_non_finite_values(results):
    fp16 = next(r for r in results.runs if r.name == "fp16")
    c = st.curves(fp16.label, fp16.records, fp16.diverged_at)
    assert c.steps == list(range(1, 151)) and c.loss == [x.loss for x in fp16.records]
    assert c.head_zero_frac == [x.head_zero_frac for x in fp16.records]
    assert max(c.head_zero_frac) > 0.4  # up to 48% of the output head's gradients underflow
    over = next(r for r in results.runs if r.name == "fp16-overflow")
    c = st.curves(over.label, over.records, over.diverged_at)
    assert c.loss == [None] and c.grad_norm == [None] and c.update_ratio == [None]
    assert c.diverged_at == 1 and c.head_zero_frac == [over.records[0].head_zero_frac]
    assert st.finite(float("inf")) is None and st.finite(True) is None and st.finite(2) == 2


def test_runs_are_chosen_by_label_in_grid_order(results):
    labels = [r.label for r in results.runs]
    chosen = st.choose_runs(results, [labels[5], labels[0]])
    assert [r.name for r in chosen] == [results.runs[0].name, results.runs[5].name]
    assert st.choose_runs(results, []) == []
    with pytest.raises(ValueError, match="unknown run 'no such run': choose from baseline"):
        st.choose_runs(results, [labels[1], "no such run"])


def test_the_results_and_the_tab_import_without_torch():
    code = (
        "import sys; import training.stability, tabs.training_at_scale.stability; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
