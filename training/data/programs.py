"""The code domain: small programs in a Python-like syntax with their real output appended.

A program is a few statements — assignments of integer arithmetic (+, -, *, //, %), a loop over a
small ``range``, an ``if`` on a comparison, and ``print`` — drawn from a seeded stream and then
run by this module's own interpreter over the program's tree (never ``exec``); the record is the
program's text, a ``# output:`` line and one line per printed value. A second, independent path
(`execute`: Python's ``ast`` parser plus a whitelist interpreter that refuses anything else) reads
the rendered text back and must print the same lines — the tests hold the two against each other.

Held-out programs come from their own stream and are never equal to a training program's text.
Everything is deterministic for (seed, index) across processes (numpy SeedSequence streams).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

VARS = ("a", "b", "c", "n", "x", "y", "total", "count")
OPS = ("+", "-", "*", "//", "%")
CMPS = (">", "<", "==", "!=")
MAX_ABS = 9999  # a program whose values leave [-MAX_ABS, MAX_ABS] is drawn again
OUTPUT = "# output:"
_TRAIN, _HELDOUT = 0, 1  # stream tags
_TAG = 7  # this module's SeedSequence tag, apart from the world's


class ProgramError(ValueError):
    """The text is not a program of this domain's subset."""


# A tree: expressions ("num", k) | ("var", name) | ("bin", op, left, right); statements
# ("assign", name, expr) | ("for", var, k, body) | ("if", (left, cmp, right), body) | ("print", expr)


def _apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a // b if op == "//" else a % b


def _compare(cmp: str, a: int, b: int) -> bool:
    return {">": a > b, "<": a < b, "==": a == b, "!=": a != b}[cmp]


def _eval(e, env: dict) -> int:
    kind = e[0]
    if kind == "num":
        return e[1]
    if kind == "var":
        return env[e[1]]
    v = _apply(e[1], _eval(e[2], env), _eval(e[3], env))
    if abs(v) > MAX_ABS:
        raise OverflowError
    return v


def _run(stmts, env: dict, out: list[str]) -> None:
    for s in stmts:
        if s[0] == "assign":
            env[s[1]] = _eval(s[2], env)
        elif s[0] == "print":
            out.append(str(_eval(s[1], env)))
        elif s[0] == "for":
            for i in range(s[2]):
                env[s[1]] = i
                _run(s[3], env, out)
        else:
            left, cmp, right = s[1]
            if _compare(cmp, _eval(left, env), _eval(right, env)):
                _run(s[2], env, out)


def _prec(e) -> int:
    return 3 if e[0] != "bin" else (1 if e[1] in ("+", "-") else 2)


def _expr_text(e) -> str:
    """Python's precedence: a left operand binding looser, or a right one not tighter, in ()."""
    if e[0] == "num":
        return str(e[1])
    if e[0] == "var":
        return e[1]
    left, right = _expr_text(e[2]), _expr_text(e[3])
    if _prec(e[2]) < _prec(e):
        left = f"({left})"
    if _prec(e[3]) <= _prec(e):
        right = f"({right})"
    return f"{left} {e[1]} {right}"


def _render(stmts, indent: str = "") -> list[str]:
    lines = []
    for s in stmts:
        if s[0] == "assign":
            lines.append(f"{indent}{s[1]} = {_expr_text(s[2])}")
        elif s[0] == "print":
            lines.append(f"{indent}print({_expr_text(s[1])})")
        elif s[0] == "for":
            lines.append(f"{indent}for {s[1]} in range({s[2]}):")
            lines += _render(s[3], indent + "    ")
        else:
            left, cmp, right = s[1]
            lines.append(f"{indent}if {_expr_text(left)} {cmp} {_expr_text(right)}:")
            lines += _render(s[2], indent + "    ")
    return lines


class _Drawer:
    """Draws one program's tree from a seeded stream (variables are defined before use)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def operand(self, known: list[str]):
        if known and self.rng.random() < 0.6:
            return ("var", self.pick(known))
        return ("num", int(self.rng.integers(1, 10)))

    def expr(self, known: list[str]):
        e = self.operand(known)
        for _ in range(int(self.rng.integers(0, 3))):
            op = self.pick(OPS)
            right = (
                ("num", int(self.rng.integers(2, 10))) if op in ("//", "%") else self.operand(known)
            )
            e = ("bin", op, e, right)
        return e

    def program(self):
        names = list(self.rng.permutation(VARS)[: int(self.rng.integers(2, 4))])
        stmts = [("assign", v, ("num", int(self.rng.integers(0, 10)))) for v in names[:1]]
        known = names[:1]
        for v in names[1:]:
            stmts.append(("assign", v, self.expr(known)))
            known.append(v)
        kind = self.pick(("for", "if", "plain"))
        if kind == "for":
            target = self.pick(known)
            body = [
                (
                    "assign",
                    target,
                    ("bin", self.pick(("+", "-")), ("var", target), self.expr(known + ["i"])),
                )
            ]
            stmts.append(("for", "i", int(self.rng.integers(2, 6)), body))
        elif kind == "if":
            cond = (("var", self.pick(known)), self.pick(CMPS), self.operand(known))
            stmts.append(("if", cond, [("print", self.expr(known))]))
        stmts += [("print", self.expr(known)) for _ in range(int(self.rng.integers(1, 3)))]
        return stmts


@dataclass(frozen=True)
class Program:
    source: str  # the program's lines
    output: tuple[str, ...]  # what running it prints, one value per line

    @property
    def text(self) -> str:
        """The training record: the program, "# output:", then the printed lines."""
        return "\n".join([self.source, OUTPUT, *self.output])


def draw(seed: int, stream: int, index: int) -> Program:
    """Program `index` of a stream: drawn (again, until its values stay small) and run."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _TAG, int(stream), int(index)]))
    drawer = _Drawer(rng)
    for _ in range(1000):
        tree = drawer.program()
        out: list[str] = []
        try:
            _run(tree, {}, out)
        except (OverflowError, ZeroDivisionError):
            continue
        return Program("\n".join(_render(tree)), tuple(out))
    raise RuntimeError(f"could not draw program {index} of stream {stream}")  # pragma: no cover


def programs(seed: int, n_train: int, n_heldout: int) -> tuple[list[Program], list[Program]]:
    """(training programs, held-out programs): held-out ones never equal a training text."""
    train = [draw(seed, _TRAIN, i) for i in range(n_train)]
    seen = {p.text for p in train}
    held: list[Program] = []
    i = 0
    while len(held) < n_heldout:
        p = draw(seed, _HELDOUT, i)
        i += 1
        if p.text not in seen:
            seen.add(p.text)
            held.append(p)
        if i > 50 * (n_heldout + 10):
            raise RuntimeError("too few distinct held-out programs")  # pragma: no cover
    return train, held


# ---- the independent reader: Python's parser, a whitelist interpreter -------------------------
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%"}
_CMPOPS = {ast.Gt: ">", ast.Lt: "<", ast.Eq: "==", ast.NotEq: "!="}


def _value(node, env: dict) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ProgramError(f"line {node.lineno}: {node.id} is used before it is set")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        try:
            return _apply(_BINOPS[type(node.op)], _value(node.left, env), _value(node.right, env))
        except ZeroDivisionError:
            raise ProgramError(f"line {node.lineno}: division by zero") from None
    raise ProgramError(
        f"line {getattr(node, 'lineno', '?')}: not in the subset ({type(node).__name__})"
    )


def _exec(body, env: dict, out: list[str]) -> None:
    for s in body:
        if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
            env[s.targets[0].id] = _value(s.value, env)
        elif (
            isinstance(s, ast.Expr)
            and isinstance(s.value, ast.Call)
            and isinstance(s.value.func, ast.Name)
            and s.value.func.id == "print"
            and len(s.value.args) == 1
        ):
            out.append(str(_value(s.value.args[0], env)))
        elif (
            isinstance(s, ast.For)
            and isinstance(s.target, ast.Name)
            and isinstance(s.iter, ast.Call)
            and getattr(s.iter.func, "id", None) == "range"
            and len(s.iter.args) == 1
            and not s.orelse
        ):
            n = _value(s.iter.args[0], env)
            if not 0 <= n <= 100:
                raise ProgramError(f"line {s.lineno}: range({n}) is outside 0..100")
            for i in range(n):
                env[s.target.id] = i
                _exec(s.body, env, out)
        elif (
            isinstance(s, ast.If)
            and isinstance(s.test, ast.Compare)
            and len(s.test.ops) == 1
            and type(s.test.ops[0]) in _CMPOPS
            and not s.orelse
        ):
            cmp = _CMPOPS[type(s.test.ops[0])]
            if _compare(cmp, _value(s.test.left, env), _value(s.test.comparators[0], env)):
                _exec(s.body, env, out)
        else:
            raise ProgramError(f"line {s.lineno}: not in the subset ({type(s).__name__})")


def execute(source: str) -> list[str]:
    """The lines a program of this subset prints, read from its text (a ProgramError, one line,
    for anything outside the subset: no call but print/range, no import, no attribute)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ProgramError(f"line {e.lineno}: {e.msg}") from None
    out: list[str] = []
    _exec(tree.body, {}, out)
    return out


def split_record(text: str) -> tuple[str, list[str]]:
    """(program source, stated output lines) of a record."""
    source, sep, tail = text.partition("\n" + OUTPUT)
    if not sep:
        raise ProgramError(f"no {OUTPUT!r} line in the record")
    return source, [line for line in tail.split("\n") if line]
