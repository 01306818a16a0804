"""Memory per device and communication per step, formula by formula, for transformers (and the
recurrent states that replace a KV cache); pure Python, no torch. Every byte-per-parameter
assumption is an argument, not a constant. A whole model under a parallel plan (`breakdown`) is
`shared/parallel_plan.py`.

- Model states (Rajbhandari et al. 2020, ZeRO): Ψ parameters, p/g/k bytes per parameter for
  parameters, gradients and optimizer states (mixed-precision Adam: 2 + 2 + 12 = 16; the 12 are
  the fp32 master copy, momentum and variance), N_d data-parallel ranks:
  stage 0 (p+g+k)Ψ · stage 1 (p+g)Ψ + kΨ/N_d · stage 2 pΨ + (g+k)Ψ/N_d · stage 3 (p+g+k)Ψ/N_d.
- Activations per transformer layer (Korthikanti et al. 2022, arXiv 2205.05198, 16-bit values;
  s sequence, b micro-batch, h hidden, a heads, t tensor-parallel size):
  none sbh(34 + 5as/h) · TP sbh(10 + 24/t + 5as/(ht)) · TP+SP sbh(34/t + 5as/(ht)) ·
  selective recompute sbh(10 + 24/t) (TP) or 34sbh/t (TP+SP) · full recompute 2sbh (/t with SP).
- KV cache: 2 · layers · kv_heads · head_dim · seq · batch · bytes per value.
- Ring all-reduce time ≈ 2(n−1)/n · size / bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RECOMPUTE = ("none", "selective", "full")
GiB = 1024**3


def _pos(name: str, x, integer: bool = False, allow_zero: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (got {x!r})") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be a finite number {'≥' if allow_zero else '>'} 0 (got {x!r})"
        )
    if integer and v != int(v):
        raise ValueError(f"{name} must be a whole number (got {x!r})")
    return int(v) if integer else v


@dataclass(frozen=True)
class ModelStates:
    """Bytes per device of each model state."""

    params: float
    grads: float
    optimizer: float
    total: float


def model_state_bytes(
    n_params: float,
    zero_stage: int,
    dp: int,
    optimizer_bytes: float = 12,
    param_bytes: float = 2,
    grad_bytes: float = 2,
) -> ModelStates:
    """Bytes per device of parameters, gradients and optimizer states under ZeRO stage 0–3."""
    psi = _pos("n_params", n_params)
    dp = _pos("dp", dp, integer=True)
    k, p, g = (
        _pos(n, v, allow_zero=True)
        for n, v in (
            ("optimizer_bytes", optimizer_bytes),
            ("param_bytes", param_bytes),
            ("grad_bytes", grad_bytes),
        )
    )
    _check_stage(zero_stage)
    params = p * psi / (dp if zero_stage >= 3 else 1)
    grads = g * psi / (dp if zero_stage >= 2 else 1)
    optimizer = k * psi / (dp if zero_stage >= 1 else 1)
    return ModelStates(params, grads, optimizer, params + grads + optimizer)


def _check_stage(zero_stage) -> None:
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3 (got {zero_stage!r})")


def activation_bytes_per_layer(
    seq: int,
    batch: int,
    hidden: int,
    heads: int,
    tp: int = 1,
    sp: bool = False,
    recompute: str = "none",
) -> float:
    """Korthikanti et al. 2022 (Table 2 and Sec. 5), bytes of one layer's stored activations."""
    s, b, h, a, t = (
        _pos(n, v, integer=True)
        for n, v in (
            ("seq", seq),
            ("batch", batch),
            ("hidden", hidden),
            ("heads", heads),
            ("tp", tp),
        )
    )
    if recompute not in RECOMPUTE:
        raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE)} (got {recompute!r})")
    sbh = s * b * h
    attn = 5 * a * s / (h * t)  # the softmax/dropout/QK^T terms selective recompute drops
    if recompute == "full":
        return 2 * sbh / (t if sp else 1)
    if sp:
        return sbh * (34 / t + (0 if recompute == "selective" else attn))
    if t == 1 and recompute == "none":
        return sbh * (34 + 5 * a * s / h)
    return sbh * (10 + 24 / t + (0 if recompute == "selective" else attn))


def kv_cache_bytes(
    layers: int, kv_heads: int, head_dim: int, seq: int, batch: int, bytes_per_value: float = 2
) -> float:
    """Keys and values of every layer for every position: 2 · L · kv_heads · head_dim · s · b · bytes."""
    L, kvh, hd, s, b = (
        _pos(n, v, integer=True)
        for n, v in (
            ("layers", layers),
            ("kv_heads", kv_heads),
            ("head_dim", head_dim),
            ("seq", seq),
            ("batch", batch),
        )
    )
    return 2 * L * kvh * hd * s * b * _pos("bytes_per_value", bytes_per_value)


def ssm_state_bytes(
    layers: int, d_inner: int, d_state: int, d_conv: int, batch: int, bytes_per_value: float = 2
) -> float:
    """A Mamba layer's inference state (Gu & Dao 2023): the SSM state d_inner·d_state plus the
    convolution's last d_conv inputs d_inner·d_conv, per layer and sequence — constant in length."""
    L, di, ds, dc, b = (
        _pos(n, v, integer=True)
        for n, v in (
            ("layers", layers),
            ("d_inner", d_inner),
            ("d_state", d_state),
            ("d_conv", d_conv),
            ("batch", batch),
        )
    )
    return L * b * di * (ds + dc) * _pos("bytes_per_value", bytes_per_value)


def lstm_state_bytes(layers: int, hidden: int, batch: int, bytes_per_value: float = 2) -> float:
    """An LSTM's inference state: h and c, `hidden` values each, per layer and sequence."""
    L, h, b = (
        _pos(n, v, integer=True)
        for n, v in (("layers", layers), ("hidden", hidden), ("batch", batch))
    )
    return 2 * L * h * b * _pos("bytes_per_value", bytes_per_value)


def ring_allreduce_seconds(size_bytes: float, n: int, bandwidth_bytes_s: float) -> float:
    """2(n−1)/n · size / bandwidth (each rank sends and receives that much)."""
    n = _pos("ranks", n, integer=True)
    return (
        2
        * (n - 1)
        / n
        * _pos("size", size_bytes, allow_zero=True)
        / _pos("bandwidth", bandwidth_bytes_s)
    )


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    heads: int
    vocab: int
    seq: int
    ffn: int | None = None  # MLP width; default 4·hidden
    kv_heads: int | None = None  # default = heads (fewer: grouped-query attention)
    tied_embeddings: bool = False
    gated_mlp: bool = False  # SwiGLU (Llama): three h×ffn matrices instead of two

    def n_params(self) -> float:
        """Embedding (+ untied head) + per layer attention (Q, O: h² each; K, V: h·kv_heads·head_dim
        each) + MLP (2 or 3)·h·ffn. Biases and norms are ignored (< 0.1%)."""
        return (
            self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
            + self.layers * self.layer_params()
        )

    def layer_params(self) -> float:
        ffn = self.ffn or 4 * self.hidden
        kv = (self.kv_heads or self.heads) * (self.hidden // self.heads)
        return (
            2 * self.hidden**2
            + 2 * self.hidden * kv
            + (3 if self.gated_mlp else 2) * self.hidden * ffn
        )


# Real model shapes for the presets of the app (from the papers' tables)
SHAPES: dict[str, ModelShape] = {
    "GPT-3 175B": ModelShape(layers=96, hidden=12288, heads=96, vocab=50257, seq=2048),
    "Llama 2 7B": ModelShape(
        layers=32, hidden=4096, heads=32, vocab=32000, seq=4096, ffn=11008, gated_mlp=True
    ),
    "Llama 2 70B": ModelShape(
        layers=80,
        hidden=8192,
        heads=64,
        vocab=32000,
        seq=4096,
        ffn=28672,
        kv_heads=8,
        gated_mlp=True,
    ),
    "GPT-2 XL 1.5B": ModelShape(
        layers=48, hidden=1600, heads=25, vocab=50257, seq=1024, tied_embeddings=True
    ),
}


@dataclass(frozen=True)
class Traffic:
    """What each rank sends per step for one kind of parallelism, and the time on one link."""

    bytes: float
    seconds: float
    volume_in_psi: float | None = None  # data parallel: the traffic in units of Ψ (2Ψ or 3Ψ)


def data_parallel_traffic(
    psi: float, dp: int, zero_stage: int, grad_bytes: float = 2, bandwidth_bytes_s: float = 100e9
) -> Traffic:
    """Bytes each rank sends per step to synchronise Ψ parameters' gradients, and ring time.
    Stages 0–2: one all-reduce of the gradients (ZeRO-1/2 do it as reduce-scatter + all-gather:
    the same 2Ψ); ZeRO-3 adds an all-gather of the parameters in backward: 3Ψ (Rajbhandari et al.)."""
    psi = _pos("n_params", psi)
    dp = _pos("dp", dp, integer=True)
    _check_stage(zero_stage)
    factor = 1.5 if zero_stage == 3 else 1.0
    size = psi * _pos("grad_bytes", grad_bytes, allow_zero=True)  # 0: nothing to synchronise
    return Traffic(
        bytes=factor * 2 * (dp - 1) / dp * size,
        seconds=factor * ring_allreduce_seconds(size, dp, bandwidth_bytes_s),
        volume_in_psi=3.0 if zero_stage == 3 else 2.0,
    )


# --- inference state: KV cache (transformers) vs a fixed recurrent state (SSMs) -----------------
@dataclass(frozen=True)
class CacheShape:
    """What a model keeps per sequence while it generates. kind "kv": 2·L·kv_heads·head_dim per
    position; kind "ssm": L·d_inner·(d_state + d_conv), whatever the length."""

    kind: str
    params_b: float  # published size, billions of parameters
    layers: int
    kv_heads: int = 0
    head_dim: int = 0
    d_inner: int = 0
    d_state: int = 0
    d_conv: int = 0
    source: str = ""

    def bytes(self, context: int, batch: int = 1, bytes_per_value: float = 2) -> float:
        if self.kind == "kv":
            return kv_cache_bytes(
                self.layers, self.kv_heads, self.head_dim, context, batch, bytes_per_value
            )
        _pos("context", context, integer=True)
        return ssm_state_bytes(
            self.layers, self.d_inner, self.d_state, self.d_conv, batch, bytes_per_value
        )


# published configurations (the models' config.json on the Hugging Face Hub)
CACHE_SHAPES: dict[str, CacheShape] = {
    "Llama 2 7B (MHA)": CacheShape(
        "kv",
        6.74,
        layers=32,
        kv_heads=32,
        head_dim=128,
        source="meta-llama/Llama-2-7b-hf: 32 layers, 32 heads × 128",
    ),
    "Llama 2 70B (GQA, 8 KV heads)": CacheShape(
        "kv",
        69.0,
        layers=80,
        kv_heads=8,
        head_dim=128,
        source="meta-llama/Llama-2-70b-hf: 80 layers, 8 KV heads × 128",
    ),
    "Mamba-2.8B": CacheShape(
        "ssm",
        2.8,
        layers=64,
        d_inner=5120,
        d_state=16,
        d_conv=4,
        source="state-spaces/mamba-2.8b-hf: 64 layers, d_model 2560, expand 2, d_state 16, d_conv 4",
    ),
    "Falcon Mamba 7B": CacheShape(
        "ssm",
        7.3,
        layers=64,
        d_inner=8192,
        d_state=16,
        d_conv=4,
        source="tiiuae/falcon-mamba-7b: 64 layers, d_model 4096, expand 2, d_state 16, d_conv 4",
    ),
}


def cache_table(contexts, names=None, batch: int = 1, bytes_per_value: float = 2) -> list[dict]:
    """One row per model: the bytes it keeps per sequence at each context length (16-bit values
    by default), for the state-vs-KV comparison."""
    names = list(names or CACHE_SHAPES)
    for n in names:
        if n not in CACHE_SHAPES:
            raise ValueError(f"unknown model {n!r}: choose from {', '.join(CACHE_SHAPES)}")
    ctxs = [int(_pos("context", c, integer=True)) for c in contexts]
    return [
        {
            "model": n,
            "kind": CACHE_SHAPES[n].kind,
            "params_b": CACHE_SHAPES[n].params_b,
            "bytes": [CACHE_SHAPES[n].bytes(c, batch, bytes_per_value) for c in ctxs],
            "source": CACHE_SHAPES[n].source,
        }
        for n in names
    ]
