"""Functions the warm process tests ask `shared.warm_process` to run (importable by name there)."""

from __future__ import annotations

import os
import time

WARMED = "LAB_TEST_WARMED"  # a file the warm-up target writes: proof it ran before "ready"


def warm() -> None:
    path = os.environ.get(WARMED)
    if path:
        with open(path, "w") as f:
            f.write(str(os.getpid()))


def items(n: int, tag: str = "") -> object:
    """n items, each naming the process that made it."""
    for i in range(n):
        yield [os.getpid(), i, tag]


def one(x: float) -> list:
    return [os.getpid(), x * 2]


def fails(message: str) -> None:
    raise ValueError(message)


def fails_after(n: int) -> object:
    yield from items(n)
    raise RuntimeError("stopped half way")


def not_json() -> object:
    yield {1, 2}


def slow_items(n: int, pause: float) -> object:
    for i in range(n):
        time.sleep(pause)
        yield [os.getpid(), i]


def slow_warm() -> None:
    time.sleep(float(os.environ.get("LAB_TEST_WARM_S", "0")))
    warm()
