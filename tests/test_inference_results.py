"""InferenceResults, the schema of checkpoints/inference/results.json: the bundled file parses
exactly (written = read back), a renamed or mistyped field is refused naming it, and the page's
comparisons (`summarize`) recomputed from the raw JSON, the int4 rows and bytes included."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from training import inference, schema, store

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "checkpoints" / "inference"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads((BUNDLED / store.RESULTS).read_text())


@pytest.fixture(scope="module")
def results() -> inference.InferenceResults:
    r = inference.read_results()
    assert r is not None, (
        "checkpoints/inference is missing: python -m training inference --preset cpu"
    )
    return r


def test_the_bundled_results_parse_exactly(raw, results):
    assert isinstance(results, inference.InferenceResults)
    written = json.loads(json.dumps(schema.dump(results)))  # tuples written as lists
    assert written == {"schema_version": 1, **raw}  # nothing lost, nothing added
    assert results.plan == inference.PLANS["cpu"]  # the plan is the Plan the build ran
    assert isinstance(results.kv_cache, inference.KVCache)
    groups = inference.PLANS["cpu"].int4_groups
    assert [q.name for q in results.quantization] == [
        "fp32",
        "int8 (blocks)",
        "int8 (blocks + head)",
        *(inference.int4_name(g) for g in groups),
    ]
    assert isinstance(results.int4, inference.Int4Format) and results.int4.group_sizes == list(
        groups
    )
    assert [p.sparsity for p in results.pruning] == list(inference.PLANS["cpu"].sparsities)
    d = results.distillation
    assert set(d.curves) == set(d.final) == {"distilled", "data only"}
    assert isinstance(d.curves["distilled"][0], inference.EvalPoint)


def _rewrite(tmp_path: Path, raw: dict, edit) -> Path:
    body = json.loads(json.dumps(raw))
    edit(body)
    return store.write_results(tmp_path / "bad", body, {"kind": "inference"})


def _rename(d: dict, old: str, new: str) -> None:
    d[new] = d.pop(old)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda b: b["kv_cache"].update(identical_tokens="yes"), "kv_cache.identical_tokens"),
        (lambda b: _rename(b["quantization"][1], "weight_bytes", "bytes"), "quantization[1].bytes"),
        (
            lambda b: b["distillation"]["curves"]["data only"][3].update(eval_loss="low"),
            "distillation.curves.data only[3].eval_loss",
        ),
        (lambda b: b["kv_cache"]["cache_bytes"].__setitem__(2, 1.5), "kv_cache.cache_bytes[2]"),
        (lambda b: b["plan"].pop("world"), "plan.world"),
        (lambda b: b["int4"].pop("tensor_bytes"), "int4.tensor_bytes"),
        (lambda b: b.update(int4="left out"), "int4"),
        (lambda b: b.update(extra=1), "extra"),
    ],
)
def test_a_renamed_or_mistyped_field_is_refused_naming_it(tmp_path, raw, edit, field):
    path = _rewrite(tmp_path, raw, edit)
    with pytest.raises(store.CheckpointError) as e:
        inference.read_results(path)
    msg = str(e.value)
    assert "\n" not in msg and f"{field}:" in msg and "python -m training inference" in msg, msg


def test_no_results_is_none(tmp_path):
    assert inference.read_results(tmp_path / "nothing-here") is None


def test_the_page_comparisons_from_the_raw_numbers(raw, results):
    s = inference.summarize(results)
    kv = raw["kv_cache"]
    assert s.context == kv["contexts"][-1] == 224
    assert s.cached_ms == kv["cached_ms_per_token"][-1]
    assert s.speedup == kv["uncached_ms_per_token"][-1] / kv["cached_ms_per_token"][-1]
    assert s.speedup > 3  # the cache pays at 224 tokens of context
    assert s.cache_megabytes == kv["cache_bytes"][-1] / 1e6 and s.identical_tokens
    q = raw["quantization"]
    assert [w.name for w in s.weights] == [x["name"] for x in q]
    for w, x in zip(s.weights, q):
        assert w.size_ratio == x["weight_bytes"] / q[0]["weight_bytes"]
        assert w.megabytes == x["weight_bytes"] / 1e6
        assert (w.heldout_loss, w.accuracy) == (x["heldout_loss"], x["accuracy"])
    assert s.fp32.size_ratio == 1.0 and s.int8.name == "int8 (blocks)"
    assert 0.3 < s.int8.size_ratio < 0.45  # int8 weights, the fp32 head/embedding kept
    # int4: the largest group size (the fewest bytes), its bytes the formula's
    f4 = raw["int4"]
    assert s.int4.name == "int4 g32 (blocks)" and f4["formula_bytes"] == f4["tensor_bytes"]
    g32 = next(x for x in q if x["name"] == s.int4.name)
    assert g32["weight_bytes"] == q[0]["weight_bytes"] - f4["fp32_bytes"] + f4["tensor_bytes"][0]
    assert s.int4_bits_per_weight == 8 * f4["tensor_bytes"][0] / f4["quantized_weights"] == 4.625
    assert 0.2 < s.int4.size_ratio < s.int8.size_ratio
    assert s.int4.heldout_loss - s.fp32.heldout_loss < 0.01 and s.int4.top1_agreement > 0.97
    fin = raw["distillation"]["final"]
    assert s.distilled.heldout_loss == fin["distilled"]["heldout_loss"]
    assert s.data_only.accuracy == fin["data only"]["accuracy"]
    assert s.distilled.heldout_loss < s.data_only.heldout_loss  # the teacher helps
    assert (s.steps, s.temperature) == (400, 1.0)


def test_with_fp32_alone_the_comparison_is_fp32(results):
    s = inference.summarize(replace(results, quantization=results.quantization[:1]))
    assert s.int8 == s.fp32 and s.int8.name == "fp32" and len(s.weights) == 1
    assert s.int4 == s.fp32
