"""What one publish would upload: a Plan per repo (one commit), each file's size and whether the Hub
stores it with LFS, built locally (no token, no network) from a Space bundle or a bundled checkpoint."""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import store
from .card import model_card
from .names import HubError, model_repo_id, space_repo_id

# What the Hub stores with LFS/Xet besides the repo's .gitattributes patterns (its preupload check
# decides at upload time; these rules predict it for the plan): files of 10 MB or more, binary files.
LFS_MIN_BYTES = 10_000_000
# The patterns of the .gitattributes the Hub writes into every new repo (the ones that can matter here).
HUB_LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.ckpt",
    "*.ftz",
    "*.gz",
    "*.h5",
    "*.joblib",
    "*.lfs.*",
    "*.mlmodel",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.ot",
    "*.parquet",
    "*.pb",
    "*.pickle",
    "*.pkl",
    "*.pt",
    "*.pth",
    "*.rar",
    "*.safetensors",
    "saved_model/**/*",
    "*.tar.*",
    "*.tar",
    "*.tflite",
    "*.tgz",
    "*.wasm",
    "*.xz",
    "*.zip",
    "*.zst",
    "*tfevents*",
)
_SKIP_DIRS = {".git", "__pycache__"}


@dataclass
class Upload:
    path: str  # path in the repo
    size: int
    lfs: bool  # predicted: stored with LFS/Xet on the Hub
    source: Path | None = None  # a file on disk ...
    data: bytes | None = None  # ... or bytes held in memory (verified weights, the generated card)


@dataclass
class Plan:
    """One repo, one commit: what would be uploaded where."""

    repo_id: str
    repo_type: str  # "space" | "model"
    private: bool
    uploads: list[Upload]
    label: str  # "app suite", "checkpoint base"
    card: str = ""  # the README.md text (model card) to show in a dry run
    pin: str = ""  # checkpoints: where the pin is recorded
    skipped: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    summary: str = ""  # Spaces: the card's main fields

    @property
    def total(self) -> int:
        return sum(u.size for u in self.uploads)

    @property
    def lfs(self) -> list[Upload]:
        return [u for u in self.uploads if u.lfs]

    @property
    def url(self) -> str:
        return (
            f"https://huggingface.co/{'spaces/' if self.repo_type == 'space' else ''}{self.repo_id}"
        )

    def describe(self) -> str:
        kind = "Space" if self.repo_type == "space" else "model repo"
        lines = [
            f"{kind} {self.repo_id} ({self.label}): {'private' if self.private else 'public'} "
            "(visibility applies when the repo is created; an existing repo keeps its own)",
            f"  {self.url}",
            *([f"  {self.summary}"] if self.summary else []),
        ]
        for u in self.uploads:
            lines.append(f"  {u.size:>12,}  {u.path}{'  [LFS]' if u.lfs else ''}")
        lines.append(
            f"  {self.total:>12,}  total: {len(self.uploads)} files, {_mb(self.total)}, in one commit"
        )
        lfs = self.lfs
        lines.append(
            f"  LFS (predicted): {len(lfs)} files, {_mb(sum(u.size for u in lfs))}"
            + (": " + ", ".join(u.path for u in lfs) if lfs else "")
        )
        if self.skipped:
            lines.append(f"  not uploaded: {', '.join(self.skipped)}")
        if self.pin:
            lines.append(f"  pin: {self.pin}")
        if self.card:
            lines += ["  README.md (model card):", *("    " + ln for ln in self.card.splitlines())]
        return "\n".join(lines)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _lfs_patterns(gitattributes: str) -> list[str]:
    out = []
    for line in gitattributes.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            out.append(parts[0])
    return out


def _matches(rel: str, pattern: str) -> bool:
    if "/" in pattern.strip("/"):
        return fnmatch.fnmatchcase(rel, pattern.lstrip("/")) or (
            pattern.endswith("/**/*") and rel.startswith(pattern[:-4])
        )
    return fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)


def is_lfs(rel: str, size: int, head: bytes, patterns: list[str] | tuple[str, ...]) -> bool:
    """Predict whether the Hub stores this file with LFS/Xet (a pattern, >= 10 MB, or binary)."""
    return size >= LFS_MIN_BYTES or b"\0" in head[:8192] or any(_matches(rel, p) for p in patterns)


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(8192)


def plan_space(
    folder: Path, owner: str, app: str, *, private: bool = False, card: dict | None = None
) -> Plan:
    """The plan for one built Space bundle: every file under `folder` (but .git/ and __pycache__/),
    its size on disk and whether it goes to LFS; every checkpoint bundled in it verified first."""
    folder = Path(folder)
    repo_id = space_repo_id(owner, app)
    if not (folder / "app.py").is_file() or not (folder / "README.md").is_file():
        raise HubError(f"{folder}: not a built Space bundle (no app.py or README.md)")
    for mf in sorted(folder.glob("checkpoints/**/" + store.MANIFEST)):
        store.verify(mf.parent)  # a Space never ships a checkpoint that fails its own manifest
    gitattributes = folder / ".gitattributes"
    patterns = [
        *HUB_LFS_PATTERNS,
        *(_lfs_patterns(gitattributes.read_text()) if gitattributes.is_file() else []),
    ]
    uploads, skipped = [], []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if _SKIP_DIRS.intersection(rel.split("/")) or p.suffix == ".pyc":
            if p.is_file():
                skipped.append(rel)
            continue
        if p.is_symlink():
            raise HubError(
                f"{folder}: {rel} is a symbolic link; a Space bundle holds plain files only"
            )
        if p.is_file():
            size = p.stat().st_size
            uploads.append(Upload(rel, size, is_lfs(rel, size, _head(p), patterns), source=p))
    plan = Plan(repo_id, "space", private, uploads, f"app {app}", skipped=skipped)
    if card:
        plan.summary = "card: " + ", ".join(
            f"{k} {card[k]}"
            for k in ("title", "sdk", "sdk_version", "suggested_hardware", "models")
            if k in card
        )
    return plan


def _read_verified(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the bytes of every file it lists, each checked against its sha256 — the
    bytes uploaded are the bytes checked (no window for a change in between)."""
    manifest = store.read_manifest(folder)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise store.CheckpointError(f"{folder / store.MANIFEST}: lists no files to verify")
    out = {}
    for rel, digest in sorted(files.items()):
        f = folder / rel
        if not f.is_file():
            raise store.CheckpointError(
                f"{f}: missing (listed in the manifest); rebuild it before publishing"
            )
        data = f.read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != digest:
            raise store.CheckpointError(
                f"{f}: sha256 mismatch (manifest {digest[:12]}…, file {got[:12]}…); "
                "refusing to publish a modified or corrupted checkpoint, rebuild it"
            )
        out[rel] = data
    return manifest, out


def plan_checkpoint(
    name: str, owner: str, *, private: bool = False, pins: Path | None = None
) -> Plan:
    """The plan for one bundled checkpoint (`store.BUNDLED_DIR/<sub>`): the manifest, every file it
    lists (sha256 verified, held in memory) and the generated model card README.md."""
    repo_id = model_repo_id(owner, name)
    folder = store.BUNDLED_DIR / store.KNOWN[name][1]
    if not (folder / store.MANIFEST).is_file():
        raise HubError(
            f"no bundled {name!r} checkpoint at {folder}; build it with `{store.BUILD_COMMANDS[name]}`"
        )
    manifest, data = _read_verified(folder)
    data = {store.MANIFEST: (folder / store.MANIFEST).read_bytes(), **data}
    if "README.md" in data:
        raise HubError(f"{folder}: its manifest lists README.md, which is the generated model card")
    sizes = {k: len(v) for k, v in data.items()}
    pin_path = Path(pins or store.HUB_PINS)
    base_pin = store.read_pins(pin_path).get("base") if name == "sft" else None
    card = model_card(
        name,
        manifest,
        repo_id,
        sizes,
        (base_pin or {}).get("repo") if isinstance(base_pin, dict) else None,
    )
    data["README.md"] = card.encode()
    uploads = [
        Upload(rel, len(b), is_lfs(rel, len(b), b[:8192], HUB_LFS_PATTERNS), data=b)
        for rel, b in sorted(data.items())
    ]
    listed = set(data)
    skipped = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in listed
    )
    label = pin_path
    try:
        label = pin_path.relative_to(store.REPO_ROOT)
    except ValueError:
        pass
    pin = f'{label} ["{name}"] = {{"repo": "{repo_id}", "revision": <the 40-hex commit this upload creates>}}'
    return Plan(
        repo_id,
        "model",
        private,
        uploads,
        f"checkpoint {name}",
        card=card,
        pin=pin,
        skipped=[s + " (not in the manifest)" for s in skipped],
        manifest=manifest,
    )
