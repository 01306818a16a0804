"""Scaling arithmetic (pure, no torch). Compute per token and per run.

Sources: Kaplan et al. 2020 (arXiv 2001.08361) C ≈ 6·N·D; PaLM (Chowdhery et al. 2022, App. B)
MFU counts 6N + 12·L·H·Q·T FLOPs per token, the second term being attention over the context.
"""
from __future__ import annotations


def training_flops(params: float, tokens: float) -> float:
    """C ≈ 6·N·D (Kaplan et al. 2020): 2N forward + 4N backward per token."""
    return 6.0 * params * tokens


def flops_per_token(params: float, n_layer: int, d_model: int, n_ctx: int) -> float:
    """Training FLOPs per token with the attention term (PaLM appendix B): 6N + 12·L·d·T.

    `params` are the parameters that take part in matrix multiplies (for a small model with tied
    embeddings that includes the output projection, which is a large share of its compute)."""
    return 6.0 * params + 12.0 * n_layer * d_model * n_ctx
