"""Weight-only 4-bit quantization: group-wise asymmetric round-to-nearest (RTN), stored as
GPTQ/AWQ checkpoints store "w4 gG" (Frantar et al. 2022, arXiv 2210.17323; Lin et al. 2023,
arXiv 2306.00978; RTN is the baseline both compare against, and Dettmers & Zettlemoyer 2022,
arXiv 2212.09720, measure its group-size trade-off).

Per group of G consecutive weights along a Linear's input dimension: one fp16 scale and one 4-bit
zero point; each weight is a 4-bit code q = clamp(round(w / scale) + zero, 0, 15), dequantized as
(q - zero) · scale. The group's range is widened to include 0 (as GPTQ's quantizer does), so the
zero point is an exact code and every weight is within scale/2 of its dequantized value. Codes and
zero points are packed two per uint8 byte (low nibble first): the bytes are the tensors' own bytes,
codes n/2 + per group 2 (scale) + 1/2 (zero) — `int4_bytes`. `Int4Linear` dequantizes its weight
at every forward (no int4 matmul kernel on this CPU path), so it saves memory, not arithmetic.

Imports torch at module level: only the build and the tests import it (`compression.quantize_int4`
loads it lazily), never the app.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from .plan import INT4_METHOD, check_group_size

LEVELS = 15  # 4-bit codes 0..15


def pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Values 0..15 (any shape) as uint8 bytes, two per byte, low nibble first, flattened
    row-major; an odd count is padded with one zero nibble."""
    if codes.numel() and not (0 <= int(codes.min()) and int(codes.max()) <= LEVELS):
        raise ValueError("pack_int4: codes must lie in 0..15")
    flat = codes.reshape(-1).to(torch.uint8)
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    pairs = flat.view(-1, 2)
    return pairs[:, 0] | (pairs[:, 1] << 4)


def unpack_int4(packed: torch.Tensor, count: int) -> torch.Tensor:
    """The first `count` 4-bit values of `pack_int4`'s bytes, as a flat uint8 tensor."""
    both = torch.stack([packed & 0x0F, packed >> 4], dim=-1).reshape(-1)
    return both[:count]


def int4_bytes(out_features: int, in_features: int, group_size: int) -> int:
    """Bytes of one Linear weight in this format: codes n/2, per group an fp16 scale (2 bytes)
    and a 4-bit zero point (1/2 byte), each packed stream padded to whole bytes."""
    groups = out_features * (in_features // group_size)
    return math.ceil(out_features * in_features / 2) + 2 * groups + math.ceil(groups / 2)


def quantize_groups(weight: torch.Tensor, group_size: int):
    """(codes uint8 (out, in), scales fp16 (out, groups), zeros uint8 (out, groups)) of `weight`.
    The fp16 scale is rounded up where rounding to nearest would shrink it, so the group's range
    still fits in 15 steps."""
    out, n = weight.shape
    g = weight.detach().float().reshape(out, n // group_size, group_size)
    lo, hi = g.amin(-1).clamp(max=0), g.amax(-1).clamp(min=0)
    scale = (hi - lo) / LEVELS
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero group
    s16 = scale.half()
    s16 = torch.where(s16.float() < scale, torch.nextafter(s16, torch.full_like(s16, 1e4)), s16)
    s = s16.float()
    zero = torch.round(-lo / s).clamp(0, LEVELS)
    codes = (torch.round(g / s.unsqueeze(-1)) + zero.unsqueeze(-1)).clamp(0, LEVELS)
    return codes.reshape(out, n).to(torch.uint8), s16, zero.to(torch.uint8)


class Int4Linear(nn.Module):
    """A Linear whose weight is stored as packed 4-bit codes with per-group fp16 scales and
    packed 4-bit zero points (buffers), dequantized to the input's dtype at every forward."""

    def __init__(self, linear: nn.Linear, group_size: int):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.group_size = check_group_size(group_size, [self.in_features])
        codes, scales, zeros = quantize_groups(linear.weight, group_size)
        self.register_buffer("codes", pack_int4(codes))
        self.register_buffer("scales", scales)
        self.register_buffer("zeros", pack_int4(zeros))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def dequantized(self) -> torch.Tensor:
        """The fp32 weight (out, in) these codes stand for."""
        out, n, g = self.out_features, self.in_features, self.group_size
        # q - z in int8 (exact: -15..15), then one fp32 pass: (q - z) · scale
        q = unpack_int4(self.codes, out * n).view(torch.int8).view(out, n // g, g)
        z = unpack_int4(self.zeros, self.scales.numel()).view(torch.int8).view(out, n // g, 1)
        return ((q - z) * self.scales.float().unsqueeze(-1)).reshape(out, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized().to(x.dtype), self.bias)

    def storage_bytes(self) -> int:
        """The packed codes, scales and zero points as stored (the bias is a parameter)."""
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scales, self.zeros))

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, group_size={self.group_size}"


def block_linears(model) -> dict[str, nn.Linear]:
    """The Linear layers int8 quantizes too: every one but the output head tied to the embedding."""
    emb = model.get_input_embeddings().weight
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and m.weight is not emb
    }


def quantize_int4(model, group_size: int):
    """A copy of `model` with every block Linear replaced by an `Int4Linear` of `group_size`; the
    embedding and the tied output head stay fp32, as in the int8 row. A group size that does not
    divide every such layer's input features is refused in one line."""
    check_group_size(group_size, [m.in_features for m in block_linears(model).values()])
    q = copy.deepcopy(model)
    for name, lin in block_linears(q).items():
        parent, _, child = name.rpartition(".")
        setattr(q.get_submodule(parent) if parent else q, child, Int4Linear(lin, group_size))
    return q.eval()


def int4_format(model, group_sizes) -> dict:
    """Per group size: the block Linears' int4 bytes by the formula and summed from the real
    tensors of `quantize_int4`'s layers (the `int4` section of the results)."""
    lins = block_linears(model).values()
    formula, tensors = [], []
    for g in group_sizes:
        formula.append(sum(int4_bytes(m.out_features, m.in_features, g) for m in lins))
        q = quantize_int4(model, g)
        tensors.append(sum(m.storage_bytes() for m in q.modules() if isinstance(m, Int4Linear)))
    return {
        "method": INT4_METHOD,
        "group_sizes": list(group_sizes),
        "quantized_weights": sum(m.weight.numel() for m in lins),
        "fp32_bytes": sum(m.weight.numel() * m.weight.element_size() for m in lins),
        "formula_bytes": formula,
        "tensor_bytes": tensors,
    }
