"""What preference tuning changed, on held-out people: every model answers the same questions
(training.sft.evaluate's chat prompt, greedy), and each reply is scored for

- **accuracy**: the right fact in the first sentence (training.sft.evaluate.score);
- **wrong fact**: the first sentence states another value of the same attribute (the ``wrong``
  rejection: another person's city, employer, ...), and not the right one;
- **rambling**: more than one sentence, or no stop token within the budget (the ``ramble``
  rejection); *compliance* (one sentence, then stop) is kept too;
- **KL from the SFT model**: Σ over the reply's tokens (its text and the stop token it chose) of
  KL(π(·|context) ‖ π_SFT(·|context)) over the whole vocabulary, teacher-forced along the
  policy's own greedy reply; reported per token (Σ KL over all replies / Σ reply tokens).

Importable without torch: generation loads inside `answer_all`.
"""

from __future__ import annotations

import re

import numpy as np

from training.data.world import World
from training.sft.evaluate import MAX_NEW_TOKENS, QAItem, qa_sample, score

from .pairs import values_by_attribute

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _has(value: str, text: str) -> bool:
    return bool(re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text))


_VALIDATION = 311


def validation_sample(world: World, n_people: int, exclude, seed: int = 0) -> list[QAItem]:
    """One question per attribute for ``n_people`` held-out people who are not in ``exclude`` (the
    test people): the validation set settings are chosen on. Held-out people are never in a
    training pair (pairs.py uses SFT-split people only). Deterministic for (world, n, exclude, seed)."""
    items = qa_sample(
        world, "heldout", None, seed=seed + 1
    )  # every held-out person, seeded phrasing
    pool = sorted({i.person_id for i in items} - set(exclude))
    if not 1 <= n_people <= len(pool):
        raise ValueError(f"validation: n_people = {n_people}, choose between 1 and {len(pool)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, _VALIDATION]))
    keep = {pool[int(i)] for i in rng.choice(len(pool), size=n_people, replace=False)}
    return [i for i in items if i.person_id in keep]


def classify(text: str, stopped: bool, item: QAItem, pool: dict[str, list[str]]) -> dict:
    """evaluate.score's flags + wrong_fact and ramble (see the module)."""
    s = score(text, stopped, item)
    sentences = [x for x in _SENTENCE_END.split(text.strip()) if x]
    first = sentences[0] if sentences else ""
    wrong = not s["correct"] and any(
        _has(v, first) for v in pool[item.attribute] if v != item.value
    )
    return {
        "correct": s["correct"],
        "compliant": s["compliant"],
        "wrong_fact": wrong,
        "ramble": (not stopped) or len(sentences) > 1,
    }


def answer_all(
    policy,
    reference,
    tokenizer,
    items: list[QAItem],
    world: World,
    *,
    max_new_tokens=MAX_NEW_TOKENS,
    progress=None,
) -> list[dict]:
    """One record per question: the policy's greedy reply, its flags and its summed KL from
    ``reference`` (the SFT model) along that reply."""
    from training.generate import generate_ids, stop_ids  # torch only when models answer
    from training.sft.evaluate import chat_prompt_ids

    from .train import token_kl

    pool = values_by_attribute(world)
    stops = stop_ids(tokenizer)
    was = policy.training
    policy.eval()
    out = []
    for i, item in enumerate(items):
        prompt = chat_prompt_ids(tokenizer, [{"role": "user", "content": item.question}])
        reply, stopped = [], False
        for tok in generate_ids(policy, prompt, max_new_tokens, stop_ids=stops):
            reply.append(tok)
            if tok in stops:
                stopped = True
                break
        text = tokenizer.decode(reply[:-1] if stopped else reply, skip_special_tokens=True)
        out.append(
            {
                "person_id": item.person_id,
                "attribute": item.attribute,
                "question": item.question,
                "response": text,
                "stopped": stopped,
                **classify(text, stopped, item, pool),
                "tokens": len(reply),
                "kl": round(token_kl(policy, reference, prompt, reply), 6),
            }
        )
        if progress is not None:
            progress(i + 1, len(items))
    policy.train(was)
    return out
