"""Typed results: a JSON body checked against a frozen dataclass schema, field by field.

Each results directory (sweep, parallel, stability, inference, architectures, sft) declares its
schema as nested frozen dataclasses in the module that writes it, with a `SCHEMA_VERSION` class
variable on the top-level class. `parse(cls, body)` turns the JSON body into that dataclass and
refuses a body that does not match with one line naming the field (`runs[3].records[0].loss:
expected float, got str`), so a renamed key fails when the results are read, not when a student
clicks. `dump(obj)` is the inverse (what a build writes).

Supported field types: the dataclass itself, int, float (an int is accepted and made a float),
str, bool, None, `X | None`, `list[X]`, `tuple[X, ...]`, `dict[str, X]`, `Literal[...]` and `Any`
(left as read). An unknown key is an error; a missing key takes the field's default if it has one.
A top-level body may carry `"schema_version"`; a body without it was written before versions were
recorded and counts as version 1.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")
VERSION_KEY = "schema_version"


class SchemaError(ValueError):
    """A results body does not match its schema; the message names the field."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


def _fail(where: str, expected: str, value: Any) -> SchemaError:
    return SchemaError(f"{where or 'body'}: expected {expected}, got {_describe(value)}")


_EXACT = (str, bool, int, float, type(None))  # a value of exactly one of these types passes as is


def _convert(tp: Any, value: Any, where: str) -> Any:
    if tp is Any or (tp is type(value) and tp in _EXACT):
        return value
    if dataclasses.is_dataclass(tp):
        return _object(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if type(value) in options and type(value) in _EXACT:  # the common case, without a call
            return value
        if value is None:
            if type(None) in options:
                return None
            raise _fail(where, " or ".join(_name(o) for o in options), value)
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except SchemaError as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else _fail(where, _name(tp), value)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _fail(where, " or ".join(map(repr, typing.get_args(tp))), value)
        return value
    if origin is list or origin is tuple:
        if not isinstance(value, list | tuple):
            raise _fail(where, "a list", value)
        (item,) = typing.get_args(tp)[:1] or (Any,)
        out = _sequence(item, value, where)
        return out if origin is list else tuple(out)
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        key_tp, item = typing.get_args(tp) or (str, Any)
        return {k: _convert(item, v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    return _scalar(tp, value, where)


def _sequence(item: Any, value: list | tuple, where: str) -> list:
    if item is float and all(type(x) is float for x in value):
        return list(value)  # the common case (curves), without a call per number
    return [_convert(item, x, f"{where}[{i}]") for i, x in enumerate(value)]


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is type(None) or tp is None:
        if value is not None:
            raise _fail(where, "null", value)
        return None
    if tp is float:
        if type(value) is float:
            return value
        if type(value) is int:
            return float(value)
        raise _fail(where, "a number", value)
    if tp is int:
        if type(value) is int:
            return value
        if type(value) is float and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _fail(where, "an integer", value)
    if tp is bool or tp is str:
        if type(value) is tp:
            return value
        raise _fail(where, _name(tp), value)
    raise TypeError(f"{where}: unsupported schema type {tp!r}")


def _name(tp: Any) -> str:
    return {float: "a number", int: "an integer", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


@cache
def _fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """name -> (type, required) of each field `cls` takes."""
    hints = _hints(cls)
    return {
        f.name: (
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    }


def _object(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise _fail(where, f"an object ({cls.__name__})", value)
    fields = _fields(cls)
    unknown = [k for k in value if k not in fields and not (k == VERSION_KEY and not where)]
    if unknown:
        at = f"{where}.{unknown[0]}" if where else unknown[0]
        raise SchemaError(f"{at}: unexpected field (the schema {cls.__name__} has no such field)")
    kwargs = {}
    for name, (tp, required) in fields.items():
        if name in value:
            kwargs[name] = _convert(tp, value[name], f"{where}.{name}" if where else name)
        elif required:
            raise SchemaError(f"{f'{where}.{name}' if where else name}: missing")
    return cls(**kwargs)


def parse(cls: type[T], body: Any) -> T:
    """`body` (parsed JSON) as the dataclass `cls`, or SchemaError naming the first bad field."""
    version = getattr(cls, "SCHEMA_VERSION", 1)
    found = body.get(VERSION_KEY, 1) if isinstance(body, dict) else 1
    if found != version:
        raise SchemaError(
            f"{VERSION_KEY}: expected {version}, got {found} (rebuild these results with this code)"
        )
    return _object(cls, body, "")


def dump(obj: Any) -> dict:
    """A schema dataclass as the JSON body that `parse` reads back (with its schema version)."""
    body = dataclasses.asdict(obj)
    return {VERSION_KEY: getattr(type(obj), "SCHEMA_VERSION", 1), **body}
