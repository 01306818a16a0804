"""The one loader of the apps in spaces/, used by the suite (app.py), the Space bundler, the tests
and the benchmarks. spaces/ is not a package (on a Hugging Face Space `import spaces` is the ZeroGPU
module), so each spaces/<name>/app.py is loaded by its file path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SPACES = Path(__file__).resolve().parent.parent / "spaces"


def app_names(root: Path | None = None) -> list[str]:
    """Every app: a folder of spaces/ with an app.py, sorted by name."""
    return sorted(p.parent.name for p in (root or SPACES).glob("*/app.py"))


def load_app(name: str, *, module_name: str | None = None, root: Path | None = None) -> ModuleType:
    """spaces/<name>/app.py executed as a new module, registered in sys.modules as `module_name`
    (default lab_space_<name>; dataclasses and pickling look a module up there). An exception in
    the app's code propagates and leaves nothing registered."""
    module_name = module_name or f"lab_space_{name}"
    path = (root or SPACES) / name / "app.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"no app {name!r}: {path} does not exist (apps: {', '.join(app_names(root))})"
        )
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
