"""The one input layer: every event's raw inputs are checked here before any app code sees them.

Why: the page, `gradio_client` and the REST API can all send anything (None, "abc", NaN, a list
into a slider, a 100,000-character choice). Gradio's own checks answer such values with a generic
"the upstream app has raised an exception" or a message that echoes the whole value, and a Python
error deep in a handler reaches the caller as a Python message. `guard(demo)` (called by
`ui.launch`, so every app and the suite get it) changes every event of a built page so that:

- each raw input is checked against its component (type, finiteness, range, choices, length) and
  refused with one line naming the input and what it accepts, quoting at most a short escaped
  excerpt of the value; then the component's own preprocessing runs, its errors made one line too;
- an unexpected exception in app code is logged once with its traceback and reaches the caller as
  one line naming the event, never as a Python message;
- every refusal leaves exactly one log line (no traceback).

A component type without a rule here is refused at `guard` time: a new input type needs a rule.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import re
import threading
from typing import Any, Callable

import gradio as gr

from shared.limits import EXCERPT_CHARS, excerpt  # noqa: F401 - excerpt is part of this API

log = logging.getLogger("lab")

MAX_TEXT_CHARS = 20_000  # a Textbox without its own max_length takes at most this much
MAX_MAGNITUDE = (
    1e15  # a Number without its own bounds: beyond this nothing in the lab is meaningful
)
MAX_CHOICES_LISTED = 8
WARM_UP_WAIT_S = 120.0  # the longest a heavy handler waits for the background warm-up to finish

# Set while no warm-up runs (cleared by `ui.launch` while its background warm-up imports torch and
# transformers and loads models). Heavy handlers (marked by `shared.gpu.on_gpu`) wait for it: a
# click in the first seconds must not import transformers beside the warm-up thread — its lazy
# module then fails with "cannot import name AutoModelForCausalLM" (seen with transformers 5.24).
warm_up_done = threading.Event()
warm_up_done.set()


class InputError(gr.Error):
    """A refused input: one line, shown to the caller, no traceback printed."""

    def __init__(self, message: str):
        super().__init__(one_line(message), print_exception=False)


def one_line(msg: Any, limit: int = 300) -> str:
    """Collapse whitespace (and control characters) into single spaces and cap the length."""
    text = re.sub(r"[\s\x00-\x1f\x7f]+", " ", str(msg)).strip() or "something went wrong"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(component: gr.components.Component, index: int) -> str:
    label = getattr(component, "label", None)
    return one_line(label, 60) if label else f"input {index + 1}"


def _number_text(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1e6 else f"{x:.3g}"


def _choices_text(values: list) -> str:
    shown = ", ".join(
        repr(v) if isinstance(v, str) else str(v) for v in values[:MAX_CHOICES_LISTED]
    )
    more = len(values) - MAX_CHOICES_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")


def _one_choice(name: str, value: Any, choices: list) -> Any:
    """A value from `choices`; a number sent as text (or text as a number) is matched by its text,
    since JSON callers cannot always tell 32 from "32"."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        for c in choices:
            if type(c) is type(value) and c == value:
                return c
        if not isinstance(value, str) or len(value) <= 64:
            matches = [c for c in choices if not isinstance(c, bool) and str(c) == str(value)]
            if len(matches) == 1:
                return matches[0]
    raise InputError(f"{name}: choose one of {_choices_text(choices)} (got {excerpt(value)})")


def _number(name: str, value: Any, lo: float | None, hi: float | None) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number (got {excerpt(value)})")
    if isinstance(value, int) and abs(value) > 10**300:
        raise InputError(f"{name} must be a finite number (got {excerpt(value)})")
    if not math.isfinite(float(value)):
        raise InputError(f"{name} must be a finite number (got {excerpt(value)})")
    lo_eff = lo if lo is not None else -MAX_MAGNITUDE
    hi_eff = hi if hi is not None else MAX_MAGNITUDE
    if not lo_eff <= value <= hi_eff:
        raise InputError(
            f"{name} must be between {_number_text(lo_eff)} and {_number_text(hi_eff)} "
            f"(got {excerpt(value)})"
        )
    return value


def check(component: gr.components.Component, value: Any, index: int = 0) -> Any:
    """The raw payload `value` for `component` if it is usable, else an `InputError` naming the
    input and what it accepts. (Preprocessing, e.g. rounding, is the component's own job after.)"""
    name = _label(component, index)
    if isinstance(component, (gr.Slider, gr.Number)):
        return _number(
            name, value, component.minimum, component.maximum
        )  # precision: the component rounds
    if isinstance(component, gr.Checkbox):
        if not isinstance(value, bool):
            raise InputError(f"{name} must be true or false (got {excerpt(value)})")
        return value
    if isinstance(component, gr.CheckboxGroup):
        choices = [v for _, v in component.choices]
        if not isinstance(value, list):
            raise InputError(
                f"{name} must be a list of choices from {_choices_text(choices)} (got {excerpt(value)})"
            )
        if len(value) > len(choices):
            raise InputError(f"{name}: at most {len(choices)} choices (got {excerpt(value)})")
        return [_one_choice(name, v, choices) for v in value]
    if isinstance(component, (gr.Radio, gr.Dropdown)):
        choices = [v for _, v in component.choices]
        multi = isinstance(component, gr.Dropdown) and component.multiselect
        if multi:
            if not isinstance(value, list) or len(value) > max(1, len(choices)):
                raise InputError(
                    f"{name} must be a list of choices from {_choices_text(choices)} "
                    f"(got {excerpt(value)})"
                )
            return [_one_choice(name, v, choices) for v in value]
        if isinstance(component, gr.Dropdown) and component.allow_custom_value:
            return _text(name, value, MAX_TEXT_CHARS)
        return _one_choice(name, value, choices)
    if isinstance(component, gr.Textbox):
        return _text(name, value, component.max_length or MAX_TEXT_CHARS)
    if isinstance(component, gr.Dataset):
        n = len(component.samples or [])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise InputError(
                f"{name}: pick an example by its index, 0 to {n - 1} (got {excerpt(value)})"
            )
        return value
    raise TypeError(f"shared/inputs.py has no rule for {type(component).__name__} inputs: add one")


RULES = (
    gr.Slider,
    gr.Number,
    gr.Checkbox,
    gr.CheckboxGroup,
    gr.Radio,
    gr.Dropdown,
    gr.Textbox,
    gr.Dataset,
)


def _text(name: str, value: Any, max_chars: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{name} must be text (got {excerpt(value)})")
    if len(value) > max_chars:
        raise InputError(f"{name} is too long: {len(value):,} characters, at most {max_chars:,}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{name} is not valid Unicode text (got {excerpt(value)})") from None
    return value


# ---------------------------------------------------------------- wrapping a page's events
def event_name(block_fn: Any) -> str:
    """How a message names an event: its public API route, else its handler's name."""
    api = getattr(block_fn, "api_name", None)
    if isinstance(api, str) and getattr(block_fn, "api_visibility", "public") == "public":
        return f"/{api}"
    return getattr(block_fn, "name", None) or "this event"


def _refuse(event: str, err: gr.Error) -> gr.Error:
    """Log a refusal as one line; return it as one line without a traceback."""
    msg = one_line(getattr(err, "message", err))
    log.warning("refused %s: %s", event, msg)
    return gr.Error(msg, print_exception=False, title=getattr(err, "title", "Error"))


def _failure(event: str) -> gr.Error:
    """Log the exception being handled once, with its traceback; return one line for the caller."""
    log.exception("unexpected error in %s", event)
    return gr.Error(
        f"{event} failed unexpectedly; the error was logged on the server. "
        "Try other inputs or reload the page.",
        print_exception=False,
    )


def _slots(fn: Callable, n: int) -> list[int]:
    """Positions of the component inputs among the arguments gradio passes `fn` (it inserts
    gr.Progress / gr.Request arguments at their parameters' positions)."""
    # gradio.helpers at wrap time (not needed to import this module)
    from gradio.helpers import special_args

    marks = [object() for _ in range(n)]
    args, *_ = special_args(fn, list(marks))
    ids = {id(m): i for i, m in enumerate(marks)}
    return [pos for pos, a in enumerate(args) if id(a) in ids]


def _wrap(block_fn: Any) -> None:
    fn, components = block_fn.fn, list(block_fn.inputs)
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(
            f"{event_name(block_fn)}: async handlers are not supported by shared/inputs.py"
        )
    event = event_name(block_fn)
    slots = _slots(fn, len(components))
    # a first-click handler waits inside `shared.warm_process.run`, only when it must
    heavy = getattr(fn, "__lab_heavy__", False) and not getattr(fn, "__lab_first_click__", False)

    def prepare(args: tuple) -> list:
        args = list(args)
        if heavy:
            warm_up_done.wait(WARM_UP_WAIT_S)
        for i, (pos, comp) in enumerate(zip(slots, components)):
            if getattr(comp, "stateful", False):
                continue
            value = check(comp, args[pos], i)
            try:
                args[pos] = comp.preprocess(value)
            except gr.Error as e:
                raise InputError(f"{_label(comp, i)}: {getattr(e, 'message', e)}") from None
            except Exception:  # noqa: BLE001 - gradio's own check: its explanation as one line
                raise InputError(
                    f"{_label(comp, i)}: this value cannot be used (got {excerpt(value)})"
                ) from None
        return args

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def guarded(*args):
            try:
                call_args = prepare(args)
            except gr.Error as e:
                raise _refuse(event, e) from None
            try:
                yield from fn(*call_args)
            except gr.Error as e:
                raise _refuse(event, e) from None
            except Exception:  # noqa: BLE001 - anything else: logged once, one line out
                raise _failure(event) from None
    else:

        @functools.wraps(fn)
        def guarded(*args):
            try:
                return fn(*prepare(args))
            except gr.Error as e:
                raise _refuse(event, e) from None
            except Exception:  # noqa: BLE001
                raise _failure(event) from None

    guarded.__lab_guarded__ = True
    block_fn.fn = guarded
    block_fn.preprocess = False  # the raw values come to `guarded`, which preprocesses them itself


def guard(demo: gr.Blocks) -> gr.Blocks:
    """Put every event of `demo` (and of every page rendered into it) behind the input layer.
    Idempotent; returns `demo`."""
    for block_fn in demo.fns.values():
        fn = block_fn.fn
        if (
            fn is None
            or getattr(fn, "__lab_guarded__", False)
            or getattr(block_fn, "is_validator_function", False)
        ):
            continue
        if block_fn.inputs_as_dict or block_fn.batch or not block_fn.preprocess:
            raise TypeError(
                f"{event_name(block_fn)}: dict/batch/unpreprocessed inputs are not supported "
                "by shared/inputs.py"
            )
        for comp in block_fn.inputs:
            if not getattr(comp, "stateful", False) and not isinstance(comp, RULES):
                raise TypeError(
                    f"{event_name(block_fn)}: shared/inputs.py has no rule for "
                    f"{type(comp).__name__} inputs: add one"
                )
        _wrap(block_fn)
    if not getattr(demo, "__lab_guarded__", False):
        demo.validate_inputs = functools.partial(
            _count_inputs, demo
        )  # gradio's own count check, as one line
        demo.__lab_guarded__ = True
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s lab %(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return demo


def _count_inputs(demo: gr.Blocks, block_fn: Any, inputs: list) -> None:
    """Replaces `Blocks.validate_inputs` (whose message lists every value it received)."""
    if len(inputs) < len(block_fn.inputs):
        names = ", ".join(_label(c, i) for i, c in enumerate(block_fn.inputs))
        raise _refuse(
            event_name(block_fn),
            gr.Error(
                f"{event_name(block_fn)} takes {len(block_fn.inputs)} input"
                f"{'s' * (len(block_fn.inputs) != 1)} ({names}); got {len(inputs)}"
            ),
        )
