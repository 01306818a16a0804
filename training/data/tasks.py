"""Synthetic sequence tasks that separate architectures (numpy; no torch needed to generate).

- Multi-query associative recall (MQAR; Arora et al. 2023, *Zoology*, arXiv 2312.04927): keys
  from [1, V/2), values from [V/2, V), no key repeated within an example. The context is
  `k1 v1 k2 v2 … kn vn`; the rest of the sequence holds each key once more, at random positions,
  among filler tokens (0). After a queried key the model must produce its value: only those
  positions are scored (label = value), every other label is IGNORE. Attention solves it at small
  width; a fixed-size recurrent state must hold all n pairs at once.
- Selective copying (Gu & Dao 2023, *Mamba*, Table 1): n data tokens scattered at random positions
  in a run of noise tokens, then n marker tokens; at the markers the model outputs the data tokens
  in order. Content-aware selection: the positions vary, so a fixed convolution (LTI SSM) fails.

Both return int64 arrays `inputs`, `labels` of shape [batch, seq]; labels are the next-token
targets aligned with inputs (position t is scored against labels[t]), IGNORE where unscored.
"""

from __future__ import annotations

import numpy as np

IGNORE = -100
FILLER = 0


def _check(name: str, v, lo: int, hi: int | None = None) -> int:
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, np.integer))
        or v < lo
        or (hi is not None and v > hi)
    ):
        raise ValueError(
            f"{name} must be a whole number in [{lo}, {hi if hi is not None else '∞'}) (got {v!r})"
        )
    return int(v)


def mqar(
    batch: int, seq: int, pairs: int, vocab: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Zoology's MQAR: [batch, seq] inputs and labels (IGNORE except after each queried key)."""
    batch, seq, pairs, vocab = (
        _check(n, v, 1)
        for n, v in (("batch", batch), ("seq", seq), ("pairs", pairs), ("vocab", vocab))
    )
    half = vocab // 2
    if pairs > half - 1:
        raise ValueError(
            f"{pairs} distinct keys need a vocabulary of at least {2 * (pairs + 1)} (got {vocab})"
        )
    if (
        seq < 3 * pairs + 1
    ):  # the pairs, one query per key, and the last slot (nothing after it to score)
        raise ValueError(
            f"seq {seq} is too short for {pairs} pairs and {pairs} queries: need ≥ {3 * pairs + 1}"
        )
    rng = np.random.default_rng(seed)
    inputs = np.full((batch, seq), FILLER, dtype=np.int64)
    labels = np.full((batch, seq), IGNORE, dtype=np.int64)
    for b in range(batch):
        keys = rng.choice(np.arange(1, half), size=pairs, replace=False)
        values = rng.integers(half, vocab, size=pairs)
        inputs[b, 0 : 2 * pairs : 2] = keys
        inputs[b, 1 : 2 * pairs : 2] = values
        # queries: each key once, at distinct positions of the query region (the last slot has no
        # next token to score, so queries sit in [2n, seq - 1))
        slots = rng.choice(np.arange(2 * pairs, seq - 1), size=pairs, replace=False)
        order = rng.permutation(pairs)
        inputs[b, slots] = keys[order]
        labels[b, slots] = values[order]
    return inputs, labels


def selective_copy(
    batch: int, seq: int, tokens: int, vocab: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mamba's selective copying: `tokens` data tokens (from [2, vocab)) at random positions of a
    noise region (token 0) of length seq − tokens, then `tokens` markers (token 1). At marker i the
    model must output the i-th data token (labels there; IGNORE elsewhere)."""
    batch, seq, tokens, vocab = (
        _check(n, v, 1)
        for n, v in (("batch", batch), ("seq", seq), ("tokens", tokens), ("vocab", vocab))
    )
    if vocab < 3:
        raise ValueError(
            f"vocab must be ≥ 3 (noise, marker and at least one data token; got {vocab})"
        )
    region = seq - tokens
    if region < tokens:
        raise ValueError(
            f"seq {seq} is too short to scatter {tokens} tokens and then ask for them: need ≥ {2 * tokens}"
        )
    rng = np.random.default_rng(seed)
    inputs = np.zeros((batch, seq), dtype=np.int64)
    labels = np.full((batch, seq), IGNORE, dtype=np.int64)
    for b in range(batch):
        data = rng.integers(2, vocab, size=tokens)
        pos = np.sort(rng.choice(region, size=tokens, replace=False))
        inputs[b, pos] = data
        inputs[b, region:] = 1
        labels[b, region:] = data  # at marker i, answer the i-th data token
    return inputs, labels
