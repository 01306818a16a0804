"""The Stability lab's grid (`GRID`: one setting changed at a time from the baseline), its
learning-rate decay runs (`SCHEDULE_RUNS`: one per schedule at equal steps) and their bundled
build: every run trained, kept in runs/stability-<preset>/ and written as `StabilityResults`
(checkpoints/stability/results.json for the cpu preset).

The plans (`PLANS`, `python -m training stability --preset P`):
  tiny  the tiny world, a 2-layer d64 model, 6-step grid runs and 20-step LR-decay runs: the tests.
  cpu   the bundled build: the cpu world and model (`cpu_shape`), the 11-run grid at 150 steps and
        the four LR-decay runs at 300 steps; pinned to the CPU (device "cpu"), so the bundled
        records rebuild the same on any machine, a GPU one included.
  gpu   one H100/H200 (device "cuda"; without a CUDA GPU the build stops with one line): the LR-decay
        runs ONLY, at the gpu preset's scale — its world (`bundled_world("gpu")`: ~20,000 people,
        packed in 513-token blocks with the bundled base tokenizer, so the vocabulary is the base's)
        and its model (12 layers, d 768, 12 heads, ~86M parameters), 32 sequences x 512 tokens
        per step (16,384 tokens), 3,000 steps (~49M tokens, under one pass over the corpus), warmup
        200 (the cpu runs' 20 of 300, as a share), peak lr 1e-3 (the gpu preset's), clip 1.0, bf16
        autocast (the gpu preset's precision: fp32 matmuls would take ~10x longer), seed 0,
        evaluated on 256 held-out blocks. Estimated, not yet measured: ~0.05 s a step eager
        (no torch.compile: every step reads the gradients), so ~3 min a run and ~15 min for the
        four, plus a few minutes of CPU to write and tokenize the world.
        Why not the grid: it is a CPU teaching grid — fp16 without scaling, lr x10 and init x100
        are there to show on a small model what breaks and why, in minutes; on the gpu model its
        eleven runs would triple the GPU time and some (lr 2e-2, no warmup) only diverge sooner.
        Each plan's `steps` is its grid length; 0 means no grid (results.json's `runs` is then []).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import schema, store
from ..schedules import WSD_DECAY_FRACTION
from .loop import run
from .results import StabilityResults
from .settings import BUILD_MAX_STEPS, RECORD_VERSION, STABLE_LR, Settings, Shape, cpu_shape


@dataclass(frozen=True)
class GridRun:
    name: str
    label: str
    explains: str
    settings: Settings


_HIGH = 10 * STABLE_LR
GRID: tuple[GridRun, ...] = (
    GridRun(
        "baseline",
        "baseline: lr 2e-3, warmup 20, clip 1.0, fp32",
        "The recipe — warmup, cosine decay, clipping at 1.0 and fp32 at a good learning rate — takes the loss "
        "from 7.70 to 3.51 in 150 steps without a spike.",
        Settings(),
    ),
    GridRun(
        "no-warmup",
        "no warmup (lr 2e-3)",
        "The first AdamW step moves the weights 20x further than the warmed-up one (6.2% of their norm), "
        "but at this learning rate the model absorbs it and even ends lower (3.34): warmup is insurance "
        "for high learning rates.",
        Settings(warmup_steps=0),
    ),
    GridRun(
        "no-clipping",
        "no clipping (lr 2e-3)",
        "Without clipping, batches with gradient norms up to 6 feed AdamW's running moments unbounded and "
        "the loss ends 0.44 higher (3.95; a second seed: +0.46).",
        Settings(clip=0.0),
    ),
    GridRun(
        "lr-x10",
        "lr ×10 (2e-2), warmup + clip",
        "Ten times the good learning rate, even with warmup and clipping, takes updates 5x larger "
        "(up to 9% of the weights' norm) and ends far worse (4.56).",
        Settings(lr=_HIGH),
    ),
    GridRun(
        "lr-x10-no-warmup",
        "lr ×10, no warmup",
        "Without warmup the first step at lr 2e-2 moves every weight by about its own size (62% of the "
        "weights' norm) and the loss spikes to 9.60, above the untrained model's 7.70.",
        Settings(lr=_HIGH, warmup_steps=0),
    ),
    GridRun(
        "lr-x10-bare",
        "lr ×10, no warmup, no clipping",
        "With both safeguards off the loss spikes to 9.21, gradient norms reach 21.7 (6x the baseline's "
        "largest) and the run ends worst of all (5.14).",
        Settings(lr=_HIGH, warmup_steps=0, clip=0.0),
    ),
    GridRun(
        "init-x10",
        "init ×10 (std 0.2)",
        "Ten-times-larger initial weights start at loss 12.6 (uniform guessing is 7.62) with gradient norms "
        "above 10 for 25 steps, and AdamW's fixed-size steps are small next to the big weights, so it ends "
        "at 4.51.",
        Settings(init_scale=10.0),
    ),
    GridRun(
        "fp16",
        "fp16, no loss scaling",
        "In fp16 gradients below 6e-8 underflow to exactly 0: 0.4% of the weight-matrix gradients on average "
        "(6% at the peak) and up to 48% of the output head's.",
        Settings(precision="fp16"),
    ),
    GridRun(
        "fp16-scaled",
        "fp16 + GradScaler (scale 2^16)",
        "Multiplying the loss by 2^16 before backward lifts the same gradients into fp16's range: not one "
        "zero gradient on any step, and no step skipped.",
        Settings(precision="fp16-scaled"),
    ),
    GridRun(
        "bf16",
        "bf16 (no loss scaling)",
        "bf16 keeps fp32's exponent range, so nothing underflows without any loss scaling and the loss "
        "follows fp32's (3.46 vs 3.51).",
        Settings(precision="bf16"),
    ),
    GridRun(
        "fp16-overflow",
        "init ×100, fp16 + GradScaler",
        "With weights 100x too large the first forward pass exceeds fp16's maximum 65504 and the loss is NaN "
        "at step 1: loss scaling protects gradients, not the forward pass.",
        Settings(init_scale=100.0, precision="fp16-scaled"),
    ),
)


SCHEDULE_RUNS: tuple[GridRun, ...] = (  # the baseline's settings but the schedule, at equal steps
    GridRun(
        "constant",
        "constant (no decay)",
        "Warmup, then the peak learning rate to the last step: no decay.",
        Settings(schedule="constant"),
    ),
    GridRun(
        "cosine",
        "cosine decay to lr/10",
        "Warmup, then cosine decay from the peak to lr/10 over all the remaining steps (the grid's schedule).",
        Settings(schedule="cosine"),
    ),
    GridRun(
        "linear",
        "linear decay to lr/10",
        "Warmup, then a straight line from the peak down to lr/10 over all the remaining steps.",
        Settings(schedule="linear"),
    ),
    GridRun(
        "wsd",
        "warmup-stable-decay (WSD)",
        "Warmup, the peak learning rate held (as constant), then a straight line down to lr/10 in the "
        f"last {WSD_DECAY_FRACTION:.0%} of the steps.",
        Settings(schedule="wsd"),
    ),
)


@dataclass(frozen=True)
class Plan:
    data: str  # the world preset whose corpus the runs read (bundled tokenizer)
    shape: Shape
    steps: int  # steps per grid run (warmup scaled with it); 0: no grid, the LR-decay runs only
    schedule_steps: int  # steps per LR-decay run (warmup: the grid baseline's, in steps)
    heldout_blocks: int  # held-out blocks each LR-decay run is evaluated on after its last step
    device: str | None = "cpu"  # where every run trains ("cuda": a CUDA GPU is required; None:
    # CUDA when there is one, else the CPU)
    schedule_base: Settings | None = None  # the LR-decay runs' lr, warmup, clip, precision and
    # seed (steps: schedule_steps; schedule: each run's); None: the grid baseline's

    @property
    def max_steps(self) -> int:
        """The longest run this plan trains (`Settings.validate`'s bound for its runs)."""
        return max(BUILD_MAX_STEPS, self.steps, self.schedule_steps)


GPU_SCHEDULE_STEPS = 3000
PLANS = {
    "tiny": Plan(
        "tiny",
        Shape(2, 64, 4, micro_batch=4, n_ctx=64),
        steps=6,
        schedule_steps=20,
        heldout_blocks=8,
    ),
    "cpu": Plan("cpu", cpu_shape(), steps=150, schedule_steps=300, heldout_blocks=128),
    "gpu": Plan(  # the module docstring says why, and what it costs
        "gpu",
        Shape(12, 768, 12, micro_batch=32, n_ctx=512),
        steps=0,
        schedule_steps=GPU_SCHEDULE_STEPS,
        heldout_blocks=256,
        device="cuda",
        schedule_base=Settings(
            lr=1e-3, warmup_steps=200, steps=GPU_SCHEDULE_STEPS, precision="bf16"
        ),
    ),
}


def plan_settings(plan: Plan, s: Settings) -> Settings:
    """A grid run's settings at the plan's length (warmup keeps its share of the steps)."""
    if plan.steps == s.steps:
        return s
    warm = max(1, round(s.warmup_steps * plan.steps / s.steps)) if s.warmup_steps else 0
    return replace(s, steps=plan.steps, warmup_steps=min(warm, plan.steps))


def schedule_settings(plan: Plan, g: GridRun) -> Settings:
    """An LR-decay run's settings: plan.schedule_steps steps and the grid baseline's warmup steps,
    or with a `schedule_base` its settings with the run's schedule."""
    if plan.schedule_base is not None:
        return replace(plan.schedule_base, steps=plan.schedule_steps, schedule=g.settings.schedule)
    warm = plan_settings(plan, Settings()).warmup_steps
    return replace(g.settings, steps=plan.schedule_steps, warmup_steps=warm)


def _log(msg: str) -> None:
    # torch, tqdm and the corpus are imported inside the functions that train: the app imports
    # this package at start, and cold start matters
    import sys

    print(f"[stability {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _train(
    plan: Plan, work: Path, progress: bool, schedules: bool = False
) -> tuple[list[dict], int | None]:
    """Every grid run (or, with `schedules`, every LR-decay run), reusing a finished one while its
    settings, shape, held-out blocks and record version match, as results runs, and the model's
    parameter count."""
    from tqdm.auto import tqdm

    from ..data.blocks import bundled_world

    data = bundled_world(plan.data)
    runs, params = [], None
    todo = SCHEDULE_RUNS if schedules else GRID
    held = plan.heldout_blocks if schedules else 0
    bar = tqdm(
        todo,
        desc="lr-decay runs" if schedules else "stability runs",
        unit="run",
        disable=not progress,
    )
    for g in bar:
        bar.set_postfix_str(g.name)
        s = schedule_settings(plan, g) if schedules else plan_settings(plan, g.settings)
        key = {"settings": asdict(s), "shape": asdict(plan.shape), "version": RECORD_VERSION}
        if held:
            key["heldout_blocks"] = held
        f = work / (f"schedule-{g.name}.json" if schedules else f"{g.name}.json")
        done = json.loads(f.read_text()) if f.is_file() else None
        if not (done and done.get("key") == key):
            r = run(
                s,
                data,
                plan.shape,
                heldout_blocks=held,
                device=plan.device,
                max_steps=plan.max_steps,
            )
            done = {
                "key": key,
                "name": g.name,
                "label": g.label,
                "explains": g.explains,
                "settings": r["settings"],
                "diverged_at": r["diverged_at"],
                "seconds": r["seconds"],
                "params": r["params"],
                "records": r["records"],
            }
            if schedules:
                done["heldout_loss"] = r["heldout_loss"]
            store.write_text_atomic(f, json.dumps(done, allow_nan=False))
        params = done.pop("params")
        done.pop("key")
        runs.append({**done, "label": g.label, "explains": g.explains})
    return runs, params


def build(preset: str = "cpu", out: str | Path | None = None, progress: bool = True) -> dict:
    """Run the grid and the LR-decay runs and write `results.json` atomically (default: checkpoints/stability for cpu,
    runs/stability-<preset>/results otherwise). Resumable: each finished run is kept in
    runs/stability-<preset>/ and reused while its settings, shape and record version match.
    Returns the body written (a StabilityResults as a dict) with "out"."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    import torch

    if plan.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--preset {preset} trains on a CUDA GPU and this machine has none")
    work = Path(f"runs/stability-{preset}")
    out = Path(out or (store.BUNDLED_DIR / "stability" if preset == "cpu" else work / "results"))

    t0 = time.perf_counter()
    with store.run_lock(work):
        runs, params = _train(plan, work, progress) if plan.steps else ([], None)
        decay_runs, decay_params = _train(plan, work, progress, schedules=True)
        params = params if params is not None else decay_params
    body = {
        "rebuild": f"python -m training stability --preset {preset}",
        "machine": {"cpus": os.cpu_count() or 1, "torch": str(torch.__version__)},
        "preset": preset,
        "seconds": round(
            sum(r["seconds"] for r in runs + decay_runs), 1
        ),  # training time, all runs
        "model": {
            "n_layer": plan.shape.n_layer,
            "d_model": plan.shape.d_model,
            "n_head": plan.shape.n_head,
            "params": params,
        },
        "batch": {"micro_batch": plan.shape.micro_batch, "n_ctx": plan.shape.n_ctx},
        "runs": runs,
        "schedules": decay_runs,
        "wsd_decay_fraction": WSD_DECAY_FRACTION,
    }
    results = schema.parse(StabilityResults, body)  # never write what read_results refuses
    manifest = {"kind": "stability", "preset": preset, "rebuild": body["rebuild"]}
    store.write_results(out, results, {**manifest, "machine": body["machine"]}, allow_nan=False)
    _log(
        f"wrote {out}: {len(runs)} + {len(decay_runs)} runs, {body['seconds']} s of training, "
        f"{time.perf_counter() - t0:.0f} s this call (finished runs are reused)"
    )
    return {**schema.dump(results), "out": str(out)}
