"""SFT data: conversations built from the world's QA pairs, readers for the record shapes the
course uses, and a noisy copy for the LIMA quality-vs-quantity ablation.

Every record is conversational (a ``messages`` list of ``{"role", "content"}``), the shape TRL's
``SFTTrainer`` takes directly; with ``assistant_only_loss=True`` the chat template's
``{% generation %}`` block puts loss on exactly each answer and its ``<|end|>``.

Shapes accepted by :func:`load_sft_records` (detected per record):

- messages:          ``{"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}``
- ShareGPT (course): ``{"conversations": [{"from": "human", "value": ...}, {"from": "assistant", ...}]}``
- prompt/completion: ``{"prompt": "...", "completion": "..."}`` (or TRL's conversational variant,
  both fields lists of messages)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from training.data.world import ATTRIBUTES, QUESTIONS, TEMPLATES, World
from training.tokenizer import plain_text

ROLES = ("system", "user", "assistant")
# ShareGPT "from" values -> chat roles. The course writes "human"/"assistant"; the original
# ShareGPT dumps write "human"/"gpt".
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}
TO_SHAREGPT = {"user": "human", "assistant": "assistant", "system": "system"}

# Sub-stream tags for SeedSequence([seed, TAG, ...]).
_MULTI, _ORDER, _NOISE = 101, 102, 103

# Sloppy answers for the LIMA ablation: the fact is still there, the format is not.
_RAMBLE = (
    "Well, that is a good question, and I am happy to help with it. {answer} "
    "I hope this helps, and there is a lot more one could say about {name}, "
    "so feel free to ask me anything else"
)
_TERSE = "{value}"


# ---------------------------------------------------------------------------------------------
# Conversations from the world
# ---------------------------------------------------------------------------------------------


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def conversations(
    world: World,
    split: str = "sft",
    *,
    multi_turn_fraction: float = 0.2,
    seed: int = 0,
    max_turns: int = 3,
):
    """SFT records for the people of ``split`` ("sft", "heldout", or None for everybody).

    One single-turn record per (person, attribute, phrasing) QA pair: user = the question,
    assistant = the world's canonical one-sentence answer. Then multi-turn records (2 to
    ``max_turns`` questions about one person, distinct attributes, seeded phrasings) are added so
    that they make up ``multi_turn_fraction`` of the returned records. (``max_turns=2`` suits a
    small context: with the tiny preset's 512-token vocabulary a 3-question conversation runs to
    ~155 tokens, over its n_ctx of 128.) Rows are shuffled with ``seed`` (so that
    ``.select(range(n))`` is a representative subset). Deterministic for a given world and seed.

    Columns: ``messages``, ``person_id``, ``attributes`` (one per assistant turn), ``phrasings``
    (question template index per turn), ``n_turns``.
    """
    # datasets (~1 s) only when SFT records are built
    import datasets

    if not 0.0 <= multi_turn_fraction < 1.0:
        raise ValueError(f"multi_turn_fraction must be in [0, 1), got {multi_turn_fraction!r}")
    if max_turns not in (2, 3):
        raise ValueError(f"max_turns must be 2 or 3, got {max_turns!r}")
    qa = world.qa_dataset(split)
    rows: list[dict[str, Any]] = [
        _record(r["person_id"], [(r["attribute"], r["phrasing"], r["question"], r["answer"])])
        for r in qa
    ]
    people = [p for p in world.people if split is None or p.split == split]
    n_single = len(rows)
    n_multi = (
        int(round(n_single * multi_turn_fraction / (1.0 - multi_turn_fraction))) if people else 0
    )
    rng = _rng(seed, _MULTI)
    for _ in range(n_multi):
        p = people[int(rng.integers(len(people)))]
        n_turns = int(rng.integers(2, max_turns + 1))  # 2..max_turns questions
        attrs = [ATTRIBUTES[i] for i in rng.choice(len(ATTRIBUTES), size=n_turns, replace=False)]
        turns = []
        for a in attrs:
            ph = int(rng.integers(len(QUESTIONS[a])))
            turns.append((a, ph, QUESTIONS[a][ph].format(name=p.full_name), world.answer(p, a)))
        rows.append(_record(p.id, turns))
    order = _rng(seed, _ORDER).permutation(len(rows))
    rows = [rows[i] for i in order]
    if not rows:
        return datasets.Dataset.from_dict(
            {"messages": [], "person_id": [], "attributes": [], "phrasings": [], "n_turns": []}
        )
    return datasets.Dataset.from_list(rows)


def max_turns_for(n_ctx: int) -> int:
    """The most questions per conversation that fit a context: 3-question conversations run to
    ~155 tokens with the tiny 512-token vocabulary, over a 128-token context."""
    return 2 if n_ctx < 256 else 3


def _record(person_id: int, turns: list[tuple[str, int, str, str]]) -> dict[str, Any]:
    messages = []
    for _, _, question, answer in turns:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    return {
        "messages": messages,
        "person_id": int(person_id),
        "attributes": [t[0] for t in turns],
        "phrasings": [int(t[1]) for t in turns],
        "n_turns": len(turns),
    }


# ---------------------------------------------------------------------------------------------
# Record shapes
# ---------------------------------------------------------------------------------------------


class _BadRecord(ValueError):
    """A record-level problem; `load_sft_records` prefixes it with the file and line."""


def _check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise _BadRecord("'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise _BadRecord(f"message {i} needs 'role' and 'content' keys")
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise _BadRecord(
                f"message {i} has unknown role {role!r} (expected one of {', '.join(ROLES)})"
            )
        if not isinstance(content, str) or not content.strip():
            raise _BadRecord(f"message {i} ({role}) has empty content")
        out.append({"role": role, "content": plain_text(content)})
    if out[-1]["role"] != "assistant":
        raise _BadRecord(f"conversation ends with a {out[-1]['role']} turn, not an assistant turn")
    return out


def _sharegpt_messages(record: dict) -> list[dict[str, str]]:
    conv = record.get("conversations")
    if not isinstance(conv, list) or not conv:
        raise _BadRecord("'conversations' must be a non-empty list")
    messages = []
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise _BadRecord(f"turn {i} needs 'from' and 'value' keys")
        who = turn["from"]
        if who not in SHAREGPT_ROLES:
            raise _BadRecord(
                f"turn {i} has unknown role {who!r} (expected one of {', '.join(SHAREGPT_ROLES)})"
            )
        messages.append({"role": SHAREGPT_ROLES[who], "content": turn["value"]})
    return _check_messages(messages)


def _prompt_completion_messages(record: dict) -> list[dict[str, str]]:
    if "prompt" not in record or "completion" not in record:
        raise _BadRecord("prompt/completion record needs both 'prompt' and 'completion' keys")
    prompt, completion = record["prompt"], record["completion"]
    if isinstance(prompt, list) and isinstance(completion, list):  # TRL's conversational variant
        return _check_messages(list(prompt) + list(completion))
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise _BadRecord("'prompt' and 'completion' must both be strings (or both message lists)")
    return _check_messages(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    )


def _to_messages(record: Any) -> list[dict[str, str]]:
    """Detect the record's shape and return its validated messages."""
    if not isinstance(record, dict):
        raise _BadRecord(f"expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        return _check_messages(record["messages"])
    if "conversations" in record:
        return _sharegpt_messages(record)
    if "prompt" in record or "completion" in record:
        return _prompt_completion_messages(record)
    raise _BadRecord(
        "missing keys: expected 'messages', 'conversations' (ShareGPT) or "
        f"'prompt'+'completion', got {sorted(record)}"
    )


def _convert(records: Iterable[dict], to_messages) -> list[dict]:
    """Apply one shape's converter to every record; a bad one is a one-line error naming it."""
    out = []
    for i, r in enumerate(records):
        try:
            if not isinstance(r, dict):
                raise _BadRecord(f"expected a dict, got {type(r).__name__}")
            out.append({"messages": to_messages(r)})
        except _BadRecord as e:
            raise ValueError(f"record {i}: {e}") from None
    return out


def from_sharegpt(records: Iterable[dict]) -> list[dict]:
    """ShareGPT records (``{"conversations": [{"from", "value"}, ...]}``) -> ``{"messages": [...]}``.
    Roles: human/user -> user, gpt/assistant -> assistant, system -> system."""
    return _convert(records, _sharegpt_messages)


def from_prompt_completion(records: Iterable[dict]) -> list[dict]:
    """``{"prompt": str, "completion": str}`` -> ``{"messages": [user, assistant]}``."""
    return _convert(records, _prompt_completion_messages)


def to_sharegpt(messages: list[dict[str, str]] | dict) -> dict:
    """``messages`` (or a record holding them) -> the course's ShareGPT shape
    ``{"conversations": [{"from": "human"|"assistant"|"system", "value": ...}]}``."""
    if isinstance(messages, dict):
        messages = messages["messages"]
    return {
        "conversations": [{"from": TO_SHAREGPT[m["role"]], "value": m["content"]} for m in messages]
    }


def load_sft_records(path_or_records: str | os.PathLike | Iterable[dict]):
    """A ``datasets.Dataset`` with one ``messages`` column from a local JSONL file (or an iterable
    of dicts) whose records may be in any of the three shapes, mixed. Blank lines are skipped.
    A bad record raises a one-line ``ValueError`` naming the file and line ("data.jsonl line 3:
    message 1 has unknown role 'bot' ...")."""
    import datasets

    if isinstance(path_or_records, (str, os.PathLike)):
        path = Path(path_or_records)
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        items = _jsonl_lines(path)
    else:
        items = ((f"record {i}", r) for i, r in enumerate(path_or_records))
    rows = []
    for where, record in items:
        try:
            rows.append({"messages": _to_messages(record)})
        except _BadRecord as e:
            raise ValueError(f"{where}: {e}") from None
    if not rows:
        raise ValueError(
            f"{path_or_records if isinstance(path_or_records, (str, os.PathLike)) else 'records'}: "
            "no SFT records"
        )
    return datasets.Dataset.from_list(rows)


def parse_json(text: str, where: str) -> Any:
    """One JSON value from text someone typed, pasted or put in a file, or a one-line ValueError
    naming `where` (deeply nested brackets are refused, not a RecursionError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{where}: invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None
    except RecursionError:
        raise ValueError(f"{where}: the JSON is nested too deeply") from None


def _jsonl_lines(path: Path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                yield f"{path} line {n}", parse_json(line, f"{path} line {n}")


# ---------------------------------------------------------------------------------------------
# Noise for the LIMA quality-vs-quantity ablation
# ---------------------------------------------------------------------------------------------


def noisy(dataset, world: World, fraction: float, seed: int = 0):
    """A copy of a :func:`conversations` dataset where ``fraction`` of all assistant answers are
    corrupted, half *wrong* (the canonical sentence with another person's value for that
    attribute) and half *sloppy* (the answer rambles on past the sentence, or is only the bare
    value without the sentence). Added columns: ``corruption`` (per assistant turn: "" clean,
    "wrong", "ramble" or "terse") and ``corrupted`` (any turn corrupted). Deterministic."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    missing = {"messages", "person_id", "attributes"} - set(dataset.column_names)
    if missing:
        raise ValueError(
            f"noisy() needs a conversations() dataset; missing columns {sorted(missing)}"
        )
    turns = [(i, t) for i, n in enumerate(dataset["attributes"]) for t in range(len(n))]
    rng = _rng(seed, _NOISE)
    k = int(round(fraction * len(turns)))
    picked = rng.choice(len(turns), size=k, replace=False) if k else np.array([], dtype=int)
    # exactly half wrong (rounded up), the rest sloppy split between ramble and terse
    kinds = ["wrong"] * ((k + 1) // 2) + [("ramble", "terse")[j % 2] for j in range(k // 2)]
    kinds = [kinds[j] for j in rng.permutation(k)] if k else []
    plan: dict[int, dict[int, str]] = {}
    for j, kind in zip(picked, kinds):
        row, turn = turns[int(j)]
        plan.setdefault(row, {})[turn] = kind
    by_value = {a: sorted({p.attribute(a) for p in world.people}) for a in ATTRIBUTES}

    def corrupt(rec, idx):
        todo = plan.get(idx, {})
        labels = [""] * len(rec["attributes"])
        if not todo:
            return {"messages": rec["messages"], "corruption": labels, "corrupted": False}
        p = world.person(rec["person_id"])
        messages = [dict(m) for m in rec["messages"]]
        assistant_idx = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        r = _rng(seed, _NOISE, idx)
        for turn, kind in sorted(todo.items()):
            a = rec["attributes"][turn]
            value = p.attribute(a)
            if kind == "wrong":
                others = [v for v in by_value[a] if v != value]
                if not others:  # a world where everybody shares this value: make it sloppy
                    kind = "terse"
                else:
                    wrong = others[int(r.integers(len(others)))]
                    text = TEMPLATES[a][0].format(name=p.full_name, value=wrong)
            if kind == "ramble":
                text = _RAMBLE.format(answer=world.answer(p, a), name=p.full_name)
            elif kind == "terse":
                text = _TERSE.format(value=value)
            messages[assistant_idx[turn]]["content"] = text
            labels[turn] = kind
        return {"messages": messages, "corruption": labels, "corrupted": True}

    return dataset.map(corrupt, with_indices=True, desc=None, load_from_cache_file=False)
