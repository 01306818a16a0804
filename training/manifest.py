"""The files of a checkpoint or results directory: the sha256 of each, the manifest that lists
them, atomic writes (a directory or a file appears whole or not at all), the build lock, and the
training curve beside a checkpoint. No torch, no Hub: `training.store` builds on this (and
re-exports these names: `store.verify`, `store.write_atomic`, …)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "manifest.json"
METRICS = "metrics.jsonl"


class CheckpointError(RuntimeError):
    """A checkpoint could not be found, read or trusted; the message says what to do."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_version() -> str:
    """The git commit of this code, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_atomic(final_dir: Path, fill: Callable[[Path], dict[str, Any]]) -> Path:
    """Create `final_dir` atomically: `fill(tmp)` writes files into a temp sibling dir and returns
    the manifest body; hashes of every file are added and the dir is renamed into place.
    If `fill` raises, nothing is left behind and an existing `final_dir` is untouched."""
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.tmp-", dir=final_dir.parent))
    try:
        manifest = fill(tmp)
        files = {
            p.relative_to(tmp).as_posix(): sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        manifest = {
            **manifest,
            "files": files,
            "code_version": code_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        old = None
        if final_dir.exists():
            old = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
            final_dir.rename(old)
        tmp.rename(final_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final_dir


def write_text_atomic(path: Path, text: str) -> Path:
    """Write one text file atomically (a temp sibling renamed into place): a reader never sees
    half of it, and a crash leaves the old file or none."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def kept_stage(path: Path, fn: Callable[[], dict], log: Callable[[str], None]) -> dict:
    """fn()'s result + its seconds, kept as JSON at `path`: a build that finds the file does not
    redo the stage (named in `log`'s lines by the file's stem)."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    log(f"{path.stem} …")
    t0 = time.monotonic()
    result = {**fn(), "seconds": round(time.monotonic() - t0, 1)}
    write_text_atomic(path, json.dumps(result, indent=1))
    log(f"{path.stem} done in {result['seconds']} s")
    return result


@contextmanager
def run_lock(run_dir: Path, *, wait: bool = False):
    """Hold an exclusive lock on a build's working directory (released when the process ends,
    however it ends). ``wait=False``: a second build there fails at once with a one-line message."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise CheckpointError(
                f"{run_dir}: another build is running there; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_manifest(path: Path) -> dict[str, Any]:
    mf = Path(path) / MANIFEST
    if not mf.is_file():
        raise CheckpointError(
            f"{path}: no {MANIFEST}; not a checkpoint of this project "
            "(build one with `python -m training build-base`)"
        )
    try:
        return json.loads(mf.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{mf}: unreadable manifest ({e.msg} at line {e.lineno})") from None


def verify(path: Path) -> dict[str, Any]:
    """Check every file listed in the manifest against its sha256; return the manifest."""
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise CheckpointError(f"{path / MANIFEST}: lists no files to verify")
    for name, digest in files.items():
        f = path / name
        if not f.is_file():
            raise CheckpointError(
                f"{f}: missing (listed in the manifest); rebuild or re-download it"
            )
        got = sha256_file(f)
        if got != digest:
            raise CheckpointError(
                f"{f}: sha256 mismatch (manifest {digest[:12]}…, file {got[:12]}…); "
                "the file was modified or corrupted, rebuild or re-download it"
            )
    return manifest


def manifest_digest(manifest: dict[str, Any]) -> str:
    """One sha256 naming a checkpoint's exact contents (over its manifest's file hashes)."""
    files = manifest.get("files") or {}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The training curve stored beside a checkpoint (one JSON object per line)."""
    f = Path(path) / METRICS
    if not f.is_file():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
