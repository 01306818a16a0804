"""Where the lab's sources are, and each bundle's app code."""

from __future__ import annotations

from pathlib import Path

from shared.apps import app_names

from .. import store

ROOT = store.REPO_ROOT
SPACES = ROOT / "spaces"
# The lab's importable code; everything else is third-party. tabs/ holds each app's tab builders
# (UI only: gradio wiring and prose), so that no app file has to hold every tab.
PACKAGES = ("shared", "training", "tabs")
SUITE = "suite"
ALL = "all"


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
