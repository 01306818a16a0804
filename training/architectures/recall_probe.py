"""The recall probe: a student's own key-value pairs asked of the three bundled MQAR models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import store
from ..data.tasks import FILLER
from .plan import ARCHS, MODELS_DIR
from .results import Probe, read_results
from .specs import new_model

MAX_KEY_CHARS = 16


@dataclass(frozen=True)
class Answer:
    """One model's answer to a probe."""

    answer: int | None  # the value it names (None: its most likely token is not a value)
    token: int  # its most likely next token
    confidence: float  # the probability of that token
    p_expected: float  # the probability of the right value's token


@dataclass(frozen=True)
class ProbeResult:
    tokens: list[int]  # the sequence the models read
    expected: int  # the right value
    query: str  # the key asked about
    answers: dict[str, Answer]  # arch -> its answer


def parse_probe(text: str, vocab: int, seq: int) -> tuple[list[tuple[str, int]], str]:
    """'A=3, B=17, C=5 ? B' → ([("A", 3), ("B", 17), ("C", 5)], "B"). Keys are words (letters,
    digits, _), values whole numbers 0 … vocab/2 − 1; pairs are separated by commas, semicolons or
    spaces; the query key follows a '?'. Raises a one-line ValueError saying what to fix."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("write some pairs and a query, e.g. 'A=3, B=17, C=5 ? B'")
    if text.count("?") != 1:
        raise ValueError("put exactly one '?' before the key to ask about, e.g. 'A=3, B=17 ? A'")
    body, query = (part.strip() for part in text.split("?"))
    top = vocab // 2 - 1
    pairs: list[tuple[str, int]] = []
    for item in filter(None, re.split(r"[,;\s]+", re.sub(r"\s*([=:])\s*", r"\1", body))):
        m = re.fullmatch(r"(\w+)[=:](-?\w+)", item)
        if not m:
            raise ValueError(f"{item!r} is not a pair: write key=value, e.g. A=3")
        key, value = m.group(1), m.group(2)
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(
                f"key {key[:20]!r}… is too long: use at most {MAX_KEY_CHARS} characters"
            )
        if not re.fullmatch(r"\d+", value) or int(value) > top:
            raise ValueError(f"value {value!r} of key {key!r}: use a whole number from 0 to {top}")
        if any(k == key for k, _ in pairs):
            raise ValueError(
                f"key {key!r} appears twice: MQAR keys are distinct, give each key one value"
            )
        pairs.append((key, int(value)))
    if not pairs:
        raise ValueError("no pairs before the '?': write key=value pairs, e.g. 'A=3, B=17 ? A'")
    if not re.fullmatch(r"\w+", query or ""):
        raise ValueError("after the '?' write one key from the pairs, e.g. '? A'")
    if query not in dict(pairs):
        raise ValueError(
            f"the query {query!r} is not among the keys ({', '.join(k for k, _ in pairs)})"
        )
    if len(pairs) > top:
        raise ValueError(
            f"{len(pairs)} pairs: these models know {top} distinct keys, use at most that many"
        )
    if 2 * len(pairs) + 1 > seq:
        raise ValueError(
            f"{len(pairs)} pairs and a query take {2 * len(pairs) + 1} tokens, beyond the "
            f"{seq} the models were trained on: use at most {(seq - 1) // 2} pairs"
        )
    return pairs, query


def probe_tokens(pairs: list[tuple[str, int]], query: str, vocab: int, gap: int = 0) -> list[int]:
    """The token sequence the MQAR models read: key i → token i + 1 (in order of appearance),
    value v → token vocab/2 + v; then `gap` filler tokens, then the queried key."""
    ids = {k: i + 1 for i, (k, _) in enumerate(pairs)}
    toks = [t for k, v in pairs for t in (ids[k], vocab // 2 + v)]
    return toks + [FILLER] * gap + [ids[query]]


def probe(models: dict, text: str, vocab: int, seq: int, gap: int = 0) -> ProbeResult:
    """Ask each model for the value of the queried key (a one-line ValueError for a bad probe)."""
    import torch  # torch inside the functions: the app imports this module at start, torch-free

    pairs, query = parse_probe(text, vocab, seq)
    if isinstance(gap, bool) or not (isinstance(gap, int) and gap >= 0):
        raise ValueError(f"gap={gap!r}: use a whole number of filler tokens, 0 or more")
    toks = probe_tokens(pairs, query, vocab, gap)
    if len(toks) > seq:
        raise ValueError(
            f"the probe is {len(toks)} tokens, beyond the {seq} the models were trained on: "
            f"shorten the gap to at most {seq - len(toks) + gap}"
        )
    expected = dict(pairs)[query]
    answers = {}
    with torch.inference_mode():
        for arch, model in models.items():
            p = torch.softmax(model(input_ids=torch.tensor([toks])).logits[0, -1].float(), -1)
            tok = int(p.argmax())
            answers[arch] = Answer(
                answer=tok - vocab // 2 if tok >= vocab // 2 else None,
                token=tok,
                confidence=round(float(p[tok]), 4),
                p_expected=round(float(p[vocab // 2 + expected]), 4),
            )
    return ProbeResult(tokens=toks, expected=expected, query=query, answers=answers)


_probe_models: dict = {}


def load_probe_models(path: str | Path | None = None) -> tuple[dict, Probe]:
    """The bundled MQAR models {arch: model} (hash-checked, safetensors) and the probe's settings
    (width, seq, vocab, specs); loaded once per process."""
    from safetensors.torch import load_model

    root = Path(path) if path else store.resolve("architectures", allow_hub=False)
    key = str(root.resolve())
    if key not in _probe_models:
        results = read_results(root)
        if results is None:
            raise store.CheckpointError(
                f"{root}: no architectures results; build them with "
                f"`{store.BUILD_COMMANDS['architectures']}`"
            )
        info = results.probe
        models = {}
        for arch in ARCHS:
            m = new_model(info.models[arch])
            load_model(m, str(root / MODELS_DIR / f"{arch}.safetensors"))
            models[arch] = m.eval()
        _probe_models[key] = (models, info)
    return _probe_models[key]
