"""Model factory: decoder LMs from `transformers` configs, built from a small size spec.

Kaplan et al. count non-embedding parameters (≈ 12·n_layer·d_model²); we report both counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

ARCHS = ("llama", "gpt2")


@dataclass(frozen=True)
class ModelSpec:
    arch: str = "llama"      # "llama" (RoPE, RMSNorm, SwiGLU) or "gpt2" (learned positions, LayerNorm, GELU)
    n_layer: int = 4
    d_model: int = 256
    n_head: int = 4
    n_ctx: int = 256
    vocab_size: int = 4096
    d_ff: int | None = None  # default: 4·d (gpt2), ≈ 8/3·d rounded to 32 (llama, same params as 4·d GELU)
    attn: str = "sdpa"       # attention implementation ("sdpa" uses flash kernels on GPU)

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}: choose one of {', '.join(ARCHS)}")
        for name in ("n_layer", "d_model", "n_head", "n_ctx", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be a positive integer")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if self.arch == "llama" and (self.d_model // self.n_head) % 2:
            raise ValueError(f"head size {self.d_model // self.n_head} must be even for RoPE (llama)")

    @property
    def ff(self) -> int:
        if self.d_ff:
            return self.d_ff
        return 4 * self.d_model if self.arch == "gpt2" else max(32, round(8 * self.d_model / 3 / 32) * 32)


def make_config(spec: ModelSpec, *, eos_id: int = 0, pad_id: int = 1):
    """A transformers config for `spec` (tied input/output embeddings, no dropout)."""
    spec.validate()
    if spec.arch == "gpt2":
        from transformers import GPT2Config
        return GPT2Config(vocab_size=spec.vocab_size, n_positions=spec.n_ctx, n_embd=spec.d_model,
                          n_layer=spec.n_layer, n_head=spec.n_head, n_inner=spec.ff,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                          bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id,
                          tie_word_embeddings=True, attn_implementation=spec.attn)
    from transformers import LlamaConfig
    return LlamaConfig(vocab_size=spec.vocab_size, hidden_size=spec.d_model, intermediate_size=spec.ff,
                       num_hidden_layers=spec.n_layer, num_attention_heads=spec.n_head,
                       num_key_value_heads=spec.n_head, max_position_embeddings=spec.n_ctx,
                       bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id,
                       tie_word_embeddings=True, attn_implementation=spec.attn)


def build_model(spec: ModelSpec, *, seed: int = 0, eos_id: int = 0, pad_id: int = 1):
    """A freshly initialised causal LM for `spec` (seeded)."""
    import torch
    from transformers import AutoModelForCausalLM
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(make_config(spec, eos_id=eos_id, pad_id=pad_id))


def param_counts(model) -> dict[str, int]:
    """Total and non-embedding parameter counts (token and position embeddings excluded;
    a tied output head shares the token embedding, so it is not counted twice)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    emb = model.get_input_embeddings().weight.numel()
    pos = getattr(getattr(model, "transformer", None), "wpe", None)
    emb += pos.weight.numel() if pos is not None else 0
    return {"params": total, "params_nonembedding": total - emb,
            "params_matmul": total - emb + model.get_output_embeddings().weight.numel()}


def spec_dict(spec: ModelSpec) -> dict:
    return asdict(spec)
