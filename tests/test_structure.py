"""The code's shape, checked rather than hoped for (issue 17): no import cycle between the project's
modules (imports inside functions count; `if TYPE_CHECKING:` blocks do not), no module over 450
lines and no function over 80, and every file that imports inside a function says why at the
first such import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from code_figures import measure, project_files  # noqa: E402

PACKAGES = ("shared", "training", "tabs")


def _modules() -> dict[str, Path]:
    out = {}
    for top in PACKAGES:
        for p in (ROOT / top).rglob("*.py"):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _runtime_imports(tree: ast.AST):
    """Every import statement outside `if TYPE_CHECKING:` blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for body in node.body for n in ast.walk(body)}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip
    ]


def _targets(cur: str, node, mods: dict[str, Path]) -> set[str]:
    """The project modules `node` (in module `cur`) loads, without `cur`'s own packages (which
    are initialised before it whatever it imports)."""
    pkg = cur if mods[cur].name == "__init__.py" else cur.rpartition(".")[0]
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
            base = ".".join(up + ([node.module] if node.module else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    out = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            m = ".".join(parts[:i])
            if m in mods and m != cur and not cur.startswith(m + "."):
                out.add(m)
    return out


def import_cycles() -> list[list[str]]:
    mods = _modules()
    graph = {
        m: set().union(*(_targets(m, n, mods) for n in _runtime_imports(ast.parse(p.read_text()))))
        for m, p in mods.items()
    }
    state, stack, cycles = {}, [], []

    def visit(u: str) -> None:
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                cycles.append(stack[stack.index(v) :] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def test_no_import_cycles():
    assert import_cycles() == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check itself: two modules importing each other inside functions are a cycle."""
    pkg = tmp_path / "training"
    (pkg / "x").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "x" / "__init__.py").write_text("")
    (pkg / "x" / "a.py").write_text("def f():\n    from training.x import b\n")
    (pkg / "x" / "b.py").write_text("def g():\n    from . import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert import_cycles() == [["training.x.a", "training.x.b", "training.x.a"]]


def test_no_module_over_450_lines_and_no_function_over_80():
    figures = measure()
    assert figures["modules_over_450"] == [] and figures["functions_over_80"] == [], figures


def test_the_first_import_inside_a_function_says_why():
    """Lazy imports are kept where start-up time needs them; the first one in each file has a
    comment (on its line or the two before it) saying what it keeps out of start-up."""
    silent = []
    for path in project_files():
        text = path.read_text()
        lines = text.splitlines()
        local = [
            n
            for fn in ast.walk(ast.parse(text))
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(fn)
            if isinstance(n, (ast.Import, ast.ImportFrom))
        ]
        if local:
            first = min(local, key=lambda n: n.lineno)
            if "#" not in " ".join(lines[max(0, first.lineno - 3) : first.end_lineno]):
                silent.append(f"{path.relative_to(ROOT)}:{first.lineno}")
    assert silent == []
