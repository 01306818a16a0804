"""Learning-rate schedules: the factor that multiplies the peak learning rate at each optimizer step,
one function for the whole project (`training.pretrain.lr_lambda` and the Stability lab call it).
Torch-free, so a page can draw a schedule without loading torch.

Every schedule starts with the same linear warmup, `(step + 1) / warmup` for step < warmup (0 =
no warmup), then:

    constant  1 (the peak) to the end
    cosine    min + (1 − min)·½(1 + cos(π·p)), p = (step − warmup) / (steps − warmup): from the peak
              down to min_ratio at step = steps (Loshchilov & Hutter 2017, SGDR; the project's default)
    linear    min + (1 − min)·(1 − p): a straight line from the peak down to min_ratio
    wsd       warmup-stable-decay (Hu et al. 2024, MiniCPM, arXiv 2404.06395): the peak until the
              last `decay_fraction` of the steps, then a straight line down to min_ratio — the
              linear "cooldown" of Hägele et al. 2024 (arXiv 2405.18392); MiniCPM's own decay is
              exponential

`step` counts from 0 as `torch.optim.lr_scheduler.LambdaLR` does: step s of a run (1-based) uses
`lr_factor(kind, s − 1, ...)`, so every decaying schedule reaches min_ratio at step = steps, just
after the last update (its last update uses a factor a little above min_ratio).
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine", "linear", "wsd")
WSD_DECAY_FRACTION = 0.2  # the share of the steps WSD spends decaying (Hägele et al.'s 20%)


def decay_start(kind: str, steps: int, warmup: int, decay_fraction: float = WSD_DECAY_FRACTION):
    """The step from which the factor falls below 1 (the decay phase begins: the factor there is
    still 1), or None for "constant". For cosine and linear that is the end of warmup; for wsd,
    `steps − round(decay_fraction·steps)`, never before the end of warmup."""
    if kind not in SCHEDULES:
        raise ValueError(f"schedule={kind!r}: choose one of {', '.join(SCHEDULES)}")
    if kind == "constant":
        return None
    if kind == "wsd":
        return max(warmup, steps - round(decay_fraction * steps))
    return warmup


def lr_factor(
    kind: str,
    step: int,
    steps: int,
    warmup: int,
    min_ratio: float,
    decay_fraction: float = WSD_DECAY_FRACTION,
) -> float:
    """The learning rate at 0-based optimizer step `step` as a share of the peak (module docstring)."""
    if step < warmup:
        return (step + 1) / warmup
    start = decay_start(kind, steps, warmup, decay_fraction)
    if start is None or step < start:  # constant, or WSD's stable phase
        return 1.0
    progress = (step - start) / max(1, steps - start)
    if kind == "cosine":  # written exactly as pretrain.lr_lambda always was (bit-identical)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return min_ratio + (1 - min_ratio) * (1 - min(1.0, progress))  # linear, and WSD's decay
