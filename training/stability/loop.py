"""One instrumented run of the Stability lab: the project's loop (`make_optimizer`: AdamW;
`lr_lambda`: linear warmup then the run's schedule, cosine decay to lr/10 by default;
`batch_indices`: the seeded data order)
with every step measured (the package docstring defines each figure), in fp32, bf16 or fp16, on
one device (`pick_device`): a CUDA GPU when there is one (autocast on CUDA, its native fp16 and
bf16 kernels), else the CPU (CPU autocast; fp16 matmuls computed as a GPU tensor core does,
`half_gemm`). A CPU run computes exactly what it did before devices existed: the model is built
and seeded on the CPU and then moved, and the batches are the same blocks."""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

from .results import json_number
from .settings import BUILD_MAX_STEPS, MIN_LR_RATIO, Settings, Shape

if TYPE_CHECKING:
    import torch


# ---------------------------------------------------------------------------------------------
# Precision: autocast, and fp16 matmuls computed as a GPU tensor core does
# ---------------------------------------------------------------------------------------------


def half_gemm():
    """A dispatch mode that runs every fp16 matmul (mm, addmm, bmm, baddbmm) from fp16 operands
    with fp32 accumulation and rounds the result to fp16 — a tensor core's arithmetic, at fp32
    matmul speed (CPU fp16 matmul kernels are ~25x slower here). Everything else runs unchanged."""
    # torch is imported inside each function: the app imports this package at start (cold start)
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


def precision_context(precision: str, device_type: str = "cpu"):
    """Forward and backward of one step run inside this: autocast on `device_type` ("cpu" or
    "cuda"); fp16 on the CPU also runs `half_gemm` (a GPU computes fp16 matmuls natively)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    stack = contextlib.ExitStack()
    stack.enter_context(torch.autocast(device_type, dtype=torch.float16))
    if device_type == "cpu":
        stack.enter_context(half_gemm())
    return stack


def pick_device(device: "str | torch.device | None" = None) -> "torch.device":
    """`device` when given ("cpu", "cuda", "cuda:1"), else the first CUDA GPU when there is one,
    else the CPU. Called when a run starts, never at import (no CUDA initialisation then)."""
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# ---------------------------------------------------------------------------------------------
# One instrumented run
# ---------------------------------------------------------------------------------------------


def make_model(shape: Shape, data, init_scale: float = 1.0, seed: int = 0):
    """A model of the lab family (the cpu preset's spec with `shape`'s sizes and the data's
    vocabulary); `init_scale` multiplies every weight matrix (std 0.02 -> 0.02·init_scale)."""
    import torch

    from ..models import build_model
    from ..presets import get_preset

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


@dataclass
class _Training:
    """A fresh model and what trains it, with the parameter groups the records measure."""

    model: Any
    optimizer: Any
    scheduler: Any
    scaler: Any  # torch.amp.GradScaler for fp16-scaled, else None
    params: list
    head: Any  # the tied embedding / output-head matrix
    matrices: list  # the other weight matrices
    n_matrix: int
    device: Any  # the torch.device everything lives on


def _start(s: Settings, data, model_shape: Shape, device) -> _Training:
    import torch

    from ..presets import TrainConfig
    from ..pretrain import lr_lambda, make_optimizer

    model = make_model(model_shape, data, s.init_scale, s.seed).to(device)  # seeded on the CPU
    model.train()
    cfg = TrainConfig(
        steps=s.steps,
        lr=s.lr,
        warmup_steps=s.warmup_steps,
        grad_clip=s.clip,
        seed=s.seed,
        min_lr_ratio=MIN_LR_RATIO,
    )
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg, s.schedule))
    scaler = torch.amp.GradScaler(device.type) if s.precision == "fp16-scaled" else None
    params = [p for p in model.parameters() if p.requires_grad]
    head = model.get_input_embeddings().weight  # tied: also the output head
    matrices = [p for p in params if p.dim() >= 2 and p is not head]
    n_matrix = sum(p.numel() for p in matrices)
    return _Training(model, optimizer, scheduler, scaler, params, head, matrices, n_matrix, device)


def _forward_backward(t: _Training, s: Settings, batch) -> "torch.Tensor":
    """The step's loss, its (unscaled) gradients left in the parameters."""
    import torch.nn.functional as F

    with precision_context(s.precision, t.device.type):
        logits = t.model(input_ids=batch[:, :-1]).logits  # forward
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1)
        )
        (t.scaler.scale(loss) if t.scaler else loss).backward()  # backward
    if t.scaler:
        t.scaler.unscale_(t.optimizer)  # the gradients below are the true (unscaled) ones
    return loss


def _count(tensors, test) -> int:
    """How many elements of `tensors` pass `test`, summed on the device (exact integers), read
    back once: one GPU synchronisation per figure instead of one per tensor."""
    import torch

    return int(torch.stack([test(x).sum() for x in tensors]).sum())


def _record(t: _Training, step: int, loss) -> dict:
    """The step's record before its update (update_norm/update_ratio follow in `_update`)."""
    import torch

    with torch.no_grad():
        grads = [p.grad for p in t.params]
        grad_norm = _global_norm(grads)
        return {
            "step": step,
            "loss": json_number(loss.item()),
            "grad_norm": json_number(grad_norm),
            "update_norm": None,
            "update_ratio": None,
            "zero_frac": round(
                _count([p.grad for p in t.matrices], lambda g: g == 0) / t.n_matrix, 7
            ),
            "head_zero_frac": round(float((t.head.grad == 0).float().mean()), 7),
            "n_inf": _count(grads, torch.isinf),
            "n_nan": _count(grads, torch.isnan),
            "loss_scale": float(t.scaler.get_scale()) if t.scaler else None,
            "skipped": False,
            "lr": t.scheduler.get_last_lr()[0],
        }


def _update(t: _Training, s: Settings, rec: dict) -> None:
    """Clip, step (or let the GradScaler skip), schedule; record the update's size in `rec`."""
    import torch

    if s.clip > 0:
        torch.nn.utils.clip_grad_norm_(t.params, s.clip)
    before = [p.detach().clone() for p in t.params]
    if t.scaler:
        t.scaler.step(t.optimizer)  # skipped when a gradient is inf/NaN ...
        t.scaler.update()  # ... and then the scale halves
        rec["skipped"] = t.scaler.get_scale() < rec["loss_scale"]
    else:
        t.optimizer.step()  # update
    with warnings.catch_warnings():  # a skipped first step makes the scheduler warn
        warnings.simplefilter("ignore", UserWarning)
        t.scheduler.step()
    t.optimizer.zero_grad(set_to_none=True)
    with torch.no_grad():
        upd = _global_norm([p - b for p, b in zip(t.params, before)])
        theta = _global_norm(before)
    rec.update(update_norm=json_number(upd), update_ratio=json_number(upd / theta))


def heldout_loss(t: _Training, s: Settings, data, model_shape: Shape, blocks: int) -> float | str:
    """The trained model's mean loss per token on the first `blocks` held-out blocks (`data.eval`,
    cut to model_shape.n_ctx + 1), in the run's precision, micro_batch blocks at a time."""
    import torch
    import torch.nn.functional as F

    held = data.eval[:blocks, : model_shape.n_ctx + 1]
    t.model.eval()
    total, n = 0.0, 0
    with torch.no_grad(), precision_context(s.precision, t.device.type):
        for i in range(0, len(held), model_shape.micro_batch):
            b = held[i : i + model_shape.micro_batch].to(t.device)
            logits = t.model(input_ids=b[:, :-1]).logits.float()
            total += F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), b[:, 1:].reshape(-1), reduction="sum"
            ).item()
            n += b[:, 1:].numel()
    t.model.train()
    return json_number(total / n)


def run(
    settings: Settings,
    data,
    model_shape: Shape,
    on_step: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    max_time_s: float | None = None,
    heldout_blocks: int = 0,
    device: "str | torch.device | None" = None,
    max_steps: int = BUILD_MAX_STEPS,
) -> dict:
    """Train a fresh model with `settings` on `data.train` (blocks cut to model_shape.n_ctx + 1)
    and record every step (package docstring). Stops early on a NaN/inf loss (`diverged_at`),
    when `stop` is set, or after `max_time_s`. Returns {"settings", "records", "diverged_at",
    "seconds", "params", "stopped", "heldout_loss"} (stopped: None, "stop" or "time limit";
    heldout_loss: `heldout_loss` on `heldout_blocks` blocks after the last step, None when 0 or
    the run diverged). `seconds` is the training time, without the held-out evaluation.
    `device`: where to train (`pick_device`: CUDA when there is one, else the CPU); `max_steps`:
    the longest run `settings.validate` accepts (a GPU plan runs thousands of steps)."""
    from ..data.blocks import batch_indices

    s = settings
    s.validate(max_steps)
    dev = pick_device(device)
    t_start = time.perf_counter()
    t = _start(s, data, model_shape, dev)
    records, diverged_at, stopped = [], None, None
    for step in range(1, s.steps + 1):
        idx = batch_indices(step - 1, len(data.train), model_shape.micro_batch, s.seed)
        batch = data.train[idx][:, : model_shape.n_ctx + 1].to(dev)  # a no-op on the CPU
        loss = _forward_backward(t, s, batch)
        rec = _record(t, step, loss)
        if not math.isfinite(loss.item()):  # diverged: record the step, take no update, stop
            diverged_at = step
            rec["skipped"] = True
            records.append(rec)
            if on_step:
                on_step(rec)
            break
        _update(t, s, rec)
        records.append(rec)
        if on_step:
            on_step(rec)
        if step < s.steps and stop is not None and stop.is_set():
            stopped = "stop"
            break
        if step < s.steps and max_time_s and time.perf_counter() - t_start > max_time_s:
            stopped = "time limit"
            break
    seconds = round(time.perf_counter() - t_start, 2)
    held = None
    if heldout_blocks and diverged_at is None:
        held = heldout_loss(t, s, data, model_shape, heldout_blocks)
    return {
        "settings": asdict(s),
        "records": records,
        "diverged_at": diverged_at,
        "seconds": seconds,
        "params": sum(p.numel() for p in t.params),
        "stopped": stopped,
        "heldout_loss": held,
    }
