"""Where `python app.py` serves what: every app at its own path (built on its first request, so
the suite still starts in seconds), each app's views as `<app>/view/<query>/` paths (for gradio's
web component, which cannot carry a query string), the course page, and gradio's web-component
loader from the installed gradio package (no CDN: a course page works offline).
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

import gradio as gr
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

LOADER = Path(gr.__file__).resolve().parent / "templates" / "frontend" / "gradio.js"
LOADER_PATH = "/gradio.js"  # imports ./assets/…, which gradio serves at /assets/
# One build at a time, of any app: building a page is not thread-safe (gradio's and
# `shared.views`' "page being built" are process-wide), and a second request waits for the first.
_BUILD = threading.Lock()


def view_route(app: Any) -> Mount:
    """`/view/<query>/…` served by `app` itself, the query kept as the path parameter `view`."""
    return Mount("/view/{view}", app=app)


def add_view_route(app: Any) -> None:
    """Put `view_route` first on an app gradio created (a Space's `launch`)."""
    app.router.routes.insert(0, view_route(app))


class LazyApp:
    """An ASGI app that builds a gradio Blocks on its first request: `build()` returns it,
    `prepare(blocks)` returns the keyword arguments of `gr.mount_gradio_app` (theme, css, …).
    A build that fails answers 500 with its one-line reason, and is tried again next request."""

    def __init__(self, build: Callable[[], gr.Blocks], prepare: Callable[[gr.Blocks], dict]):
        self.build, self.prepare = build, prepare
        self.built: Any = None  # (gradio's app, the Blocks), once built
        self.started = False

    def _create(self) -> Any:
        with _BUILD:
            if self.built is None:
                blocks = self.build()
                kwargs = self.prepare(blocks)
                parent = gr.mount_gradio_app(_throwaway_parent(), blocks, path="/", **kwargs)
                app = parent.router.routes[-1].app
                add_view_route(app)
                self.built = (app, blocks)
        return self.built

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if not self.started:  # checked and set between awaits: once, in this server's event loop
            try:
                app, blocks = await asyncio.to_thread(self._create)
            except Exception as e:  # noqa: BLE001 - one broken app must not take the server down
                traceback.print_exc()
                reason = " ".join(f"{type(e).__name__}: {e}".split())[:300]
                await PlainTextResponse(f"this app could not be built: {reason}", 500)(
                    scope, receive, send
                )
                return
            if not self.started:
                self.started = True
                blocks.run_startup_events()  # its queue
                await blocks.run_extra_startup_events()
        await self.built[0](scope, receive, send)


def _throwaway_parent() -> Any:
    from fastapi import FastAPI  # noqa: PLC0415 - gradio's dependency; only a throwaway parent

    return FastAPI()


def loader_route() -> Route:
    async def loader(request: Any) -> Response:
        return Response(LOADER.read_bytes(), media_type="text/javascript")

    return Route(LOADER_PATH, loader)


def page_route(path: str, html: Callable[[Any], str]) -> Route:
    """A plain HTML page at `path`; `html(request)` writes it."""

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(html(request))

    return Route(path, page)


def app_mounts(apps: dict[str, LazyApp]) -> list[Mount]:
    """Each app at `/<path>` (`apps`: path -> its lazy app)."""
    return [Mount(f"/{path}", app=lazy) for path, lazy in apps.items()]
