"""StabilityResults, the schema of checkpoints/stability/results.json: the bundled file parses
exactly (written = read back), a renamed or mistyped field is refused naming it, each run's
figures (summary, curves, the runs chosen by label) and the LR-decay table recomputed from the raw
JSON, and a file written before the LR-decay runs still reads."""

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
    assert [r.name for r in results.schedules] == [g.name for g in st.SCHEDULE_RUNS]
    for run, g in zip(results.schedules, st.SCHEDULE_RUNS):
        assert run.settings == st.schedule_settings(st.PLANS["cpu"], g)
        assert len(run.records) == st.PLANS["cpu"].schedule_steps and run.diverged_at is None
    assert results.wsd_decay_fraction == st.WSD_DECAY_FRACTION


def test_a_file_from_before_the_lr_decay_runs_still_reads(tmp_path, raw):
    """Old files have no schedules, no held-out losses and no schedule setting: they take the
    defaults (cosine: what every old run used), and the decay table is empty."""
    old = json.loads(json.dumps(raw))
    old.pop("schedules"), old.pop("wsd_decay_fraction")
    for run in old["runs"]:
        run.pop("heldout_loss", None), run["settings"].pop("schedule")
    r = st.read_results(store.write_results(tmp_path / "old", old, {"kind": "stability"}))
    assert r.schedules == [] and st.decay_table(r) == [] and st.wsd_decay_from(r) is None
    assert {x.settings.schedule for x in r.runs} == {"cosine"}
    assert [x.records for x in r.runs] == [x.records for x in st.read_results().runs]


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
        (
            lambda b: b["schedules"][1]["settings"].update(schedule=3),
            "schedules[1].settings.schedule",
        ),
        (lambda b: b["schedules"][0].update(heldout_loss="low"), "schedules[0].heldout_loss"),
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


def test_the_decay_table_recomputed_from_the_raw_records(raw, results):
    """Every figure of the LR-decay table from the raw JSON: means of 10 training losses, the
    window before WSD's decay, the drop and the differences from constant."""
    rows = st.decay_table(results)
    runs = {r["name"]: r for r in raw["schedules"]}
    steps, warmup = st.PLANS["cpu"].schedule_steps, raw["schedules"][0]["settings"]["warmup_steps"]
    start = (
        steps - round(raw["wsd_decay_fraction"] * steps) + 1
    )  # 300 − 60 + 1: WSD's last peak step
    assert warmup == 20 and all(x.decay_from == start == 241 for x in rows)

    def mean(xs):
        return sum(xs) / len(xs)

    c = runs["constant"]
    c_final = mean([x["loss"] for x in c["records"][-10:]])
    for row in rows:
        rr = runs[row.name]
        losses = [x["loss"] for x in rr["records"]]
        final, before = mean(losses[-10:]), mean(losses[start - 10 : start])
        assert row.final_loss == pytest.approx(final, abs=1e-4)
        assert row.loss_at_decay_from == pytest.approx(before, abs=1e-4)
        assert row.late_drop == pytest.approx(before - final, abs=2e-4)
        assert row.vs_constant == pytest.approx(final - c_final, abs=2e-4)
        assert row.heldout_loss == rr["heldout_loss"]
        assert row.heldout_vs_constant == pytest.approx(
            rr["heldout_loss"] - c["heldout_loss"], abs=1e-4
        )
        assert row.last_lr == rr["records"][-1]["lr"] and row.steps == steps
    wsd = runs["wsd"]["records"]
    assert wsd[:start] == c["records"][:start]  # WSD is constant, bit for bit, until its decay
    assert wsd[start]["lr"] < c["records"][start]["lr"] == st.STABLE_LR
    by = {x.name: x for x in rows}
    assert by["constant"].last_lr == st.STABLE_LR and by["constant"].vs_constant == 0
    for k in ("cosine", "linear", "wsd"):  # lr/10 is reached just after the last step
        assert 0.1 * st.STABLE_LR < by[k].last_lr < 0.12 * st.STABLE_LR, k
    assert st.smoothed([1, 2, 3, "nan", 5], 2) == [1, 1.5, 2.5, None, None]


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
