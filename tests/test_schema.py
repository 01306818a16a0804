"""training/schema.py: results bodies parsed into frozen dataclasses, refused field by field."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Literal

import pytest

from training import schema, store
from training.schema import SchemaError


@dataclass(frozen=True)
class Point:
    step: int
    loss: float


@dataclass(frozen=True)
class Run:
    name: str
    kind: Literal["a", "b"]
    curve: list[Point]
    losses: list[float]
    diverged_at: int | None = None
    tags: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    SCHEMA_VERSION = 2
    runs: list[Run]
    best: tuple[float, ...]
    note: str = ""


GOOD = {
    "schema_version": 2,
    "runs": [
        {
            "name": "r0",
            "kind": "a",
            "curve": [{"step": 1, "loss": 3}, {"step": 2, "loss": 2.5}],
            "losses": [3.0, float("nan")],
            "tags": {"x": 1},
        }
    ],
    "best": [1, 2.5],
}


def test_parse_builds_nested_frozen_dataclasses_with_numbers():
    body = schema.parse(Body, json.loads(json.dumps(GOOD)))
    run = body.runs[0]
    assert run.curve[1].loss == 2.5 and run.curve[0].loss == 3.0
    assert isinstance(run.curve[0].loss, float)  # an int in JSON is a float in the schema
    assert math.isnan(run.losses[1]) and run.diverged_at is None and run.tags == {"x": 1}
    assert body.best == (1.0, 2.5) and body.note == ""
    with pytest.raises(AttributeError):
        run.name = "changed"  # frozen


def test_dump_round_trips():
    body = schema.parse(Body, GOOD)
    again = schema.parse(Body, json.loads(json.dumps(schema.dump(body))))
    assert again.runs[0].curve == body.runs[0].curve and again.best == body.best


@pytest.mark.parametrize(
    "edit, where",
    [
        (
            lambda b: b["runs"][0]["curve"][1].update(loss="low"),
            "runs[0].curve[1].loss: expected a number",
        ),
        (lambda b: b["runs"][0]["curve"][0].pop("step"), "runs[0].curve[0].step: missing"),
        (lambda b: b["runs"][0].update(kind="c"), "runs[0].kind: expected 'a' or 'b'"),
        (lambda b: b["runs"][0].update(extra=1), "runs[0].extra: unexpected field"),
        (lambda b: b["runs"][0]["tags"].update(y="no"), "runs[0].tags.y: expected an integer"),
        (lambda b: b["runs"][0].update(diverged_at=1.5), "runs[0].diverged_at"),
        (lambda b: b["runs"][0].update(name=True), "runs[0].name: expected a string"),
        (lambda b: b.update(best={"a": 1}), "best: expected a list"),
        (lambda b: b.update(schema_version=1), "schema_version: expected 2, got 1"),
    ],
)
def test_a_body_that_does_not_match_is_refused_naming_the_field(edit, where):
    body = json.loads(json.dumps(GOOD))
    edit(body)
    with pytest.raises(SchemaError) as e:
        schema.parse(Body, body)
    assert str(e.value).startswith(where) and "\n" not in str(e.value)


def test_store_reads_typed_results_and_refuses_a_mismatch(tmp_path, monkeypatch):
    monkeypatch.setitem(store.BUILD_COMMANDS, "demo", "python -m training demo")
    good = store.write_results(tmp_path / "good", schema.parse(Body, GOOD), {"kind": "demo"})
    assert store.read_results("demo", good, schema=Body).runs[0].curve[0].step == 1
    bad = json.loads(json.dumps(GOOD))
    bad["runs"][0]["curve"][0]["step"] = "one"
    out = store.write_results(tmp_path / "bad", bad, {"kind": "demo"})
    with pytest.raises(store.CheckpointError) as e:
        store.read_results("demo", out, schema=Body)
    assert "runs[0].curve[0].step: expected an integer" in str(e.value)
    assert "python -m training demo" in str(e.value)
    assert store.read_results("demo", tmp_path / "absent", schema=Body) is None


def test_unchanged_results_are_read_once_and_a_rewrite_is_read_again(tmp_path, monkeypatch):
    """Handlers read results on every event: an unchanged directory is not hashed again."""
    out = store.write_results(tmp_path / "r", schema.parse(Body, GOOD), {"kind": "demo"})
    checks = []
    real = store.verify
    monkeypatch.setattr(store, "verify", lambda p: checks.append(p) or real(p))
    first = store.read_results("demo", out, schema=Body)
    assert store.read_results("demo", out, schema=Body) is first and len(checks) == 1
    body = json.loads((out / store.RESULTS).read_text())
    body["best"] = [9.0]
    (out / store.RESULTS).write_text(json.dumps(body))  # rewritten: read again, and refused
    assert store.read_results("demo", out, schema=Body) is None and len(checks) == 2
    store.write_results(out, schema.parse(Body, body), {"kind": "demo"})  # rebuilt properly
    assert store.read_results("demo", out, schema=Body).best == (9.0,) and len(checks) == 3
