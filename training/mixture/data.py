"""The three domains' text, their statistics, and the mixture sampler.

- `domain_texts(plan)`: {domain: (training texts, held-out texts)}, generated offline and seeded.
- `domain_stats(texts, tokenizer)`: records, tokens, characters, distinct tokens per domain and
  the pairwise overlap of the token vocabularies (Jaccard of the sets of token ids used).
- `mixture_order(weights, n)`: which domain fills each of n training blocks — a deterministic
  interleaving (every prefix holds within one block of weight x length of each domain), so every
  batch's domain shares match the weights as closely as whole blocks allow.
- `mixture_train(pools, weights, n_blocks, seed)`: the run's training blocks laid out so that
  the pre-training loop's own batch order (`blocks.batch_indices`, epoch 0) reads them in that
  interleaved order.
"""

from __future__ import annotations

import numpy as np

from ..data import forum, programs
from ..data.world import World
from .plan import DOMAINS, MixturePlan


def domain_texts(plan: MixturePlan) -> dict[str, tuple[list[str], list[str]]]:
    """{domain: (training texts, held-out texts)}; held-out texts are never training texts."""
    world = World(plan.world_config())
    bios = [r["text"] for r in world.pretrain_texts()]
    held_bios = list(world.eval_dataset(max_people=plan.heldout_people)["text"])
    train_threads, held_threads = forum.threads(
        world, plan.forum_per_mention, 1, plan.heldout_people
    )
    train_progs, held_progs = programs.programs(
        world.cfg.seed, plan.n_programs, plan.heldout_programs
    )
    return {
        "bios": (bios, held_bios),
        "code": ([p.text for p in train_progs], [p.text for p in held_progs]),
        "forum": ([t["text"] for t in train_threads], [t["text"] for t in held_threads]),
    }


def domain_stats(texts: dict[str, tuple[list[str], list[str]]], tokenizer) -> dict:
    """Per domain: records and tokens (train, held-out), characters, distinct token ids, tokens
    per record; and overlap["a|b"] = |ids(a) ∩ ids(b)| / |ids(a) ∪ ids(b)| on training text."""
    per, used = {}, {}
    for d in DOMAINS:
        train, held = texts[d]
        ids = tokenizer(train, add_special_tokens=False, verbose=False)["input_ids"]
        held_ids = tokenizer(held, add_special_tokens=False, verbose=False)["input_ids"]
        used[d] = {t for row in ids for t in row}
        n_tok = sum(map(len, ids))
        per[d] = {
            "records": len(train),
            "heldout_records": len(held),
            "tokens": n_tok,
            "heldout_tokens": sum(map(len, held_ids)),
            "chars": sum(map(len, train)),
            "distinct_tokens": len(used[d]),
            "tokens_per_record": round(n_tok / max(1, len(train)), 2),
        }
    overlap = {
        f"{a}|{b}": round(len(used[a] & used[b]) / max(1, len(used[a] | used[b])), 4)
        for i, a in enumerate(DOMAINS)
        for b in DOMAINS[i + 1 :]
    }
    return {"domains": per, "overlap": overlap}


def mixture_order(weights, n: int) -> list[int]:
    """Domain index of each of n slots: slot k goes to the domain furthest below its share
    weight x (k + 1) (ties to the lower index), so each prefix is within one slot of its share."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"mixture weights must be non-negative and sum to 1, got {list(weights)}")
    counts = np.zeros(len(w))
    out = []
    for k in range(n):
        d = int(np.argmax(w * (k + 1) - counts))
        counts[d] += 1
        out.append(d)
    return out


def mixture_train(pools: dict, weights, n_blocks: int, seed: int):
    """(blocks [n_blocks, n_ctx+1], domain index per block) for a run of exactly n_blocks blocks
    (steps x global batch): the j-th block the loop reads (its epoch-0 permutation, as
    `batch_indices` draws it) is slot j of `mixture_order`; a domain's blocks are taken in a
    seeded order, cycling through its pool when the run needs more than the pool holds."""
    # torch with the blocks: the app imports this package for the plan, not for training
    import torch

    order = mixture_order(weights, n_blocks)
    taken = {d: 0 for d in range(len(DOMAINS))}
    perms = {}
    desired = []
    for d in order:
        pool = pools[DOMAINS[d]]
        epoch, i = divmod(taken[d], len(pool))
        if (d, epoch) not in perms:
            perms[(d, epoch)] = np.random.default_rng([seed, d, epoch]).permutation(len(pool))
        desired.append(pool[int(perms[(d, epoch)][i])])
        taken[d] += 1
    perm = np.random.default_rng([seed, 0]).permutation(n_blocks)  # = batch_indices' epoch 0
    train = torch.empty((n_blocks, desired[0].numel()), dtype=torch.long)
    domain = torch.empty(n_blocks, dtype=torch.long)
    train[torch.as_tensor(perm)] = torch.stack(desired)
    domain[torch.as_tensor(perm)] = torch.as_tensor(order)
    return train, domain
