"""The Stability lab in real runs of the project's model: fp16 underflow against the GradScaler,
clipping applied to the true (unscaled) gradients, a diverging run recorded without a crash,
each learning-rate schedule in a real run (WSD is constant until its decay), bad settings as one
line, the live run's lock and events, and the tiny build end to end through the CLI. Everything
here trains for a few steps only (~1 min in all on 2 busy cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from training import schema
from training import stability as st
from training.data.blocks import bundled_world
from training.schedules import decay_start, lr_factor

ROOT = Path(__file__).resolve().parent.parent
RECORD_KEYS = {
    "step",
    "loss",
    "grad_norm",
    "update_norm",
    "update_ratio",
    "zero_frac",
    "head_zero_frac",
    "n_inf",
    "n_nan",
    "loss_scale",
    "skipped",
    "lr",
}
RUN_KEYS = {"name", "label", "explains", "settings", "diverged_at", "seconds", "records"}
RUN_RESULT_KEYS = {"settings", "records", "diverged_at", "seconds", "params", "stopped"}


@pytest.fixture(scope="module")
def world():
    return bundled_world("cpu")


@pytest.fixture(scope="module")
def shape():
    return st.PLANS["cpu"].shape


def test_half_gemm_is_fp16_matmul_with_fp32_accumulation():
    """The fp16 matmul stand-in agrees with PyTorch's own fp16 kernel to one fp16 ulp and flushes
    the same products to zero (what makes it a faithful, 25x faster stand-in on this CPU)."""
    g = torch.Generator().manual_seed(0)
    a = (torch.randn(256, 512, generator=g) * 1e-4).half()
    b = (torch.randn(512, 128, generator=g) * 1e-3).half()
    native = a @ b
    with st.half_gemm():
        ours = a @ b
    assert ours.dtype == torch.float16
    assert torch.equal(ours == 0, native == 0) and (native == 0).any()
    ulp = torch.finfo(torch.float16).eps * native.float().abs().clamp_min(2**-14)
    assert ((ours.float() - native.float()).abs() <= ulp + 2**-24).all()


def test_fp16_underflows_where_the_gradscaler_does_not(world, shape):
    """Same model, same batches: without loss scaling some gradients are exactly 0 on every step,
    in the weight matrices and in the tied output head; with the GradScaler (2^16) none
    (up to the odd element that is exactly 0 by chance, as in fp32)."""
    plain = st.run(st.Settings(steps=6, warmup_steps=2, precision="fp16"), world, shape)
    scaled = st.run(st.Settings(steps=6, warmup_steps=2, precision="fp16-scaled"), world, shape)
    fp32 = st.run(st.Settings(steps=6, warmup_steps=2), world, shape)
    for rec in plain["records"]:
        # some gradients underflow to exactly 0 on every step, in the matrices and in the tied head
        # (measured per step: 1.9e-4..3.0e-3 of the matrices, 1.1e-5..1.8e-4 of the head's ~0.5M)
        assert rec["zero_frac"] > 0 and rec["head_zero_frac"] > 0 and rec["loss_scale"] is None, rec
    # and in the head clearly more than chance: ~190 elements over the 6 steps (3.8e-4 summed),
    # against at most ~10 chance zeros a step (2e-5) allowed below for the scaled and fp32 runs
    head_zeros = sum(r["head_zero_frac"] for r in plain["records"])
    assert head_zeros > 1e-4, (
        f"unscaled fp16: only {head_zeros:.2g} of the head's gradients underflowed"
    )
    # "none" up to chance: a gradient element can be exactly 0 by accident (an fp16 product that
    # rounds to 0 even at 2^16; measured: 1 element of ~3.1M in one step, 3e-7), so the bound is a
    # few elements per step (1e-5 ~ 31 of ~3.1M) and 100x below the unscaled run's share at the
    # same step (measured 1.9e-4-3.2e-3 there: 580-9,900 elements)
    for run in (scaled, fp32):
        assert len(run["records"]) == len(plain["records"]) == 6
        for rec, p in zip(run["records"], plain["records"]):
            assert rec["zero_frac"] <= min(1e-5, p["zero_frac"] / 100), (
                f"{run['settings']['precision']} step {rec['step']}: {rec['zero_frac']} of the weight-matrix "
                f"gradients exactly 0 (unscaled fp16: {p['zero_frac']}): loss scaling / fp32 must prevent the "
                "underflow, only a few exact zeros by chance are allowed"
            )
            assert rec["head_zero_frac"] <= 2e-5, (
                f"{run['settings']['precision']} step {rec['step']}: {rec['head_zero_frac']} of the output-head "
                "gradients exactly 0: no underflow there either (2e-5: ~10 chance zeros of its ~0.5M elements)"
            )
    assert all(r["loss_scale"] == 2.0**16 and not r["skipped"] for r in scaled["records"])
    zeros = (
        sum(r["zero_frac"] for r in plain["records"]) * 3_000_000
    )  # ~3.1M weight-matrix elements
    assert zeros > 100, f"only ~{zeros:.0f} zeroed gradient elements in 6 fp16 steps"
    # the precision changes the gradients' fine detail, not the training: losses agree closely
    for a, b in zip(plain["records"], fp32["records"]):
        assert abs(a["loss"] - b["loss"]) < 0.02
        assert set(a) == RECORD_KEYS


def test_clipping_bounds_the_unscaled_gradient_the_optimizer_receives(world, shape, monkeypatch):
    """With fp16 + GradScaler and clip 1, the optimizer receives gradients of norm min(grad_norm, 1)
    where grad_norm is the *unscaled* norm: clipping after unscale_ (clipping the 2^16-scaled
    gradients instead would shrink every step to norm ≤ 1/65536). Without clipping it receives
    the raw norm, above 1 at the start of training."""
    import training.pretrain as pretrain

    seen: list[float] = []
    make = pretrain.make_optimizer

    def recording(model, cfg):
        opt = make(model, cfg)
        opt.register_step_pre_hook(
            lambda o, *_: seen.append(
                float(
                    torch.linalg.vector_norm(
                        torch.stack(
                            [
                                torch.linalg.vector_norm(p.grad)
                                for g in o.param_groups
                                for p in g["params"]
                            ]
                        )
                    )
                )
            )
        )
        return opt

    monkeypatch.setattr(pretrain, "make_optimizer", recording)
    clipped = st.run(
        st.Settings(steps=5, warmup_steps=2, precision="fp16-scaled", clip=1.0), world, shape
    )
    received, seen[:] = list(seen), []
    assert len(received) == 5
    for rec, got in zip(clipped["records"], received):
        assert got == pytest.approx(min(rec["grad_norm"], 1.0), rel=1e-3)
    assert clipped["records"][0]["grad_norm"] > 1.5  # clipping really acted
    raw = st.run(st.Settings(steps=5, warmup_steps=2, clip=0.0), world, shape)
    assert [pytest.approx(r["grad_norm"], rel=1e-4) for r in raw["records"]] == seen
    assert max(seen) > 1.5


def test_a_diverging_run_is_a_result_not_a_crash(world, shape):
    """Weights 100x too large overflow fp16 in the first forward pass: NaN loss, recorded, stopped."""
    r = st.run(
        st.Settings(steps=20, warmup_steps=2, init_scale=100.0, precision="fp16-scaled"),
        world,
        shape,
    )
    assert r["diverged_at"] == 1 and len(r["records"]) == 1
    rec = r["records"][0]
    assert rec["loss"] in ("nan", "inf") and rec["skipped"] and rec["update_norm"] is None
    json.dumps(r, allow_nan=False)  # valid JSON: non-finite values are strings
    s = st.summary({**r, "name": "x"})
    assert s["diverged_at"] == 1 and s["final_loss"] in ("nan", "inf")


@pytest.mark.parametrize(
    "bad",
    [
        {"lr": 0},
        {"lr": 11},
        {"lr": float("nan")},
        {"lr": "fast"},
        {"steps": 0},
        {"steps": 5000},
        {"steps": 2.5},
        {"warmup_steps": 200, "steps": 100},
        {"warmup_steps": -1},
        {"clip": -1},
        {"init_scale": 0},
        {"init_scale": 1000},
        {"precision": "fp8"},
        {"seed": -3},
        {"momentum": 0.9},
        {"schedule": "exp"},
        {"schedule": None},
        {"schedule": ["wsd"]},
    ],
)
def test_bad_settings_are_one_line_errors(bad):
    with pytest.raises(ValueError) as e:
        st.Settings.from_dict(bad).validate()
    assert "\n" not in str(e.value) and str(e.value)


def test_a_bad_schedule_names_the_choices():
    with pytest.raises(ValueError) as e:
        st.Settings.from_dict({"schedule": "step"}).validate()
    assert str(e.value) == "schedule='step': choose one of constant, cosine, linear, wsd"
    with pytest.raises(ValueError, match="schedule='warmup'"):
        st.live_run({"schedule": "warmup"})  # refused at once, before any training


def test_each_schedule_in_a_real_tiny_run():
    """The tiny preset's model, 16 steps, warmup 2, the same seed and batches: every step's lr is
    the schedule's (constant ends at the peak, the decaying ones near lr/10); WSD's records are
    constant's, bit for bit, until its decay starts, and differ after; the held-out loss is
    measured after the last step (cosine/linear, which decay from step 3, end differently)."""
    data, shape = bundled_world("tiny"), st.PLANS["tiny"].shape
    runs = {
        k: st.run(st.Settings(steps=16, warmup_steps=2, schedule=k), data, shape, heldout_blocks=8)
        for k in st.SCHEDULES
    }
    peak = st.STABLE_LR
    for k, r in runs.items():
        assert set(r) == RUN_RESULT_KEYS | {"heldout_loss"} and r["settings"]["schedule"] == k
        lrs = [x["lr"] for x in r["records"]]
        assert lrs == [
            pytest.approx(peak * lr_factor(k, i, 16, 2, 0.1), rel=1e-12) for i in range(16)
        ]
        assert lrs[:3] == [pytest.approx(peak / 2), pytest.approx(peak), pytest.approx(peak)]
        assert isinstance(r["heldout_loss"], float) and 0 < r["heldout_loss"] < 10
    assert {x["lr"] for x in runs["constant"]["records"][1:]} == {peak}  # ends at the peak
    for k in ("cosine", "linear", "wsd"):
        last = runs[k]["records"][-1]["lr"]
        assert last < 0.6 * peak, k  # falling to lr/10, reached just after the last update
    assert runs["cosine"]["records"][-1]["lr"] < 0.15 * peak
    start = decay_start("wsd", 16, 2) + 1  # the last step WSD takes at the peak: 16 − 3 + 1
    const, wsd = runs["constant"]["records"], runs["wsd"]["records"]
    assert start == 14 and wsd[:start] == const[:start]  # identical runs until the decay
    assert wsd[start]["lr"] < const[start]["lr"]
    assert wsd[start + 1]["loss"] != const[start + 1]["loss"]  # the lower lr changed the weights
    assert runs["wsd"]["heldout_loss"] != runs["constant"]["heldout_loss"]
    cos = runs["cosine"]["records"]  # its first lower lr is step 4's: step 5's loss shows it
    assert cos[:3] == const[:3] and cos[3]["lr"] < peak and cos[3]["loss"] == const[3]["loss"]
    assert cos[4]["loss"] != const[4]["loss"]
    assert st.run(st.Settings(steps=2, warmup_steps=1), data, shape)["heldout_loss"] is None


def test_live_run_refuses_a_second_run_and_ends_with_done(monkeypatch):
    with pytest.raises(ValueError, match="steps=301"):  # the live bound, at once
        st.live_run({"steps": st.LIVE_MAX_STEPS + 1})
    events = st.live_run({"steps": 3.0, "precision": "bf16"})  # a slider's float is fine
    with pytest.raises(ValueError, match="already in progress"):
        st.live_run({"steps": 3})
    got = list(events)
    assert [e.kind for e in got] == ["progress"] * 3 + ["done"]
    assert [e.done for e in got[:3]] == [1, 2, 3] and all(e.total == 3 for e in got[:3])
    assert [e.data.step for e in got[:3]] == [1, 2, 3]
    live_run = got[-1].data
    run = live_run.run
    assert run.name == "live" and len(run.records) == 3 and run.settings.precision == "bf16"
    assert run.records == [e.data for e in got[:3]]  # the streamed records are the run's
    assert run.explains.startswith("Loss ") and live_run.stopped is None  # all 3 steps
    json.dumps(schema.dump(run), allow_nan=False)
    # closing the stream early stops the training and frees the lock
    ended, real_run = [], st.run
    # the live run calls the training loop through its own module (training/stability/live.py)
    monkeypatch.setattr(
        st.live, "run", lambda *a, **k: ended.append(real_run(*a, **k)) or ended[-1]
    )
    events = st.live_run({"steps": st.LIVE_MAX_STEPS})
    assert next(events).kind == "progress"
    events.close()
    # the run ends at its next step and releases the lock (120 s: a hang guard, not a timing check)
    assert events.finished.wait(120), "the live run did not end after its stream was closed"
    assert not st._live_lock.locked()
    assert ended[0]["stopped"] == "stop" and len(ended[0]["records"]) < st.LIVE_MAX_STEPS, ended[0][
        "stopped"
    ]
    again = st.live_run({"steps": 1})  # accepted at once: no retry needed
    assert list(again)[-1].kind == "done"


def test_cli_tiny_build_end_to_end_and_resumable(tmp_path):
    """`python -m training stability --preset tiny --out DIR` (run from a scratch directory, so its
    work dir runs/stability-tiny lands there, not in the repo), then read_results round-trips; a
    second call reuses every finished run."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "training", "stability", "--preset", "tiny", "--out", str(out)]
    # the timeout is a hang guard only (the tiny build takes ~20 s; its speed is benchmarks' business)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    head = json.loads(proc.stdout)
    assert set(head["runs"]) == {g.name for g in st.GRID}
    r = st.read_results(out)
    assert isinstance(r, st.StabilityResults)
    assert schema.dump(r) == json.loads((out / st.RESULTS).read_text())  # written = read back
    assert r.preset == "tiny" and r.rebuild == "python -m training stability --preset tiny"
    assert r.machine.cpus == os.cpu_count() and r.machine.torch == torch.__version__
    tiny = st.PLANS["tiny"].shape
    assert (r.model.n_layer, r.model.d_model, r.model.n_head) == (
        tiny.n_layer,
        tiny.d_model,
        tiny.n_head,
    )
    assert r.model.params > 0
    assert r.batch == st.Batch(micro_batch=tiny.micro_batch, n_ctx=tiny.n_ctx)
    assert [x.name for x in r.runs] == [g.name for g in st.GRID]
    assert [x.label for x in r.runs] == [g.label for g in st.GRID]
    for run, g in zip(r.runs, st.GRID):
        assert run.settings == st.plan_settings(st.PLANS["tiny"], g.settings)
        assert run.records and [x.step for x in run.records] == list(range(1, len(run.records) + 1))
        assert run.records[-1].step == run.settings.steps or run.diverged_at
        assert head["runs"][run.name] == asdict(st.summarize(run.records, run.diverged_at))
    plan = st.PLANS["tiny"]
    assert [x.name for x in r.schedules] == list(st.SCHEDULES) == [g.name for g in st.SCHEDULE_RUNS]
    for run, g in zip(r.schedules, st.SCHEDULE_RUNS):
        assert run.settings == st.schedule_settings(plan, g)
        assert run.settings.steps == plan.schedule_steps and run.settings.warmup_steps == 1
        assert len(run.records) == plan.schedule_steps and run.heldout_loss > 0
    rows = st.decay_table(r)
    assert head["lr_decay"] == [asdict(x) for x in rows]
    assert [x.name for x in rows] == list(st.SCHEDULES) and rows[0].vs_constant == 0.0
    assert r.seconds == pytest.approx(sum(x.seconds for x in r.runs + r.schedules), abs=0.11)
    assert (tmp_path / "runs" / "stability-tiny" / "baseline.json").is_file()
    assert (tmp_path / "runs" / "stability-tiny" / "schedule-wsd.json").is_file()
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    r2 = st.read_results(out)
    assert [x.records for x in r2.runs] == [x.records for x in r.runs]
    assert [x.seconds for x in r2.runs] == [x.seconds for x in r.runs]  # reused, not retrained
    assert r2.schedules == r.schedules
    bad = subprocess.run(
        [sys.executable, "-m", "training", "stability", "--preset", "huge"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--preset" in bad.stderr
