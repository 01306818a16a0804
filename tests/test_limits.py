"""shared/limits.py: the one table of generation limits, and the one number check."""

from __future__ import annotations

import math

import pytest

from shared import limits
from shared.limits import GenerationError


def test_the_three_budgets_are_ordered_and_side_by_side_is_half_a_page():
    assert limits.SIDE_BY_SIDE.max_new_tokens * 2 == limits.PAGE.max_new_tokens
    assert limits.PAGE.max_new_tokens < limits.LIBRARY.max_new_tokens
    assert limits.PAGE.max_temperature <= limits.LIBRARY.max_temperature


def test_check_returns_the_request_with_whole_numbers():
    req = limits.check(limits.PAGE, " Ada was born in", 256.0, 0.5, 100, 2**32 - 1)
    assert req == limits.Request(" Ada was born in", 256, 0.5, 100, 2**32 - 1)
    assert isinstance(req.max_new_tokens, int) and isinstance(req.seed, int)
    assert limits.check(limits.PAGE, "x", 1, 0).top_k == 0  # defaults: top-k off, seed 0


@pytest.mark.parametrize(
    "lim, args, msg",
    [
        (limits.PAGE, ("  \n", 5, 0), "the prompt is empty"),
        (limits.PAGE, (None, 5, 0), "the prompt is empty"),
        (limits.PAGE, ("x" * 2001, 5, 0), "the prompt has 2001 characters; keep it under 2000"),
        (limits.SIDE_BY_SIDE, ("x" * 1001, 5, 0), "keep it under 1000"),
        (limits.PAGE, ("x", 257, 0), "max new tokens = 257: choose between 1 and 256"),
        (limits.SIDE_BY_SIDE, ("x", 129, 0), "max new tokens = 129: choose between 1 and 128"),
        (limits.PAGE, ("x", 0, 0), "max new tokens = 0: choose between 1 and 256"),
        (limits.PAGE, ("x", 2.5, 0), "max new tokens = 2.5: must be a whole number"),
        (limits.PAGE, ("x", "many", 0), "max new tokens must be a number (got 'many')"),
        (limits.PAGE, ("x", 5, math.nan), "temperature must be a finite number (got nan)"),
        (limits.PAGE, ("x", 5, 2.01), "temperature = 2.01: choose between 0 and 2"),
        (limits.PAGE, ("x", 5, 0, 101), "top-k = 101: choose between 0 and 100"),
        (limits.PAGE, ("x", 5, 0, 0, -1), "seed = -1: choose between 0 and 4294967295"),
        (limits.PAGE, ("x", 5, 0, 0, 10**20), "seed = 1e+20: choose between 0 and 4294967295"),
    ],
)
def test_a_request_outside_its_limits_is_refused_in_one_line(lim, args, msg):
    with pytest.raises(GenerationError) as e:
        limits.check(lim, *args)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_number_raises_the_callers_error_class():
    assert limits.number("x", "3", 0, 5) == 3.0
    with pytest.raises(ValueError) as e:
        limits.number("layers", True, 0, 5)
    assert type(e.value) is ValueError and str(e.value) == "layers must be a number (got true)"
    with pytest.raises(KeyError):
        limits.number("x", 9, 0, 5, error=KeyError)


@pytest.mark.parametrize(
    "value, shown",
    [
        (None, "nothing (null)"),
        (True, "true"),
        (12, "12"),
        (10**15, "a 16-digit number"),
        (0.1 + 0.2, "0.3"),
        ("a\x00b", "'a\\x00b'"),
        ("y" * 50, "'" + "y" * 40 + "'… (50 characters)"),
        ([1, 2], "a list of 2 items"),
        ({"a": 1}, "an object with 1 key"),
        (object(), "a value of type object"),
    ],
)
def test_excerpt_never_quotes_a_whole_value(value, shown):
    assert limits.excerpt(value) == shown
