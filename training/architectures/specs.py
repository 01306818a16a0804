"""Parameter-matched model specs at one width, their parameter counts, fresh models."""

from __future__ import annotations

import warnings

from ..models import ModelSpec, build_model, param_counts
from .plan import FACTORY


def arch_spec(arch: str, width: int, layers: int, vocab: int, n_ctx: int):
    return ModelSpec(
        arch=FACTORY[arch],
        n_layer=layers,
        d_model=width,
        n_head=max(1, width // 32),
        n_ctx=n_ctx,
        vocab_size=vocab,
    )


def nonembedding_params(spec) -> int:
    """Non-embedding parameters of `spec`, counted on a model built on the meta device."""
    return spec_summary(spec)["params_nonembedding"]


def matched_specs(width: int, layers: int, vocab: int, n_ctx: int) -> dict:
    """{arch: ModelSpec} at one width: the transformer has `layers` layers; Mamba and the LSTM get
    the layer count whose non-embedding parameters come closest to the transformer's."""
    if not (isinstance(width, int) and width >= 8 and width % 8 == 0):
        raise ValueError(f"width={width!r}: use a multiple of 8, at least 8")
    if not (isinstance(layers, int) and 1 <= layers <= 48):
        raise ValueError(f"layers={layers!r}: choose 1 to 48")
    ref = arch_spec("transformer", width, layers, vocab, n_ctx)
    target = nonembedding_params(ref)
    out = {"transformer": ref}
    for arch in ("mamba", "lstm"):
        per_layer = nonembedding_params(
            arch_spec(arch, width, 2, vocab, n_ctx)
        ) - nonembedding_params(arch_spec(arch, width, 1, vocab, n_ctx))
        fixed = nonembedding_params(arch_spec(arch, width, 1, vocab, n_ctx)) - per_layer
        n = max(1, round((target - fixed) / per_layer))
        out[arch] = arch_spec(arch, width, n, vocab, n_ctx)
    return out


def spec_summary(spec) -> dict:
    """Architecture, layers, width and parameter counts of `spec` (built on the meta device: no memory)."""
    import torch  # torch inside the functions: the app imports this package at start, torch-free

    with torch.device("meta"):
        counts = param_counts(build_model(spec))
    return {"arch": spec.arch, "n_layer": spec.n_layer, "d_model": spec.d_model, **counts}


def new_model(spec, seed: int = 0):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(falling back|deprecated).*")
        return build_model(spec, seed=seed)


def quiet_model_warnings():
    """The reference-kernel notices transformers prints once per Mamba op (known, said in the docs)."""
    import logging

    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
