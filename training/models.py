"""Model factory: decoder LMs built from a small size spec — two transformers (`transformers`
Llama / GPT-2), a state-space model (`transformers` Mamba) and an LSTM (`torch.nn.LSTM`).

Kaplan et al. count non-embedding parameters (≈ 12·n_layer·d_model²); we report both counts.
Every model answers the same calls: `model(input_ids=…, cache=…, use_cache=…)` → `.logits`,
`.cache`; `.config.model_type / num_hidden_layers / hidden_size`; `get_input_embeddings()`,
`get_output_embeddings()` — so the training loop, generation and the measurements take any of them.

Mamba on CPU: without the CUDA kernels (`mamba_ssm`) transformers falls back to a reference
selective scan; its sequential loop has a backward that grows with T² (a length-256 step took
~40 s at width 64), so we ask for the `mambapy` parallel scan (`use_mambapy=True`, pure PyTorch,
~20× faster there). On a GPU with the kernels installed those are used instead.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from types import SimpleNamespace

ARCHS = ("llama", "gpt2", "mamba", "lstm")
ATTENTION = ("llama", "gpt2")


@dataclass(frozen=True)
class ModelSpec:
    arch: str = (
        "llama"  # "llama" (RoPE, RMSNorm, SwiGLU) or "gpt2" (learned positions, LayerNorm, GELU)
    )
    n_layer: int = 4
    d_model: int = 256
    n_head: int = 4
    n_ctx: int = 256
    vocab_size: int = 4096
    d_ff: int | None = (
        None  # default: 4·d (gpt2), ≈ 8/3·d rounded to 32 (llama, same params as 4·d GELU)
    )
    attn: str = "sdpa"  # attention implementation ("sdpa" uses flash kernels on GPU)
    d_state: int = 16  # mamba: SSM state size N per channel
    expand: int = 2  # mamba: d_inner = expand · d_model
    d_conv: int = 4  # mamba: causal depthwise convolution width

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r}: choose one of {', '.join(ARCHS)}")
        for name in (
            "n_layer",
            "d_model",
            "n_head",
            "n_ctx",
            "vocab_size",
            "d_state",
            "expand",
            "d_conv",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r}: must be a positive integer")
        if self.arch not in ATTENTION:
            return
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        if self.arch == "llama" and (self.d_model // self.n_head) % 2:
            raise ValueError(
                f"head size {self.d_model // self.n_head} must be even for RoPE (llama)"
            )

    @property
    def ff(self) -> int:
        if self.d_ff:
            return self.d_ff
        return (
            4 * self.d_model
            if self.arch == "gpt2"
            else max(32, round(8 * self.d_model / 3 / 32) * 32)
        )


def make_config(spec: ModelSpec, *, eos_id: int = 0, pad_id: int = 1):
    """A transformers config for `spec` (tied input/output embeddings, no dropout); for the LSTM
    a plain namespace with the same field names."""
    spec.validate()
    if spec.arch == "lstm":
        return SimpleNamespace(
            model_type="lstm",
            vocab_size=spec.vocab_size,
            hidden_size=spec.d_model,
            num_hidden_layers=spec.n_layer,
            n_ctx=spec.n_ctx,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
        )
    if spec.arch == "mamba":
        # each architecture's transformers classes load with the model that needs them (~1 s each)
        from transformers import MambaConfig

        return MambaConfig(
            vocab_size=spec.vocab_size,
            hidden_size=spec.d_model,
            num_hidden_layers=spec.n_layer,
            state_size=spec.d_state,
            expand=spec.expand,
            conv_kernel=spec.d_conv,
            bos_token_id=eos_id,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
            tie_word_embeddings=True,
            use_mambapy=True,
        )
    if spec.arch == "gpt2":
        from transformers import GPT2Config

        return GPT2Config(
            vocab_size=spec.vocab_size,
            n_positions=spec.n_ctx,
            n_embd=spec.d_model,
            n_layer=spec.n_layer,
            n_head=spec.n_head,
            n_inner=spec.ff,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=eos_id,
            eos_token_id=eos_id,
            pad_token_id=pad_id,
            tie_word_embeddings=True,
            attn_implementation=spec.attn,
        )
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=spec.vocab_size,
        hidden_size=spec.d_model,
        intermediate_size=spec.ff,
        num_hidden_layers=spec.n_layer,
        num_attention_heads=spec.n_head,
        num_key_value_heads=spec.n_head,
        max_position_embeddings=spec.n_ctx,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        tie_word_embeddings=True,
        attn_implementation=spec.attn,
    )


def build_model(spec: ModelSpec, *, seed: int = 0, eos_id: int = 0, pad_id: int = 1):
    """A freshly initialised causal LM for `spec` (seeded)."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = make_config(spec, eos_id=eos_id, pad_id=pad_id)
    if spec.arch == "lstm":
        return LSTMLM(config)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*falling back to its reference.*")
        return AutoModelForCausalLM.from_config(config)


def model_type(model) -> str:
    """'llama', 'gpt2', 'mamba' or 'lstm'."""
    return model.config.model_type


@lru_cache(maxsize=1)
def _lstm_class():
    import torch
    from torch import nn

    class LSTMLM(nn.Module):
        """An LSTM language model: token embedding → `torch.nn.LSTM` (n_layer layers, width d) →
        the tied embedding as output head. Its cache is the LSTM's (h, c): 2·layers·d numbers
        per sequence, whatever the context length."""

        def __init__(self, config):
            super().__init__()
            self.config = config
            d = config.hidden_size
            self.embed = nn.Embedding(config.vocab_size, d)
            self.lstm = nn.LSTM(d, d, num_layers=config.num_hidden_layers, batch_first=True)
            self.norm = nn.LayerNorm(d)
            nn.init.normal_(self.embed.weight, std=0.02)
            with (
                torch.no_grad()
            ):  # forget-gate bias 1 (Jozefowicz et al. 2015): remember by default
                for name, p in self.lstm.named_parameters():
                    if name.startswith("bias_ih"):
                        p[d : 2 * d].fill_(1.0)

        def get_input_embeddings(self):
            return self.embed

        def get_output_embeddings(self):
            return self.embed  # tied: logits = h · Eᵀ

        def forward(
            self, input_ids=None, cache=None, use_cache: bool = False, inputs_embeds=None, **_
        ):
            h, state = self.lstm(
                self.embed(input_ids) if inputs_embeds is None else inputs_embeds, cache
            )
            logits = self.norm(h) @ self.embed.weight.T
            return SimpleNamespace(logits=logits, cache=state if use_cache else None)

    return LSTMLM


def LSTMLM(config):  # noqa: N802 — built lazily so importing the factory does not import torch
    return _lstm_class()(config)


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
    return {
        "params": total,
        "params_nonembedding": total - emb,
        "params_matmul": total - emb + model.get_output_embeddings().weight.numel(),
    }


def forward_flops_per_token(model, context: int) -> float:
    """Forward FLOPs to process one token whose prediction sees `context` positions (itself
    included). Every architecture pays 2N for its matmuls (N = `params_matmul`, the tied head
    included); then
    - attention (PaLM's count, `shared.scaling.flops_per_token` / 3): + 4·L·d·context — QKᵀ and
      the weighted sum of V over every cached position: it grows with the context;
    - Mamba: + L·(7·d_inner·N + 2·d_inner·k) — discretise (exp(Δ·A), Δ·B·x: 3·d_inner·N), update the
      state (2·d_inner·N), read it out (2·d_inner·N), the width-k causal convolution: constant;
    - LSTM: nothing more (its four gates are the matmuls; elementwise work is left out): constant."""
    cfg, n = model.config, param_counts(model)["params_matmul"]
    kind = model_type(model)
    if kind in ATTENTION:
        from shared.scaling import flops_per_token

        return flops_per_token(n, cfg.num_hidden_layers, cfg.hidden_size, context) / 3
    if kind == "mamba":
        d_inner = cfg.intermediate_size
        return 2.0 * n + cfg.num_hidden_layers * (
            7.0 * d_inner * cfg.state_size + 2.0 * d_inner * cfg.conv_kernel
        )
    return 2.0 * n


def train_flops_per_token(model, n_ctx: int) -> float:
    """Training FLOPs per token at sequence length `n_ctx`: 3 × forward (backward ≈ 2 × forward).
    For attention this is PaLM's 6N + 12·L·d·T (full-length attention term, as published)."""
    return 3.0 * forward_flops_per_token(model, n_ctx)


def spec_dict(spec: ModelSpec) -> dict:
    return asdict(spec)
