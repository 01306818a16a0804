"""What the architectures tabs show, computed by `training.architectures.figures` from the
bundled results: each number checked against the raw results.json by hand. No torch, no server."""

from __future__ import annotations

import json
import math

import pytest

from shared import memory
from training import store
from training.architectures import figures
from training.architectures.results import read_results

ARCHS = ("transformer", "mamba", "lstm")


@pytest.fixture(scope="module")
def body() -> dict:
    return json.loads((store.BUNDLED_DIR / "architectures" / "results.json").read_text())


@pytest.fixture(scope="module")
def r():
    results = read_results()
    assert results is not None, store.BUILD_COMMANDS["architectures"]
    return results


def test_runs_at_picks_one_width_and_names_the_others(r, body):
    width, runs = figures.runs_at(r.mqar.runs, "32")
    assert width == 32 and [x.arch for x in runs] == list(ARCHS)
    assert [x.accuracy for x in runs] == [x["accuracy"] for x in body["mqar"]["runs"][:3]]
    assert figures.runs_at(r.lm.runs, 128.0)[0] == 128
    with pytest.raises(ValueError, match=r"^width must be one of \[32, 64\] \(got 'wide'\)$"):
        figures.runs_at(r.mqar.runs, "wide")
    with pytest.raises(ValueError, match=r"^width 999: the bundled runs have widths \[64, 128\]$"):
        figures.runs_at(r.lm.runs, 999)


def test_overview_numbers(r, body):
    o = figures.overview(r)
    t = body["inference"]["archs"]["transformer"]["rows"]
    assert (
        o.contexts == (16, 1024) and o.kv_growth == t[-1]["cache_bytes"] / t[0]["cache_bytes"] == 64
    )
    assert o.mamba_state == body["inference"]["archs"]["mamba"]["rows"][-1]["cache_bytes"]
    assert o.lstm_state == body["inference"]["archs"]["lstm"]["rows"][-1]["cache_bytes"]
    want_lm = {x["arch"]: x["final_eval_loss"] for x in body["lm"]["runs"] if x["width"] == 128}
    assert o.lm_width == 128 and o.lm_loss == want_lm and list(o.lm_loss) == list(ARCHS)
    assert o.longest_train_seq == 512 and o.cpus == body["machine"]["cpus"]
    assert o.section_minutes == pytest.approx(sum(body["section_seconds"].values()) / 60)
    assert o.copy_accuracy == {x["arch"]: x["accuracy"] for x in body["copy"]["runs"]}
    assert o.longest.key == "64x8"


def test_mqar_view_numbers(r, body):
    v = figures.mqar_view(r, "64")
    assert v.width == 64 and v.seqs == [16, 32, 64] and v.widths == [32, 64]
    run = next(x for x in body["mqar"]["runs"] if x["arch"] == "lstm" and x["width"] == 64)
    pairs = [g["pairs"] for g in body["mqar"]["grid"] if g["seq"] == 32]
    assert v.by_pairs[("lstm", 32)] == (pairs, [run["accuracy"][f"32x{p}"] for p in pairs])
    assert len(v.by_pairs) == 3 * 3
    by_width = [
        next(x for x in body["mqar"]["runs"] if x["arch"] == "mamba" and x["width"] == w)[
            "accuracy"
        ]["64x8"]
        for w in (32, 64)
    ]
    assert v.by_width["mamba"] == ([32, 64], by_width)
    assert v.training["lstm"] == (
        [p["step"] for p in run["curve"]],
        [p["accuracy"] for p in run["curve"]],
    )
    with pytest.raises(ValueError, match="widths \\[32, 64\\]"):
        figures.mqar_view(r, 48)


def test_lm_curves_leave_out_the_point_without_a_clock(r, body):
    run, raw = r.lm.runs[4], body["lm"]["runs"][4]
    c = figures.lm_curves(run)
    assert c.by_step == ([p["step"] for p in raw["curve"]], [p["eval_loss"] for p in raw["curve"]])
    timed = [p for p in raw["curve"] if "elapsed_s" in p]
    assert len(timed) == len(raw["curve"]) - 1
    assert c.by_time == ([p["elapsed_s"] for p in timed], [p["eval_loss"] for p in timed])


def test_speed_view_throughput_and_depth(r, body):
    v = figures.speed_view(r.throughput)
    rows = body["throughput"]["rows"]
    for a in ARCHS:
        assert v.tokens_per_s[a] == (
            [x["seq"] for x in rows[a]],
            [x["tokens_per_s"] for x in rows[a]],
        )
    seqs = [64, 128, 256, 512]
    layers = {a: body["throughput"]["models"][a]["n_layer"] for a in ARCHS}  # 2, 3, 3
    assert v.depth["transformer"] == (seqs, [layers["transformer"]] * 4)
    assert v.depth["mamba"] == (seqs, [layers["mamba"] * k for k in (6, 7, 8, 9)])  # ⌈log₂ T⌉
    assert v.depth["lstm"] == (seqs, [layers["lstm"] * s for s in seqs])


def test_decode_series_units(r, body):
    for a in ARCHS:
        s = figures.decode_series(r.inference.archs[a])
        rows = body["inference"]["archs"][a]["rows"]
        assert s.contexts == [x["context"] for x in rows]
        assert s.cache_kib == [x["cache_bytes"] / 1024 for x in rows]
        assert s.mflops == [x["flops_per_token"] / 1e6 for x in rows]
        assert s.ms == [x["ms_per_token"] for x in rows]
    assert figures.decode_series(r.inference.archs["transformer"]).cache_kib[-1] == 2048.0


def test_state_comparison_is_the_memory_model():
    s = figures.state_comparison([4096, 131072], 2)
    assert [x.model for x in s.rows] == list(memory.CACHE_SHAPES)
    llama = next(x for x in s.rows if x.model == "Llama 2 7B (MHA)")
    assert llama.bytes == [2 * 32 * 32 * 128 * c * 2 for c in (4096, 131072)] and llama.kind == "kv"
    falcon = next(x for x in s.rows if x.model == "Falcon Mamba 7B")
    assert falcon.kind == "ssm" and falcon.bytes[0] == falcon.bytes[1] == 20 * 2**20
    assert s.longest == 131072 and s.llama_kv == llama.bytes[1] and s.mamba_state == falcon.bytes[1]
    assert s.ratio == pytest.approx(64 * 2**30 / (20 * 2**20))
    one = figures.state_comparison([4096], 1)  # bytes per value scales every row
    assert one.rows[0].bytes[0] == s.rows[0].bytes[0] / 2


def test_gradient_view_lines_and_drop(r, body):
    g = body["gradients"]["archs"]
    both = figures.gradient_view(r.gradients, "both")
    assert set(both.lines) == {(a, k) for a in ARCHS for k in ("init", "trained")}
    assert both.lines[("lstm", "init")] == g["lstm"]["init"]
    assert set(figures.gradient_view(r.gradients, "init").lines) == {(a, "init") for a in ARCHS}
    for a in ARCHS:
        ys = g[a]["trained"]
        far = ys[-1] if ys[-1] > 0 else min(v for v in ys if v > 0)
        assert both.drop[a] == ys[1] / far
    assert both.drop["lstm"] > 100 * both.drop["transformer"]  # the recurrence's gradient vanishes
    with pytest.raises(ValueError, match="choose init, trained or both"):
        figures.gradient_view(r.gradients, "sideways")


def test_gradient_drop_skips_a_zero_farthest_norm(r):
    from dataclasses import replace

    arch = r.gradients.archs["mamba"]
    ys = list(arch.trained[:-1]) + [0.0]
    g = replace(r.gradients, archs={**r.gradients.archs, "mamba": replace(arch, trained=ys)})
    drop = figures.gradient_view(g, "trained").drop["mamba"]
    assert drop == ys[1] / min(v for v in ys if v > 0) and math.isfinite(drop)
