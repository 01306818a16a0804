"""The first clicks' process: a student who clicks the moment the page is up gets an answer at once.

Why: torch, transformers and a checkpoint take ~3 s to load on 2 CPU cores. In the server's own
process they can only load after the first HTTP 200 (`ui.launch`'s background warm-up: loading
them earlier would delay the page), so a click at first paint used to wait ~5 s for them. This
process loads them from the very start, in parallel with the server (another core: a thread would
share the GIL), and answers the first clicks until the server's own warm-up is over; then it stops.

- `start("module:function", ...)` — the entry point (`app.py`, `spaces/<app>/app.py`) calls it first
  thing, before importing gradio: it starts `python -m shared.warm_process TARGETS`, which runs each
  target (a warm-up: no arguments) and then says it is ready. Nothing happens with LAB_WARM_UP=0 or
  LAB_WARM_PROCESS=0, on one CPU core, or on a ZeroGPU Space (SPACES_ZERO_GPU: the GPU is lent to
  the server's own process there).
- `run("module:function", *args)` — what a first-click handler calls instead of the function: its
  items (a generator's, or its one value) from this process while the server's warm-up runs (once
  this process is ready and free: a call waits for that, boundedly, since the process is ready
  sooner); otherwise, after that warm-up (`shared.inputs.warm_up_done`), from the function itself,
  here. Anything wrong with the process (an error, no answer within
  `ITEM_TIMEOUT_S`, a result that is not JSON) means the same: here, from the start. Arguments
  and items are JSON (strings, numbers, lists).
- `gpu.on_gpu(..., first_click=True)` marks a handler that reaches transformers only through
  `run`: the input layer then lets it start before the warm-up is over (`run` waits if it must).

Standard library only at import: `start` runs before anything heavy is loaded.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]  # the checkout, or a Space bundle's root
ITEM_TIMEOUT_S = 30.0  # the longest one item may take before the process is given up
STOP_WAIT_S = 60.0  # stop() lets a call in flight finish for at most this long
READY_WAIT_S = 30.0  # a call waits at most this long for the process to finish its warm-ups
LOCK_WAIT_S = 10.0  # ... and then this long for a call in flight (it runs one at a time)
OFF = "0"


class Failed(Exception):
    """The process could not answer this call (the caller runs it here instead). `in_step`: it
    said so itself and waits for the next call; otherwise it is given up (it may still be writing
    this call's items, or be gone)."""

    def __init__(self, message: str, in_step: bool = False):
        super().__init__(message)
        self.in_step = in_step


def _split(spec: str) -> tuple[str, str]:
    module, sep, name = spec.partition(":")
    if not sep or not all(p.isidentifier() for p in module.split(".")) or not name.isidentifier():
        raise ValueError(f"warm process target {spec!r}: write it as 'package.module:function'")
    return module, name


def target(spec: str) -> Callable[..., Any]:
    """The function `module:function` names (a one-line ValueError for a malformed name)."""
    module, name = _split(spec)
    return getattr(importlib.import_module(module), name)


def wanted(env: dict[str, str] | None = None) -> bool:
    """Whether `start` starts the process here (see the module docstring)."""
    env = os.environ if env is None else env
    if (
        env.get("LAB_WARM_UP", "1").strip() == OFF
        or env.get("LAB_WARM_PROCESS", "1").strip() == OFF
    ):
        return False
    if env.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "true"):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2


class _Process:
    def __init__(self, targets: tuple[str, ...], root: Path):
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(root), os.environ.get("PYTHONPATH")) if p
            ),
            "OMP_NUM_THREADS": "1",  # the other core is the server's
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.warm_process", *targets],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = threading.Event()
        self.lock = threading.Lock()  # one call at a time
        self.buffer = b""
        threading.Thread(target=self._wait_ready, name="lab-warm-process", daemon=True).start()

    def _wait_ready(self) -> None:
        try:
            if self.read(None) == {"ready": True}:
                self.ready.set()
        except Failed:
            pass

    def alive(self) -> bool:
        return self.ready.is_set() and self.proc.poll() is None

    def read(self, timeout: float | None) -> dict:
        """The next message; Failed when the process ends or stays silent for `timeout` s."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            if timeout is not None and not select.select([fd], [], [], timeout)[0]:
                raise Failed(f"no answer within {timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise Failed(f"it ended (exit code {self.proc.poll()})")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            msg = json.loads(line)
        except ValueError:
            raise Failed(f"an unreadable message: {line[:80]!r}") from None
        if not isinstance(msg, dict):
            raise Failed(f"an unreadable message: {line[:80]!r}")
        return msg

    def call(self, spec: str, args: tuple) -> Iterator[Any]:
        try:
            self.proc.stdin.write(
                (json.dumps({"target": spec, "args": list(args)}) + "\n").encode()
            )
            self.proc.stdin.flush()
        except (OSError, TypeError, ValueError) as e:
            raise Failed(f"could not send the call: {type(e).__name__}: {e}") from None
        while True:
            msg = self.read(ITEM_TIMEOUT_S)
            if "item" in msg:
                yield msg["item"]
            elif msg.get("end"):
                return
            elif "error" in msg:
                raise Failed(str(msg["error"]), in_step=True)
            else:
                raise Failed(f"an unexpected message: {str(msg)[:80]}")

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


_process: _Process | None = None
_start_lock = threading.Lock()


def start(*targets: str, root: Path = ROOT) -> bool:
    """Start the process (once) with these warm-up targets; False when it is not wanted here."""
    global _process
    for spec in targets:
        _split(spec)
    with _start_lock:
        if _process is not None or not wanted():
            return False
        _process = _Process(tuple(targets), Path(root))
    atexit.register(stop)
    return True


def ready() -> bool:
    """Whether the process is up and has finished its warm-ups."""
    p = _process
    return p is not None and p.alive()


def wait_ready(timeout: float) -> bool:
    """Block until the process is ready (True), or has ended, was never started, or `timeout`
    seconds passed (False)."""
    deadline = time.monotonic() + timeout
    p = _process
    while p is not None and p.proc.poll() is None:
        if p.ready.wait(0.05):
            return True
        if time.monotonic() > deadline:
            return False
    return False


def stop() -> None:
    """End the process (after a call in flight, for at most STOP_WAIT_S); later calls run here."""
    global _process
    with _start_lock:
        p, _process = _process, None
    if p is None:
        return
    got = p.lock.acquire(timeout=STOP_WAIT_S)
    try:
        p.stop()
    finally:
        if got:
            p.lock.release()
    logging.getLogger("lab").info("warm process: stopped (exit code %s)", p.proc.returncode)


def run(spec: str, *args: Any) -> Iterator[Any]:
    """The items of `module:function(*args)`: from the process before the server's warm-up is over
    (when it is ready and free), else here once that warm-up is over (see the module docstring)."""
    from shared import inputs  # noqa: PLC0415 - gradio: this module loads before it (see start)

    p = _process
    if (
        p is not None
        and not inputs.warm_up_done.is_set()
        and wait_ready(READY_WAIT_S)  # still loading: sooner than the server's warm-up
        and p.lock.acquire(timeout=LOCK_WAIT_S)
    ):
        try:
            t0 = time.perf_counter()
            yield from p.call(spec, args)
            inputs.log.info("warm process: %s answered in %.2f s", spec, time.perf_counter() - t0)
            return
        except Failed as e:
            inputs.log.warning("warm process: %s: %s; running it here", spec, inputs.one_line(e))
            if not e.in_step:
                threading.Thread(target=stop, daemon=True).start()
        except GeneratorExit:  # the caller stopped reading: the process's pipe holds the rest
            threading.Thread(target=stop, daemon=True).start()
            raise
        finally:
            p.lock.release()
    inputs.warm_up_done.wait(inputs.WARM_UP_WAIT_S)
    out = target(spec)(*args)
    if isinstance(out, Iterator):
        yield from out
    else:
        yield out


# ---------------------------------------------------------------- the process itself
def _serve(targets: list[str]) -> int:
    """`python -m shared.warm_process TARGETS`: run the warm-ups, say ready, answer calls (one JSON
    line each on stdin) until stdin closes. Messages go to the real stdout; anything the code
    prints goes to stderr (the server's log)."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")

    for spec in targets:
        t0 = time.perf_counter()
        try:
            target(spec)()
        except Exception as e:  # noqa: BLE001 - a warm-up is an optimisation: say why, go on
            print(f"warm process: warm-up {spec} failed: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            print(
                f"warm process: warm-up {spec} done in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
    send({"ready": True})
    for line in sys.stdin:
        try:
            req = json.loads(line)
            result = target(req["target"])(*req["args"])
            for item in result if isinstance(result, Iterator) else [result]:
                send({"item": item})
            send({"end": True})
        except Exception as e:  # noqa: BLE001 - the caller runs it itself and reports its own error
            send({"error": " ".join(f"{type(e).__name__}: {e}".split())[:300]})
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
