"""Start one real distributed run from Python (the app, the bundled build) and always clean up.

`run(kind, ranks, timeout_s, **options)` starts

    python -m torch.distributed.run --standalone --nproc_per_node R -m training.parallel.<folder>.run ... --out <tmp>

in its own session (so one signal reaches torchrun and everything in its process group) with one
thread per rank, waits at most `timeout_s`, and returns the run's result dict. On a timeout, an
error or an interrupt every process of the run is stopped — torchrun's group with SIGTERM (torchrun
then stops its ranks), then SIGKILL for whatever is left, including the ranks (torchrun starts each
in a session of its own) — and one line is raised. Temporary files are always removed.
`--standalone` lets torchrun pick a free port, so runs never collide on one.

`live_run(kind, ranks, **options)` is the app's entry point: one run at a time, small defaults,
30 s in all. Bad input raises a one-line ValueError before anything starts; a failed or timed-out
run raises RunError. Imports no torch.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .. import live
from .results import LiveLaunch, run_result

REPO_ROOT = Path(__file__).resolve().parents[2]

# kind (the key of the results JSON) -> folder under training/parallel/
KINDS = {
    "ddp": "data_parallel",
    "tensor_parallel": "tensor_parallel",
    "fsdp": "fsdp",
    "pipeline": "pipeline_parallel",
}
# option -> (lowest, highest) accepted; each kind takes only its own options
RANGES = {
    "width": (8, 1024),
    "blocks": (1, 48),
    "batch": (1, 1024),
    "microbatches": (1, 64),
    "tokens": (1, 8192),
    "repeats": (1, 20),
}
OPTIONS = {
    "ddp": ("width", "blocks", "batch", "repeats"),
    "tensor_parallel": ("width", "tokens", "repeats"),
    "fsdp": ("width", "blocks", "batch", "repeats"),
    "pipeline": ("schedule", "microbatches", "batch", "width", "blocks"),
}
SCHEDULES = ("gpipe", "1f1b")
MAX_OVERSUBSCRIBED_RANKS = 4

LIVE_TIME_LIMIT_S = 30.0
# every option a run gets unless the caller sets it: small enough that a 2-rank run of each kind
# returns in well under LIVE_TIME_LIMIT_S on 2 CPU cores
DEFAULTS = {
    "ddp": {"width": 128, "blocks": 4, "batch": 32, "repeats": 5},
    "tensor_parallel": {"width": 128, "tokens": 256, "repeats": 5},
    "fsdp": {"width": 128, "blocks": 4, "batch": 8, "repeats": 5},
    "pipeline": {"schedule": "1f1b", "microbatches": 4, "batch": 32, "width": 128, "blocks": 12},
}
_live_lock = threading.Lock()
last_pids: list[int] = []  # every process of the latest run (torchrun and its ranks), for checks


class RunError(RuntimeError):
    """A run failed or ran past its time limit; the message is one line."""


def cpu_count() -> int:
    return os.cpu_count() or 1


def validate(kind: str, ranks, allow_oversubscribe: bool = False, **options) -> list[str]:
    """Check every input; return the run module's command-line options, every one explicit
    (the kind's DEFAULTS where not given). Bad input raises a one-line ValueError."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    cores = cpu_count()
    top = max(cores, MAX_OVERSUBSCRIBED_RANKS) if allow_oversubscribe else cores
    if not isinstance(ranks, int) or isinstance(ranks, bool) or not 2 <= ranks <= top:
        raise ValueError(
            f"ranks must be a whole number from 2 to {top} (got {ranks!r}); "
            f"this machine has {cores} CPU core{'s' if cores != 1 else ''}, one per rank"
        )
    for name in options:
        if name not in OPTIONS[kind]:
            raise ValueError(
                f"{kind} takes no option {name!r} (it takes {', '.join(OPTIONS[kind])})"
            )
    o = {**DEFAULTS[kind], **options}
    for name, value in o.items():
        if name == "schedule":
            if value not in SCHEDULES:
                raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)} (got {value!r})")
            continue
        lo, hi = RANGES[name]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"{name} must be a whole number from {lo} to {hi} (got {value!r})")
    if kind == "pipeline" and o["blocks"] % ranks:
        raise ValueError(f"{o['blocks']} blocks do not split evenly into {ranks} pipeline stages")
    if kind == "pipeline" and o["batch"] % o["microbatches"]:
        raise ValueError(
            f"the batch ({o['batch']}) must split evenly into {o['microbatches']} micro-batches"
        )
    if kind == "ddp" and o["batch"] % ranks:
        raise ValueError(f"the global batch ({o['batch']}) must split evenly across {ranks} ranks")
    if kind == "fsdp" and o["width"] % ranks:
        raise ValueError(
            f"width ({o['width']}) must divide by the {ranks} ranks, so every shard is exactly 1/N"
        )
    if kind == "tensor_parallel" and (4 * o["width"]) % ranks:
        raise ValueError(
            f"the MLP's 4·width ({4 * o['width']}) columns must split evenly across {ranks} ranks"
        )
    args: list[str] = []
    for name, value in o.items():
        args += ["--schedules", value] if name == "schedule" else [f"--{name}", str(value)]
    return args


def _children() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc (Linux) or `ps` (macOS)."""
    table: dict[int, list[int]] = {}
    proc = Path("/proc")
    if proc.is_dir():
        for d in proc.iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                table.setdefault(ppid, []).append(int(d.name))
        return table
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True, timeout=10
    ).stdout
    for line in out.splitlines():
        pid, ppid = map(int, line.split())
        table.setdefault(ppid, []).append(pid)
    return table


def _descendants(pid: int) -> list[int]:
    table, out, todo = _children(), [], [pid]
    while todo:
        for c in table.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _signal(pids, sig) -> None:
    for p in pids:
        for kill in (os.killpg, os.kill):  # each rank leads its own process group
            try:
                kill(p, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie is dead, only not yet reaped
        text = stat.read_text()
        return text[text.rfind(")") + 2] != "Z"
    except OSError:
        return True


def _stop(proc: subprocess.Popen) -> None:
    """Stop torchrun and every rank it started: SIGTERM, a grace period, then SIGKILL."""
    pids = [proc.pid] + _descendants(proc.pid)
    last_pids.extend(p for p in pids if p not in last_pids)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (proc.poll() is None or any(_alive(p) for p in pids[1:])):
        time.sleep(0.1)
    _signal(pids + [p for p in _descendants(proc.pid) if p not in pids], signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _error_line(log: str) -> str:
    """The run's own `error: ...` line if it printed one, else the last exception line of a rank
    (`[rank1]: SomeError: why`; torchrun's own `ChildFailedError` wrapper says nothing), else how a
    rank died if a signal killed it (torchrun's `Signal 11 (SIGSEGV) received by PID …`), else the
    last line of its output that is not a rule (torchrun ends its report with a line of "=")."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("error: "):
            return ln[len("error: ") :]
    exception = r"^(\[rank\d+\]:\s*)?[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:?"
    for ln in reversed(lines):
        if re.match(exception, ln) and "ChildFailedError" not in ln:
            return ln[:300]
    for ln in reversed(lines):
        if re.search(r"Signal \d+ \(SIG\w+\)", ln):
            return ln[:300]
    text = [ln for ln in lines if set(ln) - set("=-_ ")]
    return text[-1][:300] if text else "no output"


def _wait(proc: subprocess.Popen, deadline: float, stop: threading.Event | None) -> int:
    """The exit code, or TimeoutExpired at `deadline` or once `stop` is set."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0 or (stop is not None and stop.is_set()):
            raise subprocess.TimeoutExpired(proc.args, 0)
        try:
            return proc.wait(timeout=min(left, 0.2 if stop is not None else left))
        except subprocess.TimeoutExpired:
            continue


def _command(kind: str, ranks: int, args: list[str], out: Path) -> list[str]:
    """torchrun (as `python -m torch.distributed.run`) starting `ranks` copies of the kind's module."""
    module = f"training.parallel.{KINDS[kind]}.run"
    return [sys.executable, "-m", "torch.distributed.run", "--standalone"] + [
        *("--nproc_per_node", str(ranks), "-m", module, *args, "--out", str(out))
    ]


def run_raw(
    kind: str,
    ranks: int,
    timeout_s: float = 120.0,
    *,
    allow_oversubscribe: bool = False,
    schedules: tuple[str, ...] | None = None,
    stop: threading.Event | None = None,
    **options,
) -> dict:
    """Validate, launch, wait, clean up; return the run module's whole result JSON. `schedules`
    (pipeline only) runs several schedules in one launch: {"runs": [one entry each]}. Setting
    `stop` ends the run early (its processes stopped) with a one-line RunError."""
    args = validate(kind, ranks, allow_oversubscribe, **options)
    if schedules is not None:
        if (
            kind != "pipeline"
            or "schedule" in options
            or not schedules
            or any(s not in SCHEDULES for s in schedules)
        ):
            raise ValueError(
                f"schedules: a pipeline-only list drawn from {', '.join(SCHEDULES)}, instead of schedule"
            )
        i = args.index("--schedules")
        args[i + 1 : i + 2] = list(schedules)
    if not (isinstance(timeout_s, (int, float)) and 0 < timeout_s <= 3600):
        raise ValueError(f"timeout_s must be a number of seconds in (0, 3600] (got {timeout_s!r})")
    last_pids.clear()
    with tempfile.TemporaryDirectory(prefix="lab-parallel-") as tmp:
        out, log_path = Path(tmp) / "result.json", Path(tmp) / "log.txt"
        cmd = _command(kind, ranks, args, out)
        # TMPDIR: torchrun's torchelastic_* folders go inside `tmp`, removed with it
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TMPDIR": tmp}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        t0 = time.perf_counter()
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        last_pids.append(proc.pid)
        try:
            rc = _wait(proc, t0 + timeout_s, stop)
        except subprocess.TimeoutExpired:
            _stop(proc)
            if stop is not None and stop.is_set():
                raise RunError(f"the {kind} run was stopped (the page closed)") from None
            raise RunError(
                f"the {kind} run on {ranks} ranks took longer than {timeout_s:g} s and was stopped"
            ) from None
        except BaseException:  # KeyboardInterrupt, a cancelled app event, ...
            _stop(proc)
            raise
        finally:
            if proc.poll() is None:
                _stop(proc)
        if rc != 0 or not out.is_file():
            why = _error_line(log_path.read_text(errors="replace"))
            raise RunError(f"the {kind} run on {ranks} ranks failed (exit {rc}): {why}")
        result = json.loads(out.read_text())
        result["command"] = result.get("command", "").replace(str(out), "result.json")
    result["wall_s"] = round(time.perf_counter() - t0, 3)
    return result


def run(
    kind: str,
    ranks: int,
    timeout_s: float = 120.0,
    *,
    allow_oversubscribe: bool = False,
    stop: threading.Event | None = None,
    **options,
) -> dict:
    """One run; the result as the results JSON holds it under `kind` (for "pipeline": one schedule's entry)."""
    result = run_raw(
        kind, ranks, timeout_s, allow_oversubscribe=allow_oversubscribe, stop=stop, **options
    )
    if kind == "pipeline":
        return {
            **result["runs"][0],
            "machine": result["machine"],
            "command": result["command"],
            "wall_s": result["wall_s"],
        }
    return result


def live_run(kind: str, ranks: int = 2, **options) -> live.Events:
    """The app's run (`training.live`): one at a time, small defaults, at most LIVE_TIME_LIMIT_S
    seconds; closing the events stops its processes. One progress event as the ranks start, then
    a `LiveLaunch` (the run typed as a bundled one). Bad input raises a one-line ValueError before anything starts."""
    validate(kind, ranks, **options)  # bad input fails before the lock is taken

    def work(emit, stop) -> LiveLaunch:
        emit(0, 1, f"launching {ranks} processes")
        out = run(kind, ranks, LIVE_TIME_LIMIT_S, stop=stop, **options)
        return LiveLaunch(kind, run_result(kind, out), out["wall_s"])

    return live.start(
        _live_lock,
        work,
        busy=f"a run is already in progress; wait for it to finish ({LIVE_TIME_LIMIT_S:g} s at most)",
        name=f"parallel-{kind}",
    )
