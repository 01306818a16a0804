"""The one source of request limits: what a generation request may ask of a model, and the one
number check every handler uses (gradio-free and torch-free, so `training/` can use it too).

Three callers, three budgets, one table (the README's limits table quotes it):
- PAGE: the suite's base-model completion — one model, streamed to a page.
- SIDE_BY_SIDE: the SFT app's comparison — up to three models decode in lock step, so each gets
  half the page's tokens and the event stays within its time bound.
- LIBRARY: `training.generate` called from Python or the CLI — bounded by the model's context,
  not by a page's patience.
A page checks its request against its limits before loading anything; `training.generate` checks
again against LIBRARY and the model's context. Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

EXCERPT_CHARS = 40  # of an input value quoted in an error message


class GenerationError(ValueError):
    """Bad generation input (prompt too long, absurd settings); the message says what to fix."""


@dataclass(frozen=True)
class Limits:
    max_new_tokens: int  # tokens one request may generate (at least 1)
    max_temperature: float  # 0 is greedy decoding
    max_top_k: int  # 0 turns top-k filtering off
    max_prompt_chars: int  # characters of prompt text, before tokenizing
    max_seed: int = 2**32 - 1  # the sampler's seed range


PAGE = Limits(max_new_tokens=256, max_temperature=2.0, max_top_k=100, max_prompt_chars=2000)
SIDE_BY_SIDE = Limits(max_new_tokens=128, max_temperature=2.0, max_top_k=0, max_prompt_chars=1000)
LIBRARY = Limits(
    max_new_tokens=4096, max_temperature=5.0, max_top_k=1 << 20, max_prompt_chars=1 << 20
)


@dataclass(frozen=True)
class Request:
    """A checked request: every field inside its limits."""

    prompt: str
    max_new_tokens: int
    temperature: float
    top_k: int = 0
    seed: int = 0


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, escaped description of a value for an error message: never the whole value,
    never a raw control character, never a 309-digit number."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        if abs(value) < 10**15:
            return str(value)
        return f"a {int(value.bit_length() * math.log10(2)) + 1}-digit number"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        shown = repr(
            value[:limit]
        )  # repr escapes control, format and unpaired surrogate characters
        return shown if len(value) <= limit else f"{shown}… ({len(value):,} characters)"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'s' * (len(value) != 1)}"
    return f"a value of type {type(value).__name__}"


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def number(
    name: str, x: Any, lo: float, hi: float, integer: bool = False, error: type = ValueError
) -> float:
    """`x` as a finite number inside [lo, hi] (whole if asked), or a one-line `error` naming it —
    what every handler does with its sliders and boxes (in-process callers can send anything;
    over HTTP `shared.inputs` has already checked the component's own bounds)."""
    try:
        if isinstance(x, bool):  # float(True) is 1.0: a checkbox's value is not a number
            raise TypeError
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name} must be a number (got {excerpt(x)})") from None
    if not math.isfinite(v):
        raise error(f"{name} must be a finite number (got {excerpt(x)})")
    if not lo <= v <= hi:
        raise error(f"{name} = {excerpt(v)}: choose between {_bound(lo)} and {_bound(hi)}")
    if integer and v != int(v):
        raise error(f"{name} = {excerpt(v)}: must be a whole number")
    return int(v) if integer else v


def check_prompt(prompt: Any, limits: Limits) -> str:
    """The prompt as given, or a one-line GenerationError: empty, or too long for `limits`."""
    text = prompt if isinstance(prompt, str) else ""
    if not text.strip():
        raise GenerationError("the prompt is empty: type a few words for the model to work on")
    if len(text) > limits.max_prompt_chars:
        raise GenerationError(
            f"the prompt has {len(text)} characters; keep it under {limits.max_prompt_chars}"
        )
    return text


def check(
    limits: Limits,
    prompt: Any,
    max_new_tokens: Any,
    temperature: Any,
    top_k: Any = 0,
    seed: Any = 0,
) -> Request:
    """A request checked against `limits`, or a one-line GenerationError naming the bad field."""

    def whole(name: str, x: Any, lo: int, hi: int) -> int:
        return int(number(name, x, lo, hi, integer=True, error=GenerationError))

    return Request(
        prompt=check_prompt(prompt, limits),
        max_new_tokens=whole("max new tokens", max_new_tokens, 1, limits.max_new_tokens),
        temperature=number(
            "temperature", temperature, 0.0, limits.max_temperature, error=GenerationError
        ),
        top_k=whole("top-k", top_k, 0, limits.max_top_k),
        seed=whole("seed", seed, 0, limits.max_seed),
    )
