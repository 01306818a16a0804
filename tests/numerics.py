"""Comparisons of floating-point results that must hold on any x86 CPU and BLAS kernel."""

from __future__ import annotations

import torch

NEAR_TIE = 1e-3  # logits; cached vs uncached logits differ by ~1e-6 (other kernels, same maths)


def greedy_divergence(model, prompt: list[int], cached: list[int], plain: list[int]) -> str | None:
    """None when the greedy tokens with and without the KV cache agree up to near-ties: they may
    part only at a step where the top two logits are within NEAR_TIE, which the last bits of two
    different kernels may break either way (measured here: the smallest top-2 gap on the tests'
    greedy paths is 0.02, ~1e4 x the cache's logit error). Else why they disagree."""
    if len(cached) != len(plain):
        return f"{len(cached)} cached tokens vs {len(plain)} uncached"
    i = next((k for k, (a, b) in enumerate(zip(cached, plain)) if a != b), None)
    if i is None:
        return None
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + plain[:i]])).logits[0, -1].float()
    top = torch.topk(logits, 2).values
    gap = float(top[0] - top[1])
    if gap < NEAR_TIE:
        return None
    return (
        f"cached and uncached greedy decoding part at new token {i} ({cached[i]} vs {plain[i]}) where the "
        f"top-2 logits are {gap:.3g} apart: not a near-tie, so the KV cache changes the model's output"
    )
