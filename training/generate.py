"""The one generation helper: a plain token-by-token loop, with or without the KV cache.

Why our own loop rather than `model.generate`: the apps stream tokens, show per-token
probabilities, and the benchmarks time the same loop with the cache on and off.
"""

from __future__ import annotations

from typing import Iterator

import torch

from shared.limits import LIBRARY, GenerationError, number
from training import store
from training.tokenizer import END

WARM_PROMPT = "He was born in"

UNBOUNDED = 1 << 30  # recurrent models (Mamba, LSTM) have no position limit


def context_length(model) -> int:
    """Positions a transformer can attend over; recurrent models are unbounded (their state does
    not grow — how well they use a long context is another matter, measured in the apps)."""
    cfg = model.config
    n = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    return int(n) if n else UNBOUNDED


def cache_bytes(cache) -> int:
    """Bytes held by a model's real cache object: a transformers cache (keys and values of every
    attention layer; conv and SSM states of every Mamba layer) or an LSTM's (h, c) tensors."""
    if cache is None:
        return 0
    if torch.is_tensor(cache):
        return cache.numel() * cache.element_size()
    if isinstance(cache, dict):
        return sum(cache_bytes(c) for c in cache.values() if torch.is_tensor(c))
    if isinstance(cache, (tuple, list)):
        return sum(cache_bytes(c) for c in cache)
    return sum(
        cache_bytes(t)
        for layer in cache.layers
        for t in vars(layer).values()
        if torch.is_tensor(t) or isinstance(t, (tuple, list, dict))
    )


def check_settings(
    prompt_tokens: int, max_new_tokens: int, temperature: float, top_k: int, ctx: int
) -> int:
    """Validate settings against `shared.limits.LIBRARY` and the model's context; return the
    number of tokens that will really be generated."""
    if prompt_tokens == 0:
        raise GenerationError("the prompt is empty: type a few words to complete")
    number("max new tokens", max_new_tokens, 1, LIBRARY.max_new_tokens, True, GenerationError)
    number("temperature", temperature, 0.0, LIBRARY.max_temperature, False, GenerationError)
    number("top-k", top_k, 0, LIBRARY.max_top_k, True, GenerationError)
    if prompt_tokens >= ctx:
        raise GenerationError(
            f"the prompt is {prompt_tokens} tokens but the model's context is {ctx}: shorten it"
        )
    return min(max_new_tokens, ctx - prompt_tokens)


def _pick(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None
) -> int:
    if temperature == 0.0:
        return int(logits.argmax())
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=generator))


@torch.inference_mode()
def generate_ids(
    model,
    input_ids: list[int],
    max_new_tokens: int,
    *,
    temperature: float = 0.0,
    top_k: int = 0,
    use_cache: bool = True,
    stop_ids: frozenset[int] = frozenset(),
    seed: int = 0,
) -> Iterator[int]:
    """Yield new token ids one at a time. With the cache each step feeds one token;
    without it each step re-runs the whole sequence (what the KV cache saves)."""
    device = next(model.parameters()).device
    n = check_settings(len(input_ids), max_new_tokens, temperature, top_k, context_length(model))
    gen = torch.Generator().manual_seed(seed)
    ids = torch.tensor([input_ids], device=device)
    past = None
    feed = ids
    for _ in range(n):
        out = model(input_ids=feed, cache=past, use_cache=use_cache)
        tok = _pick(out.logits[0, -1].cpu(), temperature, top_k, gen)
        yield tok
        if tok in stop_ids:
            return
        nxt = torch.tensor([[tok]], device=device)
        if use_cache:
            past, feed = out.cache, nxt
        else:
            ids = torch.cat([ids, nxt], dim=1)
            feed = ids


def stop_ids(tokenizer) -> frozenset[int]:
    """End of text and end of turn (the chat template's stop token) both end a completion."""
    ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(END)}
    return frozenset(i for i in ids if i is not None and i != tokenizer.unk_token_id)


def stream_completion(
    model,
    tokenizer,
    prompt: str,
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int = 0,
    use_cache: bool = True,
) -> Iterator[str]:
    """Yield the completion text so far after every new token (gradio-friendly streaming)."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    stops = stop_ids(tokenizer)
    new: list[int] = []
    for tok in generate_ids(
        model,
        ids,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        use_cache=use_cache,
        stop_ids=stops,
        seed=seed,
    ):
        if tok in stops:
            break
        new.append(tok)
        yield tokenizer.decode(new, skip_special_tokens=True)


def stream_checkpoint(
    path: str | None,
    prompt: str,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_k: int = 0,
    seed: int = 0,
) -> Iterator[str]:
    """`stream_completion` with the checkpoint at `path` (None: the base model, `store.resolve`),
    loaded once per process (`store.load_shared`): what the page's Generate runs, in the server or
    in the first clicks' process (`shared.warm_process`: plain arguments, text items)."""
    ckpt = store.load_shared(path)
    yield from stream_completion(
        ckpt.model,
        ckpt.tokenizer,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
    )


def warm_base(path: str | None = None) -> None:
    """What the first Generate needs, loaded: torch, the base checkpoint, and one token through
    `stream_checkpoint` (its first-call costs)."""
    for _ in stream_checkpoint(path, WARM_PROMPT, 1):
        pass


def complete(model, tokenizer, prompt: str, **kw) -> str:
    """The whole completion of `prompt` (greedy by default)."""
    text = ""
    for text in stream_completion(model, tokenizer, prompt, **kw):  # noqa: B007 - keep the last
        pass
    return text
