"""The pre-training loop: the course's loop (forward, cross-entropy, backward, optimizer step),
on `accelerate`, readable top to bottom.

What scale adds around those four lines, each visible below: AdamW with linear warmup + cosine
decay, gradient clipping, gradient accumulation, optional bf16 autocast, periodic held-out eval,
JSONL metrics (loss, lr, grad norm, tokens/s, MFU), and checkpoints that resume exactly (model,
optimizer, scheduler, RNG, data position). The same file runs in one process or under
`torchrun`/`accelerate launch` with several (DDP; gloo on CPU, nccl on GPU).

Give `pretrain` a `teacher` and the same loop distils (Hinton et al. 2015): the loss line becomes
`distill_loss` — the student matches the teacher's softened next-token distributions — and
nothing else changes (data order, schedule, logging), so a distilled and a data-only student
differ in their targets alone.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from safetensors.torch import load_file, load_model, save_file, save_model
from tqdm.auto import tqdm

from . import store
from .data.blocks import Prepared, batch_indices
from .models import param_counts, train_flops_per_token
from .presets import TrainConfig

RESUME = "resume"
SESSIONS = "sessions.jsonl"  # one "start" and one "end" line per pretrain() call: what it resumed, what it ran


def lr_lambda(cfg: TrainConfig):
    """Linear warmup to the peak lr, then cosine decay to lr·min_lr_ratio at the last step."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * min(1.0, progress))
        )

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


def distill_loss(
    logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    ce: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015, arXiv 1503.02531):
    alpha·T²·KL(teacher_T ‖ student_T) + (1−alpha)·CE, both distributions softened by temperature T,
    KL averaged over tokens. T² keeps the soft term's gradients the size of the hard term's."""
    s = F.log_softmax(logits.float().reshape(-1, logits.size(-1)) / temperature, dim=-1)
    t = F.log_softmax(
        teacher_logits.float().reshape(-1, teacher_logits.size(-1)) / temperature, dim=-1
    )
    kl = F.kl_div(s, t, log_target=True, reduction="batchmean")
    return alpha * temperature**2 * kl + (1 - alpha) * ce


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
    teacher=None,
    distill_temperature: float = 2.0,
    distill_alpha: float = 1.0,
    eval_hook=None,
    measure_mfu: bool = True,
) -> dict:
    """Train `model` on `data.train`; write metrics.jsonl and resumable checkpoints in `run_dir`.
    `stop_after` ends this call early at that step (benchmarks); `cfg.max_time_s` bounds wall time.
    `extra_evals` {name: blocks} adds `eval_loss/<name>` at every evaluation (e.g. held-out loss
    per mention bucket, the long tail). A `teacher` (a frozen LM with the same vocabulary) turns
    the loss into `distill_loss` at `distill_temperature`, weight `distill_alpha` on the soft
    term; the logged `loss` is then that objective, `eval_loss` stays held-out cross-entropy.
    `eval_hook(model, record)` runs at every evaluation (step 0 included) and returns extra
    metrics to log (e.g. a task's accuracy); `{"stop": True}` among them ends the run there
    (checkpointed, `done` stays False) — early stopping, progress reporting. `measure_mfu=False`
    skips the matmul benchmarks behind MFU (1 s at start, 0.25 s per evaluation) for short live runs.
    Returns a summary (final step, losses, tokens seen, throughput) and the trained model."""
    cfg.validate()
    if teacher is not None:
        if not (distill_temperature > 0 and 0 <= distill_alpha <= 1):
            raise ValueError(
                f"distill_temperature={distill_temperature}, distill_alpha={distill_alpha}: "
                "need a temperature > 0 and an alpha in [0, 1]"
            )
    run_dir = Path(run_dir)
    accelerator = Accelerator(
        mixed_precision="bf16" if cfg.bf16 else "no", cpu=not torch.cuda.is_available()
    )
    rank, world = accelerator.process_index, accelerator.num_processes
    if teacher is not None:
        teacher = teacher.to(accelerator.device).eval()  # frozen: run under no_grad below
    n_ctx = data.train.size(1) - 1
    global_batch = cfg.micro_batch * cfg.grad_accum * world
    tokens_per_step = global_batch * n_ctx

    optimizer = make_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    step = 0
    if resume and (run_dir / RESUME / store.MANIFEST).is_file():
        step = load_resume(run_dir / RESUME, model, optimizer, scheduler, rank)
    model, optimizer = accelerator.prepare(model, optimizer)
    if cfg.compile:
        model = torch.compile(model)
    counts = param_counts(accelerator.unwrap_model(model))
    flops_tok = train_flops_per_token(accelerator.unwrap_model(model), n_ctx)
    peak_dtype = torch.bfloat16 if cfg.bf16 else torch.float32

    def measure_peak(seconds: float = 1.0) -> float:  # summed over ranks; re-measured at every eval
        return float(
            accelerator.reduce(
                torch.tensor(
                    measure_peak_flops(accelerator.device, peak_dtype, seconds),
                    device=accelerator.device,
                ),
                "sum",
            )
        )

    peak = measure_peak() if measure_mfu else float("nan")

    metrics_path = run_dir / store.METRICS
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(metrics_path, step)
    log = open(metrics_path, "a") if accelerator.is_main_process else None
    sessions = open(run_dir / SESSIONS, "a") if accelerator.is_main_process else None
    if sessions:  # where this call starts: a resumed run must not execute any step <= this one
        sessions.write(
            json.dumps({"event": "start", "resumed_from": step, "target": cfg.steps}) + "\n"
        )
        sessions.flush()
    executed = []  # the step numbers this call really computes (the update that makes each one)
    bar = tqdm(
        total=cfg.steps,
        initial=step,
        desc="pretrain",
        disable=not (progress and accelerator.is_main_process),
    )
    t_start, last = time.perf_counter(), {}
    if step == 0:  # the curve starts at the untrained model's loss (≈ ln vocab)
        last = {
            "step": 0,
            "tokens": 0,
            "eval_loss": round(
                evaluate(model, data.eval, accelerator, cfg.micro_batch, data.eval_labels), 5
            ),
        }
        for name, blocks in (extra_evals or {}).items():
            last[f"eval_loss/{name}"] = round(
                evaluate(model, blocks, accelerator, cfg.micro_batch), 5
            )
        last.update(_hook(eval_hook, model, accelerator, last))
        last.pop("stop", None)
        if log:
            log.write(json.dumps(last) + "\n")
    model.train()
    while step < cfg.steps:
        t0 = time.perf_counter()
        idx = batch_indices(step, len(data.train), global_batch, cfg.seed)
        loss_sum = torch.zeros((), device=accelerator.device)
        for k in range(cfg.grad_accum):
            lo = (k * world + rank) * cfg.micro_batch
            rows = idx[lo : lo + cfg.micro_batch]
            batch = data.train[rows].to(accelerator.device)
            inputs, targets = batch[:, :-1], batch[:, 1:]
            if data.train_labels is not None:  # a synthetic task: only its answers are scored
                targets = data.train_labels[rows].to(accelerator.device)
            # no gradient all-reduce until the last micro-step of the accumulation
            sync = (
                accelerator.no_sync(model) if k < cfg.grad_accum - 1 else contextlib.nullcontext()
            )
            with sync:
                with accelerator.autocast():
                    logits = model(input_ids=inputs).logits  # forward
                loss = F.cross_entropy(
                    logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1)
                )  # cross-entropy
                if teacher is not None:  # or distillation
                    with torch.no_grad(), accelerator.autocast():
                        teacher_logits = teacher(input_ids=inputs).logits
                    loss = distill_loss(
                        logits, teacher_logits, loss, distill_temperature, distill_alpha
                    )
                accelerator.backward(loss / cfg.grad_accum)  # backward
            loss_sum += loss.detach() / cfg.grad_accum
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        grad_norm = accelerator.clip_grad_norm_(model.parameters(), max_norm)
        lr = scheduler.get_last_lr()[0]  # the rate this update uses
        optimizer.step()  # update
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        executed.append(step)

        loss_mean = float(accelerator.reduce(loss_sum, reduction="mean"))
        dt = time.perf_counter() - t0
        last = {
            "step": step,
            "tokens": step * tokens_per_step,
            "loss": round(loss_mean, 5),
            "lr": lr,
            "grad_norm": round(float(grad_norm), 5),
            "tokens_per_s": round(tokens_per_step / dt, 1),
            **({"mfu": round(tokens_per_step * flops_tok / dt / peak, 5)} if measure_mfu else {}),
            "elapsed_s": round(time.perf_counter() - t_start, 2),
        }
        stop = False
        # out of time: stop here, but evaluated, so a bounded run always ends with its held-out loss
        out_of_time = bool(cfg.max_time_s and time.perf_counter() - t_start > cfg.max_time_s)
        if step % cfg.eval_interval == 0 or step == cfg.steps or out_of_time:
            last["eval_loss"] = round(
                evaluate(model, data.eval, accelerator, cfg.micro_batch, data.eval_labels), 5
            )
            for name, blocks in (extra_evals or {}).items():
                last[f"eval_loss/{name}"] = round(
                    evaluate(model, blocks, accelerator, cfg.micro_batch), 5
                )
            extra = _hook(eval_hook, model, accelerator, last)
            stop = bool(extra.pop("stop", False))
            last.update(extra)
            if measure_mfu:
                peak = max(
                    peak, measure_peak(0.25)
                )  # a busy machine at start must not inflate MFU for the whole run
        if log and (step % cfg.log_interval == 0 or "eval_loss" in last):
            log.write(json.dumps(last) + "\n")
            log.flush()
        bar.update(1)
        bar.set_postfix(
            loss=f"{loss_mean:.3f}",
            **({"eval": f"{last['eval_loss']:.3f}"} if "eval_loss" in last else {}),
        )
        out_of_time = out_of_time or stop
        if (
            (cfg.ckpt_interval and step % cfg.ckpt_interval == 0)
            or step == cfg.steps
            or out_of_time
        ):
            save_resume(run_dir, accelerator, model, optimizer, scheduler, step, cfg)
        if out_of_time or (stop_after is not None and step >= stop_after):
            break
    bar.close()
    if log:
        log.close()
    if sessions:
        sessions.write(
            json.dumps({"event": "end", "executed": _ranges(executed), "final_step": step}) + "\n"
        )
        sessions.close()
    if "loss" not in last:  # resumed a finished run: report how it ended
        eval_loss = round(
            evaluate(model, data.eval, accelerator, cfg.micro_batch, data.eval_labels), 5
        )
        if accelerator.is_main_process:
            last = {
                **next(m for m in reversed(store.read_metrics(run_dir)) if "loss" in m),
                "eval_loss": eval_loss,
            }
    accelerator.wait_for_everyone()
    return {
        **last,
        "done": step >= cfg.steps,
        "params": counts,
        "world_size": world,
        "global_batch": global_batch,
        "flops_per_token": flops_tok,
        "peak_flops": peak,
        "model": accelerator.unwrap_model(model),
    }


def _ranges(steps: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 8] -> [[1, 3], [7, 8]]: a session's executed steps, compactly."""
    out: list[list[int]] = []
    for s in steps:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def read_sessions(run_dir: Path) -> list[dict]:
    """The start/end records of every pretrain() call on `run_dir`, oldest first (a killed call
    has a start and no end)."""
    path = Path(run_dir) / SESSIONS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            pass
    return out


def _hook(eval_hook, model, accelerator: Accelerator, record: dict) -> dict:
    if eval_hook is None:
        return {}
    model.eval()
    with torch.no_grad():
        extra = eval_hook(accelerator.unwrap_model(model), dict(record)) or {}
    model.train()
    return extra


def truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop logged steps after the checkpoint so the curve is one clean trajectory.
    A restart with no checkpoint (step 0) keeps nothing: the loop logs its step-0 eval again."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if step > 0 and json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):  # a line cut short by the kill
            pass
    path.write_text("".join(line + "\n" for line in keep))


def save_resume(
    run_dir: Path,
    accelerator: Accelerator,
    model,
    optimizer,
    scheduler,
    step: int,
    cfg: TrainConfig,
) -> None:
    """Atomically replace run_dir/resume with everything needed to continue exactly, as
    safetensors + JSON (no pickle). Each rank stages its own RNG state first."""
    stage = run_dir / f".rng-{step}"
    stage.mkdir(parents=True, exist_ok=True)
    save_file(
        {"torch": torch.get_rng_state()}, stage / f"rng-{accelerator.process_index}.safetensors"
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:

        def fill(tmp: Path) -> dict:
            save_model(accelerator.unwrap_model(model), str(tmp / "model.safetensors"))
            tensors, groups = optimizer_to_flat(optimizer)
            save_file(tensors, tmp / "optimizer.safetensors")
            for f in stage.iterdir():
                shutil.move(str(f), tmp / f.name)
            state = {
                "step": step,
                "optimizer_groups": groups,
                "scheduler": scheduler.state_dict(),
                "python_random": _jsonable(random.getstate()),
                "world_size": accelerator.num_processes,
                "train_config": cfg.__dict__,
            }
            (tmp / "state.json").write_text(json.dumps(state))
            return {"kind": "resume", "step": step}

        store.write_atomic(run_dir / RESUME, fill)
        shutil.rmtree(stage, ignore_errors=True)
    accelerator.wait_for_everyone()


def load_resume(path: Path, model, optimizer, scheduler, rank: int) -> int:
    """Restore model, optimizer, scheduler and RNG from run_dir/resume; return the step."""
    store.verify(path)
    state = json.loads((path / "state.json").read_text())
    load_model(model, str(path / "model.safetensors"))
    optimizer.load_state_dict(
        flat_to_optimizer(load_file(path / "optimizer.safetensors"), state["optimizer_groups"])
    )
    scheduler.load_state_dict(state["scheduler"])
    rng_file = path / f"rng-{rank}.safetensors"
    if rng_file.is_file():
        torch.set_rng_state(load_file(rng_file)["torch"])
    random.setstate(_tupled(state["python_random"]))
    return int(state["step"])


def optimizer_to_flat(optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = optimizer.state_dict()
    tensors = {
        f"{pid}.{k}": (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
        for pid, st in sd["state"].items()
        for k, v in st.items()
    }
    return tensors, sd["param_groups"]


def flat_to_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    for g in groups:
        g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def _jsonable(x):
    return [_jsonable(i) for i in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(i) for i in x) if isinstance(x, list) else x
