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

from training.quiet import OtherLoad, wait_quiet  # noqa: E402,F401  (one quiet-machine check, shared with the labs)


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


def load_app(name: str):
    """spaces/<name>/app.py as a module (spaces/ is not a package), to call its handlers in-process."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "spaces" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
