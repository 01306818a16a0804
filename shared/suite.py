"""The suite's apps: every spaces/<name>/app.py, found and ordered by the session
(`shared.course`), each built into the suite's page as a tab, and served on its own at its path
(`routes`). A broken app becomes a one-line note, never a crash."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from shared import apps as shared_apps
from shared import course, course_page, serve, ui


@dataclass
class SpaceApp:
    name: str
    build_demo: Callable[[], gr.Blocks] | None  # the app on its own page (its Space)
    error: str = ""
    title: str = ""
    warm: Callable[[], Any] | None = None  # the module's `warm()`, if it has one
    build_page: Callable[[gr.Blocks], None] | None = None  # the app's page, built into a Blocks


def discover_apps(root: Path | None = None) -> list[SpaceApp]:
    """Every `spaces/<name>/app.py`, loaded by file path (spaces/ is not a package: on Hugging Face
    `import spaces` is the ZeroGPU module). A broken app becomes an error entry, not a crash."""
    apps = []
    for name in course.order_apps(shared_apps.app_names(root)):
        try:
            module = shared_apps.load_app(name, root=root)
            title = _tab_title(name, getattr(module, "TITLE", ""))
            apps.append(
                SpaceApp(
                    name,
                    module.build_demo,
                    title=title,
                    warm=getattr(module, "warm", None),
                    build_page=module.build_page,
                )
            )
        except Exception as e:  # noqa: BLE001 - one broken app must not take the suite down
            traceback.print_exc()
            apps.append(SpaceApp(name, None, f"{type(e).__name__}: {e}", _tab_title(name, "")))
    return apps


def _tab_title(name: str, title: str) -> str:
    """The session's title for an app (with its knowledge point), else the app's own."""
    try:
        return course.stop(name).title
    except KeyError:
        return title or name.replace("_", " ").title()


def build_app_page(app: SpaceApp, demo: gr.Blocks) -> str:
    """Build one app's page into `demo` where the caller stands (the suite: its tab), directly —
    not as a Blocks of its own rendered in, which would build every page's server routes twice.
    A failure is logged with its traceback, what was built hidden, and kept as one line."""
    with gr.Column() as page:
        try:
            app.build_page(demo, standalone=False)  # links point at the app's own path
        except Exception as e:  # noqa: BLE001 - one broken app must not take the suite down
            traceback.print_exc()
            page.visible = False
            app.error = f"{type(e).__name__}: {e}"
    return app.error


def routes(apps: list[SpaceApp]) -> list[Any]:
    """What the server adds to the suite's page: each app at its own path (built on its first
    request), the course page, and gradio's web-component loader for it."""

    def lazy(app: SpaceApp) -> serve.LazyApp:
        def build() -> gr.Blocks:
            return app.build_demo().queue(max_size=32)

        return serve.LazyApp(build, ui.prepare)

    own = {
        course.stop(a.name).path: lazy(a)
        for a in apps
        if a.build_demo and a.name in course.APP_ORDER
    }
    return [
        serve.loader_route(),
        serve.page_route("/course", course_page.html),
        *serve.app_mounts(own),
    ]
