"""The pre-training loop: the course's loop (forward, cross-entropy, backward, optimizer step),
on `accelerate`, readable top to bottom.

What scale adds around those four lines, each visible below: AdamW with linear warmup + cosine
decay, gradient clipping, gradient accumulation, optional bf16 autocast, periodic held-out eval,
JSONL metrics (loss, lr, grad norm, tokens/s, MFU), and checkpoints that resume exactly (model,
optimizer, scheduler, RNG, data position). The same file runs in one process or under
`torchrun`/`accelerate launch` with several (DDP; gloo on CPU, nccl on GPU).

Give `pretrain` a `loss_hook` (training/losses.py) and the loss line becomes another objective on
the same logits — `losses.Distillation(teacher)` distils (Hinton et al. 2015) — and nothing else
changes (data order, schedule, logging), so a distilled and a data-only student differ in their
targets alone.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from . import store
from .data.blocks import Prepared, batch_indices
from .losses import LossHook
from .models import param_counts, train_flops_per_token
from .presets import TrainConfig
from .resume import RESUME, RunLog, load_resume, save_resume
from .schedules import lr_factor


def lr_lambda(cfg: TrainConfig, schedule: str = "cosine"):
    """Linear warmup to the peak lr, then `schedule` (training/schedules.py; the default: cosine
    decay to lr·min_lr_ratio at the last step) — a factor of the peak for `LambdaLR`."""

    def f(step: int) -> float:
        return lr_factor(schedule, step, cfg.steps, cfg.warmup_steps, cfg.min_lr_ratio)

    return f


def measure_peak_flops(
    device: torch.device, dtype: torch.dtype = torch.float32, seconds: float = 1.0
) -> float:
    """Measured matmul FLOP/s on this device, the denominator of MFU (a CPU has no spec sheet):
    the best of several short windows, so a noisy neighbour or a cold thread pool does not
    understate the peak."""
    n = 1024 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        sync()
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        sync()
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0))
    return best


def make_optimizer(model, cfg: TrainConfig):
    """AdamW; no weight decay on norms and biases (1-D tensors)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


@torch.no_grad()
def evaluate(
    model,
    blocks: torch.Tensor,
    accelerator: Accelerator,
    batch_size: int,
    labels: torch.Tensor | None = None,
) -> float:
    """Mean held-out cross-entropy (nats per scored token); each rank takes a shard, sums are
    all-reduced. `labels` (a task's targets, IGNORE where unscored) replace blocks[:, 1:]."""
    model.eval()
    total = torch.zeros(2, device=accelerator.device)
    shard = blocks[accelerator.process_index :: accelerator.num_processes]
    shard_labels = (
        None if labels is None else labels[accelerator.process_index :: accelerator.num_processes]
    )
    for i in range(0, len(shard), batch_size):
        b = shard[i : i + batch_size].to(accelerator.device)
        targets = (
            b[:, 1:]
            if shard_labels is None
            else shard_labels[i : i + batch_size].to(accelerator.device)
        )
        with accelerator.autocast():
            logits = model(input_ids=b[:, :-1]).logits
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum"
        )
        total += torch.stack([loss, (targets != -100).sum().float()])
    total = accelerator.reduce(total, reduction="sum")
    model.train()
    return float(total[0] / total[1])


def pretrain(
    model,
    data: Prepared,
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
    extra_evals: dict[str, torch.Tensor] | None = None,
    loss_hook: LossHook | None = None,
    eval_hook=None,
    measure_mfu: bool = True,
) -> dict:
    """Train `model` on `data.train`; write metrics.jsonl and resumable checkpoints in `run_dir`.
    `stop_after` ends this call early at that step (benchmarks); `cfg.max_time_s` bounds wall time.
    `extra_evals` {name: blocks} adds `eval_loss/<name>` at every evaluation (e.g. the long tail's
    mention buckets). `loss_hook(logits, inputs, ce)` (training/losses.py) replaces the logged
    training loss. `eval_hook(model, record)` runs at every evaluation (step 0 too) and returns
    metrics to log; `{"stop": True}` ends the run there. `measure_mfu=False` skips MFU's matmul
    benchmarks (1 s + 0.25 s per evaluation). Returns a summary and the trained model."""
    cfg.validate()
    run_dir = Path(run_dir)
    accelerator, model, optimizer, scheduler, step = _prepare(model, cfg, run_dir, resume)
    n_ctx, world = data.train.size(1) - 1, accelerator.num_processes
    global_batch = cfg.micro_batch * cfg.grad_accum * world
    tokens_per_step = global_batch * n_ctx
    counts = param_counts(accelerator.unwrap_model(model))
    flops_tok = train_flops_per_token(accelerator.unwrap_model(model), n_ctx)
    peak = _PeakFlops(accelerator, cfg.bf16, measure_mfu)
    evals = _Evaluator(data, accelerator, cfg.micro_batch, extra_evals, eval_hook)
    log = RunLog(run_dir, accelerator.is_main_process, step, cfg.steps, progress)
    t_start, last = time.perf_counter(), {}
    if step == 0:  # the curve starts at the untrained model's loss (≈ ln vocab)
        last, _ = evals.record(model, {"step": 0, "tokens": 0})
        log.write(last)
    model.train()
    while step < cfg.steps:
        t0 = time.perf_counter()
        loss, grad_norm, lr = train_step(
            model, data, cfg, step, accelerator, optimizer, scheduler, loss_hook
        )
        step += 1
        rate = tokens_per_step / (time.perf_counter() - t0)  # tokens per second
        last = {
            "step": step,
            "tokens": step * tokens_per_step,
            "loss": round(loss, 5),
            "lr": lr,
            "grad_norm": round(grad_norm, 5),
            "tokens_per_s": round(rate, 1),
            **peak.mfu(rate * flops_tok),
            "elapsed_s": round(time.perf_counter() - t_start, 2),
        }
        stop = False
        # out of time: stop here, but evaluated, so a bounded run always ends with its held-out loss
        out_of_time = bool(cfg.max_time_s and time.perf_counter() - t_start > cfg.max_time_s)
        if step % cfg.eval_interval == 0 or step == cfg.steps or out_of_time:
            last, stop = evals.record(model, last)
            peak.remeasure()  # a busy machine at start must not inflate MFU for the whole run
        log.step_done(last, keep=step % cfg.log_interval == 0 or "eval_loss" in last)
        out_of_time = out_of_time or stop
        if step == cfg.steps or out_of_time or _every(step, cfg.ckpt_interval):
            save_resume(run_dir, accelerator, model, optimizer, scheduler, step, cfg)
        if out_of_time or (stop_after is not None and step >= stop_after):
            break
    log.close(step)
    if "loss" not in last:  # resumed a finished run: report how it ended
        last = evals.how_it_ended(model, run_dir)
    accelerator.wait_for_everyone()
    return {
        **last,
        "done": step >= cfg.steps,
        "params": counts,
        "world_size": world,
        "global_batch": global_batch,
        "flops_per_token": flops_tok,
        "peak_flops": peak.flops,
        "model": accelerator.unwrap_model(model),
    }


def _prepare(model, cfg: TrainConfig, run_dir: Path, resume: bool):
    """The accelerator, and the model, optimizer and scheduler on it — restored from the resume
    checkpoint when there is one (and `resume`) — with the step they are at."""
    accelerator = Accelerator(
        mixed_precision="bf16" if cfg.bf16 else "no", cpu=not torch.cuda.is_available()
    )
    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    step = 0
    if resume and (run_dir / RESUME / store.MANIFEST).is_file():
        step = load_resume(run_dir / RESUME, model, optimizer, scheduler, accelerator.process_index)
    model, optimizer = accelerator.prepare(model, optimizer)
    if cfg.compile:
        model = torch.compile(model)
    return accelerator, model, optimizer, scheduler, step


def train_step(
    model, data: Prepared, cfg: TrainConfig, step: int, accelerator, optimizer, scheduler, loss_hook
) -> tuple[float, float, float]:
    """One optimizer step, the course's four lines (forward, cross-entropy, backward, update)
    over `cfg.grad_accum` micro-batches of this rank's share of the step's global batch.
    Returns (loss averaged over ranks, gradient norm before clipping, the lr this update used)."""
    rank, world = accelerator.process_index, accelerator.num_processes
    idx = batch_indices(step, len(data.train), cfg.micro_batch * cfg.grad_accum * world, cfg.seed)
    loss_sum = torch.zeros((), device=accelerator.device)
    for k in range(cfg.grad_accum):
        lo = (k * world + rank) * cfg.micro_batch
        rows = idx[lo : lo + cfg.micro_batch]
        batch = data.train[rows].to(accelerator.device)
        inputs, targets = batch[:, :-1], batch[:, 1:]
        if data.train_labels is not None:  # a synthetic task: only its answers are scored
            targets = data.train_labels[rows].to(accelerator.device)
        # no gradient all-reduce until the last micro-step of the accumulation
        sync = accelerator.no_sync(model) if k < cfg.grad_accum - 1 else contextlib.nullcontext()
        with sync:
            with accelerator.autocast():
                logits = model(input_ids=inputs).logits  # forward
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1)
            )  # cross-entropy
            if loss_hook is not None:  # or another objective on the same logits
                with accelerator.autocast():
                    loss = loss_hook(logits, inputs, loss)
            accelerator.backward(loss / cfg.grad_accum)  # backward
        loss_sum += loss.detach() / cfg.grad_accum
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_norm)
    lr = scheduler.get_last_lr()[0]  # the rate this update uses
    optimizer.step()  # update
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(accelerator.reduce(loss_sum, reduction="mean")), float(grad_norm), lr


def _every(step: int, interval: int) -> bool:
    return bool(interval) and step % interval == 0


class _PeakFlops:
    """The machine's measured peak matmul FLOP/s (summed over ranks), the denominator of MFU;
    NaN when MFU is not measured."""

    def __init__(self, accelerator, bf16: bool, measure: bool):
        self.accelerator, self.measure = accelerator, measure
        self.dtype = torch.bfloat16 if bf16 else torch.float32
        self.flops = self._measure(1.0) if measure else float("nan")

    def _measure(self, seconds: float) -> float:
        acc = self.accelerator
        flops = measure_peak_flops(acc.device, self.dtype, seconds)
        return float(acc.reduce(torch.tensor(flops, device=acc.device), "sum"))

    def mfu(self, flops_per_s: float) -> dict:
        """{"mfu": model FLOP/s over the peak} when measured, else nothing."""
        return {"mfu": round(flops_per_s / self.flops, 5)} if self.measure else {}

    def remeasure(self) -> None:
        if self.measure:
            self.flops = max(self.flops, self._measure(0.25))


class _Evaluator:
    """Held-out loss (+ `extra_evals`, + `eval_hook`'s metrics) for one metrics record."""

    def __init__(self, data: Prepared, accelerator, micro_batch: int, extra_evals, eval_hook):
        self.data, self.accelerator, self.micro_batch = data, accelerator, micro_batch
        self.extra_evals, self.eval_hook = extra_evals or {}, eval_hook

    def loss(self, model) -> float:
        d = self.data
        return round(evaluate(model, d.eval, self.accelerator, self.micro_batch, d.eval_labels), 5)

    def record(self, model, record: dict) -> tuple[dict, bool]:
        """`record` with its evaluations, and whether the eval hook asked to stop."""
        record = {**record, "eval_loss": self.loss(model)}
        for name, blocks in self.extra_evals.items():
            record[f"eval_loss/{name}"] = round(
                evaluate(model, blocks, self.accelerator, self.micro_batch), 5
            )
        extra = _hook(self.eval_hook, model, self.accelerator, record)
        stop = bool(extra.pop("stop", False))
        return {**record, **extra}, stop

    def how_it_ended(self, model, run_dir: Path) -> dict:
        """A finished run resumed: its last logged training record, with a fresh held-out loss."""
        eval_loss = self.loss(model)
        if not self.accelerator.is_main_process:
            return {}
        last = next(m for m in reversed(store.read_metrics(run_dir)) if "loss" in m)
        return {**last, "eval_loss": eval_loss}


def _hook(eval_hook, model, accelerator: Accelerator, record: dict) -> dict:
    if eval_hook is None:
        return {}
    model.eval()
    with torch.no_grad():
        extra = eval_hook(accelerator.unwrap_model(model), dict(record)) or {}
    model.train()
    return extra
