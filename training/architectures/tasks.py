"""Synthetic tasks as data for the project's training loop: mixtures, accuracy, one training run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.tasks import IGNORE, mqar
from .specs import new_model


def mqar_mixture(n: int, seq: int, pairs: tuple[int, ...], vocab: int, seed: int):
    """n MQAR examples of length `seq`, the pair counts taking turns (shuffled by the loop)."""
    chunks = [mqar(max(1, n // len(pairs)), seq, p, vocab, seed=seed * 1000 + p) for p in pairs]
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def task_accuracy(model, inputs, labels, batch: int = 64) -> float:
    """Share of scored positions (labels ≠ IGNORE) where the model's most likely next token is the label."""
    import torch  # torch inside the functions: the app imports this package at start, torch-free

    right = total = 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for i in range(0, len(inputs), batch):
            x = torch.as_tensor(inputs[i : i + batch], device=device)
            y = torch.as_tensor(labels[i : i + batch], device=device)
            pred = model(input_ids=x).logits.argmax(-1)
            mask = y != IGNORE
            right += int((pred[mask] == y[mask]).sum())
            total += int(mask.sum())
    return right / max(1, total)


def train_task(
    spec,
    data,
    *,
    steps: int,
    batch: int,
    lr: float,
    eval_interval: int,
    run_dir: Path,
    accuracy_on=None,
    target: float | None = None,
    seed: int = 0,
    max_time_s: float = 0.0,
    min_lr_ratio: float = 0.1,
    on_eval: Callable[[dict], None] | None = None,
    progress: bool = False,
    measure_mfu: bool = True,
) -> dict:
    """Train a fresh model of `spec` on `data` (a `Prepared`) with the project's loop; at every
    evaluation record the accuracy on `accuracy_on` = (inputs, labels) and stop early once it
    reaches `target`. Returns {"curve": [...], "final": {...}, "seconds", "model"}."""
    from ..presets import TrainConfig
    from ..pretrain import pretrain

    cfg = TrainConfig(
        steps=steps,
        micro_batch=batch,
        lr=lr,
        warmup_steps=max(1, steps // 20),
        min_lr_ratio=min_lr_ratio,
        eval_interval=eval_interval,
        ckpt_interval=0,
        seed=seed,
        max_time_s=max_time_s,
    )
    model = new_model(spec, seed=seed)
    curve: list[dict] = []

    def hook(m, record):
        extra = {}
        if accuracy_on is not None:
            extra["accuracy"] = round(task_accuracy(m, *accuracy_on), 4)
        curve.append(
            {k: record[k] for k in ("step", "tokens", "eval_loss", "elapsed_s") if k in record}
            | extra
        )
        if on_eval:
            on_eval(curve[-1])
        if target is not None and extra.get("accuracy", 0.0) >= target and record["step"] > 0:
            extra["stop"] = True
        return extra

    t0 = time.perf_counter()
    summary = pretrain(
        model,
        data,
        cfg,
        Path(run_dir),
        resume=False,
        progress=progress,
        eval_hook=hook,
        measure_mfu=measure_mfu,
    )
    return {
        "curve": curve,
        "seconds": round(time.perf_counter() - t0, 2),
        "steps": summary["step"],
        "tokens_per_s": summary.get("tokens_per_s"),
        "model": summary["model"].eval(),
    }
