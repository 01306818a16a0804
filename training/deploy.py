"""`python -m training spaces build APP|all|suite --out DIR`: one self-contained Hugging Face Space
repo per app (`spaces/<app>/`) or for the whole suite (the root `app.py` with every app beside it).

Why a build step: a Space is a git repo with `app.py` at its root, so an app needs the lab's code and
checkpoints copied beside it — but only what it uses, or every Space would carry every checkpoint.
What it uses is read FROM THE CODE, so a new app needs no packaging code:

- modules: the AST of each app file, then of each module found, transitively: every `import` and
  `from … import` (inside functions too, relative ones too) that names a file in `shared/` or
  `training/`, with the `__init__.py` of each package on the way; and every string constant or
  f-string that spells a dotted module name (`-m training.parallel.{kind}.run` starts a module in a
  subprocess: the f-string becomes the pattern training/parallel/*/run.py).
- checkpoints: calls into `training.store` whose `name` parameter (a literal, or the function's
  default when it is left out) is a name of `store.KNOWN` — `store.resolve("sft")`,
  `store.read_results("sweep")`, `store.load(path)` (default "base") — and `store.BUNDLED_DIR / "x"`.
  Only code the app can reach counts: module-level code, and each top-level function or class whose
  name is used by code already counted (by name, so it errs towards including too much). A helper
  that reads the base model's tokenizer thus only pulls the base model into the apps that call it.

Limits: a module or function reached only through `getattr`/`importlib` with a computed name, or a
checkpoint named only through a variable, is not seen (none in this repo; tests/test_deploy.py
starts every bundle alone and uses it). Reachability is by name, so it over-includes: an app file
counts whole, and a def counts once any reachable code uses its name. Files other than Python
modules and checkpoints (data, images) are not copied: none are read today.

Output (byte-identical on every run; written to a temp dir, then renamed): app.py, only the modules
and checkpoints found (each with its manifest.json, hash-checked before copying), requirements.txt
(CPU torch + the lab's other pins), a validated README.md card, and .gitattributes (binaries via LFS).
No torch is imported here.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shared.apps import app_names

from . import store

ROOT = store.REPO_ROOT
SPACES = ROOT / "spaces"
# The lab's importable code; everything else is third-party. tabs/ holds each app's tab builders
# (UI only: gradio wiring and prose), so that no app file has to hold every tab.
PACKAGES = ("shared", "training", "tabs")
SUITE = "suite"
ALL = "all"
REQUIREMENTS = ROOT / "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MARK = "# Written by `python -m training spaces build`"  # first line of a bundle's .gitattributes
MAX_SHORT_DESCRIPTION = 60  # the Hub refuses a longer short_description
LFS_PATTERNS = (
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.ckpt",
    "*.gif",
    "*.gz",
    "*.h5",
    "*.jpeg",
    "*.jpg",
    "*.msgpack",
    "*.npy",
    "*.npz",
    "*.onnx",
    "*.parquet",
    "*.png",
    "*.pt",
    "*.pth",
    "*.safetensors",
    "*.tar",
    "*.tgz",
    "*.webp",
    "*.zip",
    "*.zst",
)
LFS_MIN_BYTES = 10 * 1024 * 1024  # the Hub refuses plain-git files this large: LFS them by path
REQUIRED = (
    "title",
    "sdk",
    "sdk_version",
    "python_version",
    "app_file",
    "short_description",
    "license",
    "tags",
    "suggested_hardware",
    "models",
)
CARD_ORDER = (
    "title",
    "emoji",
    "colorFrom",
    "colorTo",
    "sdk",
    "sdk_version",
    "python_version",
    "app_file",
    "pinned",
    "license",
    "short_description",
    "suggested_hardware",
    "models",
    "tags",
)
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
# The suite has no folder of its own (spaces/<name>/ would make it an app); its card starts here.
# cpu-upgrade: it holds the Parallelism app, whose live multi-process runs want more than 2 cores.
SUITE_CARD = {
    "title": "LLM Training & Scaling Lab",
    "emoji": "🧪",
    "colorFrom": "indigo",
    "colorTo": "pink",
    "sdk": "gradio",
    "python_version": "3.11",
    "app_file": "app.py",
    "pinned": False,
    "license": "apache-2.0",
    "suggested_hardware": "cpu-upgrade",
    "short_description": "How LLMs are trained and scaled, on real runs and models.",
    "tags": [
        "education",
        "scaling-laws",
        "supervised-fine-tuning",
        "distributed-training",
        "mamba",
    ],
}


# ---------------------------------------------------------------- what a build returns
@dataclass
class BuildReport:
    """One written Space repo: where, every file with its size, the card, and what was found."""

    name: str
    out: Path
    files: dict[str, int]  # relative path -> bytes, sorted
    card: dict
    modules: list[str] = field(default_factory=list)  # shared/ and training/ files bundled
    checkpoints: list[str] = field(default_factory=list)  # store.KNOWN names bundled

    def folders(self) -> dict[str, tuple[int, int]]:
        """(files, bytes) per part of the bundle: app code, shared, training, checkpoints."""
        sizes = {k: (0, 0) for k in ("app code", "shared", "training", "checkpoints")}
        for rel, size in self.files.items():
            top = rel.split("/", 1)[0]
            key = top if top in sizes else "app code"
            n, b = sizes[key]
            sizes[key] = (n + 1, b + size)
        return sizes

    def summary(self) -> str:
        """The printed size report."""
        total = sum(self.files.values())
        lines = [
            f"{self.name}: {self.out} ({len(self.files)} files, {total:,} bytes = {total / 1e6:.2f} MB)"
        ]
        lines += [f"  {k:<12}{n:>4} files {b:>12,} bytes" for k, (n, b) in self.folders().items()]
        lines.append(
            f"  checkpoints: {', '.join(self.checkpoints) or 'none'}; "
            f"suggested_hardware: {self.card.get('suggested_hardware')}"
        )
        return "\n".join(lines)


@dataclass
class Plan:
    """A bundle before it is written: every file's source (a path to copy or generated bytes)."""

    name: str
    files: dict[str, Path | bytes]
    card: dict
    modules: list[str]
    checkpoints: list[str]


# ---------------------------------------------------------------- public API
def build(name: str, out: Path) -> BuildReport:
    """Write the Space repo of app `name` (or "suite") to `out`, atomically."""
    plan = plan_bundle(name)
    out = Path(out)
    _check_out(out, is_bundle)
    _replace_dir(out, lambda tmp: _write(plan, tmp))
    return _report(plan, out)


def build_all(out: Path) -> list[BuildReport]:
    """Every app and the suite, each in `out/<name>/`; all cards are validated before anything is written."""
    plans = [plan_bundle(name) for name in app_names() + [SUITE]]
    out = Path(out)
    _check_out(out, is_bundle_set)
    _replace_dir(out, lambda tmp: [_write(p, tmp / p.name) for p in plans])
    return [_report(p, out / p.name) for p in plans]


def cli(args) -> int:
    """`python -m training spaces build APP --out DIR`; bad input raises a one-line ValueError."""
    if not getattr(args, "out", None):
        raise ValueError(
            "spaces build: --out DIR is required (the directory to write the Space repo to)"
        )
    reports = build_all(Path(args.out)) if args.app == ALL else [build(args.app, Path(args.out))]
    for r in reports:
        print(r.summary())
    return 0


def plan_bundle(name: str) -> Plan:
    """Everything app `name` needs, found from its code; the card validated. Writes nothing."""
    entry = app_files(name)
    modules = find_modules(entry.values())
    code = {**entry, **{rel: ROOT / rel for rel in modules}}
    checkpoints = find_checkpoints(code, whole=set(entry))
    files: dict[str, Path | bytes] = dict(code)
    for ck in checkpoints:
        files.update(checkpoint_files(ck))
    card = make_card(name, checkpoints)
    files["README.md"] = render_card(card, card_body(name)).encode()
    files["requirements.txt"] = requirements_text(name).encode()
    files[".gitattributes"] = gitattributes_text(files).encode()
    return Plan(name, dict(sorted(files.items())), card, modules, checkpoints)


def app_files(name: str) -> dict[str, Path]:
    """The bundle's app code: {path in the bundle: source file}."""
    if name == ALL:
        raise ValueError("'all' is several bundles: build each with build_all(out)")
    if name == SUITE:
        return {
            "app.py": ROOT / "app.py",
            **{f"spaces/{n}/app.py": SPACES / n / "app.py" for n in app_names()},
        }
    if name not in app_names():
        known = ", ".join(app_names() + [SUITE, ALL])
        raise ValueError(f"unknown app {name!r}: choose one of {known}")
    return {"app.py": SPACES / name / "app.py"}


# ---------------------------------------------------------------- modules, from the imports
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
    """ "training.sweep" -> itself; f"training.parallel.{k}.run" -> "training.parallel.*.run"."""
    if isinstance(node, ast.Constant):
        text = node.value if isinstance(node.value, str) else ""
    else:
        text = "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
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


# ---------------------------------------------------------------- checkpoints, from the store calls
def find_checkpoints(code: dict[str, Path], whole: set[str]) -> list[str]:
    """The store.KNOWN names the reachable code reads (see the module docstring). Files in `whole`
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


# ---------------------------------------------------------------- requirements, card, .gitattributes
def requirement_pins() -> dict[str, str]:
    """{package: version} from the repo's requirements.txt (the versions tested together)."""
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pkg, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{REQUIREMENTS}: {line!r} is not pinned with ==")
            found[pkg.strip().lower()] = version.strip()
    return found


def requirements_text(name: str) -> str:
    """The CPU build of torch from PyTorch's index (a plain pin pulls the multi-GB CUDA build), then
    every other pin of the lab (all of them: they are tested together, and gradio = sdk_version)."""
    versions = requirement_pins()
    torch = versions.pop("torch")
    torch = torch if "+" in torch else f"{torch}+cpu"
    header = f"# The {name} Space, written by `python -m training spaces build {name}` from the lab's requirements.txt."
    return (
        "\n".join(
            [
                header,
                f"--extra-index-url {TORCH_CPU_INDEX}",
                f"torch=={torch}",
                *(f"{pkg}=={v}" for pkg, v in sorted(versions.items())),
            ]
        )
        + "\n"
    )


def _split_card(path: Path) -> tuple[dict, str]:
    """(YAML front matter, body) of a card."""
    import yaml

    text = path.read_text()
    m = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    if not m:
        raise ValueError(f"{path}: no YAML front matter (a card starts with a line '---')")
    try:
        front = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        raise ValueError(
            f"{path}: the front matter is not valid YAML ({getattr(e, 'problem', e)}"
            + (f" at line {where.line + 2})" if where else ")")
        ) from None
    if not isinstance(front, dict):
        raise ValueError(f"{path}: the front matter is not a mapping")
    return front, m.group(2)


def source_card(name: str) -> dict:
    """The card data the app's folder keeps (spaces/<name>/README.md), or the suite's defaults."""
    if name == SUITE:
        return {**SUITE_CARD, "sdk_version": requirement_pins().get("gradio")}
    return _split_card(SPACES / name / "README.md")[0]


def card_body(name: str) -> str:
    """The card's text: the app's own; for the suite, the root README's opening and one line per app."""
    if name != SUITE:
        return _split_card(SPACES / name / "README.md")[1]
    intro = (ROOT / "README.md").read_text().split("\n## ", 1)[0].strip()
    apps = [
        f"- **{c.get('title', n)}**: {c.get('short_description', '')}"
        for n, c in ((n, source_card(n)) for n in app_names())
    ]
    return (
        f'\n{intro}\n\nA "Base model" page (the bundled checkpoint every app builds on: its training '
        "curve, what it knows, and text completion), then one tab per app:\n\n"
        + "\n".join(apps)
        + "\n"
    )


def make_card(name: str, checkpoints: list[str]) -> dict:
    """The source card plus `models` (the Hub repos of the bundled checkpoints), validated."""
    card = {**source_card(name), "models": sorted(model_repo(c) for c in checkpoints)}
    validate_card(card, name)
    return {
        k: card[k]
        for k in sorted(card, key=lambda k: (CARD_ORDER.index(k) if k in CARD_ORDER else 99, k))
    }


def model_repo(name: str) -> str:
    """The Hub model repo of checkpoint `name`: the one it was published to and pinned
    (store.hub_source reads checkpoints/hub.json) or, unpinned, store.KNOWN's default repo id."""
    hub_source = getattr(store, "hub_source", None)  # the pins arrive with Hub publishing
    return hub_source(name)[0] if hub_source else store.KNOWN[name][2]


def validate_card(card: dict, name: str) -> None:
    """Refuse a card the Hub would refuse or that disagrees with the pins; one line naming the field."""

    def bad(key: str, why: str) -> ValueError:
        return ValueError(f"{name} card: {key}: {why}")

    for key in REQUIRED:
        if card.get(key) in (None, "", []) and key != "models":
            raise bad(key, "missing")
    for key in (
        "title",
        "sdk_version",
        "python_version",
        "short_description",
        "license",
        "suggested_hardware",
    ):
        if not isinstance(card[key], str):
            raise bad(key, f"must be a string (got {card[key]!r}; quote it in the YAML)")
    if card["sdk"] != "gradio":
        raise bad("sdk", f"must be gradio (got {card['sdk']!r})")
    gradio = requirement_pins().get("gradio")
    if card["sdk_version"] != gradio:
        raise bad(
            "sdk_version",
            f"{card['sdk_version']} differs from the pinned gradio=={gradio} in requirements.txt",
        )
    if not re.fullmatch(r"3\.\d+(\.\d+)?", card["python_version"]):
        raise bad(
            "python_version", f'{card["python_version"]!r} is not a Python 3 version such as "3.11"'
        )
    if card["app_file"] != "app.py":
        raise bad("app_file", f"must be app.py (got {card['app_file']!r})")
    if len(card["short_description"]) > MAX_SHORT_DESCRIPTION:
        raise bad(
            "short_description",
            f"{len(card['short_description'])} characters; the Hub accepts at most "
            f"{MAX_SHORT_DESCRIPTION}",
        )
    from huggingface_hub import SpaceHardware

    if card["suggested_hardware"] not in {h.value for h in SpaceHardware}:
        raise bad(
            "suggested_hardware", f"{card['suggested_hardware']!r} is not a Space hardware flavor"
        )
    for key in ("tags", "models"):
        if not isinstance(card[key], list) or not all(isinstance(t, str) and t for t in card[key]):
            raise bad(key, "must be a list of strings")
    if any(not re.fullmatch(r"[\w.-]+/[\w.-]+", m) for m in card["models"]):
        raise bad("models", f"{card['models']} are not all Hub repo ids (owner/name)")
    for key in ("colorFrom", "colorTo"):
        if key in card and card[key] not in COLORS:
            raise bad(key, f"{card[key]!r} is not one of {', '.join(COLORS)}")


def render_card(card: dict, body: str) -> str:
    import yaml

    front = yaml.safe_dump(
        card, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return f"---\n{front}---\n{body}"


def gitattributes_text(files: dict[str, Path | bytes]) -> str:
    """Binary patterns through LFS, plus any other file too large for plain git, by path."""
    lfs = "filter=lfs diff=lfs merge=lfs -text"
    large = [
        rel
        for rel, src in files.items()
        if _size(src) >= LFS_MIN_BYTES and not any(Path(rel).match(p) for p in LFS_PATTERNS)
    ]
    lines = [
        MARK + ": binary files go through Git LFS (the Hub refuses large binaries in plain git)."
    ]
    lines += [f"{p} {lfs}" for p in LFS_PATTERNS] + [f"{rel} {lfs}" for rel in sorted(large)]
    return "\n".join(lines) + "\n"


def _size(src: Path | bytes) -> int:
    return len(src) if isinstance(src, bytes) else src.stat().st_size


# ---------------------------------------------------------------- writing
def is_bundle(path: Path) -> bool:
    """A directory this command wrote (its .gitattributes starts with MARK)."""
    attrs = Path(path) / ".gitattributes"
    return (
        attrs.is_file()
        and attrs.read_text(errors="replace").startswith(MARK)
        and (Path(path) / "app.py").is_file()
    )


def is_bundle_set(path: Path) -> bool:
    """A directory `build all` wrote: bundles only."""
    children = list(Path(path).iterdir())
    return bool(children) and all(is_bundle(c) for c in children)


def _check_out(out: Path, previous: Callable[[Path], bool]) -> None:
    """--out may be new, an empty directory or a previous build of the same kind; nothing else."""
    resolved = out.resolve()
    for src in (ROOT, *(ROOT / p for p in (*PACKAGES, "spaces", "checkpoints"))):
        if resolved == src or (src != ROOT and resolved.is_relative_to(src)):
            where = f"{src.relative_to(ROOT)}/" if src != ROOT else "the repository root"
            raise ValueError(
                f"--out {out}: inside the lab's sources ({where}); choose another directory"
            )
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or previous(out))):
        raise ValueError(
            f"--out {out}: exists and is not a Space bundle this command wrote; "
            "choose another directory or remove it"
        )


def _replace_dir(final: Path, fill: Callable[[Path], object]) -> None:
    """Fill a temp sibling of `final`, then rename it into place: `final` is never half-written."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    try:
        fill(tmp)
        tmp.chmod(0o755)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not final.exists():  # put the previous build back
            old.rename(final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write(plan: Plan, dest: Path) -> None:
    """Copy bytes (never re-serialize) and write the generated files, in sorted order."""
    for rel, src in plan.files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            target.write_bytes(src)
        else:
            shutil.copyfile(src, target)


def _report(plan: Plan, out: Path) -> BuildReport:
    files = {rel: (out / rel).stat().st_size for rel in plan.files}
    return BuildReport(plan.name, out, files, plan.card, plan.modules, plan.checkpoints)
