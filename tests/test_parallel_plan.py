"""What the Parallelism Visualizer's tabs compute, as numbers: the plan beside one GPU, ZeRO's
stages, one tensor-parallel layer, a schedule's bubble, the cost of a run, and the bundled runs'
summaries — each checked by hand or against the paper it comes from."""

from __future__ import annotations

import pytest

from shared import memory, parallel_plan, pipeline
from shared.parallel_plan import Plan
from training.parallel.results import read_results

GB = 1e9


def test_a_plan_beside_one_gpu():
    shape = memory.SHAPES["Llama 2 7B"]
    plan = Plan(dp=8, tp=2, pp=2, zero_stage=1, sp=True, microbatches=8, recompute="selective")
    m = parallel_plan.against_one_gpu(shape, plan)
    assert m.plan == parallel_plan.breakdown(shape, plan) and m.plan.gpus == 32
    assert m.single == parallel_plan.breakdown(shape, Plan(recompute="selective"))
    assert m.n_params == pytest.approx(6.74e9, rel=0.01)
    # 16 bytes per parameter alone is 108 GB: one 80 GB GPU cannot hold it; the plan fits
    assert m.single.total > 16 * m.n_params > 80 * GB
    assert m.fits(80 * GB) and not parallel_plan.PlanMemory(m.single, m.single, 0).fits(80 * GB)
    # the single-GPU plan keeps the bytes per value, not the parallelism
    wide = parallel_plan.against_one_gpu(shape, Plan(tp=2, param_bytes=4, offload_optimizer=True))
    assert wide.single.parts["parameters"] == 4 * m.n_params
    assert wide.single.parts["optimizer states"] == 12 * m.n_params  # not offloaded
    assert wide.single.gpus == 1


def test_zero_stages_reproduce_the_paper():
    """Rajbhandari et al. Fig. 1: Ψ = 7.5B, N_d = 64, K = 12: 120, 31.4, 16.6 and 1.9 GB."""
    z = parallel_plan.zero_stages(7.5e9, 64, 2, 2, 12, 100e9)
    totals = [s.states.total / GB for s in z.stages]
    assert totals == pytest.approx([120, 31.40625, 16.640625, 1.875])
    assert [s.saving for s in z.stages] == pytest.approx([120 / t for t in totals])
    ring = 2 * 63 / 64 * 2 * 7.5e9  # each rank sends 2(N−1)/N of the 2-byte gradients
    assert [s.traffic.bytes for s in z.stages] == pytest.approx([ring] * 3 + [1.5 * ring])
    assert [s.traffic.volume_in_psi for s in z.stages] == [2, 2, 2, 3]
    assert z.stages[3].traffic.seconds == pytest.approx(1.5 * ring / 100e9)
    assert z.dps == [2**i for i in range(11)]  # up to max(N_d, 1024)
    assert z.totals[0] == pytest.approx([120e9] * 11)
    assert z.totals[3] == pytest.approx([120e9 / n for n in z.dps])
    assert parallel_plan.zero_stages(1e9, 4096).dps[-1] == 4096
    one = parallel_plan.zero_stages(1e9, 1)  # one rank: nothing to send, nothing saved
    assert all(s.traffic.bytes == 0 and s.saving == 1 for s in one.stages)
    nothing = parallel_plan.zero_stages(1e9, 8, 0, 0, 0)  # no bytes at all: no division by 0
    assert [s.saving for s in nothing.stages] == [1, 1, 1, 1]


def test_one_tensor_parallel_layer_by_hand():
    shape = memory.SHAPES["GPT-3 175B"]
    s, h, a = 2048, 12288, 96
    t = parallel_plan.tensor_layer(shape, 8, bandwidth_bytes_s=450e9)
    assert t.sizes == [1, 2, 4, 8, 16, 32]  # 96 heads: 64 does not divide them
    assert t.activation_bytes == s * h * (10 + 24 / 8 + 5 * a * s / (h * 8))
    assert t.curves["TP"][3] == t.activation_bytes
    assert t.curves["full recompute (+ SP)"] == [2 * s * h / x for x in t.sizes]
    assert t.curves["TP + SP + selective recompute"][3] == 34 * s * h / 8
    assert t.params_per_gpu == t.layer_params / 8 == 12 * h * h / 8
    assert t.allreduce_bytes == s * h * 2 and t.allreduces_per_layer == 4
    assert t.allreduce_s == pytest.approx(2 * 7 / 8 * s * h * 2 / 450e9)
    assert t.step_allreduce_s == pytest.approx(4 * 96 * t.allreduce_s)
    assert t.activation_formula == (
        "sbh(10 + 24/t + 5as/(ht)) × 2/2 B (s=2048, b=1, h=12288, a=96, t=8, recompute none)"
    )
    alone = parallel_plan.tensor_layer(shape, 1, micro_batch=2)
    assert alone.allreduces_per_layer == 0 and alone.allreduce_s == 0 == alone.step_allreduce_s
    assert alone.activation_bytes == s * 2 * h * (34 + 5 * a * s / h)
    with pytest.raises(
        ValueError, match="TP = 2 must divide GPT-2's 25 heads and hidden size 1600"
    ):
        parallel_plan.tensor_layer(memory.SHAPES["GPT-2 XL 1.5B"], 2, name="GPT-2")


def test_a_schedule_study_matches_the_formulas():
    st = pipeline.study("interleaved", 4, 8, 2, 2.0)
    assert st.measured == pytest.approx(st.formula) and st.formula == pytest.approx(1.5 / 9.5)
    assert st.ratio == pytest.approx(3 / 16) and len(st.events) == 2 * 4 * 8 * 2
    assert st.span == max(e.end for e in st.events)
    assert st.ms == list(range(1, 65)) and st.bubble_curve[7] == pytest.approx(3 / 11)
    assert sorted(st.interleaved) == [2, 4]
    xs, ys = st.interleaved[4]
    assert xs == list(range(4, 65, 4)) and ys[1] == pytest.approx((3 / 4) / (8 + 3 / 4))
    one = pipeline.study("1f1b", 2, 3, chunks=5)  # chunks only count for interleaved
    assert one.peak == {0: 2, 1: 1} and sorted(one.interleaved) == [2, 4]
    assert pipeline.study("gpipe", 2, 3).peak == {0: 3, 1: 3}
    with pytest.raises(ValueError, match="unknown schedule"):
        pipeline.study("zigzag", 2, 2)


def test_the_bundled_runs_summaries():
    r = read_results()
    fs = r.fsdp
    for state in ("params", "grads", "optimizer"):  # every shard is exactly 1/N
        assert fs.distinct_bytes(state) == [getattr(fs.predicted_per_rank, state)]
    assert r.activation_ratios("full") == [1.0] * 5
    assert all(36 / 34 - 1e-9 <= x < 1.2 for x in r.activation_ratios("none"))
    assert r.activation_ratios("selective") == []
    for run in r.pipeline:
        measured = run.timeline()
        assert pipeline.measured_bubble(measured) == pytest.approx(run.measured_bubble)
        simulated = run.timeline(simulated=True)
        assert len(simulated) == len(measured) == 2 * run.stages * run.microbatches
        assert [(e.stage, e.kind, e.end) for e in simulated] == [
            (e.stage, e.kind, e.end) for e in run.simulated
        ]
