"""The scaling sweep: a tiny sweep end to end (IsoFLOP layout, long-tail losses, fits, held-out
prediction, resume), and the bundled cpu sweep's results against the issue's targets."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from training import store
from training.sweep import PLANS, SweepResults, plan_runs, read_results

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = store.BUNDLED_DIR / "sweep"


def test_plan_is_isoflop():
    plan = PLANS["cpu"]
    runs = plan_runs(plan, 2048)
    assert len(runs) == len(plan.shapes) * len(plan.budgets) >= 20
    for r in runs:  # each run spends its budget (to within one step of tokens)
        step_flops = 6 * r["params"] * plan.micro_batch * 256
        assert abs(r["flops"] - r["budget"]) <= step_flops / 2 + 1
        assert r["flops"] == 6 * r["params"] * r["tokens"]
    sizes = sorted({r["params"] for r in runs})
    assert len(sizes) == len(plan.shapes) and sizes[-1] / sizes[0] > 10


# the build, in a process of its own (as `python -m training sweep` runs it); its results: typed
BUILD = (
    "import sys; from training.sweep import run_sweep; run_sweep('tiny', sys.argv[1], sys.argv[2])"
)


def test_tiny_sweep_end_to_end(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    cmd = [sys.executable, "-c", BUILD, str(out), str(work)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store.verify(out)
    r = read_results(out)
    assert isinstance(r, SweepResults) and r.plan == PLANS["tiny"]
    assert len(r.runs) == 20 and r.buckets
    for run in r.runs:
        curve = run.curve
        assert curve[0]["step"] == 0 and curve[-1]["step"] == run.steps
        evals = run.evals()
        assert len(evals) >= 2 and evals[-1]["eval_loss"] < evals[0]["eval_loss"]  # it learned
        assert all(f"eval_loss/{b}" in evals[-1] for b in r.buckets)  # the long tail, per bucket
    held = [x for x in r.runs if x.budget in r.heldout_budgets]
    assert len(r.predictions) == len(held) == len(PLANS["tiny"].shapes)
    for p in r.predictions:
        assert p.predicted > 0 and abs(p.error_pct) < 100
    assert 0 < r.approach3.a < 1 and "a" in r.approach3.ci
    manifest = json.loads((out / store.MANIFEST).read_text())
    assert manifest["headline"]["n_runs"] == r.headline.n_runs == 20
    # resumable: every run is kept, a second call trains nothing
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "run 1/20" not in again.stderr
    # a kept run made with other settings (here: another lr) is trained again, and only that one
    first = work / "runs" / r.runs[0].name / "result.json"
    kept = json.loads(first.read_text())
    first.write_text(json.dumps({**kept, "train": {**kept["train"], "lr": 0.5}}))
    third = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "run 1/20" in third.stderr and "run 2/20" not in third.stderr
    assert "other settings" in third.stderr
    assert json.loads(first.read_text())["train"] == kept["train"]


def test_cpu_plan_peak_lr_falls_with_width():
    plan = PLANS["cpu"]
    lrs = [plan.lr_at(d) for _, d, _ in plan.shapes]
    assert lrs == sorted(lrs, reverse=True) and plan.lr_at(64) == pytest.approx(8e-3)
    assert (
        PLANS["gpu"].lr_at(256) == PLANS["gpu"].lr_at(1024) == PLANS["gpu"].lr
    )  # one lr unless set


def test_bad_sweep_preset_is_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "sweep",
            "--preset",
            "huge",
            "--sweep-dir",
            str(tmp_path / "w"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "--preset" in proc.stderr
    )
    assert not (tmp_path / "w").exists()


@pytest.fixture(scope="module")
def bundled():
    if not (BUNDLED / store.MANIFEST).is_file():
        pytest.fail(
            "checkpoints/sweep is missing: build it with `python -m training sweep --preset cpu`"
        )
    return read_results(BUNDLED)  # hash-checked and typed


def test_bundled_sweep_is_complete_and_consistent(bundled):
    runs, plan = bundled.runs, PLANS["cpu"]
    assert bundled.plan == plan and len(plan.budgets) >= 4  # built with today's plan
    assert len(runs) == len(plan.shapes) * len(plan.budgets) >= 20
    assert (
        len({r.budget for r in runs}) == len(plan.budgets)
        and len({r.params for r in runs}) == len(plan.shapes) >= 5
    )
    for r in runs:  # each run was trained with the plan's settings, its lr by width
        assert r.train.micro_batch == plan.micro_batch and r.train.lr == pytest.approx(
            plan.lr_at(r.shape[1])
        )
    for r in runs:
        assert r.curve[-1]["eval_loss"] == r.eval_loss == r.evals()[-1]["eval_loss"]
    # the long tail, measured: at the end of the largest model's largest run, people mentioned
    # more often have a lower held-out loss than the rarest bucket
    top = max(runs, key=lambda r: (r.budget, r.params))
    last = top.curve[-1]
    b = bundled.buckets
    assert last[f"eval_loss/{b[0]}"] > last[f"eval_loss/{b[-1]}"]


def test_bundled_fit_and_predictions_recompute_from_the_runs(bundled):
    """The stored Approach 3 estimate and held-out predictions are what the runs give, and the
    bundled fit meets the issue's target on average: mean |error| on the held-out runs <= 5 %.

    The refit need not match the stored fit bit for bit: L-BFGS stops on a flat ridge of the Huber
    objective (the bootstrap CI of alpha spans 0.22-3.3), so a last-bit change in its BLAS calls
    moves the point it stops at. Measured by refitting with the losses changed in their last bits
    (200 refits) and by 1e-10 (40): alpha moved up to 1.1e-3 relative (an AMD EPYC: 9e-5), beta
    1.6e-4, the objective 8e-7, the predicted held-out losses 1.6e-4. A wrong fit moves them far
    more: one run dropped, alpha 9 % and predictions 0.009; the held-out runs fitted too, 0.04;
    Huber delta 1e-2 instead of 1e-3, the objective x9; every loss 0.1 % higher, objective 4e-5,
    predictions 1.2e-3."""
    from shared import scaling
    from training.sweep import lab_law

    h = bundled.headline
    n_shapes = len(PLANS["cpu"].shapes)
    assert h.n_heldout == n_shapes and h.n_fit == len(bundled.runs) - n_shapes
    held_budgets = set(bundled.heldout_budgets)
    fit = [r for r in bundled.runs if r.budget not in held_budgets]
    a3 = scaling.fit_approach3(
        [r.params for r in fit],
        [r.tokens for r in fit],
        [r.eval_loss for r in fit],
        n_boot=0,
    )
    stored = bundled.approach3
    assert a3.objective == pytest.approx(stored.objective, rel=1e-5), (
        "Approach-3 refit from the stored runs must reach the stored optimum of the Huber objective "
        "(L-BFGS drift between BLAS kernels: < 1e-6 relative)"
    )
    assert a3.alpha == pytest.approx(stored.alpha, rel=2e-3), (
        "Approach-3 refit from the stored runs must reproduce the stored alpha (BLAS/L-BFGS drift "
        "along the objective's flat ridge allowed: up to 1.1e-3 relative measured)"
    )
    assert a3.beta == pytest.approx(stored.beta, rel=1e-3), (
        "Approach-3 refit from the stored runs must reproduce the stored beta (BLAS/L-BFGS drift allowed: "
        "up to 1.6e-4 relative measured)"
    )
    stored_law, law = lab_law(bundled), a3.law()
    for p in bundled.predictions:
        # the stored prediction is the stored law's, rounded to 5 decimals (arithmetic only)
        assert float(stored_law.loss(p.params, p.tokens)) == pytest.approx(p.predicted, abs=6e-6), (
            f"{p.name}: the stored prediction must be the stored fit's law at the run's N and D"
        )
        # and the refit's law predicts the same loss, up to the drift of the fit above
        assert float(law.loss(p.params, p.tokens)) == pytest.approx(p.predicted, abs=5e-4), (
            f"{p.name}: the law refitted from the stored runs must predict the stored held-out loss "
            "(BLAS/L-BFGS drift allowed: up to 1.6e-4 measured; a wrong fit moves it by 1e-3 or more)"
        )
        assert p.error_pct == pytest.approx(100 * (p.predicted - p.measured) / p.measured, abs=0.01)
    errors = [
        abs(100 * (float(law.loss(p.params, p.tokens)) - p.measured) / p.measured)
        for p in bundled.predictions
    ]
    assert sum(errors) / len(errors) == pytest.approx(h.heldout_mean_abs_error_pct, abs=0.05), (
        "the headline mean |error| must be what the refitted law gives on the held-out runs "
        "(drift of the fit allowed: 6e-3 percentage points measured)"
    )
    assert h.heldout_mean_abs_error_pct <= 5.0


def test_bundled_sweep_carries_the_tokenizer_the_live_run_needs(bundled):
    from training.sweep import TOKENIZER, _live_data

    data = _live_data(PLANS["cpu"], BUNDLED / TOKENIZER)
    assert data.train.numel() == bundled.data.train_tokens  # the sweep's world, tokenized alike
    assert len(data.tokenizer) == bundled.runs[0].spec.vocab_size


def test_cpu_plan_runs_on_a_longer_tailed_world():
    from training.presets import get_preset

    preset, base = get_preset("cpu"), PLANS["cpu"].base()
    w = base.world
    assert (w.n_people, w.zipf_s, w.min_mentions) == (2000, 0.75, 4)
    assert (
        replace(
            w,
            n_people=preset.world.n_people,
            zipf_s=preset.world.zipf_s,
            min_mentions=preset.world.min_mentions,
        )
        == preset.world
    )  # nothing else differs
    assert base.model == preset.model and base.train == preset.train
    assert PLANS["tiny"].base() == get_preset("tiny")  # a plan without a world takes the preset's
    from training.sweep import LIVE_SHAPES

    assert set(LIVE_SHAPES.values()) <= set(
        PLANS["cpu"].shapes
    )  # the live run adds a member of the family


def test_kept_data_from_another_world_is_made_again(tmp_path):
    from training.data.blocks import prepare
    from training.data.world import World
    from training.sweep import _reset_if_other_world

    base = PLANS["tiny"].base()
    prepare(tmp_path, base)
    (tmp_path / "runs" / "C1e9_L1d16").mkdir(parents=True)
    assert not _reset_if_other_world(tmp_path, World(base.world))  # same world: kept
    assert (tmp_path / "data" / store.MANIFEST).is_file() and (tmp_path / "runs").is_dir()
    assert _reset_if_other_world(tmp_path, World(replace(base.world, n_people=41)))  # another: gone
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()
