"""The inference lab's plans (what each section measures, per preset) and the quiet-machine wait
every timed point takes first."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..quiet import wait_quiet

INT4_METHOD = (
    "weight-only int4, group-wise asymmetric round-to-nearest (the w4 gG format GPTQ and AWQ "
    "checkpoints store; RTN is their baseline): per G input weights an fp16 scale and a 4-bit zero "
    "point, codes and zeros packed two per byte, dequantized at every forward (no int4 kernel); the "
    "blocks' Linear layers only, the embedding and the tied head stay fp32"
)


@dataclass(frozen=True)
class Plan:
    world: str  # bundled_world preset: held-out text, people, student data
    contexts: tuple[int, ...]  # prompt lengths for the KV-cache curve
    new_tokens: int  # decode steps timed after the first token (the prefill)
    repeats: int  # timed runs per point (median), cached/uncached alternating
    latency_context: int  # prompt length for the quantized models' latency
    eval_blocks: int  # held-out blocks for loss (every section)
    logit_blocks: int  # held-out blocks for top-1 agreement and max |Δlogit|
    eval_people: int  # people probed for "born in" accuracy (spread over the ranks)
    sparsities: tuple[float, ...]
    int4_groups: tuple[int, ...]  # int4 group sizes (weights per scale and zero point), timed
    student: tuple[int, int, int]  # n_layer, d_model, n_head (same family as the base)
    steps: int
    micro_batch: int
    lr: float
    eval_interval: int
    # T = 1 with half the weight on the teacher: in a 100-step pilot on the cpu world (2 layers,
    # d 128) it beat pure KL at T = 1 and cross-entropy alone slightly, while T = 2 (alpha 1 or 0.5)
    # trailed cross-entropy at 60 steps — softened targets spend early steps on the tail
    temperature: float = 1.0
    alpha: float = 0.5  # weight of the soft (teacher) term; 1 - alpha on cross-entropy
    quiet_wait_s: float = 0.0  # wait this long at most for a quiet machine before timing
    cache: bool = True  # keep finished sections in runs/inference-<preset>/
    threads: int = 0  # torch threads for the timed sections (0: torch's default)
    compute_threads: int = 1  # for pruning and distillation (untimed). On a shared 2-core
    # machine two threads that wait at every barrier for a
    # descheduled partner ran the tiny decoding 50x and the student
    # steps ~10x slower than one thread


PLANS = {
    "tiny": Plan(
        world="tiny",
        contexts=(8, 32, 64),
        new_tokens=4,
        repeats=1,
        latency_context=16,
        eval_blocks=4,
        logit_blocks=2,
        eval_people=10,
        sparsities=(0.0, 0.5, 0.9),
        int4_groups=(32, 8),
        student=(1, 32, 2),
        steps=4,
        micro_batch=4,
        lr=3e-3,
        eval_interval=2,
        cache=False,
        threads=1,
    ),
    # the bundled default: ~10 min on 2 quiet cores
    "cpu": Plan(
        world="cpu",
        contexts=(16, 32, 64, 96, 128, 160, 192, 224),
        new_tokens=16,
        repeats=5,
        latency_context=128,
        eval_blocks=64,
        logit_blocks=16,
        eval_people=250,
        sparsities=tuple(i / 10 for i in range(10)),
        int4_groups=(32, 16, 8),  # 32: the largest dividing 256 and 672 (down_proj's inputs)
        student=(2, 128, 4),
        steps=400,
        micro_batch=8,
        lr=3e-3,
        eval_interval=40,
        quiet_wait_s=300.0,
    ),
}
MAX_SPARSITIES = 20


def check_sparsities(sparsities) -> tuple[float, ...]:
    """Sparsities as shares in [0, 1), at most MAX_SPARSITIES, increasing; else one-line ValueError."""
    try:
        s = tuple(float(x) for x in sparsities)
    except (TypeError, ValueError):
        raise ValueError(
            f"sparsities={sparsities!r}: give a list of shares such as [0, 0.5, 0.9]"
        ) from None
    if not 1 <= len(s) <= MAX_SPARSITIES:
        raise ValueError(f"sparsities: give 1 to {MAX_SPARSITIES} values (got {len(s)})")
    if not all(math.isfinite(x) and 0 <= x < 1 for x in s):
        raise ValueError(f"sparsities={list(s)}: each must be a share in [0, 1) (0.9 prunes 90 %)")
    if any(b <= a for a, b in zip(s, s[1:])):
        raise ValueError(f"sparsities={list(s)}: list them in increasing order, without repeats")
    return s


def check_group_size(group_size, in_features=()) -> int:
    """An int4 group size: a positive integer dividing every layer's input features, else a
    one-line ValueError saying what to pick."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size <= 0:
        raise ValueError(f"group_size={group_size!r}: give a positive integer such as 32")
    bad = sorted({n for n in in_features if n % group_size})
    if bad:
        ok = math.gcd(*in_features)
        raise ValueError(
            f"group_size={group_size} does not divide the input features {bad}: "
            f"pick a divisor of {ok} (e.g. {ok})"
        )
    return group_size


QUIET_CORES = 0.3  # a timing taken while other processes used more cores than this is not cached


def quiet_waiter(budget_s: float):
    """Wait for a quiet machine before each timed point, spending at most `budget_s` in all
    (0: never wait). Returns a function giving the seconds it waited."""
    deadline = time.monotonic() + budget_s

    def wait() -> float:
        left = deadline - time.monotonic()
        return wait_quiet(left, QUIET_CORES) if budget_s and left > 0 else 0.0

    return wait
