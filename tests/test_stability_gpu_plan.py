"""The Stability lab's `gpu` plan and devices: the plan's LR-decay settings validate at its length
(thousands of steps, beyond the CPU bound), its model is the gpu preset's at the base tokenizer's
vocabulary, and the cpu plan still asks for exactly what the bundled results hold; a run picks
CUDA only when there is one (here: the CPU, and an explicit device="cpu" is the same run bit for
bit), importing the lab initialises no CUDA; and the path a GPU machine takes
(`build("gpu")`: the LR-decay runs only, the plan's own base settings) runs end to end on the CPU
with the tiny world and shape swapped in. Everything trains for a few steps (~30 s in all)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from training import stability as st
from training.data.blocks import bundled_world
from training.presets import get_preset
from training.schedules import decay_start

ROOT = Path(__file__).resolve().parent.parent
GPU = st.PLANS["gpu"]


def test_gpu_plan_settings_validate_at_its_length():
    """Four LR-decay runs, one per schedule, thousands of steps (the CPU bound refuses them; the
    plan's own bound accepts them), the cpu runs' warmup share, the gpu preset's lr and bf16."""
    cpu_share = st.schedule_settings(st.PLANS["cpu"], st.SCHEDULE_RUNS[0]).warmup_steps / 300
    runs = [st.schedule_settings(GPU, g) for g in st.SCHEDULE_RUNS]
    assert [s.schedule for s in runs] == list(st.SCHEDULES)
    for s in runs:
        assert s.steps == GPU.schedule_steps >= 2000 and GPU.max_steps >= s.steps
        s.validate(GPU.max_steps)
        with pytest.raises(ValueError, match="steps="):
            s.validate()  # the lab's CPU bound (BUILD_MAX_STEPS)
        assert s.warmup_steps / s.steps == pytest.approx(cpu_share, abs=0.005)
        assert s.lr == get_preset("gpu").train.lr and s.precision == "bf16"
        assert (s.clip, s.init_scale, s.seed) == (1.0, 1.0, 0)
        assert {k: v for k, v in asdict(s).items() if k != "schedule"} == {
            k: v for k, v in asdict(runs[0]).items() if k != "schedule"
        }  # equal in everything but the schedule
    assert GPU.steps == 0 and GPU.device == "cuda" and GPU.data == "gpu"  # no grid; CUDA only
    assert GPU.heldout_blocks > 0


def test_gpu_plan_shape_is_the_gpu_presets_model():
    """12 layers x 768, 12 heads (head size 64), context within the gpu world's blocks, the
    vocabulary the bundled base tokenizer's: a model of ~86M parameters."""
    shape, spec = GPU.shape, get_preset("gpu").model
    assert (shape.n_layer, shape.d_model, shape.n_head) == (spec.n_layer, spec.d_model, spec.n_head)
    assert shape.d_model % shape.n_head == 0 and shape.d_model // shape.n_head == 64
    assert shape.n_ctx <= spec.n_ctx  # bundled_world("gpu") packs n_ctx + 1 = 513-token blocks
    tok = bundled_world("tiny").tokenizer  # the bundled base tokenizer, shared by every world
    model = st.make_model(shape, SimpleNamespace(tokenizer=tok))
    assert model.get_input_embeddings().weight.shape == (len(tok), shape.d_model)
    assert 80e6 < sum(p.numel() for p in model.parameters()) < 95e6


def test_cpu_plan_is_unchanged_and_pinned_to_the_cpu():
    """The cpu plan trains on the CPU wherever it runs, and asks for exactly the settings the
    bundled LR-decay runs were trained with (so a rebuild reuses or reproduces them)."""
    cpu = st.PLANS["cpu"]
    assert cpu.device == "cpu" and st.PLANS["tiny"].device == "cpu"
    assert cpu.schedule_base is None and cpu.max_steps == st.BUILD_MAX_STEPS
    bundled = st.read_results()
    assert [r.settings for r in bundled.schedules] == [
        st.schedule_settings(cpu, g) for g in st.SCHEDULE_RUNS
    ]


def test_device_selection(monkeypatch):
    """CUDA only when there is one; a given device wins; a run's `max_steps` bounds its steps."""
    assert st.pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert st.pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert st.pick_device() == torch.device("cuda")
    assert st.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert st.pick_device() == torch.device("cpu")
    data, shape = bundled_world("tiny"), st.PLANS["tiny"].shape
    with pytest.raises(ValueError, match="steps=5: choose between 1 and 4"):
        st.run(st.Settings(steps=5, warmup_steps=1), data, shape, max_steps=4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs on the GPU by default")
@pytest.mark.parametrize("precision", ["fp32", "fp16-scaled"])
def test_explicit_cpu_run_equals_the_default_bit_for_bit(precision):
    data, shape = bundled_world("tiny"), st.PLANS["tiny"].shape
    s = st.Settings(steps=5, warmup_steps=2, precision=precision, schedule="wsd")
    a = st.run(s, data, shape, heldout_blocks=4)
    b = st.run(s, data, shape, heldout_blocks=4, device="cpu")
    assert a.pop("seconds") > 0 and b.pop("seconds") > 0
    assert a == b and a["heldout_loss"] > 0


def test_importing_the_lab_initialises_no_cuda():
    code = (
        "import torch, training.stability as st; st.pick_device();"
        "import sys; sys.exit(int(torch.cuda.is_initialized()))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]


@pytest.mark.skipif(torch.cuda.is_available(), reason="here the gpu plan would really run")
def test_gpu_preset_without_cuda_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="CUDA GPU") as e:
        st.build("gpu", out=tmp_path / "out", progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs").exists()  # refused before any work


def tiny_gpu_plan() -> st.Plan:
    """The gpu plan with the tiny world and shape and 20-step runs on the CPU: everything else
    (no grid, its own base settings: bf16, its lr, a warmup share) is the gpu plan's."""
    steps = 20
    warm = round(GPU.schedule_base.warmup_steps * steps / GPU.schedule_steps)
    return replace(
        GPU,
        data="tiny",
        shape=st.PLANS["tiny"].shape,
        schedule_steps=steps,
        heldout_blocks=8,
        device="cpu",
        schedule_base=replace(GPU.schedule_base, steps=steps, warmup_steps=max(1, warm)),
    )


def test_gpu_plan_path_end_to_end_on_the_cpu(tmp_path, monkeypatch):
    """`build("gpu")` with the tiny override: the four LR-decay runs only (no grid run trained or
    written), each with the plan's settings, evaluated on held-out blocks; WSD's records are
    constant's until its decay starts; results.json reads back and the CLI's headline works;
    a second build reuses every run."""
    plan = tiny_gpu_plan()
    monkeypatch.setitem(st.PLANS, "gpu", plan)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    body = st.build("gpu", out=out, progress=False)
    r = st.read_results(out)
    assert r.preset == "gpu" and r.rebuild == "python -m training stability --preset gpu"
    assert r.runs == [] and [x.name for x in r.schedules] == list(st.SCHEDULES)
    for run, g in zip(r.schedules, st.SCHEDULE_RUNS):
        assert run.settings == st.schedule_settings(plan, g)
        assert run.settings.precision == "bf16" and run.settings.lr == GPU.schedule_base.lr
        assert len(run.records) == plan.schedule_steps and run.heldout_loss > 0
        assert max(x.lr for x in run.records) == pytest.approx(plan.schedule_base.lr)
    const, wsd = r.schedules[0].records, r.schedules[3].records
    start = decay_start("wsd", plan.schedule_steps, r.schedules[3].settings.warmup_steps)
    assert const[: start + 1] == wsd[: start + 1] and const[-1] != wsd[-1]
    tiny_model = st.make_model(plan.shape, bundled_world("tiny"))
    assert r.model.params == sum(p.numel() for p in tiny_model.parameters())
    assert r.batch == st.Batch(micro_batch=plan.shape.micro_batch, n_ctx=plan.shape.n_ctx)
    head = st.headline(body)
    assert head["runs"] == {} and [x["name"] for x in head["lr_decay"]] == list(st.SCHEDULES)
    work = tmp_path / "runs" / "stability-gpu"
    assert sorted(f.name for f in work.glob("*.json")) == sorted(
        f"schedule-{k}.json" for k in st.SCHEDULES
    )
    st.build("gpu", out=out, progress=False)
    again = st.read_results(out)
    assert [x.seconds for x in again.schedules] == [x.seconds for x in r.schedules]  # reused
    assert json.loads((out / st.RESULTS).read_text())["schedules"][0]["settings"] == asdict(
        r.schedules[0].settings
    )
