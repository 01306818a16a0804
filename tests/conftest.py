"""Shared fixtures: a real tiny checkpoint built by the project's CLI, and the suite served by
`python app.py` exactly as a user starts it. Both are session-scoped and built only when a test
asks for them."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 600  # the tiny preset takes ~1 min on 2 busy cores
START_TIMEOUT_S = 60  # process start to first HTTP 200 (the budget is 8 s; this is the hang guard)


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@pytest.fixture()
def log_records():
    """What the lab's logger (`shared.inputs.log`, "lab") says during the test, at INFO."""
    log = logging.getLogger("lab")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)  # as shared.inputs.guard sets it up in a served app
    yield records
    log.removeHandler(handler)
    log.setLevel(level)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny base checkpoint built by `python -m training build-base --preset tiny`, with its run
    dir in tmp too (a finished run dir would be resumed, and the repo's runs/ must stay untouched)."""
    work = tmp_path_factory.mktemp("tiny_base")
    out, log = work / "checkpoint", work / "build.log"
    with open(log, "w") as f:
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "training",
                    "build-base",
                    "--preset",
                    "tiny",
                    "--out",
                    str(out),
                    "--run-dir",
                    str(work / "run"),
                    "--quiet",
                ],
                cwd=ROOT,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=BUILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"build-base --preset tiny took over {BUILD_TIMEOUT_S}s:\n{_tail(log)}")
    if proc.returncode != 0 or not (out / "manifest.json").is_file():
        pytest.fail(f"build-base --preset tiny failed (exit {proc.returncode}):\n{_tail(log)}")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env_extra: dict, log: Path, *, cwd: Path = ROOT, python_flags: tuple[str, ...] = ()):
    """`python [flags] app.py` in `cwd` (the repo, or a Space bundle) on a free port; yields (url,
    seconds to first HTTP 200), then stops it. `env_extra` values of None remove the variable."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    temp = log.parent / "gradio-temp"  # the server's upload/cache folder, inspected by tests
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
        "GRADIO_TEMP_DIR": str(temp),
        **env_extra,
    }
    for k in [k for k, v in env.items() if v is None]:
        env.pop(k)
    with open(log, "w") as f:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, *python_flags, "app.py"],
            cwd=cwd,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        startup_s = None
        while time.monotonic() - t0 < START_TIMEOUT_S:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode} before serving:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        startup_s = time.monotonic() - t0
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        if startup_s is None:
            pytest.fail(f"app.py gave no HTTP 200 within {START_TIMEOUT_S}s:\n{_tail(log)}")
        yield url, startup_s
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def suite_server(tiny_base, tmp_path_factory):
    """`python app.py` serving the tiny checkpoint; yields (url, seconds to first HTTP 200)."""
    yield from _serve(
        {"LAB_BASE_CHECKPOINT": str(tiny_base)}, tmp_path_factory.mktemp("suite") / "app.log"
    )


@pytest.fixture(scope="session")
def bundled_server(tmp_path_factory):
    """`python app.py` exactly as a user starts it on a fresh clone: the bundled base and SFT
    checkpoints (the SFT adapter only fits the base it was trained on). Yields (url, its log file)."""
    log = tmp_path_factory.mktemp("bundled") / "app.log"
    gen = _serve({"LAB_BASE_CHECKPOINT": None, "LAB_SFT_CHECKPOINT": None}, log)
    url, _ = next(gen)
    yield url, log
    gen.close()


@pytest.fixture(scope="session")
def bundled_url(bundled_server) -> str:
    return bundled_server[0]


@pytest.fixture(scope="session")
def suite_url(suite_server) -> str:
    """The URL of the running suite (see `suite_server`)."""
    return suite_server[0]
