"""The Stability lab's grid (`GRID`: one setting changed at a time from the baseline) and its
bundled build: every run trained, kept in runs/stability-<preset>/ and written as
`StabilityResults` (checkpoints/stability/results.json for the cpu preset)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import schema, store
from .loop import run
from .results import StabilityResults
from .settings import RECORD_VERSION, STABLE_LR, Settings, Shape, cpu_shape


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


@dataclass(frozen=True)
class Plan:
    data: str  # the world preset whose corpus the runs read (bundled tokenizer)
    shape: Shape
    steps: int  # steps per run (warmup scaled with it)


PLANS = {
    "tiny": Plan("tiny", Shape(2, 64, 4, micro_batch=4, n_ctx=64), steps=6),
    "cpu": Plan("cpu", cpu_shape(), steps=150),
}


def plan_settings(plan: Plan, s: Settings) -> Settings:
    """A grid run's settings at the plan's length (warmup keeps its share of the steps)."""
    if plan.steps == s.steps:
        return s
    warm = max(1, round(s.warmup_steps * plan.steps / s.steps)) if s.warmup_steps else 0
    return replace(s, steps=plan.steps, warmup_steps=min(warm, plan.steps))


def _log(msg: str) -> None:
    # torch, tqdm and the corpus are imported inside the functions that train: the app imports
    # this package at start, and cold start matters
    import sys

    print(f"[stability {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _train_grid(plan: Plan, work: Path, progress: bool) -> tuple[list[dict], int | None]:
    """Every grid run (reusing a finished one while its settings, shape and record version
    match) as results runs, and the model's parameter count."""
    from tqdm.auto import tqdm

    from ..data.blocks import bundled_world

    data = bundled_world(plan.data)
    runs, params = [], None
    bar = tqdm(GRID, desc="stability runs", unit="run", disable=not progress)
    for g in bar:
        bar.set_postfix_str(g.name)
        s = plan_settings(plan, g.settings)
        key = {"settings": asdict(s), "shape": asdict(plan.shape), "version": RECORD_VERSION}
        f = work / f"{g.name}.json"
        done = json.loads(f.read_text()) if f.is_file() else None
        if not (done and done.get("key") == key):
            r = run(s, data, plan.shape)
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
            store.write_text_atomic(f, json.dumps(done, allow_nan=False))
        params = done.pop("params")
        done.pop("key")
        runs.append({**done, "label": g.label, "explains": g.explains})
    return runs, params


def build(preset: str = "cpu", out: str | Path | None = None, progress: bool = True) -> dict:
    """Run the grid and write `results.json` atomically (default: checkpoints/stability for cpu,
    runs/stability-<preset>/results otherwise). Resumable: each finished run is kept in
    runs/stability-<preset>/ and reused while its settings, shape and record version match.
    Returns the body written (a StabilityResults as a dict) with "out"."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    work = Path(f"runs/stability-{preset}")
    out = Path(out or (store.BUNDLED_DIR / "stability" if preset == "cpu" else work / "results"))
    import torch

    t0 = time.perf_counter()
    with store.run_lock(work):
        runs, params = _train_grid(plan, work, progress)
    body = {
        "rebuild": f"python -m training stability --preset {preset}",
        "machine": {"cpus": os.cpu_count() or 1, "torch": str(torch.__version__)},
        "preset": preset,
        "seconds": round(sum(r["seconds"] for r in runs), 1),  # the grid's training time
        "model": {
            "n_layer": plan.shape.n_layer,
            "d_model": plan.shape.d_model,
            "n_head": plan.shape.n_head,
            "params": params,
        },
        "batch": {"micro_batch": plan.shape.micro_batch, "n_ctx": plan.shape.n_ctx},
        "runs": runs,
    }
    results = schema.parse(StabilityResults, body)  # never write what read_results refuses
    manifest = {"kind": "stability", "preset": preset, "rebuild": body["rebuild"]}
    store.write_results(out, results, {**manifest, "machine": body["machine"]}, allow_nan=False)
    _log(
        f"wrote {out}: {len(runs)} runs, {body['seconds']} s of training, "
        f"{time.perf_counter() - t0:.0f} s this call (finished runs are reused)"
    )
    return {**schema.dump(results), "out": str(out)}
