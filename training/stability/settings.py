"""The Stability lab's knobs: one run's `Settings` (validated, from user input too) and the `Shape`
of the model and batch every run trains with."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..presets import get_preset
from ..schedules import SCHEDULES

PRECISIONS = ("fp32", "bf16", "fp16", "fp16-scaled")
STABLE_LR = 2e-3  # the lab's good peak learning rate (the cpu preset's)
BUILD_MAX_STEPS = 1000
LIVE_MAX_STEPS = 300
LIVE_TIME_LIMIT_S = 60.0
MIN_LR_RATIO = 0.1  # every decaying schedule ends at lr/10 (the project's TrainConfig default)
RECORD_VERSION = 1  # bump when a record's meaning changes: finished runs are then redone


@dataclass(frozen=True)
class Settings:
    """One stability run: the knobs the course names."""

    lr: float = STABLE_LR  # peak learning rate
    warmup_steps: int = 20  # linear warmup steps (0 = off), then the schedule
    clip: float = 1.0  # max global gradient norm (0 = off)
    init_scale: float = 1.0  # multiplies every weight matrix's init std (0.02)
    precision: str = "fp32"  # fp32 | bf16 | fp16 | fp16-scaled (fp16 + GradScaler)
    steps: int = 150
    seed: int = 0  # model init and data order
    schedule: str = (
        "cosine"  # after warmup: constant | cosine | linear | wsd (training/schedules.py),
    )
    # each decaying one ending at lr/10

    def validate(self, max_steps: int = BUILD_MAX_STEPS) -> None:
        """One-line ValueError for absurd values."""
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("precision", "schedule"):
                choices = PRECISIONS if f.name == "precision" else SCHEDULES
                if v not in choices:
                    raise ValueError(f"{f.name}={v!r}: choose one of {', '.join(choices)}")
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


def cpu_shape() -> Shape:
    """The cpu preset's model with the lab's batch: 8 sequences of 128 tokens."""
    m = get_preset("cpu").model
    return Shape(m.n_layer, m.d_model, m.n_head, micro_batch=8, n_ctx=128)
