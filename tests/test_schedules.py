"""training/schedules.py, the project's one learning-rate schedule function: every schedule's shape
(the shared warmup ramp, constant flat, cosine and linear falling from the peak to min_ratio,
WSD flat at the peak then falling only in its last fraction), bad kinds refused in one line, and
`training.pretrain.lr_lambda` returning exactly what its own cosine formula always returned."""

from __future__ import annotations

import math

import pytest

from training.presets import TrainConfig
from training.pretrain import lr_lambda
from training.schedules import SCHEDULES, WSD_DECAY_FRACTION, decay_start, lr_factor

MIN = 0.1


def curve(kind: str, steps: int = 100, warmup: int = 10, frac: float = WSD_DECAY_FRACTION):
    """The factor at every step 0..steps (steps: just after the last update)."""
    return [lr_factor(kind, s, steps, warmup, MIN, frac) for s in range(steps + 1)]


def test_every_schedule_shares_the_warmup_ramp_and_starts_decaying_from_the_peak():
    ramp = [(s + 1) / 10 for s in range(10)]
    for kind in SCHEDULES:
        c = curve(kind)
        assert c[:10] == ramp, kind  # equal, linear, up to the peak
        assert c[10] == 1.0, kind  # the first step after warmup is at the peak for all
    assert lr_factor("cosine", 0, 50, 0, MIN) == 1.0  # no warmup: the peak from step 0


def test_constant_is_flat_after_warmup():
    assert set(curve("constant")[10:]) == {1.0}


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_cosine_and_linear_fall_monotonically_to_min(kind):
    c = curve(kind)[10:]
    assert all(a > b for a, b in zip(c, c[1:])), kind  # strictly falling after warmup
    assert c[-1] == pytest.approx(MIN, abs=1e-12)  # min_ratio at step = steps
    assert lr_factor(kind, 150, 100, 10, MIN) == pytest.approx(MIN)  # and it stays there
    mid = lr_factor(kind, 55, 100, 10, MIN)  # halfway through the decay
    assert mid == pytest.approx(MIN + (1 - MIN) * 0.5)  # both pass the mean at the midpoint
    quarter = lr_factor(kind, 10 + 90 // 4, 100, 10, MIN)
    want = (
        MIN + (1 - MIN) * 0.5 * (1 + math.cos(math.pi * 22 / 90))
        if kind == "cosine"
        else MIN + (1 - MIN) * (1 - 22 / 90)
    )
    assert quarter == pytest.approx(want)  # cosine stays high longer than the straight line
    assert lr_factor("cosine", 32, 100, 10, MIN) > lr_factor("linear", 32, 100, 10, MIN)


def test_wsd_is_flat_until_its_last_fraction_then_falls_linearly_to_min():
    c = curve("wsd", steps=100, warmup=10, frac=0.2)
    assert decay_start("wsd", 100, 10, 0.2) == 80
    assert set(c[10:81]) == {1.0}  # stable: the peak through step 80
    tail = c[80:]
    assert all(a > b for a, b in zip(tail, tail[1:]))  # then only falling
    assert tail[-1] == pytest.approx(MIN)
    assert c[90] == pytest.approx(MIN + (1 - MIN) * 0.5)  # a straight line: half way at 90
    # a decay fraction longer than the steps after warmup starts when warmup ends
    assert decay_start("wsd", 100, 30, 0.9) == 30
    assert decay_start("cosine", 100, 10) == decay_start("linear", 100, 10) == 10
    assert decay_start("constant", 100, 10) is None


@pytest.mark.parametrize("kind", ["exp", "Cosine", "", None])
def test_an_unknown_schedule_is_one_line(kind):
    with pytest.raises(ValueError) as e:
        lr_factor(kind, 50, 100, 10, MIN)
    msg = str(e.value)
    assert "\n" not in msg and "choose one of constant, cosine, linear, wsd" in msg


def _old_lr_lambda(cfg: TrainConfig):
    """pretrain.lr_lambda as it was written before training/schedules.py (commit a0e89a9)."""

    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (
            1 + math.cos(math.pi * min(1.0, progress))
        )

    return f


def test_pretrain_lr_lambda_is_bit_identical_to_its_old_cosine():
    n = 0
    for steps in (1, 2, 3, 7, 150, 200, 1000):
        for warmup in sorted({0, 1, steps // 7, min(20, steps), steps}):
            for m in (0.0, 0.1, 0.2):
                cfg = TrainConfig(steps=steps, warmup_steps=warmup, min_lr_ratio=m)
                old, new = _old_lr_lambda(cfg), lr_lambda(cfg)
                for s in range(steps + 3):
                    assert new(s) == old(s), (steps, warmup, m, s)  # ==, not approx
                    n += 1
    assert n > 10_000
    # the other schedules are a keyword away, with the config's min_lr_ratio
    cfg = TrainConfig(steps=100, warmup_steps=10, min_lr_ratio=0.2)
    assert lr_lambda(cfg, "constant")(99) == 1.0 and lr_lambda(cfg, "linear")(100) == 0.2
