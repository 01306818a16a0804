"""`python -m training stability`: the Stability lab — the course's claim that large models are
prone to instability (gradient explosion, loss spikes, precision issues) and that careful init,
gradient clipping, warmup/decay and mixed precision with loss scaling tame it, shown in real runs
of the project's own model (the cpu preset's 4-layer llama, 3.6M parameters) on the world corpus.

One run is the project's loop (`make_optimizer`: AdamW; `lr_lambda`: linear warmup then cosine
decay to lr/10; `batch_indices`: the seeded data order) with every step instrumented:

    loss           the training loss of the step's batch
    grad_norm      global L2 norm of the *unscaled* gradients, before clipping
    update_norm    ‖θ_after − θ_before‖ over all parameters; update_ratio = update_norm / ‖θ_before‖
    zero_frac      share of gradient elements exactly 0 in the non-embedding weight matrices
    head_zero_frac the same in the tied embedding / output-head matrix (see below)
    n_inf, n_nan   non-finite gradient elements (after unscaling)
    loss_scale     the GradScaler's scale this step used (null without one); skipped: it skipped the step
    lr             the learning rate this step used

A NaN/inf loss is a result: the step is recorded, `diverged_at` set and the run stops. JSON has
no inf/NaN, so a non-finite float is stored as the string "inf", "-inf" or "nan" (loss,
grad_norm, update_norm, update_ratio); update_norm/update_ratio are null on the diverged step,
which takes no update.

Precision, honestly: "bf16" and "fp16" are CPU autocast (fp32 master weights, the optimizer in
fp32, matmuls in 16 bits, softmax/norms/loss in fp32 — as on a GPU); "fp16-scaled" adds
`torch.amp.GradScaler("cpu")`, which starts at 2^16. One thing differs from a GPU, measured:
  * This CPU has no fp16 matrix units: PyTorch's fp16 matmul kernel runs ~25x slower than fp32
    (a 1024-token step 5 s instead of 0.2 s). During fp16 runs a dispatch mode (`half_gemm()`) runs
    each fp16 matmul as a GPU tensor core does — fp16 operands, fp32 accumulation, result rounded
    to fp16 — so overflow (>65504 -> inf) and underflow (<6e-8 -> 0) happen exactly where they
    would; it agrees with the native kernel to 1 fp16 ulp on 0.1-0.4% of elements and has the
    same zeros (checked in tests/test_stability.py).

Where fp16 underflow shows in a model this small: its weight gradients are large (rms 1e-5..5e-3
per element) next to fp16's smallest subnormal 6e-8, so few vanish; what vanishes is the output
softmax's gradient for the many tokens the model has learned to rule out, (p_token / tokens in
the batch) < 6e-8, and the small attention (q/k) gradients. The output head is tied to the
embedding, so every row of that matrix gets a softmax gradient: in fp32, bf16 and fp16 +
GradScaler its zero share is 0 on every step, and without scaling it is the clearest sign of
underflow (`head_zero_frac`). Underflow grows with the tokens per batch (each token's gradient is
divided by it) and with model size — real LLM batches are ~1000x ours.

The grid (`GRID`; cpu preset: 8 sequences x 128 tokens per step, 150 steps, seed 0; final losses
are the mean of the last 10 steps; every curve is in checkpoints/stability/results.json):
  baseline          lr 2e-3, warmup 20, clip 1.0, fp32. Loss 7.70 -> 3.51 (mean of the last 10
                    steps); grad norm median 1.17 (so clip 1.0 acts on 133 of 150 steps), max 3.48
                    at step 1; update ratio <= 0.017.
  no-warmup         the first AdamW step moves the weights by 6.2% of their norm (0.3% warmed up),
                    and at this lr the model absorbs it: 3.34, better than the baseline (seed 1:
                    3.45 vs 3.88). Warmup is insurance for high learning rates, not free.
  no-clipping       3.95 vs 3.51 (seed 1: 4.33 vs 3.88), max grad norm 6.0. The update size barely
                    changes (max ratio 0.014 vs 0.017: AdamW divides by the running gradient RMS);
                    clipping bounds what each batch puts into those running moments.
  lr-x10            2e-2 with warmup + clip: 4.56, update ratio up to 0.091 (5x the baseline).
  lr-x10-no-warmup  the first step moves every weight by ±0.02, its own init scale (update ratio
                    0.62): the loss spikes to 9.60 at step 6, above the untrained 7.70; ends 4.85.
  lr-x10-bare       no warmup, no clip: spike to 9.21, grad norm up to 21.7, the worst fp32 run
                    (5.14). It never turns NaN in fp32: RMSNorm keeps the activations bounded.
  init-x10          std 0.2: the loss starts at 12.6 (uniform guessing is ln 2048 = 7.62), grad norm
                    14 and above 10 for ~25 steps; AdamW's ±lr steps are small next to the big
                    weights (update ratio <= 0.003), so it ends at 4.51.
  fp16              no loss scaling: 0.43% of weight-matrix gradients exactly 0 on average (every
                    step > 0, peak 6.0% at step 19) and the output head's up to 48% (step 23) — in
                    the phase (steps ~17-32) where the model has learned which tokens are rare. Ends 3.57: at this
                    size the lost gradients cost little.
  fp16-scaled       the same run with the GradScaler: no zero on any step, scale 2^16 throughout, no
                    step skipped; 3.48.
  bf16              fp32's exponent range: no zeros, no scaling; 3.46.
  fp16-overflow     init x100 in fp16 (+ GradScaler): activations pass 65504 in the first forward,
                    the loss is NaN at step 1 (diverged_at = 1, all 3.6M gradients NaN, the step
                    skipped). Loss scaling protects gradients, not the forward pass.
Build: 375 s on 2 shared cores (31-56 s a run; fp16 runs are the slow ones). A default live run
(150 steps, fresh process, data loaded first): 48.7 s.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from . import store

if TYPE_CHECKING:
    import torch

RESULTS = store.RESULTS
PRECISIONS = ("fp32", "bf16", "fp16", "fp16-scaled")
STABLE_LR = 2e-3  # the lab's good peak learning rate (the cpu preset's)
BUILD_MAX_STEPS = 1000
LIVE_MAX_STEPS = 300
LIVE_TIME_LIMIT_S = 60.0
RECORD_VERSION = 1  # bump when a record's meaning changes: finished runs are then redone


@dataclass(frozen=True)
class Settings:
    """One stability run: the knobs the course names."""

    lr: float = STABLE_LR  # peak learning rate
    warmup_steps: int = 20  # linear warmup steps (0 = off), then cosine decay to lr/10
    clip: float = 1.0  # max global gradient norm (0 = off)
    init_scale: float = 1.0  # multiplies every weight matrix's init std (0.02)
    precision: str = "fp32"  # fp32 | bf16 | fp16 | fp16-scaled (fp16 + GradScaler)
    steps: int = 150
    seed: int = 0  # model init and data order

    def validate(self, max_steps: int = BUILD_MAX_STEPS) -> None:
        """One-line ValueError for absurd values."""
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "precision":
                if v not in PRECISIONS:
                    raise ValueError(f"precision={v!r}: choose one of {', '.join(PRECISIONS)}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{f.name}={v!r}: must be a finite number")
            elif f.type == "int" and not isinstance(v, int):
                raise ValueError(f"{f.name}={v!r}: must be a whole number")
        if not 0 < self.lr <= 10:
            raise ValueError(f"lr={self.lr}: choose a learning rate in (0, 10]")
        if not 1 <= self.steps <= max_steps:
            raise ValueError(f"steps={self.steps}: choose between 1 and {max_steps}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps}: choose between 0 (off) and steps={self.steps}"
            )
        if self.clip < 0:
            raise ValueError(f"clip={self.clip}: use 0 (off) or a positive max gradient norm")
        if not 0 < self.init_scale <= 100:
            raise ValueError(f"init_scale={self.init_scale}: choose a multiplier in (0, 100]")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed}: must be 0 or more")

    @classmethod
    def from_dict(cls, d: dict) -> "Settings":
        """Settings from user input (the app): unknown keys and wrong types are one-line errors;
        whole-number floats (a slider's 150.0) are accepted for integer fields. Given steps but no
        warmup_steps, the default warmup keeps its share of the steps (20 of 150)."""
        if not isinstance(d, dict):
            raise ValueError("settings must be a dict of " + ", ".join(f.name for f in fields(cls)))
        names = {f.name: f for f in fields(cls)}
        bad = [k for k in d if k not in names]
        if bad:
            raise ValueError(f"unknown setting {bad[0]!r}: choose from {', '.join(names)}")
        kw = {}
        for k, v in d.items():
            if names[k].type == "int" and isinstance(v, float) and math.isfinite(v) and v == int(v):
                v = int(v)
            kw[k] = v
        if "warmup_steps" not in kw and isinstance(kw.get("steps"), int) and kw["steps"] >= 1:
            kw["warmup_steps"] = min(kw["steps"], round(cls.warmup_steps * kw["steps"] / cls.steps))
        return cls(**kw)


@dataclass(frozen=True)
class Shape:
    """The model (n_layer, d_model, n_head of the lab family) and the batch of every step."""

    n_layer: int
    d_model: int
    n_head: int
    micro_batch: int
    n_ctx: int


def _cpu_shape() -> Shape:
    from .presets import get_preset

    m = get_preset("cpu").model
    return Shape(m.n_layer, m.d_model, m.n_head, micro_batch=8, n_ctx=128)


# ---------------------------------------------------------------------------------------------
# Precision: autocast, and fp16 matmuls computed as a GPU tensor core does
# ---------------------------------------------------------------------------------------------


def half_gemm():
    """A dispatch mode that runs every fp16 matmul (mm, addmm, bmm, baddbmm) from fp16 operands
    with fp32 accumulation and rounds the result to fp16 — a tensor core's arithmetic, at fp32
    matmul speed (CPU fp16 matmul kernels are ~25x slower here). Everything else runs unchanged."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    gemms = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default}

    def up(a):
        return a.float() if isinstance(a, torch.Tensor) and a.dtype == torch.float16 else a

    class HalfGemm(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in gemms and any(
                isinstance(a, torch.Tensor) and a.dtype == torch.float16 for a in args
            ):
                return func(*map(up, args), **{k: up(v) for k, v in kwargs.items()}).half()
            return func(*args, **kwargs)

    return HalfGemm()


def precision_context(precision: str):
    """Forward and backward of one step run inside this."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast("cpu", dtype=torch.float16))
    stack.enter_context(half_gemm())
    return stack


# ---------------------------------------------------------------------------------------------
# One instrumented run
# ---------------------------------------------------------------------------------------------


def make_model(shape: Shape, data, init_scale: float = 1.0, seed: int = 0):
    """A model of the lab family (the cpu preset's spec with `shape`'s sizes and the data's
    vocabulary); `init_scale` multiplies every weight matrix (std 0.02 -> 0.02·init_scale)."""
    import torch

    from .models import build_model
    from .presets import get_preset

    spec = replace(
        get_preset("cpu").model,
        n_layer=shape.n_layer,
        d_model=shape.d_model,
        n_head=shape.n_head,
        n_ctx=shape.n_ctx,
        vocab_size=len(data.tokenizer),
    )
    model = build_model(
        spec, seed=seed, eos_id=data.tokenizer.eos_token_id, pad_id=data.tokenizer.pad_token_id
    )
    if init_scale != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() >= 2:
                    p.mul_(init_scale)
    return model


def _global_norm(tensors) -> "torch.Tensor":
    """The L2 norm of many tensors taken together (inf/NaN propagate)."""
    import torch

    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(t.float()) for t in tensors])
    )


def _num(x) -> float | str:
    """A float for JSON: non-finite values as the strings "inf", "-inf", "nan"."""
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def run(
    settings: Settings,
    data,
    model_shape: Shape,
    on_step: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    max_time_s: float | None = None,
) -> dict:
    """Train a fresh model with `settings` on `data.train` (blocks cut to model_shape.n_ctx + 1)
    and record every step (module docstring). Stops early on a NaN/inf loss (`diverged_at`),
    when `stop` is set, or after `max_time_s`. Returns {"settings", "records", "diverged_at",
    "seconds", "params", "stopped"} (stopped: None, "stop" or "time limit")."""
    import torch
    import torch.nn.functional as F

    from .data.blocks import batch_indices
    from .presets import TrainConfig
    from .pretrain import lr_lambda, make_optimizer

    s = settings
    s.validate()
    t_start = time.perf_counter()
    model = make_model(model_shape, data, s.init_scale, s.seed)
    model.train()
    cfg = TrainConfig(
        steps=s.steps, lr=s.lr, warmup_steps=s.warmup_steps, grad_clip=s.clip, seed=s.seed
    )
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    scaler = torch.amp.GradScaler("cpu") if s.precision == "fp16-scaled" else None
    params = [p for p in model.parameters() if p.requires_grad]
    head = model.get_input_embeddings().weight  # tied: also the output head
    matrices = [p for p in params if p.dim() >= 2 and p is not head]
    n_matrix = sum(p.numel() for p in matrices)
    records, diverged_at, stopped = [], None, None
    for step in range(1, s.steps + 1):
        idx = batch_indices(step - 1, len(data.train), model_shape.micro_batch, s.seed)
        batch = data.train[idx][:, : model_shape.n_ctx + 1]
        with precision_context(s.precision):
            logits = model(input_ids=batch[:, :-1]).logits  # forward
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1)
            )
            (scaler.scale(loss) if scaler else loss).backward()  # backward
        if scaler:
            scaler.unscale_(optimizer)  # the gradients below are the true (unscaled) ones
        with torch.no_grad():
            grads = [p.grad for p in params]
            grad_norm = _global_norm(grads)
            rec = {
                "step": step,
                "loss": _num(loss.item()),
                "grad_norm": _num(grad_norm),
                "update_norm": None,
                "update_ratio": None,
                "zero_frac": round(sum(int((p.grad == 0).sum()) for p in matrices) / n_matrix, 7),
                "head_zero_frac": round(float((head.grad == 0).float().mean()), 7),
                "n_inf": sum(int(torch.isinf(g).sum()) for g in grads),
                "n_nan": sum(int(torch.isnan(g).sum()) for g in grads),
                "loss_scale": float(scaler.get_scale()) if scaler else None,
                "skipped": False,
                "lr": scheduler.get_last_lr()[0],
            }
        if not math.isfinite(loss.item()):  # diverged: record the step, take no update, stop
            diverged_at = step
            rec["skipped"] = True
            records.append(rec)
            if on_step:
                on_step(rec)
            break
        if s.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, s.clip)
        before = [p.detach().clone() for p in params]
        if scaler:
            scaler.step(optimizer)  # skipped when a gradient is inf/NaN ...
            scaler.update()  # ... and then the scale halves
            rec["skipped"] = scaler.get_scale() < rec["loss_scale"]
        else:
            optimizer.step()  # update
        with warnings.catch_warnings():  # a skipped first step makes the scheduler warn
            warnings.simplefilter("ignore", UserWarning)
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            upd, theta = _global_norm([p - b for p, b in zip(params, before)]), _global_norm(before)
        rec.update(update_norm=_num(upd), update_ratio=_num(upd / theta))
        records.append(rec)
        if on_step:
            on_step(rec)
        if step < s.steps and stop is not None and stop.is_set():
            stopped = "stop"
            break
        if step < s.steps and max_time_s and time.perf_counter() - t_start > max_time_s:
            stopped = "time limit"
            break
    return {
        "settings": asdict(s),
        "records": records,
        "diverged_at": diverged_at,
        "seconds": round(time.perf_counter() - t_start, 2),
        "params": sum(p.numel() for p in params),
        "stopped": stopped,
    }


# ---------------------------------------------------------------------------------------------
# The grid and the bundled build
# ---------------------------------------------------------------------------------------------


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
    "cpu": Plan("cpu", _cpu_shape(), steps=150),
}


def plan_settings(plan: Plan, s: Settings) -> Settings:
    """A grid run's settings at the plan's length (warmup keeps its share of the steps)."""
    if plan.steps == s.steps:
        return s
    warm = max(1, round(s.warmup_steps * plan.steps / s.steps)) if s.warmup_steps else 0
    return replace(s, steps=plan.steps, warmup_steps=min(warm, plan.steps))


def _log(msg: str) -> None:
    import sys

    print(f"[stability {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build(preset: str = "cpu", out: str | Path | None = None, progress: bool = True) -> dict:
    """Run the grid and write `results.json` atomically (default: checkpoints/stability for cpu,
    runs/stability-<preset>/results otherwise). Resumable: each finished run is kept in
    runs/stability-<preset>/ and reused while its settings, shape and record version match."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    work = Path(f"runs/stability-{preset}")
    out = Path(out or (store.BUNDLED_DIR / "stability" if preset == "cpu" else work / "results"))
    import torch
    from tqdm.auto import tqdm

    from .data.blocks import bundled_world

    t0 = time.perf_counter()
    with store.run_lock(work):
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
    body = {
        "rebuild": f"python -m training stability --preset {preset}",
        "machine": {"cpus": os.cpu_count() or 1, "torch": torch.__version__},
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

    store.write_results(
        out,
        body,
        {
            "kind": "stability",
            "preset": preset,
            "rebuild": body["rebuild"],
            "machine": body["machine"],
        },
        allow_nan=False,
    )
    _log(
        f"wrote {out}: {len(runs)} runs, {body['seconds']} s of training, "
        f"{time.perf_counter() - t0:.0f} s this call (finished runs are reused)"
    )
    return {**body, "out": str(out)}


def _f(x) -> float:
    return float(x) if x is not None else float("nan")  # "inf"/"nan" strings parse too


FINAL_LOSS_STEPS = (
    10  # "final loss" everywhere (CLI, page, README): the mean of the last 10 steps' losses
)


def summary(run_: dict) -> dict:
    """Per run, the one definition of its figures, used by the CLI, the page and the README:
    final loss (mean of the last FINAL_LOSS_STEPS steps; the non-finite loss of a diverged run),
    max grad norm, diverged_at, mean and max zero shares, skipped steps."""
    recs = run_["records"]
    if not recs:
        return {
            "final_loss": None,
            "max_grad_norm": None,
            "diverged_at": run_["diverged_at"],
            "mean_zero_frac": None,
            "mean_head_zero_frac": None,
            "max_head_zero_frac": None,
            "skipped_steps": 0,
        }
    norms = [_f(r["grad_norm"]) for r in recs]
    tail = [r["loss"] for r in recs[-FINAL_LOSS_STEPS:]]
    return {
        "final_loss": recs[-1]["loss"] if run_["diverged_at"] else round(sum(tail) / len(tail), 4),
        "max_grad_norm": _num(max(norms, key=lambda v: (math.isnan(v), v))),
        "diverged_at": run_["diverged_at"],
        "mean_zero_frac": round(sum(r["zero_frac"] for r in recs) / len(recs), 6),
        "mean_head_zero_frac": round(sum(r["head_zero_frac"] for r in recs) / len(recs), 6),
        "max_head_zero_frac": max(r["head_zero_frac"] for r in recs),
        "skipped_steps": sum(1 for r in recs if r.get("skipped")),
    }


def headline(results: dict) -> dict:
    """The numbers the CLI prints after a build."""
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "runs": {r["name"]: summary(r) for r in results["runs"]},
    }


def read_results(path: str | Path | None = None) -> dict:
    """The bundled stability results (hash-checked), or {} when there are none."""
    return store.read_results("stability", path)


# ---------------------------------------------------------------------------------------------
# Live run (the app): one at a time, bounded
# ---------------------------------------------------------------------------------------------

_live_lock = threading.Lock()


def describe(s: Settings) -> str:
    """A short label for settings: "lr 0.002, warmup 15, clip 1, init ×1, fp32"."""
    return (
        f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, clip {s.clip:g}"
        if s.clip
        else f"lr {s.lr:g}, warmup {s.warmup_steps or 'off'}, no clipping"
    ) + f", init ×{s.init_scale:g}, {s.precision}"


def outcome(run_: dict) -> str:
    """One sentence on what a run did, from its records."""
    recs, d = run_["records"], summary(run_)
    if run_["diverged_at"]:
        return (
            f"The loss became {recs[-1]['loss']} at step {run_['diverged_at']}: the run diverged."
        )
    skipped = sum(r["skipped"] for r in recs)
    return (
        f"Loss {recs[0]['loss']:.2f} at step 1, {d['final_loss']:.2f} over the last 10 of {len(recs)} steps; largest "
        f"gradient norm {_f(d['max_grad_norm']):.3g}; {100 * d['mean_zero_frac']:.3g}% of weight-matrix and "
        f"{100 * d['mean_head_zero_frac']:.3g}% of output-head gradients exactly zero on average"
        + (f"; the GradScaler skipped {skipped} step(s)." if skipped else ".")
    )


def live_run(settings: dict) -> Iterator[dict]:
    """Train the cpu preset's model with `settings` (a dict of Settings fields; missing ones take
    the defaults) on the world corpus, at most LIVE_MAX_STEPS steps and LIVE_TIME_LIMIT_S seconds
    of wall time in all. Bad settings, or a live run already in progress, raise a one-line
    ValueError at once. Yields {"kind": "progress", "step", "steps", "record"} per step, then
    {"kind": "done", "run": {...as a results run, name "live", plus "stopped": null | "stop" |
    "time limit"}} or {"kind": "error", "text"}. Closing the generator stops the training at the
    next step."""
    s = Settings.from_dict(settings)
    s.validate(max_steps=LIVE_MAX_STEPS)
    from . import live

    def work(emit, stop):
        from .data.blocks import bundled_world

        t0 = time.perf_counter()
        data = bundled_world("cpu")
        left = LIVE_TIME_LIMIT_S - (time.perf_counter() - t0)
        r = run(
            s,
            data,
            _cpu_shape(),
            stop=stop,
            max_time_s=max(1.0, left),
            on_step=lambda rec: emit(
                {"kind": "progress", "step": rec["step"], "steps": s.steps, "record": rec}
            ),
        )
        done = {
            "name": "live",
            "label": describe(s),
            "explains": "",
            "settings": r["settings"],
            "diverged_at": r["diverged_at"],
            "seconds": round(time.perf_counter() - t0, 2),
            "records": r["records"],
            "stopped": r["stopped"],
        }
        done["explains"] = outcome(done) + (
            " Stopped at the time limit." if r["stopped"] == "time limit" else ""
        )
        return {"run": done}

    return live.stream(
        _live_lock,
        work,
        name="stability-live-run",
        busy=f"a live run is already in progress; wait for it to finish ({LIVE_TIME_LIMIT_S:.0f} s at most)",
    )
