"""The modules a bundle needs, from the imports: the AST of each app file, then of each module
found, transitively (see the package docstring)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from .sources import PACKAGES, ROOT


def find_modules(entry: Iterable[Path]) -> list[str]:
    """Every shared/ and training/ file (repo-relative) the entry files import, transitively."""
    found: set[str] = set()
    todo = [(Path(p), None) for p in entry]
    while todo:
        path, package = todo.pop()
        for dotted in _named_modules(_parse(path), package):
            for rel in _module_files(dotted):
                if rel not in found:
                    found.add(rel)
                    todo.append((ROOT / rel, _package_of(rel)))
    return sorted(found)


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_bytes(), filename=str(path))


def _package_of(rel: str) -> str:
    """The package a module's relative imports start from: training/data/blocks.py -> training.data."""
    return ".".join(Path(rel).parent.parts)


def _absolute(module: str | None, level: int, package: str | None) -> str | None:
    """The absolute name of `from <level dots><module> import …` in `package` (None: not resolvable)."""
    if level == 0:
        return module
    parts = (package or "").split(".") if package else []
    if level - 1 > len(parts) or not parts:
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _named_modules(tree: ast.Module, package: str | None) -> set[str]:
    """Dotted names (and glob patterns) of every module this file may load: imports anywhere, and
    strings that spell a module (`python -m training.x` in a subprocess)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base:
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
        elif isinstance(node, (ast.Constant, ast.JoinedStr)):
            pattern = _module_pattern(node)
            if pattern:
                names.add(pattern)
    return names


def _module_pattern(node: ast.Constant | ast.JoinedStr) -> str | None:
    """ "training.sweep" -> itself; f"training.parallel.{k}.run" -> "training.parallel.*.run";
    "training.generate:warm_base" (a `shared.warm_process` target) -> "training.generate"."""
    if isinstance(node, ast.Constant):
        text = node.value if isinstance(node.value, str) else ""
    else:
        text = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    text = re.sub(r":\w+$", "", text)
    ok = re.fullmatch(
        rf"({'|'.join(PACKAGES)})(\.(\w+|\*))*\.\w+", text
    )  # ends in a name, never "*"
    return text if ok else None


def _module_files(dotted: str) -> list[str]:
    """The files of module `dotted` (a pattern may match several) and of every package above it."""
    parts = dotted.split(".")
    if parts[0] not in PACKAGES:
        return []
    found = []
    for i in range(1, len(parts) + 1):
        stem = "/".join(parts[:i])
        for pattern in (f"{stem}.py", f"{stem}/__init__.py"):
            found += [
                p.relative_to(ROOT).as_posix() for p in sorted(ROOT.glob(pattern)) if p.is_file()
            ]
    return found
