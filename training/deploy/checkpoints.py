"""The checkpoints a bundle needs, from the calls into training.store that reachable code makes
(see the package docstring)."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

from .. import store
from .modules import _absolute, _package_of, _parse


def find_checkpoints(code: dict[str, Path], whole: set[str]) -> list[str]:
    """The store.KNOWN names the reachable code reads (see the package docstring). Files in `whole`
    (the app files) count entirely: every handler there is wired to the page."""
    trees = {rel: _parse(path) for rel, path in code.items()}
    aliases = {
        rel: _aliases(tree, _package_of(rel) if rel not in whole else None)
        for rel, tree in trees.items()
    }
    names: set[str] = set()
    for rel, node in _reachable(trees, whole):
        for sub in ast.walk(node):
            names.update(_checkpoint_refs(sub, aliases[rel], rel == "training/store.py"))
    return sorted(names)


def _reachable(trees: dict[str, ast.Module], whole: set[str]) -> list[tuple[str, ast.AST]]:
    """Code that can run: module-level statements, whole entry files, then each top-level def or
    class whose name occurs in code already reachable, until nothing new is added."""
    live: list[tuple[str, ast.AST]] = []
    by_name: dict[str, list[tuple[str, ast.AST]]] = {}
    for rel, tree in trees.items():
        for stmt in tree.body:
            unit = isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if unit and rel not in whole and not stmt.decorator_list:
                by_name.setdefault(stmt.name, []).append((rel, stmt))
            else:
                live.append((rel, stmt))
    seen: set[str] = set()
    frontier = live
    while frontier:
        used = set().union(*(_identifiers(node) for _, node in frontier)) - seen
        seen |= used
        frontier = [unit for name in sorted(used) for unit in by_name.get(name, [])]
        live += frontier
    return live


def _identifiers(node: ast.AST) -> set[str]:
    return {
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, (ast.Name, ast.Attribute))
    }


def _aliases(tree: ast.Module, package: str | None) -> dict[str, str]:
    """Local name -> what it is bound to by an import: `from training import store as s` gives
    s -> training.store."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                bound[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            for a in node.names:
                if base and a.name != "*":
                    bound[a.asname or a.name] = f"{base}.{a.name}"
    return bound


def _qualified(node: ast.AST, aliases: dict[str, str], in_store: bool) -> str | None:
    """training.store.resolve for `store.resolve` (with `from training import store`)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    head = aliases.get(node.id) or (f"training.store.{node.id}" if in_store else node.id)
    return ".".join([head] + parts)


@functools.cache
def _store_readers() -> dict[str, inspect.Signature]:
    """store's functions that take a checkpoint `name` (resolve, read_results, load, ...)."""
    return {
        f"training.store.{n}": inspect.signature(f)
        for n, f in vars(store).items()
        if inspect.isfunction(f)
        and f.__module__ == store.__name__
        and "name" in inspect.signature(f).parameters
    }


def _checkpoint_refs(node: ast.AST, aliases: dict[str, str], in_store: bool) -> set[str]:
    """The KNOWN name one call (store.resolve("sft")) or path (store.BUNDLED_DIR / "sweep") names."""
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.right, ast.Constant)
        and _qualified(node.left, aliases, in_store) == "training.store.BUNDLED_DIR"
    ):
        first = str(node.right.value).split("/")[0]
        return {n for n, known in store.KNOWN.items() if known[1] == first}
    if (
        not isinstance(node, ast.Call)
        or any(isinstance(a, ast.Starred) for a in node.args)
        or any(k.arg is None for k in node.keywords)
    ):
        return set()
    sig = _store_readers().get(_qualified(node.func, aliases, in_store) or "")
    if sig is None:
        return set()
    try:
        bound = sig.bind_partial(*node.args, **{k.arg: k.value for k in node.keywords}).arguments
    except TypeError:
        return set()
    arg = bound.get("name", ast.Constant(sig.parameters["name"].default))
    value = arg.value if isinstance(arg, ast.Constant) else None
    return {value} if value in store.KNOWN else set()


def checkpoint_files(name: str) -> dict[str, Path]:
    """checkpoints/<sub>/: its manifest and every file the manifest lists, hash-checked first."""
    sub = store.KNOWN[name][1]
    src = store.BUNDLED_DIR / sub
    if not (src / store.MANIFEST).is_file():
        raise ValueError(
            f"the code reads checkpoint {name!r} but {src} has no {store.MANIFEST}; "
            f"build it with `{store.BUILD_COMMANDS[name]}`"
        )
    manifest = store.verify(src)
    return {f"checkpoints/{sub}/{rel}": src / rel for rel in [store.MANIFEST, *manifest["files"]]}
