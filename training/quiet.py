"""Is the machine ours? Timing on a shared CPU measures the neighbours unless we check.

`OtherLoad` counts the cores *other* processes kept busy while a block ran (record it next to
every timing); `wait_quiet` waits until they go quiet before a measurement starts. Used by the
benchmarks (`benchmarks/common.py`) and by the labs that time things (`training.inference`).
No torch: reads /proc/stat and os.times() only.
"""

from __future__ import annotations

import os
import sys
import time


def _cpu_seconds() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its waited children)."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    t = os.times()
    return (sum(vals[:8]) - idle) / hz, t.user + t.system + t.children_user + t.children_system


class OtherLoad:
    """How many cores *other* processes kept busy while a benchmark ran (0 = the machine was ours).
    On a shared machine this is the first thing to read before trusting a number."""

    def __enter__(self):
        self.t0, (self.busy0, self.mine0) = time.perf_counter(), _cpu_seconds()
        return self

    def __exit__(self, *exc):
        busy, mine = _cpu_seconds()
        wall = time.perf_counter() - self.t0
        self.cores = max(0.0, (busy - self.busy0) - (mine - self.mine0)) / wall
        return False


def wait_quiet(max_wait_s: float = 300.0, threshold_cores: float = 0.3) -> float:
    """Wait (up to max_wait_s) until other processes use under threshold_cores for a 3-s window;
    return the seconds waited. Run a benchmark on a busy 2-core machine and it measures the neighbours.
    Messages go to stderr (a CLI's stdout stays its result)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait_s:
        with OtherLoad() as load:
            time.sleep(3)
        if load.cores < threshold_cores:
            break
        print(
            f"waiting for a quiet machine (others use {load.cores:.1f} cores)",
            file=sys.stderr,
            flush=True,
        )
    return time.perf_counter() - t0
