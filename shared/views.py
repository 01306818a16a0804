"""Every app and every tab has an address. `page(demo, key)` wraps an app's page and, once it is
built, gives each tab an id (its label, slugged), a "Link to this view" control, the session's
understanding checks for this app (each with a button that opens its view) and the glossary of the
words on the page. A tab makes its inputs addressable with `link(tab, render, name=component)`.

A view is `?tab=<id>&<name>=<value>…` after the app's URL, or the same string as a path segment,
`<app URL>/view/tab=…&…/` (gradio's web component cannot carry a query string). Values are checked
against the component's own bounds and choices: a bad one keeps the default and adds a one-line
notice at the top of the page, never an error page. On the suite's page (`standalone=False`) the
links point at the app's own path; the suite's own query string opens nothing.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import gradio as gr

from shared import course, glossary

_building: list["AppViews"] = []  # the page being built (tabs call `link` while it is)
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class LinkError(ValueError):
    """A view parameter that cannot be used; the message is the notice line."""


@dataclass
class Link:
    tab: str
    params: dict[str, Any]  # link name -> gradio component
    render: tuple[Callable[..., Any], list[Any], list[Any]] | None = None


@dataclass
class AppViews:
    demo: gr.Blocks
    key: str
    standalone: bool
    writes: tuple[str, ...] = ()  # glossary terms its handlers write
    links: dict[str, Link] = field(default_factory=dict)
    tab_ids: list[str] = field(default_factory=list)
    tabs: Any = None  # the page's gr.Tabs
    notice: Any = None
    chosen: Any = None  # hidden Textbox: the tab a view opened (renders run for it only)

    @property
    def components(self) -> list[Any]:
        return [c for lk in self.links.values() for c in lk.params.values()]

    def resolve(self, raw: dict[str, str]) -> tuple[str | None, dict[Any, Any], list[str]]:
        """(tab id or None, {component: value}, notice lines) for a view's parameters."""
        notes: list[str] = []
        raw = dict(raw)
        tab = raw.pop("tab", "") or None
        if tab is not None and tab not in self.tab_ids:
            notes.append(
                f"tab={tab[:40]!r} is not a tab of this app (tabs: {', '.join(self.tab_ids)}); "
                "showing the first tab"
            )
            tab = None
        link = self.links.get(tab or "")
        values: dict[Any, Any] = {}
        for name, text in raw.items():
            if link is None or name not in link.params:
                known = ", ".join(link.params) if link else "none"
                notes.append(f"{name[:40]!r} is not a setting of this view (settings: {known})")
                continue
            try:
                values[link.params[name]] = coerce(link.params[name], text)
            except LinkError as e:
                notes.append(f"{name}={text[:40]!r}: {e}; showing the default")
        return tab, values, notes

    def updates(self, raw: dict[str, str]) -> list[Any]:
        """The outputs of opening a view: [tabs, notice, chosen, *components]."""
        tab, values, notes = self.resolve(raw)
        notice = (
            gr.Markdown(
                "**This link was not fully understood:** " + " · ".join(notes), visible=True
            )
            if notes
            else gr.Markdown(visible=False)
        )
        return [
            gr.Tabs(selected=tab) if tab else gr.skip(),
            notice,
            tab or "",
            *(values.get(c, gr.skip()) for c in self.components),
        ]


def coerce(component: Any, text: str) -> Any:
    """`text` as a value `component` accepts, or a LinkError saying what would be accepted."""
    text = text.strip()
    if isinstance(component, gr.Checkbox):
        if text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        raise LinkError("must be true or false")
    if isinstance(component, gr.CheckboxGroup):  # choices separated by "|" (labels hold commas)
        return [coerce_choice(component, part) for part in text.split("|") if part.strip()]
    if isinstance(component, (gr.Dropdown, gr.Radio)):
        return coerce_choice(component, text)
    if isinstance(component, (gr.Slider, gr.Number)):
        return _number(component, text)
    if isinstance(component, gr.Textbox):
        limit = component.max_length or 200
        if len(text) > limit:
            raise LinkError(f"must be at most {limit} characters")
        return text
    raise LinkError(f"a {type(component).__name__} cannot be set from a link")


# what `coerce` has a rule for
LINKABLE = (gr.Checkbox, gr.CheckboxGroup, gr.Dropdown, gr.Radio, gr.Slider, gr.Number, gr.Textbox)


def coerce_choice(component: Any, text: str) -> Any:
    """One of a choice component's values, named by its value or its label (any case)."""
    for label, value in component.choices:
        if text.strip().lower() in (str(label).lower(), str(value).lower()):
            return value
    shown = ", ".join(str(v) for _, v in component.choices[:12])
    raise LinkError(f"must be one of {shown}")


def _number(component: Any, text: str) -> float | int:
    try:
        x = float(text)
    except ValueError:
        raise LinkError("must be a number") from None
    lo, hi = component.minimum, component.maximum
    if not math.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise LinkError(f"must be a number from {lo:g} to {hi:g}")
    step = getattr(component, "step", None)
    if isinstance(component, gr.Slider) and step:
        x = lo + round((x - lo) / step) * step  # on the slider's grid
        x = round(x, 10)
    if getattr(component, "precision", None) == 0:
        if x != int(x):
            raise LinkError("must be a whole number")
        return int(x)
    return x


# ---------------------------------------------------------------- building a page
def link(tab: str, render: tuple[Callable[..., Any], list[Any], list[Any]] | None = None, **params):
    """Make these inputs of tab `tab` (its id: `course.slug(label)`) settable from a view, and
    `render` (fn, inputs, outputs: the tab's own redraw) run after a view sets them. Outside
    `page(...)` (a tab built on its own) it does nothing."""
    if not _building:
        return
    for name, c in params.items():
        if not isinstance(c, LINKABLE):
            raise TypeError(
                f"view parameter {name!r} of tab {tab!r}: {type(c).__name__} has no rule"
            )
    _building[-1].links[tab] = Link(tab, dict(params), render)


@contextmanager
def page(
    demo: gr.Blocks, key: str, *, standalone: bool = True, writes: Iterable[str] = ()
) -> Iterator[AppViews]:
    """Build an app's page inside: `with views.page(demo, "scaling_explorer"): ...tabs...`.
    `writes`: glossary terms the page's handlers write (tables, text drawn on load) that its
    static text may not show; its panel defines them too (test_glossary runs the loads to check)."""
    views = AppViews(demo, key, standalone, writes=tuple(writes))
    views.notice = gr.Markdown(visible=False, elem_id=f"{key}-notice", elem_classes=["lab-notice"])
    # the tab a view opened, for the renders that follow: a hidden Textbox, not a gr.State — a
    # State makes gradio hold a heartbeat connection open per page, and a course page embedding
    # four apps then leaves the browser too few of its six connections per host to load them
    views.chosen = gr.Textbox("", visible=False, max_length=100, elem_id=f"{key}-chosen-view")
    with gr.Column() as column:
        _building.append(views)
        try:
            yield views
        finally:
            _building.pop()
    _finish(views, column)
    if not hasattr(demo, "lab_views"):
        demo.lab_views = {}  # key -> AppViews: what tests and the course page check against
    demo.lab_views[key] = views


def _finish(views: AppViews, column: Any) -> None:
    tabs = next((c for c in column.children if isinstance(c, gr.Tabs)), None)
    if tabs is None:
        raise ValueError(f"app {views.key!r}: its page has no tabs")
    views.tabs = tabs
    for tab in tabs.children:
        tab.id = tab.id or course.slug(str(tab.label))
        views.tab_ids.append(tab.id)
    unknown = set(views.links) - set(views.tab_ids)
    if unknown:
        raise ValueError(f"app {views.key!r}: links for tabs it does not have: {sorted(unknown)}")
    for tab in tabs.children:
        with tab:
            _link_row(views, tab.id)
    with column:
        _checks_panel(views)
    glossary_panel(column, views.key, views.writes)
    if views.standalone:

        def open_view(request: gr.Request):
            return views.updates(_request_view(request))

        opened = views.demo.load(
            open_view,
            None,
            _view_outputs(views),
            api_name=False,
            show_progress="hidden",
        )
        _renders(views, opened)


def glossary_panel(column: Any, key: str, writes: Iterable[str] = ()) -> None:
    """Define the glossary's words at their first use in `column`, and list them (with `writes`,
    what its handlers write) at its end. Handlers' output is not annotated: `glossary.apply(column,
    demo)` would wrap them and put <abbr> markup into what the HTTP API returns."""
    terms = sorted(set(glossary.apply(column)) | set(writes))
    with column:
        with gr.Accordion("Words used on this page", open=False, elem_id=f"glossary-{key}"):
            gr.Markdown(glossary.panel_markdown(terms), elem_classes=["glossary"])


def _view_outputs(views: AppViews) -> list[Any]:
    return [views.tabs, views.notice, views.chosen, *views.components]


def _renders(views: AppViews, event: Any, only: str | None = None) -> None:
    """After `event` opened a view, redraw the tab it opened (each tab's own `render`)."""
    for lk in views.links.values():
        if lk.render is None or (only is not None and lk.tab != only):
            continue
        fn, ins, outs = lk.render
        event.then(
            _only_for(lk.tab, fn, len(outs)),
            [views.chosen, *ins],
            outs,
            api_name=False,
            show_progress="hidden",
        )


def _only_for(tab: str, fn: Callable[..., Any], n_out: int) -> Callable[..., Any]:
    """`fn` when the view opened `tab`; otherwise leave its outputs as they are."""

    def run(chosen: str, *args: Any) -> Any:
        if chosen != tab:
            return gr.skip() if n_out == 1 else tuple(gr.skip() for _ in range(n_out))
        return fn(*args)

    return run


def _request_view(request: gr.Request | None) -> dict[str, str]:
    """The view a request asks for: the /view/<…>/ path segment, else the query string."""
    if request is None:
        return {}
    raw = (getattr(request, "path_params", None) or {}).get("view")
    if raw:
        return course.parse_view(raw)
    return {k: v for k, v in dict(request.query_params or {}).items() if not k.startswith("__")}


def base_url(request: gr.Request | None) -> str:
    """This app's URL as the browser sees it (behind a proxy too), without any /view/ segment."""
    if request is None:
        return ""
    headers = {k.lower(): v for k, v in dict(request.headers or {}).items()}
    url = str(getattr(request, "url", "") or "")
    scheme = headers.get("x-forwarded-proto") or url.split("://", 1)[0] or "http"
    host = headers.get("x-forwarded-host") or headers.get("host", "")
    path = url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else ""
    path = "/" + path.split("gradio_api/", 1)[0].split("?", 1)[0]
    path = path.split("/view/", 1)[0].rstrip("/")
    return f"{scheme.split(',')[0]}://{host.split(',')[0]}{path}" if host else path


def _link_row(views: AppViews, tab_id: str) -> None:
    lk = views.links.get(tab_id)
    names = list(lk.params) if lk else []
    with gr.Row():
        button = gr.Button("🔗 Link to this view", size="sm", elem_id=f"{views.key}-{tab_id}-link")
        out = gr.Textbox(
            visible=False,
            show_label=False,
            buttons=["copy"],
            elem_id=f"{views.key}-{tab_id}-url",
            scale=4,
        )
    where = "" if views.standalone else course.stop(views.key).path

    def make(request: gr.Request, *values: Any):
        params = {n: _text(v) for n, v in zip(names, values)}
        query = course.View(views.key, tab_id, params).query()
        base = base_url(request)
        if where:  # the suite's page: the app's own path under the suite's root
            base = f"{base}/{where}"
        return gr.Textbox(value=f"{base}?{query}", visible=True)

    button.click(make, list(lk.params.values()) if lk else [], out, api_name=False)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "|".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _checks_panel(views: AppViews) -> None:
    checks = course.checks_for(views.key)
    if not checks:
        return
    with gr.Accordion("Check your understanding", open=False, elem_id=f"checks-{views.key}"):
        for i, check in enumerate(checks):
            gr.Markdown(f"**{check.question}**\n\n{check.answer}\n\n*Try it:* {check.do}")
            show = gr.Button("Show me", size="sm", elem_id=f"check-{views.key}-{i}")
            raw = {"tab": check.view.tab, **check.view.params}
            opened = show.click(
                lambda _raw=raw: views.updates(_raw),
                None,
                _view_outputs(views),
                api_name=False,
                show_progress="hidden",
            )
            _renders(views, opened, only=check.view.tab)
