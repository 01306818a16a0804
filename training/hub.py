"""Publishing to the Hugging Face Hub: the one place that uploads (Space bundles and checkpoints).

`python -m training spaces publish APP|suite|all --owner NAME [--private] [--dry-run]` builds each
Space bundle (`training.deploy`) and pushes it to `{owner}/{SPACE_SLUGS[app]}` in one commit.
`python -m training checkpoints publish NAME --owner NAME [--private] [--dry-run]` verifies a bundled
checkpoint's sha256 manifest, pushes it with a generated model card to `{owner}/{repo name in
store.KNOWN}` in one commit, and pins the resulting commit in `store.HUB_PINS` (checkpoints/hub.json),
the revision `store.resolve()` downloads when no checkpoint is bundled.

Why one commit: a Space rebuilds on every commit, and a pinned revision must name one complete,
verified checkpoint, never half of one. A dry run builds and prints the plan locally: no token, no
network. Every failure is one line and exit status 2. No torch here.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import store

# The Space repo name of each app: one mapping, used by `spaces publish` and the README's links.
SPACE_SLUGS: dict[str, str] = {
    "scaling_explorer": "llm-lab-scaling-explorer",
    "sft_transformation": "llm-lab-sft-transformation",
    "parallelism": "llm-lab-parallelism",
    "architectures": "llm-lab-architectures",
    "suite": "llm-lab-suite",
}
NO_TOKEN = "no Hugging Face token: set HF_TOKEN or run `hf auth login`"
LICENSE = "apache-2.0"
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
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_SKIP_DIRS = {".git", "__pycache__"}

# What each checkpoint is, for its model card: (title, one paragraph, library_name or None, extra tags).
ABOUT: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "base": (
        "World base model (cpu preset)",
        "A small Llama-style decoder pre-trained from scratch on the project's synthetic world corpus "
        "(biographies of fictional people, mentions drawn from a Zipf law). It completes text; it "
        "does not follow instructions. It is the base model of the lab's apps and of its SFT adapter.",
        "transformers",
        ("llama", "text-generation", "pretraining"),
    ),
    "sft": (
        "World SFT LoRA adapter (cpu preset)",
        "A LoRA adapter (PEFT) that turns the world base model into an assistant answering questions "
        "about people it learned in pre-training: the same next-token objective on conversations. Load "
        "it on top of the base checkpoint.",
        "peft",
        ("lora", "sft", "text-generation"),
    ),
    "sweep": (
        "Measured scaling sweep (cpu preset)",
        "Results, not a model: 24 training runs (6 sizes x 4 IsoFLOP compute budgets) with their loss "
        "curves and long-tail losses, the Chinchilla Approach 2 and 3 fits, and the sweep's tokenizer.",
        None,
        ("scaling-laws",),
    ),
    "parallel": (
        "Real multi-process parallel runs (cpu preset)",
        "Results, not a model: DDP, tensor-parallel, FSDP2 and pipeline runs on 2 and 4 ranks "
        "(gloo) and one GPT-2 layer's measured activations.",
        None,
        ("distributed-training",),
    ),
    "stability": (
        "Training-stability runs (cpu preset)",
        "Results, not a model: the stability lab's pre-training runs (learning rate, warmup, "
        "clipping, initialisation, fp16/bf16 and loss scaling).",
        None,
        ("training-stability",),
    ),
    "inference": (
        "Inference measurements (cpu preset)",
        "Results, not a model: KV cache, int8 quantization, pruning and distillation measured "
        "on the world base model.",
        None,
        ("inference",),
    ),
    "architectures": (
        "LSTM vs Mamba vs transformer (cpu preset)",
        "Results and three small MQAR models (plain safetensors state dicts): parameter-matched "
        "LSTM, Mamba and transformer compared on language modelling, associative recall, "
        "selective copying, decode cost and gradient flow.",
        None,
        ("mamba", "lstm", "state-space-models"),
    ),
}


class HubError(RuntimeError):
    """Publishing failed or was refused; the message is one line saying what to do."""


# --- names ------------------------------------------------------------------------------------


def check_owner(owner: str | None) -> str:
    """A Hub user/organisation name: letters, digits, '-', '_', '.', at most 96, no '--' or '..',
    not starting or ending with '-' or '.'."""
    if not owner:
        raise HubError(
            "--owner is required to publish: the Hub user or organisation that owns the repos"
        )
    if len(owner) > 96 or not _OWNER.fullmatch(owner) or "--" in owner or ".." in owner:
        shown = owner if len(owner) <= 40 else owner[:40] + "…"
        raise HubError(
            f"--owner {shown!r}: not a Hub name (letters, digits, '-', '_', '.'; at most 96; "
            "no leading/trailing '-' or '.', no '--' or '..')"
        )
    return owner


def space_repo_id(owner: str, app: str) -> str:
    if app not in SPACE_SLUGS:
        raise HubError(
            f"no Space name for app {app!r} (known: {', '.join(SPACE_SLUGS)}); add it to "
            "training.hub.SPACE_SLUGS"
        )
    return f"{check_owner(owner)}/{SPACE_SLUGS[app]}"


def model_repo_id(owner: str, name: str) -> str:
    if name not in store.KNOWN:
        raise HubError(f"unknown checkpoint {name!r} (known: {', '.join(store.KNOWN)})")
    return f"{check_owner(owner)}/{store.KNOWN[name][2].split('/', 1)[1]}"


def git_version() -> str:
    """This project's git commit (full hash), with ' (dirty)' when the working tree has changes."""

    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=store.REPO_ROOT, capture_output=True, text=True, timeout=20
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        if not head:
            return "unknown (not a git checkout)"
        return head + (" (dirty)" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git failed)"


# --- plans ------------------------------------------------------------------------------------


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
    import hashlib

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


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """{"a": {"b": 1}} -> [("a.b", 1)]: every measured figure as one table row."""
    if isinstance(d, dict) and d:
        return [
            kv for k, v in d.items() for kv in _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        ]
    return [(prefix, d)]


def model_card(
    name: str,
    manifest: dict[str, Any],
    repo_id: str,
    files: dict[str, int],
    base_repo: str | None = None,
) -> str:
    """The README.md of a published checkpoint: front matter, what it is, how it was built (the
    manifest's preset and config, the rebuild command), its measured figures, files and license."""
    title, about, library, tags = ABOUT[name]
    front = [f"license: {LICENSE}"]
    if library:
        front.append(f"library_name: {library}")
    if name == "base":
        front.append("pipeline_tag: text-generation")
    if name == "sft" and base_repo:
        front.append(f"base_model: {base_repo}")
    front += [
        "tags:",
        *(f"- {t}" for t in ("llm-training-lab", "education", "synthetic-data", *tags)),
    ]
    lines = [
        "---",
        *front,
        "---",
        "",
        f"# {title}",
        "",
        about,
        "",
        "Trained on generated data only (the project's synthetic world corpus): no Hub dataset was "
        "used, so the card lists none.",
        "",
        "## How it was built",
        "",
        f"Rebuild it with `{manifest.get('rebuild') or store.BUILD_COMMANDS[name]}` "
        f"(preset `{manifest.get('preset', 'cpu')}`), from the LLM Training & Scaling Lab at code version "
        f"`{manifest.get('code_version', 'unknown')}`, created {manifest.get('created', '?')}.",
    ]
    how = {
        k: manifest[k]
        for k in (
            "preset",
            "config",
            "settings",
            "data",
            "n_records",
            "n_trainable",
            "steps_done",
            "seconds",
            "machine",
            "base",
        )
        if k in manifest
    }
    if how:
        lines += ["", "```json", json.dumps(how, indent=1, sort_keys=True), "```"]
    figures = manifest.get("metrics") or manifest.get("headline")
    lines += ["", "## Measured", ""]
    if figures:
        lines += [
            "| figure | value |",
            "|---|---|",
            *(f"| {k} | {json.dumps(v)} |" for k, v in _flatten(figures)),
        ]
        lines += ["", "Every figure is from the manifest written by the build (`manifest.json`)."]
    else:
        lines.append(
            "The measurements are in `results.json` (every run, its settings and its curves); the lab's "
            "apps draw them."
        )
    lines += [
        "",
        "## Files and use",
        "",
        "`manifest.json` holds the sha256 of every file; the lab verifies each one before reading any "
        "weight (`python -m training eval --checkpoint DIR`). Weights are safetensors only.",
        "",
        "| file | bytes |",
        "|---|---|",
        *(f"| {k} | {v:,} |" for k, v in sorted(files.items())),
        "",
        f"The lab fetches this repo at its pinned commit when no checkpoint is bundled "
        f"(`training.store.resolve({name!r})`, pin in `checkpoints/hub.json`).",
        "",
        *_use(name, repo_id),
        "## License",
        "",
        f"Apache-2.0 ({LICENSE}), like the code that built it.",
        "",
    ]
    return "\n".join(lines)


def _use(name: str, repo_id: str) -> list[str]:
    if name == "base":
        return [
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            f'model = AutoModelForCausalLM.from_pretrained("{repo_id}", use_safetensors=True)',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
            "```",
            "",
        ]
    if name == "sft":
        return [
            "```python",
            "from peft import PeftModel",
            f'model = PeftModel.from_pretrained(base_model, "{repo_id}")   # base_model: the world base model',
            "```",
            "",
        ]
    return []


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


# --- the Hub ----------------------------------------------------------------------------------


def token() -> str:
    """HF_TOKEN or the token saved by `hf auth login`; a missing one is a HubError."""
    from huggingface_hub import get_token

    try:
        tok = get_token()
    except Exception as e:  # an OIDC exchange or a token refresh can fail on its own
        raise HubError(f"no usable Hugging Face token ({type(e).__name__}: {_first(e)})") from None
    if not tok:
        raise HubError(NO_TOKEN)
    return tok


def _first(e: BaseException) -> str:
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:200]


# By class name anywhere in the error's MRO, so a client change (httpx, httpx2, requests) needs no new
# import here: httpx's TransportError covers connect/read/write errors and timeouts; requests has
# ConnectionError and Timeout; huggingface_hub's OfflineModeIsEnabled is a ConnectionError.
_NETWORK = {"TransportError", "ConnectionError", "Timeout"}


def explain(e: BaseException, repo_id: str, *, pins: bool = False) -> str:
    """One line for any failure talking to the Hub."""
    names = {c.__name__ for c in type(e).__mro__}
    if isinstance(e, (ConnectionError, TimeoutError)) or names & _NETWORK:
        return (
            f"the Hugging Face Hub could not be reached ({type(e).__name__}: {_first(e)}); check the "
            f"network or HF_ENDPOINT and retry. {repo_id}: nothing was committed"
            + (", nothing pinned" if pins else "")
        )
    status = getattr(getattr(e, "response", None), "status_code", None)
    if status == 401:
        return f"the Hub refused the token (401) for {repo_id}: set a valid HF_TOKEN or run `hf auth login`"
    if status == 403:
        return f"the token may not write to {repo_id} (403): use a token with write access to its owner"
    return f"publishing {repo_id} failed ({type(e).__name__}{f' {status}' if status else ''}: {_first(e)})"


def publish(plan: Plan, api, message: str, description: str = ""):
    """Create the repo if needed and push the plan as ONE commit (stale remote files deleted, so the
    repo equals the plan); return the CommitInfo. Failures become a one-line HubError."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    try:
        api.create_repo(
            plan.repo_id,
            repo_type=plan.repo_type,
            private=plan.private,
            exist_ok=True,
            **({"space_sdk": "gradio"} if plan.repo_type == "space" else {}),
        )
        keep = {u.path for u in plan.uploads} | {".gitattributes"}
        remote = api.list_repo_files(plan.repo_id, repo_type=plan.repo_type)
        ops = [
            CommitOperationAdd(
                path_in_repo=u.path, path_or_fileobj=u.data if u.data is not None else str(u.source)
            )
            for u in plan.uploads
        ]
        ops += [CommitOperationDelete(path_in_repo=f) for f in sorted(remote) if f not in keep]
        return api.create_commit(
            plan.repo_id,
            ops,
            commit_message=message,
            commit_description=description,
            repo_type=plan.repo_type,
        )
    except HubError:
        raise
    except Exception as e:  # network, HTTP status, auth: one line, never a traceback
        raise HubError(explain(e, plan.repo_id, pins=bool(plan.pin))) from None


def _make_api(tok: str):
    from huggingface_hub import HfApi

    return HfApi(token=tok)


class _quiet_hub:
    """huggingface_hub logs retries and warnings to stderr; the CLI reports in its own lines."""

    def __enter__(self):
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
        from huggingface_hub.utils import logging as hf_logging

        self._level, self._bars = hf_logging.get_verbosity(), are_progress_bars_disabled()
        hf_logging.set_verbosity_error()
        disable_progress_bars()
        return self

    def __exit__(self, *exc):
        from huggingface_hub.utils import enable_progress_bars
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity(self._level)
        if not self._bars:
            enable_progress_bars()
        return False


def _one_line(fn: Callable[..., int], *a, **kw) -> int:
    try:
        return fn(*a, **kw)
    except (HubError, store.CheckpointError, ValueError, OSError) as e:
        print(f"error: {_first(e)}", file=sys.stderr)
        return 2


def _oid(info) -> str:
    oid = getattr(info, "oid", None)
    if not isinstance(oid, str) or not re.fullmatch(r"[0-9a-f]{40}", oid):
        raise HubError(f"the Hub returned no commit hash ({oid!r}); nothing pinned")
    return oid


# --- spaces publish ---------------------------------------------------------------------------


def _deploy():
    from . import deploy

    return deploy


def publish_spaces(args, *, api=None) -> int:
    """`spaces publish APP|suite|all --owner NAME [--private] [--dry-run]`: build each bundle in a
    temp dir, then (unless dry run) one commit per Space. Exit 0, or 2 with one line."""
    return _one_line(_publish_spaces, args, api)


def _publish_spaces(args, api) -> int:
    owner = check_owner(getattr(args, "owner", None))
    dry = bool(getattr(args, "dry_run", False))
    private = bool(getattr(args, "private", False))
    deploy = _deploy()
    names = list(dict.fromkeys([*deploy.app_names(), "suite"]))
    app = args.app
    if app != "all" and app not in names:
        raise HubError(f"unknown app {app!r} (known: {', '.join(names)}, or all)")
    for n in names if app == "all" else [app]:
        space_repo_id(owner, n)  # every name has its Space before anything is built
    tok = None if dry else token()  # no token: one line before any work
    with tempfile.TemporaryDirectory(prefix="lab-spaces-") as tmp:
        reports = (
            deploy.build_all(Path(tmp)) if app == "all" else [deploy.build(app, Path(tmp) / app)]
        )
        plans = [
            plan_space(Path(r.out), owner, r.name, private=private, card=getattr(r, "card", None))
            for r in reports
        ]
        if dry:
            for plan in plans:
                print(plan.describe())
            print(
                f"dry run: {len(plans)} Space(s), {_mb(sum(p.total for p in plans))}; nothing uploaded, "
                "no network used"
            )
            return 0
        version = git_version()
        api = api or _make_api(tok)
        with _quiet_hub():
            for plan in plans:
                info = publish(
                    plan,
                    api,
                    f"Publish {plan.label} from llm-training-lab {version}",
                    f"{len(plan.uploads)} files, {_mb(plan.total)}; built by "
                    f"`python -m training spaces publish {plan.label.split()[-1]}`.",
                )
                print(
                    f"{plan.repo_id}: {len(plan.uploads)} files ({_mb(plan.total)}) committed as "
                    f"{_oid(info)} -> {plan.url}"
                )
    return 0


# --- checkpoints publish ----------------------------------------------------------------------


def publish_checkpoint(
    name: str,
    owner: str | None,
    *,
    private: bool = False,
    dry_run: bool = False,
    api=None,
    pins: Path | None = None,
) -> int:
    """`checkpoints publish NAME --owner NAME`: verify, upload in one commit, pin the commit."""
    return _one_line(_publish_checkpoint, name, owner, private, dry_run, api, pins)


def _publish_checkpoint(name, owner, private, dry_run, api, pins) -> int:
    owner = check_owner(owner)
    plan = plan_checkpoint(name, owner, private=private, pins=pins)  # verifies every sha256 first
    if dry_run:
        print(plan.describe())
        print("dry run: nothing uploaded, nothing pinned, no network used")
        return 0
    tok = token()
    api = api or _make_api(tok)
    version = git_version()
    digest = store.manifest_digest(plan.manifest or {})
    with _quiet_hub():
        info = publish(
            plan,
            api,
            f"Publish checkpoint {name} (files {digest[:12]}) from llm-training-lab {version}",
            f"{len(plan.uploads)} files, {_mb(plan.total)}; rebuild with "
            f"`{store.BUILD_COMMANDS[name]}`; manifest code version "
            f"{(plan.manifest or {}).get('code_version', 'unknown')}.",
        )
    oid = _oid(info)
    where = store.write_pin(name, plan.repo_id, oid, plan.manifest or {}, path=pins, code=version)
    print(
        f"{plan.repo_id}: {len(plan.uploads)} files ({_mb(plan.total)}) committed as {oid} -> {plan.url}"
    )
    print(f"pinned {name!r} to {plan.repo_id}@{oid} in {where}")
    return 0


def cli(args) -> int:
    """`python -m training checkpoints publish NAME --owner NAME [--private] [--dry-run]`."""
    if args.action != "publish":
        print(f"error: unknown action {args.action!r}", file=sys.stderr)
        return 2
    return publish_checkpoint(args.name, args.owner, private=args.private, dry_run=args.dry_run)
