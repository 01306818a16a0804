"""What every benchmark shares: machine facts, medians, and writing results/<name>.json."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BASE_CHECKPOINT = ROOT / "checkpoints" / "base"

if (
    str(ROOT) not in sys.path
):  # `python benchmarks/x.py` puts benchmarks/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from training.quiet import OtherLoad, wait_quiet  # noqa: E402,F401  (one quiet-machine check, shared with the labs)


def machine() -> dict:
    """The facts a reader needs to compare a number: cores, torch and its thread count, platform."""
    facts = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
    if hasattr(os, "getloadavg"):  # other work on the machine skews every number: record it
        facts["loadavg_1_5_15_at_end"] = [round(x, 2) for x in os.getloadavg()]
    try:
        facts["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        import torch

        facts.update(
            torch=torch.__version__,
            torch_threads=torch.get_num_threads(),
            cuda=torch.cuda.is_available(),
        )
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
    doc = {
        "benchmark": name,
        "command": command(),
        "quick": quick,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **body,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return out


def load_app(name: str):
    """spaces/<name>/app.py as a module (spaces/ is not a package), to call its handlers in-process."""
    from shared.apps import load_app as load

    return load(name, module_name=f"{name}_app")


# ---------------------------------------------------------------- the suite, served as a user starts it
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str  # http://127.0.0.1:<port>/
    pid: int  # also the process-group id (start_new_session)
    startup_s: float  # subprocess start -> first HTTP 200 on /
    log: Path  # the server's stdout + stderr

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def serve_suite(env_extra: dict | None = None, timeout: float = 60.0, root: Path = ROOT):
    """`python app.py` exactly as a user starts it, on a free port (GRADIO_SERVER_PORT /
    GRADIO_SERVER_NAME=127.0.0.1), in its own process group; yields a `Server` once `/` answers
    200 (RuntimeError with the log's tail if it exits or does not answer within `timeout`), and
    always stops that process group at the end. `env_extra` values of None remove the variable
    (e.g. LAB_BASE_CHECKPOINT=None: the bundled checkpoint, as on a fresh clone). `root`: the
    checkout whose app.py runs (benchmarks/redesign.py starts an older one beside this one)."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
        **(env_extra or {}),
    }
    env = {k: v for k, v in env.items() if v is not None}
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory(prefix="bench_suite_") as tmp:
        log = Path(tmp) / "app.log"
        with open(log, "w") as f:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "app.py"],
                cwd=root,
                env=env,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            while True:
                elapsed = time.perf_counter() - t0
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"app.py exited with {proc.returncode} after {elapsed:.1f}s:\n"
                        + log.read_text(errors="replace")[-3000:]
                    )
                if elapsed > timeout:
                    raise RuntimeError(
                        f"app.py gave no HTTP 200 on / within {timeout:.0f}s:\n"
                        + log.read_text(errors="replace")[-3000:]
                    )
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, socket.timeout):
                    pass
                time.sleep(0.05)
            yield Server(url, proc.pid, time.perf_counter() - t0, log)
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(
                        proc.pid, signal.SIGTERM
                    )  # the group of the process started here, by its id
                    proc.wait(10)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def group_cpu_seconds(pgid: int) -> float:
    """CPU-seconds (user + system) used so far by the live processes of process group `pgid`
    (e.g. a served suite, whose CPU `OtherLoad` would otherwise count as other processes')."""
    hz, total = os.sysconf("SC_CLK_TCK"), 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / hz
