"""Activation memory of one transformer layer, measured, against Korthikanti et al. 2022.

    python -m training.parallel.activations --seq 128 --batch 2 --hidden 64 --heads 4

One `transformers` GPT-2 block (eager attention, GELU MLP, dropout 0.1, bfloat16, train mode) runs a
forward under `torch.autograd.graph.saved_tensors_hooks`; every tensor autograd saves for backward
is counted once per distinct storage (deduplicated by `untyped_storage().data_ptr()`), parameters
excluded. That is the layer's activation memory: what stays alive from forward until backward.

Korthikanti et al. (arXiv 2205.05198, Sec. 4.1) count, with 2-byte activations and 1-byte dropout
masks, sbh·34 + 5as²b bytes (`shared.memory.activation_bytes_per_layer`):
  attention 11sbh + 5as²b — LayerNorm-output input of QKV 2sbh, Q and K 4sbh, V 2sbh, softmax
  output 2as²b, its dropout mask as²b, the dropped-out scores 2as²b, the input of the output
  projection 2sbh, the residual dropout mask sbh;
  MLP 19sbh — input 2sbh, GELU input 8sbh, GELU output 8sbh, dropout mask sbh;
  two LayerNorm inputs 4sbh.
Measured, every one of those tensors is there (Q, K, V as the contiguous copies `matmul` makes for
`bmm`), and two things Korthikanti leave out:
  1. Dropout masks. PyTorch's fused `native_dropout` (CUDA) keeps a 1-byte bool mask, as the paper
     assumes; on CPU `dropout` is `x * noise` with the noise in the activation dtype, so each mask
     costs 2 bytes per element: +sbh per residual dropout (2) and +as²b for the attention dropout.
  2. LayerNorm statistics: mean and 1/std per token, 2 per LayerNorm (bf16 on CPU, fp32 on CUDA):
     +2·2·sb·bytes — under 1% once h ≥ 64.
`explained_bytes` is Korthikanti's count with the mask and statistics bytes *probed* on this device
(a lone dropout and a lone LayerNorm under the same hook) and it equals the measurement exactly.
So on CPU in bf16 the measured/predicted ratio is (36sbh + 6as²b + 8sb)/(34sbh + 5as²b): between
36/34 ≈ 1.06 (short sequences, the sbh terms dominate) and 6/5 = 1.2 (long sequences, the s² terms
dominate) — always below 1.2 for h ≥ 2; with 1-byte masks it would be 1 + the statistics (< 1%).

Full recompute (the layer under `torch.utils.checkpoint.checkpoint(..., use_reentrant=False)`):
autograd keeps only the layer's input, 2sbh bytes — exactly the paper's figure. (The attention mask
is passed as a keyword, as the model passes it: it is one tensor shared by every layer, not per-layer
activation memory.)
"""

from __future__ import annotations

import argparse
import json
import sys

from shared import memory

DROPOUT = 0.1


def _saved_bytes(fn, exclude=()) -> int:
    """Bytes of the distinct storages autograd saves while `fn()` runs (excluding `exclude`'s)."""
    # torch and transformers inside functions: importing this module stays cheap
    import torch

    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in skip and st.nbytes():
            seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def probe_backend(device: str = "cpu", dtype=None, hidden: int = 64) -> dict:
    """Bytes per element of a dropout mask and per token of one LayerNorm's statistics, on this
    device and dtype — the two costs Korthikanti's count fixes at 1 byte and 0."""
    import torch

    dtype = dtype or torch.bfloat16
    n = 4096
    x = torch.randn(n, device=device, dtype=dtype, requires_grad=True)
    mask = _saved_bytes(lambda: torch.nn.functional.dropout(x, DROPOUT, training=True)) / n
    ln = torch.nn.LayerNorm(hidden, device=device, dtype=dtype)
    t = torch.randn(n // hidden, hidden, device=device, dtype=dtype, requires_grad=True)
    stats = (_saved_bytes(lambda: ln(t), exclude=list(ln.parameters()) + [t])) / (n // hidden)
    return {"dropout_mask_bytes_per_element": mask, "layernorm_stat_bytes_per_token": stats}


def explained_bytes(
    seq: int, batch: int, hidden: int, heads: int, mask_bytes: float, ln_stat_bytes: float
) -> float:
    """Korthikanti's 34sbh + 5as²b with m-byte dropout masks (3 of them) and two LayerNorms'
    statistics: sbh(32 + 2m) + as²b(4 + m) + 2·sb·stats."""
    s, b, h, a = seq, batch, hidden, heads
    return (
        s * b * h * (32 + 2 * mask_bytes)
        + a * s * s * b * (4 + mask_bytes)
        + 2 * s * b * ln_stat_bytes
    )


def measure(
    seq: int,
    batch: int,
    hidden: int,
    heads: int,
    recompute: str = "none",
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    """One GPT-2 block's saved-for-backward bytes beside Korthikanti's prediction."""
    import torch
    from torch.utils.checkpoint import checkpoint
    from transformers import GPT2Config
    from transformers.models.gpt2.modeling_gpt2 import GPT2Block

    if recompute not in ("none", "full"):
        raise ValueError(f"recompute must be 'none' or 'full' (got {recompute!r})")
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must divide by heads ({heads})")
    torch.manual_seed(seed)
    dtype = torch.bfloat16
    cfg = GPT2Config(
        n_embd=hidden,
        n_head=heads,
        n_layer=1,
        n_positions=seq,
        activation_function="gelu",
        resid_pdrop=DROPOUT,
        attn_pdrop=DROPOUT,
        embd_pdrop=DROPOUT,
        attn_implementation="eager",
    )
    block = GPT2Block(cfg, layer_idx=0).to(device=device, dtype=dtype).train()
    x = torch.randn(
        batch, seq, hidden, device=device, dtype=dtype, requires_grad=True
    )  # the previous layer's output
    # the additive causal mask eager attention adds to the scores (0 on and below the diagonal)
    mask = torch.full((seq, seq), torch.finfo(dtype).min, device=device, dtype=dtype).triu(1)[
        None, None
    ]
    if recompute == "full":
        fn = lambda: checkpoint(block, x, attention_mask=mask, use_reentrant=False)  # noqa: E731
    else:
        fn = lambda: block(x, attention_mask=mask)  # noqa: E731
    measured = _saved_bytes(fn, exclude=list(block.parameters()))
    predicted = memory.activation_bytes_per_layer(seq, batch, hidden, heads, recompute=recompute)
    out = {
        "seq": seq,
        "batch": batch,
        "hidden": hidden,
        "heads": heads,
        "recompute": recompute,
        "measured_bytes": measured,
        "predicted_bytes": predicted,
        "ratio": measured / predicted,
        "device": str(device),
        "dtype": "bfloat16",
        "dropout": DROPOUT,
    }
    if recompute == "none":
        probe = probe_backend(device, dtype)
        out.update(
            probe,
            explained_bytes=explained_bytes(
                seq,
                batch,
                hidden,
                heads,
                probe["dropout_mask_bytes_per_element"],
                probe["layernorm_stat_bytes_per_token"],
            ),
        )
    else:
        out["explained_bytes"] = 2 * seq * batch * hidden  # the layer input, kept by the checkpoint
    return out


def measure_all(shapes, device: str = "cpu") -> list[dict]:
    """Both recompute settings for every (seq, batch, hidden, heads)."""
    return [
        measure(*shape, recompute=r, device=device) for shape in shapes for r in ("none", "full")
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.parallel.activations", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    args = ap.parse_args(argv)
    try:
        for r in measure_all([(args.seq, args.batch, args.hidden, args.heads)]):
            print(json.dumps(r))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
