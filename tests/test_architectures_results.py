"""The architectures results schema: the bundled results.json parses into `ArchitecturesResults`
as it is, and a renamed or mistyped field is refused with one line naming it. No torch."""

from __future__ import annotations

import json
import shutil

import pytest

from training import schema, store
from training.architectures import figures
from training.architectures import plan as arch_plan
from training.architectures import results as R

BUNDLED = store.BUNDLED_DIR / "architectures"


@pytest.fixture(scope="module")
def body() -> dict:
    return json.loads((BUNDLED / "results.json").read_text())


@pytest.fixture(scope="module")
def typed() -> R.ArchitecturesResults:
    r = R.read_results()
    assert r is not None, (
        f"checkpoints/architectures is missing: {store.BUILD_COMMANDS['architectures']}"
    )
    return r


def test_the_bundled_results_parse_as_they_are(body, typed):
    assert isinstance(typed, R.ArchitecturesResults)
    assert typed.plan == arch_plan.PLANS["cpu"] and typed.preset == "cpu"
    assert typed.machine.cpus == body["machine"]["cpus"] and typed.machine.cuda is False
    mq = body["mqar"]["runs"]
    assert [(r.arch, r.width) for r in typed.mqar.runs] == [(r["arch"], r["width"]) for r in mq]
    assert typed.mqar.runs[3].accuracy["64x8"] == mq[3]["accuracy"]["64x8"]
    assert typed.mqar.runs[0].curve[-1].accuracy == mq[0]["curve"][-1]["accuracy"]
    # the first curve point has no clock: None, the rest their seconds
    lm0 = typed.lm.runs[0].curve
    assert (
        lm0[0].elapsed_s is None
        and lm0[1].elapsed_s == body["lm"]["runs"][0]["curve"][1]["elapsed_s"]
    )
    assert (
        typed.inference.archs["transformer"].rows[-1].cache_bytes
        == (body["inference"]["archs"]["transformer"]["rows"][-1]["cache_bytes"])
    )
    assert typed.gradients.archs["lstm"].trained == body["gradients"]["archs"]["lstm"]["trained"]
    assert typed.recurrence.rows[2].parallel_scan.depth == 11  # ⌈log₂ 1024⌉ rounds + readout
    assert typed.probe.models["mamba"].arch == "mamba" and typed.probe.width == 64
    assert typed.copy.chance == body["copy"]["chance"]
    assert (
        typed.throughput.rows["lstm"][0].tokens_per_s
        == body["throughput"]["rows"]["lstm"][0]["tokens_per_s"]
    )


def test_dump_round_trips_the_bundled_body(body, typed):
    again = schema.parse(R.ArchitecturesResults, json.loads(json.dumps(schema.dump(typed))))
    assert again == typed


@pytest.mark.parametrize(
    "edit, where",
    [
        (
            lambda b: b["mqar"]["runs"][2].update(acc=b["mqar"]["runs"][2].pop("accuracy")),
            "mqar.runs[2].acc: unexpected field",
        ),
        (lambda b: b["mqar"]["runs"][1].pop("width"), "mqar.runs[1].width: missing"),
        (
            lambda b: b["lm"]["runs"][0]["curve"][3].update(eval_loss="low"),
            "lm.runs[0].curve[3].eval_loss: expected a number",
        ),
        (
            lambda b: b["inference"]["archs"]["mamba"]["rows"][0].update(cache_bytes=1.5),
            "inference.archs.mamba.rows[0].cache_bytes: expected an integer",
        ),
        (lambda b: b["copy"]["runs"][0].update(arch="gru"), "copy.runs[0].arch: expected"),
        (lambda b: b["plan"].update(lm_widths=64), "plan.lm_widths: expected a list"),
        (lambda b: b.update(schema_version=2), "schema_version: expected 1"),
    ],
)
def test_a_mismatch_is_refused_naming_the_field(body, edit, where):
    bad = json.loads(json.dumps(body))
    edit(bad)
    with pytest.raises(schema.SchemaError) as e:
        schema.parse(R.ArchitecturesResults, bad)
    assert str(e.value).startswith(where) and "\n" not in str(e.value)


def test_read_results_refuses_a_mismatched_directory_naming_the_field(tmp_path, body):
    out = tmp_path / "arch"
    bad = json.loads(json.dumps(body))
    bad["gradients"]["archs"]["lstm"]["init"][5] = "x"
    store.write_results(out, bad, {"kind": "architectures"})
    with pytest.raises(store.CheckpointError) as e:
        R.read_results(out)
    msg = str(e.value)
    assert "gradients.archs.lstm.init[5]: expected a number" in msg
    assert "python -m training architectures --preset cpu" in msg and "\n" not in msg
    assert R.read_results(tmp_path / "nothing") is None


def test_a_copy_of_the_bundled_directory_reads_the_same(tmp_path, typed):
    shutil.copytree(BUNDLED, tmp_path / "copy")
    assert R.read_results(tmp_path / "copy") == typed


def test_mqar_at_longest_on_the_bundled_results(body, typed):
    longest = figures.mqar_at_longest(typed)
    # by hand from the body: longest length 64, most trained pairs 8, widest width 64
    assert (longest.seq, longest.pairs, longest.width, longest.key) == (64, 8, 64, "64x8")
    want = {r["arch"]: r["accuracy"]["64x8"] for r in body["mqar"]["runs"] if r["width"] == 64}
    assert longest.accuracy == want
    assert longest.ordering == sorted(want, key=lambda a: -want[a])
    assert figures.headline(typed)["mqar_ordering"] == longest.ordering


def test_reading_the_results_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from training.architectures import results as R; r = R.read_results(); "
        "assert r is not None; assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
