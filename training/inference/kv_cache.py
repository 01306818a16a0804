"""1. KV cache on vs off: milliseconds per generated token against context length (greedy), the
cache's bytes read from the real cache object beside `shared.memory.kv_cache_bytes`, forward
FLOPs per token with and without the cache."""

from __future__ import annotations

import statistics
import time

from ..quiet import OtherLoad
from .plan import Plan, quiet_waiter


def measured_cache_bytes(model, ids: list[int]) -> int:
    """Run the prompt once with the cache on and weigh the cache it returns."""
    # torch is imported inside each function: the app imports this package at start (cold start)
    import torch

    from ..generate import cache_bytes

    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids], device=next(model.parameters()).device), use_cache=True
        )
    return cache_bytes(out.cache)


def predicted_cache_bytes(model, seq: int) -> float:
    """2 · layers · kv_heads · head_dim · seq · batch · bytes (shared.memory, REFERENCES "KV cache")."""
    from shared.memory import kv_cache_bytes

    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return kv_cache_bytes(
        cfg.num_hidden_layers,
        cfg.num_key_value_heads,
        head_dim,
        seq,
        1,
        next(model.parameters()).element_size(),
    )


def flops_per_token(model, context: int, cached: bool) -> float:
    """Forward FLOPs to generate one token whose query sees `context` positions (itself included).
    PaLM's count (`shared.scaling.flops_per_token`, 6N + 12·L·d·T per trained token, 3 × forward):
    forward(T) = 2N + 4·L·d·T, N = the parameters in matmuls (the tied output head included).
    Cached: the new token alone, forward(context). Uncached: the whole sequence re-run, position i
    attending to i positions (causal): Σ_{i=1..context} forward(i)."""
    from ..models import forward_flops_per_token as fwd

    return fwd(model, context) if cached else sum(fwd(model, i) for i in range(1, context + 1))


def decode_ms_per_token(
    model, ids: list[int], new_tokens: int, use_cache: bool
) -> tuple[float, list[int]]:
    """Milliseconds per generated token on `training.generate.generate_ids` (greedy), timed after
    the first token so the prompt's prefill is left out: with the cache each timed step feeds one
    token, without it each re-runs the whole sequence. Returns (ms per token, all token ids)."""
    from ..generate import generate_ids

    gen = generate_ids(model, ids, new_tokens + 1, use_cache=use_cache)
    out = [next(gen)]
    t0 = time.perf_counter()
    out += list(gen)
    return (time.perf_counter() - t0) * 1e3 / new_tokens, out


def time_decode(
    runs: dict, ids: list[int], new_tokens: int, repeats: int
) -> tuple[dict, dict, float]:
    """Time several (model, use_cache) runs on one prompt, alternating them in every repeat so a
    drift in machine speed hits all alike. Returns ({name: median ms/token}, {name: tokens},
    cores other processes kept busy meanwhile)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    tokens: dict[str, list[int]] = {}
    for model, use_cache in runs.values():  # warm-up: thread pool, allocator, first-call paths
        decode_ms_per_token(model, ids, 2, use_cache)
    with OtherLoad() as load:
        for _ in range(repeats):
            for name, (model, use_cache) in runs.items():
                ms, tokens[name] = decode_ms_per_token(model, ids, new_tokens, use_cache)
                times[name].append(ms)
    return {k: statistics.median(v) for k, v in times.items()}, tokens, round(load.cores, 3)


def kv_cache_section(model, prompt: list[int], plan: Plan) -> dict:
    ctx = model.config.max_position_embeddings
    if max(plan.contexts) + plan.new_tokens + 1 > ctx:
        raise ValueError(
            f"contexts up to {max(plan.contexts)} + {plan.new_tokens + 1} new tokens exceed "
            f"the model's context of {ctx}"
        )
    quiet, waited = quiet_waiter(plan.quiet_wait_s), 0.0
    rows, identical, other = [], True, []
    for c in plan.contexts:
        ids = prompt[:c]
        waited += quiet()
        ms, toks, cores = time_decode(
            {"cached": (model, True), "uncached": (model, False)},
            ids,
            plan.new_tokens,
            plan.repeats,
        )
        identical = identical and toks["cached"] == toks["uncached"]
        steps = range(c + 1, c + plan.new_tokens + 1)  # positions seen by the timed steps' queries
        rows.append(
            {
                "cached": ms["cached"],
                "uncached": ms["uncached"],
                "bytes": measured_cache_bytes(model, ids),
                "predicted": predicted_cache_bytes(model, c),
                "f_cached": statistics.fmean(flops_per_token(model, t, True) for t in steps),
                "f_uncached": statistics.fmean(flops_per_token(model, t, False) for t in steps),
            }
        )
        other.append(cores)
    return {
        "contexts": list(plan.contexts),
        "cached_ms_per_token": [round(r["cached"], 4) for r in rows],
        "uncached_ms_per_token": [round(r["uncached"], 4) for r in rows],
        "cache_bytes": [r["bytes"] for r in rows],
        "predicted_cache_bytes": [r["predicted"] for r in rows],
        "flops_per_token_cached": [r["f_cached"] for r in rows],
        "flops_per_token_uncached": [r["f_uncached"] for r in rows],
        "identical_tokens": identical,
        "other_cores": round(max(other), 3),
        "other_cores_per_context": other,
        "waited_for_quiet_s": round(waited, 1),
        "new_tokens": plan.new_tokens,
        "repeats": plan.repeats,
        "batch": 1,
        "greedy": True,
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "note": "ms per token: median over repeats of the mean of the decode steps after the first "
        "token (prefill excluded); context = prompt length; the cache is weighed after the "
        "prompt's forward; FLOPs are averaged over the timed steps",
    }
