"""What the base model knows: held-out loss and fact completion on the world's people.

A fact counts as known when greedy decoding of "«Name» was born in" produces exactly the
right city's tokens. We check it teacher-forced (argmax at every target position equals the
target token), which is the same test as greedy generation and costs one forward pass.
"""

from __future__ import annotations

from collections import defaultdict

import torch


@torch.no_grad()
def fact_known(model, tokenizer, prompt: str, target: str) -> bool:
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    t = tokenizer(prompt + target, add_special_tokens=False)["input_ids"][len(p) :]
    if not t:
        return False
    ids = torch.tensor([p + t], device=next(model.parameters()).device)
    pred = model(input_ids=ids).logits[0, len(p) - 1 : len(p) - 1 + len(t)].argmax(-1)
    return bool((pred.cpu() == torch.tensor(t)).all())


def fact_accuracy(model, tokenizer, world, attribute: str = "birth_city", people=None) -> dict:
    """Share of people whose `attribute` the model completes correctly, overall and by how often
    the person is mentioned in the corpus (the long tail)."""
    people = world.people if people is None else people
    hits: dict[str, list[bool]] = defaultdict(list)
    was_training = model.training
    model.eval()
    for person in people:
        prompt, target = world.completion_prompt(person, attribute)
        ok = fact_known(model, tokenizer, prompt, target)
        hits["all"].append(ok)
        hits[world.mention_bucket(person)].append(ok)
    model.train(was_training)
    order = ["all"] + [b for b in world.mention_buckets() if b in hits]
    return {
        b: {"accuracy": round(sum(hits[b]) / len(hits[b]), 4), "n": len(hits[b])} for b in order
    }


def heldout_loss(model, blocks, batch_size: int = 16) -> float:
    """Mean cross-entropy on held-out blocks (the same code the training loop evaluates with)."""
    # accelerate (~0.5 s) only when a held-out loss is measured
    from accelerate import Accelerator

    from .pretrain import evaluate

    return evaluate(model, blocks, Accelerator(cpu=not torch.cuda.is_available()), batch_size)
