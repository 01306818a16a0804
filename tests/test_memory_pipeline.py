"""The analytic memory model (ZeRO, Korthikanti activations, KV cache, per-GPU breakdown) and the
pipeline schedules (simulated event lists vs the published bubble formulas)."""

from __future__ import annotations

import pytest

from shared import memory, parallel_plan, pipeline
from shared.memory import ModelShape
from shared.parallel_plan import Plan

# --- memory ---------------------------------------------------------------------------------------


def test_zero_stages_match_rajbhandari():
    """ZeRO paper, Sec. 5 / Fig. 1: Ψ = 7.5B, N_d = 64, K = 12: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB."""
    psi, nd = 7.5e9, 64
    got = [memory.model_state_bytes(psi, z, nd).total / 1e9 for z in range(4)]
    assert got[0] == pytest.approx(120.0)
    assert got[1] == pytest.approx(31.4, abs=0.05)
    assert got[2] == pytest.approx(16.6, abs=0.05)
    assert got[3] == pytest.approx(1.875, abs=0.01)
    # every byte assumption is a parameter: fp32 gradients (18 bytes/param in total)
    assert memory.model_state_bytes(1e9, 0, 1, grad_bytes=4).total == 18e9


def test_ultrascale_playbook_model_state_table():
    """The Ultra-Scale Playbook's table: 16 bytes/param (fp32 training, or bf16 with fp32 master +
    Adam) and 20 with fp32 gradient accumulation: 1B 16/20 GB, 7B 112/140, 70B 1120/1400, 405B 6480/8100."""
    for n_b, plain, fp32_acc in ((1, 16, 20), (7, 112, 140), (70, 1120, 1400), (405, 6480, 8100)):
        # bf16 params 2 + bf16 grads 2 + fp32 master 4 + Adam m, v 8 = 16; + fp32 grads 4 = 20
        psi = n_b * 1e9
        assert memory.model_state_bytes(psi, 0, 1, optimizer_bytes=12).total / 1e9 == pytest.approx(
            plain
        )
        assert memory.model_state_bytes(psi, 0, 1, optimizer_bytes=16).total / 1e9 == pytest.approx(
            fp32_acc
        )
        # full fp32: 4 + 4 + 8
        assert memory.model_state_bytes(psi, 0, 1, 8, 4, 4).total / 1e9 == pytest.approx(plain)


def test_real_model_shapes_have_their_published_sizes():
    want = {"GPT-3 175B": 175e9, "Llama 2 7B": 6.74e9, "Llama 2 70B": 69e9, "GPT-2 XL 1.5B": 1.56e9}
    for name, n in want.items():
        assert memory.SHAPES[name].n_params() == pytest.approx(n, rel=0.01), name


def test_korthikanti_attention_term_for_gpt3_and_mtnlg():
    """Korthikanti et al. Sec. 5: the 5as/h term is 80 for GPT-3 175B and 64 for MT-NLG 530B —
    larger than the 34 of everything else, hence selective recompute of attention."""
    for (s, h, a), want in (((2048, 12288, 96), 80), ((2048, 20480, 128), 64)):
        sbh = s * h
        full = memory.activation_bytes_per_layer(s, 1, h, a)
        assert full / sbh - 34 == pytest.approx(want)


def test_korthikanti_activations():
    s, b, h, a = 2048, 1, 12288, 96  # GPT-3 175B layer, micro-batch 1
    sbh = s * b * h
    assert memory.activation_bytes_per_layer(s, b, h, a) == sbh * (34 + 5 * a * s / h)
    assert memory.activation_bytes_per_layer(s, b, h, a, tp=8) == sbh * (
        10 + 24 / 8 + 5 * a * s / (h * 8)
    )
    assert memory.activation_bytes_per_layer(s, b, h, a, tp=8, sp=True) == sbh * (
        34 / 8 + 5 * a * s / (h * 8)
    )
    assert (
        memory.activation_bytes_per_layer(s, b, h, a, tp=8, sp=True, recompute="selective")
        == 34 * sbh / 8
    )
    assert memory.activation_bytes_per_layer(s, b, h, a, recompute="full") == 2 * sbh
    # selective recompute + SP cuts GPT-3's per-layer activations by ~5x vs TP alone (Korthikanti Fig. 7)
    ratio = memory.activation_bytes_per_layer(s, b, h, a, tp=8) / memory.activation_bytes_per_layer(
        s, b, h, a, tp=8, sp=True, recompute="selective"
    )
    assert 4 < ratio < 7


def test_kv_cache_and_ring_time():
    # Llama 2 70B (GQA 8 kv heads, head_dim 128), 4096 tokens, fp16: 1.25 GiB per sequence
    assert memory.kv_cache_bytes(80, 8, 128, 4096, 1, 2) == 2 * 80 * 8 * 128 * 4096 * 2
    assert memory.kv_cache_bytes(80, 8, 128, 4096, 1, 2) / memory.GiB == pytest.approx(1.25)
    assert memory.ring_allreduce_seconds(1e9, 8, 100e9) == pytest.approx(2 * 7 / 8 * 1e9 / 100e9)
    assert memory.ring_allreduce_seconds(1e9, 1, 100e9) == 0


def test_breakdown_shrinks_with_each_kind_of_parallelism():
    shape = memory.SHAPES["Llama 2 7B"]
    base = parallel_plan.breakdown(shape, Plan(micro_batch=1))
    assert base.parts["parameters"] == pytest.approx(2 * shape.n_params())
    z3 = parallel_plan.breakdown(shape, Plan(dp=8, zero_stage=3))
    assert z3.parts["optimizer states"] == pytest.approx(base.parts["optimizer states"] / 8)
    tp = parallel_plan.breakdown(shape, Plan(tp=4, sp=True))
    assert tp.parts["activations"] < base.parts["activations"] / 3
    gp = parallel_plan.breakdown(shape, Plan(pp=4, microbatches=16, schedule="gpipe"))
    ofb = parallel_plan.breakdown(shape, Plan(pp=4, microbatches=16, schedule="1f1b"))
    assert gp.in_flight_microbatches == 16 and ofb.in_flight_microbatches == 4
    assert ofb.parts["activations"] == pytest.approx(gp.parts["activations"] / 4)
    off = parallel_plan.breakdown(shape, Plan(offload_optimizer=True))
    assert off.parts["optimizer states"] == 0 and off.optimizer_offloaded > 0
    comm = parallel_plan.communication(shape, Plan(dp=8, zero_stage=3, tp=2, pp=2, microbatches=4))
    assert set(comm) == {"data parallel", "tensor parallel", "pipeline"}
    dp0 = parallel_plan.communication(shape, Plan(dp=8))["data parallel"].bytes
    z3 = parallel_plan.communication(shape, Plan(dp=8, zero_stage=3))["data parallel"]
    assert z3.bytes == pytest.approx(1.5 * dp0)


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: memory.model_state_bytes(-1, 0, 1), "n_params"),
        (lambda: memory.model_state_bytes(1e9, 4, 1), "zero_stage"),
        (lambda: memory.model_state_bytes(1e9, 1, 0), "dp"),
        (lambda: memory.activation_bytes_per_layer(float("nan"), 1, 1, 1), "seq"),
        (lambda: memory.activation_bytes_per_layer(8, 1, 8, 1, recompute="some"), "recompute"),
        (lambda: memory.kv_cache_bytes(1, 1, 1, 1.5, 1), "whole number"),
        (
            lambda: parallel_plan.breakdown(ModelShape(30, 64, 4, 100, 8), Plan(pp=4)),
            "pipeline stages",
        ),
        (lambda: parallel_plan.breakdown(ModelShape(4, 64, 4, 100, 8), Plan(tp=3)), "tp=3"),
    ],
)
def test_memory_bad_input_is_one_line(call, msg):
    with pytest.raises(ValueError, match=msg) as e:
        call()
    assert "\n" not in str(e.value)


# --- pipeline -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, p, m, v",
    [
        ("gpipe", 4, 8, 1),
        ("1f1b", 4, 8, 1),
        ("1f1b", 2, 5, 1),
        ("interleaved", 4, 8, 2),
        ("interleaved", 4, 8, 4),
        ("interleaved", 2, 6, 3),
    ],
)
@pytest.mark.parametrize("t_b", [1.0, 2.0])
def test_simulated_bubble_equals_the_formula(kind, p, m, v, t_b):
    events = pipeline.simulate(kind, p, m, v, t_forward=1.0, t_backward=t_b)
    assert len(events) == 2 * p * m * v
    assert pipeline.measured_bubble(events) == pytest.approx(
        pipeline.bubble_fraction(kind, p, m, v), abs=1e-9
    )
    f = pipeline.bubble_fraction(kind, p, m, v)
    assert f / (1 - f) == pytest.approx(pipeline.bubble_ratio(kind, p, m, v))  # (p-1)/(v·m)


def test_dependencies_hold_in_every_schedule():
    for kind, v in (("gpipe", 1), ("1f1b", 1), ("interleaved", 2)):
        ev = pipeline.simulate(kind, 4, 8, v)
        end = {(e.kind, e.microbatch, e.chunk * 4 + e.stage): e.end for e in ev}
        start = {(e.kind, e.microbatch, e.chunk * 4 + e.stage): e.start for e in ev}
        last = 4 * v - 1
        for (k, mb, vs), t in start.items():
            if k == "F" and vs > 0:
                assert t >= end[("F", mb, vs - 1)]
            if k == "B":
                assert t >= end[("F", mb, vs)]
                if vs < last:
                    assert t >= end[("B", mb, vs + 1)]
        for s in range(4):  # a device does one thing at a time
            mine = sorted((e.start, e.end) for e in ev if e.stage == s)
            assert all(a[1] <= b[0] + 1e-12 for a, b in zip(mine, mine[1:]))


def test_peak_in_flight_activations():
    gp = pipeline.peak_in_flight(pipeline.simulate("gpipe", 4, 8))
    ofb = pipeline.peak_in_flight(pipeline.simulate("1f1b", 4, 8))
    assert gp == {0: 8, 1: 8, 2: 8, 3: 8}
    assert ofb == {0: 4, 1: 3, 2: 2, 3: 1}  # p − s
    inter = pipeline.peak_in_flight(pipeline.simulate("interleaved", 4, 8, 2), chunks=2)
    assert inter[0] == pytest.approx(4 + 3 / 2)  # p + (p−1)/v (Narayanan et al. 2021)


@pytest.mark.parametrize(
    "args, msg",
    [
        (("zigzag", 4, 8), "unknown schedule"),
        (("1f1b", 0, 8), "stages"),
        (("gpipe", 4, 8, 2), "one chunk"),
        (("interleaved", 4, 6, 2), "divisible"),
        (("1f1b", 4, 2.5), "microbatches"),
    ],
)
def test_pipeline_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        pipeline.simulate(*args)
