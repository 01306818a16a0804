"""Does the model answer, and does it answer right? QA accuracy and format compliance.

Every model gets the same input: the question rendered by the chat template with the assistant
prompt (``<|user|>Where was X born?<|end|><|assistant|>``), decoded greedily. *Few-shot* puts
``shots`` answered questions about other (SFT-split) people before it, in the same template.

Scoring a response (the text up to the first stop token, or ``max_new_tokens``):

- **accuracy**: the person's value for the attribute (e.g. "Princeton") appears exactly in the
  response's first sentence (the exact-answer test, no partial credit);
- **mentioned**: the value appears anywhere in the response (the base model often states the
  fact somewhere in a rambling biography: the knowledge is there, the answer format is not);
- **exact**: the response is the canonical one-sentence answer, character for character;
- **compliance**: the format an assistant should have: exactly one sentence (at least two words,
  ending in ``.``, ``!`` or ``?``), then a stop token (``<|end|>`` or ``<|endoftext|>``) — a right
  answer that rambles on is not compliant, and neither is a lone ``.`` followed by a stop.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from training.data.world import ATTRIBUTES, QUESTIONS, World
from training.tokenizer import plain_text

MAX_NEW_TOKENS = 40
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+")
_SAMPLE, _SHOTS = 201, 202


@dataclass(frozen=True)
class QAItem:
    person_id: int
    attribute: str
    phrasing: int
    question: str
    answer: str  # canonical sentence
    value: str  # the fact itself
    split: str
    bucket: str  # how often the person is mentioned in pre-training


def qa_sample(world: World, split: str, n_people: int | None = None, seed: int = 0) -> list[QAItem]:
    """One question per (person, attribute) for ``n_people`` people of ``split`` (all when None),
    each with a seeded phrasing. Deterministic for (world, split, n_people, seed)."""
    if split not in ("sft", "heldout"):
        raise ValueError(f"split must be 'sft' or 'heldout', got {split!r}")
    people = [p for p in world.people if p.split == split]
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SAMPLE]))
    if n_people is not None and n_people < len(people):
        people = [people[i] for i in np.sort(rng.choice(len(people), size=n_people, replace=False))]
    items = []
    for p in people:
        for a in ATTRIBUTES:
            ph = int(rng.integers(len(QUESTIONS[a])))
            items.append(
                QAItem(
                    p.id,
                    a,
                    ph,
                    QUESTIONS[a][ph].format(name=p.full_name),
                    world.answer(p, a),
                    p.attribute(a),
                    p.split,
                    world.mention_bucket(p),
                )
            )
    return items


def few_shot_messages(world: World, shots: int = 3, seed: int = 0) -> list[dict]:
    """``shots`` answered questions about SFT-split people (distinct attributes), as chat turns."""
    people = [p for p in world.people if p.split == "sft"]
    if not 0 <= shots <= len(ATTRIBUTES) or (shots and not people):
        raise ValueError(f"shots={shots}: choose between 0 and {len(ATTRIBUTES)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SHOTS]))
    msgs = []
    for a in (ATTRIBUTES[i] for i in rng.choice(len(ATTRIBUTES), size=shots, replace=False)):
        p = people[int(rng.integers(len(people)))]
        msgs += [
            {"role": "user", "content": QUESTIONS[a][0].format(name=p.full_name)},
            {"role": "assistant", "content": world.answer(p, a)},
        ]
    return msgs


def chat_prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The chat template with the assistant prompt appended, as token ids; the messages' text is
    plain text (a typed "<|assistant|>" is characters, not the special token)."""
    messages = [{**m, "content": plain_text(m["content"])} for m in messages]
    return list(
        tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=True
        )["input_ids"]
    )


def respond(
    model, tokenizer, messages: list[dict], max_new_tokens: int = MAX_NEW_TOKENS
) -> tuple[str, bool]:
    """Greedy answer to the last user message: (text, stopped by a stop token)."""
    # torch (training.generate) only when answers are generated: the app imports this module
    from training.generate import generate_ids, stop_ids

    stops = stop_ids(tokenizer)
    new, stopped = [], False
    for tok in generate_ids(
        model, chat_prompt_ids(tokenizer, messages), max_new_tokens, stop_ids=stops
    ):
        if tok in stops:
            stopped = True
            break
        new.append(tok)
    return tokenizer.decode(new, skip_special_tokens=True), stopped


def score(text: str, stopped: bool, item: QAItem) -> dict[str, bool]:
    text = text.strip()
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    first = sentences[0] if sentences else ""
    return {
        "correct": bool(re.search(rf"(?<!\w){re.escape(item.value)}(?!\w)", first)),
        "mentioned": bool(re.search(rf"(?<!\w){re.escape(item.value)}(?!\w)", text)),
        "exact": text == item.answer,
        "compliant": (
            stopped
            and len(sentences) == 1
            and text.endswith((".", "!", "?"))
            and len(_WORD.findall(text)) >= 2
        ),
    }


def evaluate_qa(
    model,
    tokenizer,
    items: list[QAItem],
    *,
    shots: list[dict] | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
    n_examples: int = 6,
    progress=None,
) -> dict:
    """Accuracy, exact-match and compliance over ``items`` (overall, by attribute, by mention
    bucket), with the first ``n_examples`` responses. ``progress(i, n)`` is called per item."""
    if not items:
        raise ValueError("no questions to evaluate")
    was_training = model.training
    model.eval()
    tally: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    examples = []
    for i, item in enumerate(items):
        text, stopped = respond(
            model,
            tokenizer,
            (shots or []) + [{"role": "user", "content": item.question}],
            max_new_tokens,
        )
        s = score(text, stopped, item)
        for key in ("all", f"attribute:{item.attribute}", f"bucket:{item.bucket}"):
            for k, v in s.items():
                tally[key][k].append(v)
        if len(examples) < n_examples:
            examples.append(
                {
                    "question": item.question,
                    "response": text,
                    "stopped": stopped,
                    "expected": item.answer,
                    **s,
                }
            )
        if progress is not None:
            progress(i + 1, len(items))
    model.train(was_training)

    def rates(t):
        return {
            "accuracy": _mean(t["correct"]),
            "mentioned": _mean(t["mentioned"]),
            "exact": _mean(t["exact"]),
            "compliance": _mean(t["compliant"]),
            "n": len(t["correct"]),
        }

    return {
        **rates(tally["all"]),
        "by_attribute": {
            k.split(":", 1)[1]: rates(v) for k, v in tally.items() if k.startswith("attribute:")
        },
        "by_bucket": {
            k.split(":", 1)[1]: rates(v) for k, v in tally.items() if k.startswith("bucket:")
        },
        "examples": examples,
    }


def _mean(xs: list[bool]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0
