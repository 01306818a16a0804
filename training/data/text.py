"""User text plugs into the same pipeline as the world corpus: a Dataset with a "text" column.

Sources: a local ``.txt`` file (documents separated by blank lines), a local ``.jsonl`` file (one
JSON object per line), or a Hugging Face Hub dataset name. Every failure a user can cause becomes a
``CorpusError`` with one line saying what to fix, so apps can show it as a ``gr.Error``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
from pathlib import Path

_TRUE = {"1", "ON", "YES", "TRUE"}


class CorpusError(ValueError):
    """One-line message saying what to fix."""


def _one_line(e: BaseException, limit: int = 200) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _from_texts(texts: list[str]):
    # datasets (~1 s) only when user text is loaded
    import datasets

    return datasets.Dataset.from_dict({"text": texts})


def _read_txt(path: Path) -> list[str]:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not UTF-8 text (byte {e.start}); re-save it as UTF-8") from None
    return [d.strip() for d in re.split(r"\n\s*\n", raw) if d.strip()]


def _read_jsonl(path: Path, text_field: str, max_records: int | None) -> list[str]:
    texts: list[str] = []
    with path.open(encoding="utf-8", errors="strict") as f:
        for lineno, line in enumerate(f, start=1):
            if max_records is not None and len(texts) >= max_records:
                break
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}: line {lineno} is not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise CorpusError(f"{path}: line {lineno} is not a JSON object")
            if text_field not in obj:
                raise CorpusError(
                    f"{path}: line {lineno} has no field {text_field!r} "
                    f"(fields: {', '.join(map(str, obj)) or 'none'}); set text_field"
                )
            if not isinstance(obj[text_field], str):
                raise CorpusError(f"{path}: line {lineno}: field {text_field!r} is not a string")
            texts.append(obj[text_field])
    return texts


@contextlib.contextmanager
def _offline_from_env():
    """datasets and huggingface_hub read HF_HUB_OFFLINE at import; honour it at call time too,
    so an offline session fails at once instead of retrying the network."""
    offline = any(
        os.environ.get(k, "").upper() in _TRUE for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )
    if not offline:
        yield False
        return
    import datasets.config
    import huggingface_hub.constants as hub

    saved = datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    try:
        yield True
    finally:
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = saved


def _load_hub(name: str, text_field: str, split: str, max_records: int | None) -> list[str]:
    import datasets

    with _offline_from_env() as offline:
        try:
            if max_records is not None:  # stream: only fetch what we keep
                ds = datasets.load_dataset(name, split=split, streaming=True)
                rows = list(itertools.islice(iter(ds), max_records))
                columns = list(rows[0]) if rows else list(ds.column_names or [])
            else:
                ds = datasets.load_dataset(name, split=split)
                columns = list(ds.column_names)
                rows = None
        except Exception as e:  # offline, unknown name, bad split, gated repo, ...
            hint = "offline: HF_HUB_OFFLINE=1" if offline else "offline? set HF_HUB_OFFLINE=0"
            raise CorpusError(
                f"could not load Hub dataset {name!r} split {split!r} "
                f"({hint}, and check the name): {_one_line(e)}"
            ) from None
    if text_field not in columns:
        raise CorpusError(
            f"Hub dataset {name!r} has no column {text_field!r} "
            f"(columns: {', '.join(columns)}); set text_field"
        )
    texts = [r[text_field] for r in rows] if rows is not None else ds[text_field]
    return [t for t in texts if isinstance(t, str)]


def load_text_dataset(
    source: str, *, text_field: str = "text", split: str = "train", max_records: int | None = None
):
    """A Dataset with one "text" column from a .txt/.jsonl file or a Hub dataset name."""
    source = str(source).strip()
    if not source:
        raise CorpusError("no corpus given: pass a .txt/.jsonl path or a Hub dataset name")
    if max_records is not None and max_records < 1:
        raise CorpusError(f"max_records must be >= 1, got {max_records}")
    path = Path(source).expanduser()
    local = path.suffix.lower() in (".txt", ".jsonl") or path.exists()
    if local:
        if not path.exists():
            raise CorpusError(f"file not found: {path}")
        if not path.is_file():
            raise CorpusError(f"{path} is not a file; pass a .txt or .jsonl file")
        try:
            if path.suffix.lower() == ".jsonl":
                texts = _read_jsonl(path, text_field, max_records)
            else:
                texts = _read_txt(path)
        except UnicodeDecodeError as e:
            raise CorpusError(
                f"{path}: not UTF-8 text (byte {e.start}); re-save it as UTF-8"
            ) from None
        except OSError as e:
            raise CorpusError(f"could not read {path}: {_one_line(e)}") from None
    else:
        texts = _load_hub(source, text_field, split, max_records)
    texts = [t for t in texts if t.strip()]
    if max_records is not None:
        texts = texts[:max_records]
    if not texts:
        raise CorpusError(f"{source}: no text found (empty file, or empty {text_field!r} values)")
    return _from_texts(texts)


def split_heldout(ds, fraction: float = 0.05, seed: int = 0):
    """(train, heldout): a seeded split of user text for held-out loss (at least one row each)."""
    if not 0.0 < fraction < 1.0:
        raise CorpusError(f"heldout fraction must be between 0 and 1, got {fraction}")
    if len(ds) < 2:
        raise CorpusError(f"need at least 2 documents to hold one out, got {len(ds)}")
    n_test = min(len(ds) - 1, max(1, round(fraction * len(ds))))
    parts = ds.train_test_split(test_size=n_test, seed=seed, shuffle=True)
    return parts["train"], parts["test"]
