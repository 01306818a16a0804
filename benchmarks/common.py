"""What every benchmark shares: machine facts, medians, and writing results/<name>.json."""
from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BASE_CHECKPOINT = ROOT / "checkpoints" / "base"

if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/, not the repo, on the path
    sys.path.insert(0, str(ROOT))


def machine() -> dict:
    """The facts a reader needs to compare a number: cores, torch and its thread count, platform."""
    facts = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
             "python": platform.python_version(), "processor": platform.processor() or platform.machine()}
    if hasattr(os, "getloadavg"):  # other work on the machine skews every number: record it
        facts["loadavg_1_5_15_at_end"] = [round(x, 2) for x in os.getloadavg()]
    try:
        facts["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        import torch
        facts.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                     cuda=torch.cuda.is_available())
    except ImportError:
        facts["torch"] = None
    return facts


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
    return the seconds waited. Run a benchmark on a busy 2-core machine and it measures the neighbours."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait_s:
        with OtherLoad() as load:
            time.sleep(3)
        if load.cores < threshold_cores:
            break
        print(f"waiting for a quiet machine (others use {load.cores:.1f} cores)", flush=True)
    return time.perf_counter() - t0


def median(xs):
    return statistics.median(xs) if xs else None


def command() -> str:
    return "python " + shlex.join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])


def write(name: str, body: dict, quick: bool = False) -> Path:
    """Write benchmarks/results/<name>.json (a --quick run writes <name>.quick.json, so a smoke
    check never overwrites a real measurement)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}{'.quick' if quick else ''}.json"
    doc = {"benchmark": name, "command": command(), "quick": quick,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(), **body}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return out
