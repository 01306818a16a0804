"""Writing a bundle: its .gitattributes, the checks on --out, and the atomic write."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .sources import PACKAGES, ROOT

MARK = "# Written by `python -m training spaces build`"  # first line of a bundle's .gitattributes
LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.ckpt",
    "*.gif",
    "*.gz",
    "*.h5",
    "*.jpeg",
    "*.jpg",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.parquet",
    "*.png",
    "*.pt",
    "*.pth",
    "*.safetensors",
    "*.tar",
    "*.tgz",
    "*.webp",
    "*.zip",
    "*.zst",
)
LFS_MIN_BYTES = 10 * 1024 * 1024  # the Hub refuses plain-git files this large: LFS them by path


def gitattributes_text(files: dict[str, Path | bytes]) -> str:
    """Binary patterns through LFS, plus any other file too large for plain git, by path."""
    lfs = "filter=lfs diff=lfs merge=lfs -text"
    large = [
        rel
        for rel, src in files.items()
        if _size(src) >= LFS_MIN_BYTES and not any(Path(rel).match(p) for p in LFS_PATTERNS)
    ]
    lines = [
        MARK + ": binary files go through Git LFS (the Hub refuses large binaries in plain git)."
    ]
    lines += [f"{p} {lfs}" for p in LFS_PATTERNS] + [f"{rel} {lfs}" for rel in sorted(large)]
    return "\n".join(lines) + "\n"


def _size(src: Path | bytes) -> int:
    return len(src) if isinstance(src, bytes) else src.stat().st_size


# ---------------------------------------------------------------- writing
def is_bundle(path: Path) -> bool:
    """A directory this command wrote (its .gitattributes starts with MARK)."""
    attrs = Path(path) / ".gitattributes"
    return (
        attrs.is_file()
        and attrs.read_text(errors="replace").startswith(MARK)
        and (Path(path) / "app.py").is_file()
    )


def is_bundle_set(path: Path) -> bool:
    """A directory `build all` wrote: bundles only."""
    children = list(Path(path).iterdir())
    return bool(children) and all(is_bundle(c) for c in children)


def _check_out(out: Path, previous: Callable[[Path], bool]) -> None:
    """--out may be new, an empty directory or a previous build of the same kind; nothing else."""
    resolved = out.resolve()
    for src in (ROOT, *(ROOT / p for p in (*PACKAGES, "spaces", "checkpoints"))):
        if resolved == src or (src != ROOT and resolved.is_relative_to(src)):
            where = f"{src.relative_to(ROOT)}/" if src != ROOT else "the repository root"
            raise ValueError(
                f"--out {out}: inside the lab's sources ({where}); choose another directory"
            )
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or previous(out))):
        raise ValueError(
            f"--out {out}: exists and is not a Space bundle this command wrote; "
            "choose another directory or remove it"
        )


def _replace_dir(final: Path, fill: Callable[[Path], object]) -> None:
    """Fill a temp sibling of `final`, then rename it into place: `final` is never half-written."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    try:
        fill(tmp)
        tmp.chmod(0o755)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():  # put the previous build back
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(files: dict[str, Path | bytes], dest: Path) -> None:
    """Copy bytes (never re-serialize) and write the generated files, in sorted order."""
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            target.write_bytes(src)
        else:
            shutil.copyfile(src, target)
