"""The model SFT starts from: this project's base checkpoint (bundled, a directory, or the Hub)
or any Hugging Face causal LM whose chat template marks the assistant's tokens.

Importable without torch: transformers loads inside `load_base`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training import store


@dataclass
class Base:
    model: Any
    tokenizer: Any
    name: str  # what the user asked for ("base", a path, a Hub id)
    path: Path
    manifest: dict  # the store manifest ({} for a plain Hugging Face directory)


def load_base(base: str | None = None, *, device: str = "cpu") -> Base:
    """The model to fine-tune. ``None``/"base": the resolved project base (bundled -> Hub);
    a directory with a manifest: a checkpoint of this project (hashes verified); any other
    directory or a Hub repo id ("user/model"): a Hugging Face model, read from safetensors only.
    Its chat template must have a ``{% generation %}`` block (assistant-only loss needs one)."""
    if base in (None, "", "base"):
        ck = store.load(None, "base", device=device)
        return Base(ck.model, ck.tokenizer, "base", ck.path, ck.manifest)
    p = Path(base).expanduser()
    if (p / store.MANIFEST).is_file():
        ck = store.load(p, "base", device=device)
        return Base(ck.model, ck.tokenizer, str(base), ck.path, ck.manifest)
    if p.exists() and not p.is_dir():
        raise ValueError(
            f"--base {base}: not a directory (give a checkpoint directory or a Hub model id)"
        )
    if not p.is_dir():
        if base.count("/") != 1 or base.startswith((".", "/", "~")):
            raise ValueError(
                f"--base {base}: no such directory, and not a Hub model id like user/model"
            )
        p = store.download(base, "main", name=base)
    # transformers only when a base model is loaded
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(p, use_safetensors=True).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(p)
    except (OSError, ValueError) as e:
        raise store.CheckpointError(
            f"{base}: could not load model/tokenizer ({str(e).splitlines()[0]})"
        ) from None
    if "{% generation %}" not in (tokenizer.chat_template or "").replace(
        "{%- generation %}", "{% generation %}"
    ):
        raise ValueError(
            f"--base {base}: its chat template has no {{% generation %}} block, which "
            "assistant-only loss needs; use a base built by this project"
        )
    return Base(model, tokenizer, str(base), p, {})


def portable_path(path: str | Path) -> str:
    """A path inside the repository as a repo-relative path (checkpoints move with the repo)."""
    p = Path(path).resolve()
    try:
        return p.relative_to(store.REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def base_record(b: Base) -> dict:
    """How an adapter names its base in its manifest: enough to find it and to check it."""
    rec = {
        "name": b.name if b.name == "base" or "/" not in b.name else portable_path(b.name),
        "path": portable_path(b.path),
    }
    if b.manifest:
        rec.update(
            preset=b.manifest.get("preset"),
            kind=b.manifest.get("kind"),
            files_sha256=store.manifest_digest(b.manifest),
        )
    return rec
