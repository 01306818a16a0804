"""Preference pairs from the world: one question about an SFT-split person, a *chosen* reply (the
world's canonical one-sentence answer) and a *rejected* one of a labelled kind:

- ``wrong``: the same sentence with another person's value for that attribute (a wrong fact,
  fluent and confident: "Ann Lee was born in Oslo." when she was born in Paris);
- ``ramble``: the right fact buried in a reply that does not stop: an opener, the answer, then
  two or three more true sentences about the person (what the base model does).

Only SFT-split people are used (the same split as SFT's data), so the held-out people the
evaluation asks about never appear in a pair. Deterministic for (world, n, seed).
Importable without torch (numpy and the world only; `datasets` loads in `pairs_dataset`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.data.world import ATTRIBUTES, TEMPLATES, World

KINDS = ("wrong", "ramble")
_PAIRS, _KIND, _FILL = 301, 302, 303
OPENERS = (
    "",
    "Good question! ",
    "Well, let me tell you what I know. ",
    "Sure, happy to help with that. ",
)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def values_by_attribute(world: World) -> dict[str, list[str]]:
    """Every value an attribute takes in the world, sorted (the pool wrong facts come from)."""
    return {a: sorted({p.attribute(a) for p in world.people}) for a in ATTRIBUTES}


def wrong_answer(world: World, person, attribute: str, rng, pool: dict[str, list[str]]) -> str:
    value = person.attribute(attribute)
    others = [v for v in pool[attribute] if v != value]
    if not others:
        raise ValueError(f"every person has the same {attribute}: no wrong fact to make")
    return TEMPLATES[attribute][0].format(
        name=person.full_name, value=others[int(rng.integers(len(others)))]
    )


def rambling_answer(world: World, person, attribute: str, rng) -> str:
    rest = [a for a in ATTRIBUTES if a != attribute]
    extra = [rest[i] for i in rng.choice(len(rest), size=int(rng.integers(2, 4)), replace=False)]
    opener = OPENERS[int(rng.integers(len(OPENERS)))]
    sentences = [world.answer(person, attribute)] + [world.answer(person, a) for a in extra]
    return opener + " ".join(sentences)


def pairs(world: World, n: int, *, seed: int = 0, split: str = "sft") -> list[dict[str, Any]]:
    """``n`` pairs about ``split``'s people (distinct questions, seeded order), exactly half
    ``wrong`` (rounded up) and half ``ramble``, in TRL's conversational preference format:
    ``prompt`` (a user message), ``chosen`` and ``rejected`` (one assistant message each), plus
    ``kind``, ``person_id``, ``attribute``. Training pairs are about "sft" people only; "heldout"
    pairs are for measuring a model's preferences on people no pair trained on."""
    if split not in ("sft", "heldout"):
        raise ValueError(f"pairs: split must be 'sft' or 'heldout', got {split!r}")
    qa = world.qa_dataset(split)
    if not 1 <= n <= len(qa):
        raise ValueError(f"pairs: n = {n}, choose between 1 and {len(qa)} ({split} questions)")
    order = _rng(seed, _PAIRS).permutation(len(qa))[:n]
    kinds = [KINDS[0]] * ((n + 1) // 2) + [KINDS[1]] * (n // 2)
    kinds = [kinds[i] for i in _rng(seed, _KIND).permutation(n)]
    pool = values_by_attribute(world)
    out = []
    for j, (i, kind) in enumerate(zip(order, kinds)):
        r = qa[int(i)]
        p, a = world.person(r["person_id"]), r["attribute"]
        rng = _rng(seed, _FILL, j)
        rejected = (
            wrong_answer(world, p, a, rng, pool)
            if kind == "wrong"
            else rambling_answer(world, p, a, rng)
        )
        out.append(
            {
                "prompt": [{"role": "user", "content": r["question"]}],
                "chosen": [{"role": "assistant", "content": r["answer"]}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "kind": kind,
                "person_id": int(r["person_id"]),
                "attribute": a,
            }
        )
    return out


def pairs_dataset(rows: list[dict]):
    """The pairs as a ``datasets.Dataset`` with TRL's columns only (prompt, chosen, rejected)."""
    # datasets (~1 s) only when a trainer needs the pairs
    import datasets

    return datasets.Dataset.from_list(
        [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]
    )


def chosen_conversations(rows: list[dict]):
    """The same questions with only the chosen answers, as SFT conversations (the control arm:
    SFT trained longer on the chosen answers)."""
    import datasets

    return datasets.Dataset.from_list([{"messages": r["prompt"] + r["chosen"]} for r in rows])
