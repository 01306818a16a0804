"""The checkpoint store: safetensors + config + tokenizer + manifest.json with sha256 of every file.

Why a store and not `save_pretrained` alone: the apps must refuse a tampered or half-written
checkpoint with a message that names the file, and they must find a checkpoint without network.
Writes are atomic (a temp dir renamed into place); loads verify every hash before any weight is read;
nothing is ever unpickled (`use_safetensors=True`).

Resolution order for a named checkpoint (one resolver for the whole project):
explicit path -> environment variable -> bundled default in `checkpoints/` -> Hugging Face Hub repo id.
This module imports no torch at import time, so apps can read manifests and metrics cheaply.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .manifest import (  # noqa: F401 - part of store's API
    MANIFEST,
    METRICS,
    CheckpointError,
    code_version,
    kept_stage,
    manifest_digest,
    read_manifest,
    read_metrics,
    run_lock,
    sha256_file,
    verify,
    write_atomic,
    write_text_atomic,
)
from .schema import SchemaError, dump, parse

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DIR = REPO_ROOT / "checkpoints"

# name -> (environment variable, bundled sub-directory, default Hub repo id, default Hub revision).
# The Hub fallback uses the repo and exact commit pinned in HUB_PINS (written by
# `python -m training checkpoints publish NAME --owner ...`); without a pin it tries the default repo
# at the default revision ("main": a moving branch, so every message then says "no revision pinned").
KNOWN: dict[str, tuple[str, str, str, str]] = {
    "base": ("LAB_BASE_CHECKPOINT", "base", "llm-training-lab/world-base-cpu", "main"),
    "sft": ("LAB_SFT_CHECKPOINT", "sft", "llm-training-lab/world-sft-cpu", "main"),
    "sweep": ("LAB_SWEEP_RESULTS", "sweep", "llm-training-lab/world-sweep-cpu", "main"),
    "parallel": ("LAB_PARALLEL_RESULTS", "parallel", "llm-training-lab/world-parallel-cpu", "main"),
    "stability": (
        "LAB_STABILITY_RESULTS",
        "stability",
        "llm-training-lab/world-stability-cpu",
        "main",
    ),
    "inference": (
        "LAB_INFERENCE_RESULTS",
        "inference",
        "llm-training-lab/world-inference-cpu",
        "main",
    ),
    "architectures": (
        "LAB_ARCHITECTURES_RESULTS",
        "architectures",
        "llm-training-lab/world-architectures-cpu",
        "main",
    ),
    "mixture": ("LAB_MIXTURE_RESULTS", "mixture", "llm-training-lab/world-mixture-cpu", "main"),
    "dpo": ("LAB_DPO_CHECKPOINT", "dpo", "llm-training-lab/world-dpo-cpu", "main"),
}
BUILD_COMMANDS = {
    "base": "python -m training build-base --preset cpu",
    "sft": "python -m training build-sft --preset cpu",
    "sweep": "python -m training sweep --preset cpu",
    "parallel": "python -m training parallel --preset cpu",
    "stability": "python -m training stability --preset cpu",
    "inference": "python -m training inference --preset cpu",
    "architectures": "python -m training architectures --preset cpu",
    "mixture": "python -m training mixture --preset cpu",
    "dpo": "python -m training dpo --preset cpu",
}
RESULTS = "results.json"  # the one file of a results directory (sweep, parallel, stability, inference, architectures)
# The Hub pins, tracked in git: {"base": {"repo": "owner/world-base-cpu", "revision": "<40-hex commit>",
# "manifest_sha256": manifest_digest of what was uploaded, "published": ..., "code_version": ...}, ...}.
# Deliberately not under BUNDLED_DIR's control: it names where a checkpoint lives when none is bundled.
HUB_PINS = REPO_ROOT / "checkpoints" / "hub.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


T = TypeVar("T")


_results_cache: dict[tuple, Any] = {}  # (dir, schema, its files' sizes and mtimes) -> parsed


def _stamp(p: Path) -> tuple:
    """What changes when any file of a results directory is rewritten: (name, size, mtime) each."""
    return tuple(
        (f.relative_to(p).as_posix(), st.st_size, st.st_mtime_ns)
        for f in sorted(p.rglob("*"))
        if f.is_file() and (st := f.stat())
    )


def read_results(name: str, path: str | os.PathLike | None = None, *, schema: type[T]) -> T | None:
    """A results directory's `results.json` as `schema` (a frozen dataclass declared by the module
    that writes those results, which also offers `read_results(path=None)` for them), resolved
    like a checkpoint, never from the Hub, and hash-checked. None when there is none or it fails its
    hash check — apps then show how to build it; a body that does not match the schema raises
    CheckpointError naming the field and the command that rebuilds it. Handlers call this on every
    event: a directory whose files have not changed since (same sizes and mtimes) is not hashed and
    parsed again — the same object comes back, so callers must not modify it."""
    try:
        p = Path(path) if path else resolve(name, allow_hub=False)
        key = (str(p.resolve()), schema, _stamp(p))
        if key in _results_cache:
            return _results_cache[key]
        verify(p)
        body = json.loads((p / RESULTS).read_text())
    except (CheckpointError, OSError, json.JSONDecodeError):
        return None
    try:
        parsed = parse(schema, body)
    except SchemaError as e:
        rebuild = BUILD_COMMANDS.get(name, "rebuild them")
        raise CheckpointError(
            f"{name} results at {p} do not match this code: {e}; rebuild with `{rebuild}`"
        ) from None
    _results_cache[key] = parsed
    return parsed


def write_results(
    out: Path,
    body: Any,
    manifest: dict,
    files: dict[str, Path] | None = None,
    allow_nan: bool = True,
) -> Path:
    """Write a results directory atomically: `results.json` (= body, a schema dataclass or its
    dict), any `files` {relative name: source file} copied beside it, and the manifest (+ sha256
    of every file)."""
    if dataclasses.is_dataclass(body):
        body = dump(body)

    def fill(tmp: Path) -> dict:
        for rel, src in (files or {}).items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(Path(src).read_bytes())
        (tmp / RESULTS).write_text(json.dumps(body, indent=1, allow_nan=allow_nan) + "\n")
        return manifest

    return write_atomic(Path(out), fill)


def _pin_label(path: Path) -> str:
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def read_pins(path: Path | None = None) -> dict[str, dict[str, str]]:
    """The Hub pins ({} when the file does not exist); a malformed file is one clear error, never
    a silent fall back to "main"."""
    path = Path(path or HUB_PINS)
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(
            f"{_pin_label(path)}: unreadable Hub pin file ({e}); fix or delete it"
        ) from None
    if not isinstance(pins, dict):
        raise CheckpointError(f"{_pin_label(path)}: not a JSON object of pins; fix or delete it")
    return pins


def hub_source(name: str, path: Path | None = None) -> tuple[str, str, dict[str, str] | None]:
    """(repo id, revision, pin entry or None) the Hub fallback of checkpoint `name` uses: the pinned
    repo at its exact commit, else KNOWN's default repo at its default revision (pin None)."""
    if name not in KNOWN:
        raise CheckpointError(f"unknown checkpoint name {name!r} (known: {', '.join(KNOWN)})")
    path = Path(path or HUB_PINS)
    entry = read_pins(path).get(name)
    if entry is None:
        _, _, repo_id, revision = KNOWN[name]
        return repo_id, revision, None
    repo_id = entry.get("repo") if isinstance(entry, dict) else None
    revision = entry.get("revision") if isinstance(entry, dict) else None
    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id):
        raise CheckpointError(
            f'{_pin_label(path)}: {name!r} has no valid "repo" (owner/name): {repo_id!r}'
        )
    if not isinstance(revision, str) or not _COMMIT.fullmatch(revision):
        raise CheckpointError(
            f"{_pin_label(path)}: {name!r} revision {revision!r} is not a 40-hex commit; "
            f"re-publish with `python -m training checkpoints publish {name} --owner NAME`"
        )
    return repo_id, revision, entry


def write_pin(
    name: str,
    repo_id: str,
    revision: str,
    manifest: dict[str, Any],
    *,
    path: Path | None = None,
    code: str | None = None,
) -> Path:
    """Record (atomically) that checkpoint `name` lives at `repo_id`@`revision` (a 40-hex commit)."""
    if name not in KNOWN:
        raise CheckpointError(f"unknown checkpoint name {name!r} (known: {', '.join(KNOWN)})")
    if not _REPO_ID.fullmatch(repo_id):
        raise CheckpointError(f"cannot pin {name!r}: {repo_id!r} is not a Hub repo id (owner/name)")
    if not isinstance(revision, str) or not _COMMIT.fullmatch(revision):
        raise CheckpointError(
            f"cannot pin {name!r}: the Hub returned {revision!r}, not a 40-hex commit"
        )
    path = Path(path or HUB_PINS)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "repo": repo_id,
        "revision": revision,
        "manifest_sha256": manifest_digest(manifest),
        "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "code_version": code or code_version(),
    }
    fd = os.open(
        path.parent, os.O_RDONLY
    )  # a lock on the folder: two publishes never lose each other's pin
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        pins = read_pins(path)
        pins[name] = entry
        return write_text_atomic(path, json.dumps(pins, indent=2, sort_keys=True) + "\n")
    finally:
        os.close(fd)


def resolve(
    name: str = "base", path: str | os.PathLike | None = None, *, allow_hub: bool = True
) -> Path:
    """Find checkpoint `name`: explicit path -> env var -> bundled default -> Hub (the revision
    pinned in HUB_PINS; verified before it is returned)."""
    if name not in KNOWN:
        raise CheckpointError(f"unknown checkpoint name {name!r} (known: {', '.join(KNOWN)})")
    env, sub, _, _ = KNOWN[name]
    for source, candidate in (("path", path), (env, os.environ.get(env))):
        if candidate:
            p = Path(candidate).expanduser()
            if not (p / MANIFEST).is_file():
                raise CheckpointError(f"{source}={candidate}: no checkpoint there (no {MANIFEST})")
            return p
    bundled = BUNDLED_DIR / sub
    if (bundled / MANIFEST).is_file():
        return bundled
    if not allow_hub:
        raise CheckpointError(
            f"no {name!r} checkpoint: set {env} or build it with `{BUILD_COMMANDS[name]}`"
        )
    repo_id, revision, pin = hub_source(name)
    return download(repo_id, revision, name=name, pin=pin)


def download(
    repo_id: str,
    revision: str = "main",
    *,
    name: str = "checkpoint",
    pin: dict[str, str] | None = None,
) -> Path:
    """Fetch a checkpoint from the Hub at `revision` (safetensors, json, jsonl, txt, jinja only).
    A checkpoint of this project (`name` in KNOWN) is verified — the sha256 of every file its
    manifest lists, and with a `pin` the manifest itself — before its path is returned, so no
    weight from the Hub is read unchecked."""
    # huggingface_hub only when a checkpoint must come from the Hub: the default path is offline
    from huggingface_hub import snapshot_download

    ours = name in KNOWN
    if not ours:
        where = f"{repo_id}@{revision}"
    elif pin is not None:
        where = f"{repo_id}@{revision[:12]} (pinned in {_pin_label(HUB_PINS)})"
    else:
        where = (
            f"{repo_id}@{revision} (no revision pinned in {_pin_label(HUB_PINS)}: "
            f"publish and pin with `python -m training checkpoints publish {name} --owner NAME`)"
        )
    try:
        local = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                allow_patterns=["*.json", "*.safetensors", "*.jsonl", "*.txt", "*.jinja"],
            )
        )
    except Exception as e:  # offline, unknown repo, auth: all end as one clear line
        raise CheckpointError(
            f"no local {name!r} checkpoint and the Hub repo {where} could not be fetched "
            f"({type(e).__name__}); offline? build it with `{BUILD_COMMANDS.get(name, BUILD_COMMANDS['base'])}`"
        ) from None
    if ours:
        try:
            manifest = verify(local)
        except CheckpointError as e:
            raise CheckpointError(f"the Hub repo {where} failed its check: {e}") from None
        if pin is not None and pin.get("manifest_sha256") not in (None, manifest_digest(manifest)):
            raise CheckpointError(
                f"the Hub repo {where} holds other files than were published and pinned "
                f"(manifest digest {manifest_digest(manifest)[:12]}…, pin "
                f"{str(pin['manifest_sha256'])[:12]}…); re-publish {name!r}"
            )
        if pin is None:
            import logging

            logging.getLogger("lab").warning(
                "%r comes from the Hub repo %s at %r: no revision is pinned in %s",
                name,
                repo_id,
                revision,
                _pin_label(HUB_PINS),
            )
    return local


@dataclass
class Checkpoint:
    path: Path
    model: Any
    tokenizer: Any
    manifest: dict[str, Any]


def save(
    out_dir: Path,
    model,
    tokenizer,
    manifest: dict[str, Any],
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Save model (safetensors) + tokenizer + extra files + manifest atomically."""

    def fill(tmp: Path) -> dict[str, Any]:
        # shards of at most 7 MB keep every file small enough for a plain git repo / Space
        model.save_pretrained(tmp, safe_serialization=True, max_shard_size="7MB")
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        for rel, content in (extra_files or {}).items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        return manifest

    return write_atomic(Path(out_dir), fill)


def load(path: Path | str | None = None, name: str = "base", *, device: str = "cpu") -> Checkpoint:
    """Resolve, verify every hash, then load the model and tokenizer from safetensors only."""
    p = resolve(name, path)
    manifest = verify(p)
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    try:
        model = AutoModelForCausalLM.from_pretrained(p, use_safetensors=True).to(device).eval()
        tokenizer = PreTrainedTokenizerFast.from_pretrained(p)
    except (
        OSError,
        ValueError,
        RuntimeError,
    ) as e:  # RuntimeError: weights that do not fit config.json
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"{p}: could not load model/tokenizer ({first})") from None
    return Checkpoint(p, model, tokenizer, manifest)


_shared: dict[tuple[str, str], Checkpoint] = {}
_shared_lock = threading.Lock()  # one load at a time: a second caller waits and gets the same copy


def load_shared(
    path: Path | str | None = None, name: str = "base", *, device: str = "cpu"
) -> Checkpoint:
    """The process's one copy of a checkpoint that is only read (generation, evaluation, probes):
    `load`ed and hash-checked on first use, then shared by every app of the suite. A caller that
    changes weights (LoRA wraps a model in place, merging, training) must `load` its own copy."""
    p = resolve(name, path)
    key = (str(Path(p).resolve()), device)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = load(p, name, device=device)
        return _shared[key]
