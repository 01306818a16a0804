"""checkpoints/parallel/results.json read as `ParallelResults`: the bundled file as it is, and a
renamed or mistyped field refused with one line naming it. No torch, no runs: seconds."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from training import schema, store
from training.parallel import build, results
from training.parallel.results import ParallelResults, read_results

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "checkpoints" / "parallel"


@pytest.fixture(scope="module")
def body() -> dict:
    return json.loads((BUNDLED / store.RESULTS).read_text())


def _strip_none(x):
    if isinstance(x, dict):
        return {k: _strip_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_strip_none(v) for v in x]
    return x


def test_the_bundled_file_parses_and_dumps_back_to_itself(body):
    r = read_results()
    assert isinstance(r, ParallelResults)
    assert r.rebuild == "python -m training parallel --preset cpu" and r.machine.cpus >= 1
    assert r.ddp.ranks == 2 and r.ddp.machine.backend == "gloo" and len(r.ddp.per_rank) == 2
    assert r.fsdp.predicted_per_rank.total == pytest.approx(
        r.fsdp.predicted_per_rank.params
        + r.fsdp.predicted_per_rank.grads
        + r.fsdp.predicted_per_rank.optimizer
    )
    assert {(p.schedule, p.stages) for p in r.pipeline} == {
        (s, n) for s in ("gpipe", "1f1b") for n in (2, 4)
    }
    none = [a for a in r.activations if a.recompute == "none"]
    full = [a for a in r.activations if a.recompute == "full"]
    assert none and all(a.dropout_mask_bytes_per_element == 2 for a in none)
    assert full and all(a.layernorm_stat_bytes_per_token is None for a in full)
    dumped = schema.dump(r)
    assert dumped.pop("schema_version") == ParallelResults.SCHEMA_VERSION
    assert _strip_none(dumped) == body  # every field of the file is in the schema, none invented


def test_read_results_needs_no_torch():
    code = (
        "import sys; from training.parallel.results import read_results; "
        "assert read_results() is not None; print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda b: b["ddp"].update(grad_bytes_total=b["ddp"].pop("grad_bytes")), "ddp.grad_bytes"),
        (lambda b: b["fsdp"]["per_rank"][1].update(params_bytes="4 MB"), "fsdp.per_rank[1]"),
        (lambda b: b["pipeline"][2]["events"][5].update(kind="W"), "pipeline[2].events[5].kind"),
        (lambda b: b["activations"][3].update(recompute="selective"), "activations[3].recompute"),
        (lambda b: b["machine"].pop("torch"), "machine.torch: missing"),
        (lambda b: b.update(schema_version=2), "schema_version"),
    ],
)
def test_a_renamed_or_mistyped_field_is_refused_naming_it(body, tmp_path, edit, where):
    bad = copy.deepcopy(body)
    edit(bad)
    out = tmp_path / "parallel"
    store.write_results(out, bad, {"kind": "parallel"})  # hashes match: only the schema refuses
    with pytest.raises(store.CheckpointError) as e:
        read_results(out)
    msg = str(e.value)
    assert where in msg and "\n" not in msg and "python -m training parallel" in msg, msg


def test_missing_or_tampered_results_read_as_none(tmp_path, body):
    assert read_results(tmp_path / "missing") is None
    out = tmp_path / "parallel"
    store.write_results(out, body, {"kind": "parallel"})
    assert read_results(out).ddp.ranks == 2
    (out / store.RESULTS).write_text(json.dumps({**body, "preset": "tiny"}))
    assert read_results(out) is None  # fails its hash check


def test_a_live_pipeline_dict_reads_as_a_bundled_run(body):
    entry = body["pipeline"][0]
    live = {**entry, "machine": {"cpus": 2}, "wall_s": 3.5}  # what launch.run adds
    run = results.pipeline_run(live)
    assert run == read_results().pipeline[0]
    with pytest.raises(schema.SchemaError, match="measured_bubble: missing"):
        results.pipeline_run({k: v for k, v in entry.items() if k != "measured_bubble"})


def test_headline_reads_the_typed_results():
    r = read_results()
    h = build.headline(build.Built(r, "somewhere"))
    assert h["out"] == "somewhere" and h["ddp_allreduce_s"] == r.ddp.allreduce_s
    assert [p["stages"] for p in h["pipeline_bubbles"]] == [p.stages for p in r.pipeline]
    assert h["fsdp_allgather_s"] == [x.allgather_s for x in r.fsdp.per_rank]
    assert len(h["activation_ratios"]) == len(r.activations)
