"""Structure figures for the redesign (issue 17), measured from the source with `ast`.

    python benchmarks/code_figures.py [--out benchmarks/results/code_figures.json] [--label NAME]

Counts, over the project's own Python (shared/, training/, spaces/, app.py; tests and benchmarks
excluded):
- the largest module (lines) and function (lines from `def` to its last line, nested ones counted
  on their own too), modules over 450 lines and functions over 80;
- string-key lookups in the apps (spaces/, their tabs/ and the suite's app.py): subscripts with
  a string constant (`x["rows"]`) and `.get("...")` calls — how an app reads an untyped dict;
- function-local imports (an `import` inside a `def`), and lines over 100 characters;
- live-run entry points: top-level functions in training/ named `live_*` that start a live job,
  and the hand-written loops over a job's events in the apps (`for ev in ...`).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE, MAX_FUNCTION = 450, 80


def project_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for top in ("shared", "training", "tabs", "spaces"):
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if f.exists()]


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _string_lookups(tree: ast.AST) -> int:
    n = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            n += isinstance(node.slice.value, str)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            n += 1
    return n


def _local_imports(tree: ast.AST) -> int:
    return sum(
        isinstance(inner, (ast.Import, ast.ImportFrom))
        for fn in _functions(tree)
        for inner in ast.walk(fn)
    )


def _live_entry_points(path: Path, tree: ast.Module) -> list[str]:
    """Top-level `live_*` functions that start a live job (not the `live_available`-style
    predicates, which return bool)."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("live_"):
            returns = ast.unparse(node.returns) if node.returns else ""
            if returns != "bool":
                out.append(f"{path.relative_to(ROOT)}:{node.name}")
    return out


def _event_loops(tree: ast.AST) -> int:
    """Hand-written loops over a live job's events in an app: `for ev in ...`."""
    return sum(
        isinstance(n, ast.For) and isinstance(n.target, ast.Name) and n.target.id == "ev"
        for n in ast.walk(tree)
    )


def measure() -> dict:
    modules, functions, live = [], [], []
    lookups_spaces = local_imports = long_lines = event_loops = 0
    for path in project_files():
        text = path.read_text()
        tree = ast.parse(text)
        rel = str(path.relative_to(ROOT))
        modules.append((len(text.splitlines()), rel))
        for fn in _functions(tree):
            functions.append((fn.end_lineno - fn.lineno + 1, f"{rel}:{fn.name}"))
        if rel.startswith(("spaces/", "tabs/")) or rel == "app.py":
            lookups_spaces += _string_lookups(tree)
            event_loops += _event_loops(tree)
        local_imports += _local_imports(tree)
        long_lines += sum(len(line) > 100 for line in text.splitlines())
        if rel.startswith("training/"):
            live += _live_entry_points(path, tree)
    modules.sort(reverse=True)
    functions.sort(reverse=True)
    return {
        "largest_module": {"path": modules[0][1], "lines": modules[0][0]},
        "largest_function": {"name": functions[0][1], "lines": functions[0][0]},
        "modules_over_450": [f"{p} ({n})" for n, p in modules if n > MAX_MODULE],
        "functions_over_80": [f"{p} ({n})" for n, p in functions if n > MAX_FUNCTION],
        "string_lookups_in_spaces": lookups_spaces,
        "function_local_imports": local_imports,
        "lines_over_100": long_lines,
        "live_entry_points": live,
        "app_event_loops": event_loops,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="merge the figures into this JSON under --label")
    ap.add_argument("--label", default="now")
    args = ap.parse_args(argv)
    figures = measure()
    if args.out:
        data = json.loads(args.out.read_text()) if args.out.exists() else {}
        data[args.label] = figures
        args.out.write_text(json.dumps(data, indent=1) + "\n")
    json.dump(figures, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
