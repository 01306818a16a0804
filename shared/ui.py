"""The UI kit every app shares: one theme, one header, one plot style, one way to cite and to fail.

Why one kit: four apps are embedded side by side in course pages and in the suite (`app.py`);
they should look like one lab, and a student should read every plot the same way.
No torch here (apps must start fast); plotly is imported only when a figure is drawn.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import gradio as gr

from shared import inputs, limits, serve, warm_process

if TYPE_CHECKING:
    import plotly.graph_objects as go

# One qualitative palette for every plot, so "train" / "eval" / "model A" keep a colour across apps.
PALETTE = ["#4f46e5", "#e11d48", "#0891b2", "#ca8a04", "#16a34a", "#9333ea", "#ea580c", "#64748b"]

MAX_UPLOAD_BYTES = 0  # no app takes a file: /gradio_api/upload refuses any content (HTTP 413)
TEMP_SWEEP = (3600, 3600)  # gradio's temp files: swept every hour, those older than an hour removed
WARM_PROCESS_WAIT_S = (
    60.0  # the server's warm-up waits at most this long for the first clicks' process
)

CSS = """
.lab-header h1 { margin-bottom: 0.1em; }
.lab-header p { margin-top: 0; opacity: 0.8; }
.lab-note { font-size: 0.9em; opacity: 0.85; }
"""


def theme() -> gr.themes.Base:
    """The lab's one gradio theme (pass to `launch(theme=...)`, as gradio 6 takes it there)."""
    return gr.themes.Soft(
        primary_hue="indigo",
        secondary_hue="rose",
        neutral_hue="slate",
        # system fonts only: no Google Fonts fetch, so pages work offline
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
    ).set(
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_text_color="white",
    )


def prepare(demo: gr.Blocks, kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """`demo` behind the input layer with its temp files swept, and the launch/mount keyword
    arguments with the lab's theme and CSS and uploads refused (`launch`, `shared.serve`)."""
    inputs.guard(demo)
    if demo.delete_cache is None:
        demo.delete_cache = TEMP_SWEEP
    kwargs = dict(kwargs or {})
    kwargs.setdefault("theme", theme())
    kwargs.setdefault("css", CSS)
    kwargs.setdefault("max_file_size", MAX_UPLOAD_BYTES)
    return kwargs


def launch(
    demo: gr.Blocks,
    *,
    warm: Callable[[], Any] | Sequence[Callable[[], Any]] = (),
    routes: Sequence[Any] = (),
    **kwargs: Any,
) -> Any:
    """Launch with the lab's theme and CSS, every event behind the input layer (`shared.inputs`),
    uploads refused (no app takes a file) and gradio's temp files swept hourly. Server name/port are
    left to gradio so that GRADIO_SERVER_NAME / GRADIO_SERVER_PORT apply (default 127.0.0.1:7860).

    `warm`: what the page's first actions need (import torch, load a model, one tiny generation),
    called one after another in one daemon thread that starts once the server answers — never
    before, so neither the first HTTP 200 nor the page waits for it. Each call should fill the
    cache the handlers read, so the first click finds it ready; a failure is one log line and the
    next call still runs. LAB_WARM_UP=0 turns it off. Blocks like `demo.launch` unless
    `prevent_thread_lock=True`."""
    kwargs = prepare(demo, kwargs)
    if routes:  # before gradio's own routes (FastAPI keeps the constructor's routes first)
        kwargs.setdefault("app_kwargs", {})["routes"] = list(routes)
    hooks = [warm] if callable(warm) else list(warm)
    if os.environ.get("LAB_WARM_UP", "1").strip() == "0":
        hooks = []
    block = not kwargs.pop("prevent_thread_lock", False)
    debug = bool(kwargs.pop("debug", False))
    warm_up = threading.Thread(target=_warm_up, args=(demo, hooks), name="lab-warm-up", daemon=True)
    early = bool(hooks) and os.environ.get("GRADIO_DEBUG", "0").strip() == "1"
    if early:
        inputs.warm_up_done.clear()
        warm_up.start()  # gradio then blocks inside launch: the thread waits for the server itself
    result = demo.launch(prevent_thread_lock=True, **kwargs)  # returns once the server is listening
    serve.add_view_route(demo.server_app)  # <app>/view/<query>/: a view for the web component
    if hooks and not early:
        inputs.warm_up_done.clear()  # heavy handlers wait until the warm-up is over (see shared/inputs)
        warm_up.start()
    if debug or (block and not bool(getattr(sys, "ps1", sys.flags.interactive))):
        demo.block_thread()
    return result


def _warm_up(demo: gr.Blocks, hooks: list[Callable[[], Any]]) -> None:
    """Run `hooks` once the server answers; one log line each (done in how long, or why not).
    Heavy handlers wait for it to end (`shared.inputs.warm_up_done`)."""
    try:
        _run_warm_ups(demo, hooks)
    finally:
        inputs.warm_up_done.set()
        warm_process.stop()  # the first clicks' process is no longer asked (shared/warm_process)


def _run_warm_ups(demo: gr.Blocks, hooks: list[Callable[[], Any]]) -> None:
    log, one_line = inputs.log, inputs.one_line
    while not getattr(demo, "is_running", False):
        time.sleep(0.05)
    # the first clicks' process answers meanwhile: starting now would compete with it and with the
    # first paint for the cores (2 on the smallest Space)
    t0 = time.perf_counter()
    if warm_process.wait_ready(WARM_PROCESS_WAIT_S):
        log.info(
            "warm-up: starting, the warm process ready (waited %.1f s)", time.perf_counter() - t0
        )
    for fn in hooks:
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a warm-up is an optimisation: log it, go on
            log.warning(
                "warm-up %s failed after %.1f s: %s",
                name,
                time.perf_counter() - t0,
                one_line(f"{type(e).__name__}: {e}"),
            )
        else:
            log.info("warm-up %s done in %.1f s", name, time.perf_counter() - t0)


def header(title: str, subtitle: str = "", course_ref: str = "") -> gr.Markdown:
    """Page title, one line saying what the page shows, and which part of the course it serves."""
    lines = [f"# {title}"]
    if subtitle:
        lines.append(subtitle)
    if course_ref:
        lines.append(f"<span class='lab-note'>Course: {course_ref}</span>")
    return gr.Markdown("\n\n".join(lines), elem_classes=["lab-header"])


def source_note(text: str, url: str = "") -> str:
    """A markdown citation line; put one next to every law, constant or borrowed number."""
    cite = f"[{text}]({url})" if url else text
    return f"<span class='lab-note'>Source: {cite}</span>"


def user_error(msg: Any) -> gr.Error:
    """A one-line error for the person using the app (no traceback in the UI or the log).
    Usage: `raise user_error(e)` or `raise user_error("max tokens must be 1..256")`."""
    return inputs.InputError(msg)


def checked_number(name: str, x: Any, lo: float, hi: float, integer: bool = False) -> float:
    """`shared.limits.number` for a handler: a bad value is a one-line error on the page."""
    try:
        return limits.number(name, x, lo, hi, integer)
    except ValueError as e:
        raise user_error(e) from None


def stream_live(
    start: Callable[[], Iterable[Any]],
    render: Callable[[Any], Any],
    progress: Any = None,
    *,
    failed: str = "the run failed",
    starting: Any = None,
    collect: Callable[[Any], None] | None = None,
    every_s: float = 0.8,
) -> Iterator[Any]:
    """Show a live job (`training.live`) on a page — the one consumer loop of every app.
    `start()` returns its events (a busy job or bad settings raise ValueError: a one-line page
    error); then `starting` (if given) is yielded at once. Each progress event goes to `collect`
    (if given: a curve gathering its points), moves `progress` (a gr.Progress) and, at most
    every `every_s` seconds, yields `render(event)` unless that is None. The "done" event always
    yields `render(event)`; an "error" event is a one-line page error (after `failed`, if any). When the
    page goes away (the generator is closed) the events are closed: the job stops at its next
    step."""
    try:
        events = start()
    except ValueError as e:
        raise user_error(e) from None
    shown = 0.0
    try:
        if starting is not None:
            yield starting
        for ev in events:
            if ev.kind == "error":
                raise user_error(f"{failed}: {ev.text}" if failed else ev.text)
            if ev.kind == "done":
                yield render(ev)
                return
            if collect is not None:
                collect(ev)
            if progress is not None and ev.total:
                progress((ev.done, ev.total), desc=ev.label or None, unit="steps")
            if time.perf_counter() - shown >= every_s:
                out = render(ev)
                if out is not None:
                    shown = time.perf_counter()
                    yield out
    finally:
        close = getattr(events, "close", None)
        if close:
            close()


def style_figure(
    fig: "go.Figure",
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
) -> "go.Figure":
    """Apply the lab's one plot style: titles, light grid, legend on top, log axes on request."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        # an empty template plus explicit colours: "plotly_white" is deep-copied into every
        # figure (~25 ms each), which alone would break the 50 ms budget of a slider update
        template="none",
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=PALETTE,
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
        margin={"l": 60, "r": 20, "t": 60, "b": 100},
        # the legend goes under the plot: above it, several series collide with a long title
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
        hovermode="x unified",
        height=440,
    )
    axis = {
        "showgrid": True,
        "gridcolor": "#e5e7eb",
        "zeroline": False,
        "linecolor": "#cbd5e1",
        "ticks": "outside",
        "tickcolor": "#cbd5e1",
        "automargin": True,
    }
    fig.update_xaxes(title_text=x_title, type="log" if log_x else "linear", **axis)
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear", **axis)
    return fig


def line_figure(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
    markers: bool = False,
) -> "go.Figure":
    """One line per named series `{name: (xs, ys)}`; a series with a single point gets a marker."""
    # plotly's figure classes (~0.3 s) when the first figure is drawn, not at start-up
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, (xs, ys) in series.items():
        xs, ys = list(xs), list(ys)
        mode = "lines+markers" if markers or len(xs) < 2 else "lines"
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode=mode))
    return style_figure(fig, title, x_title, y_title, log_x=log_x, log_y=log_y)


def message_figure(message: str, title: str = "") -> "go.Figure":
    """An empty plot that says why it is empty (no checkpoint yet, no run yet), instead of a blank box."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14}
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style_figure(fig, title, "", "")


def bar_figure(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    x_title: str,
    y_title: str,
    hover: Sequence[str] | None = None,
    y_range: tuple[float, float] | None = None,
) -> "go.Figure":
    """One bar per label (categories in the given order); `hover` adds a line per bar on hover.
    (No text drawn on the bars: plotly logs console errors for labels on zero-height bars.)"""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=list(values),
            marker_color=PALETTE[0],
            hovertext=list(hover) if hover else None,
        )
    )
    fig = style_figure(fig, title, x_title, y_title)
    fig.update_xaxes(
        type="category"
    )  # style_figure sets a linear axis; bars sit on named categories
    fig.update_layout(hovermode="closest")
    if y_range:
        fig.update_yaxes(range=list(y_range))
    return fig


def grouped_bar_figure(
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    x_title: str,
    y_title: str,
    hover: dict[str, Sequence[str]] | None = None,
    y_range: tuple[float, float] | None = None,
    stacked: bool = False,
) -> "go.Figure":
    """Bars grouped (or stacked) by category, one colour per named series (e.g. accuracy and
    compliance per model; parameters/gradients/optimizer per ZeRO stage); `hover[name]` adds a
    line per bar on hover."""
    import plotly.graph_objects as go

    fig = go.Figure(
        [
            go.Bar(
                x=list(categories),
                y=list(values),
                name=name,
                marker_color=PALETTE[i % len(PALETTE)],
                hovertext=list((hover or {}).get(name) or []) or None,
            )
            for i, (name, values) in enumerate(series.items())
        ]
    )
    fig = style_figure(fig, title, x_title, y_title)
    fig.update_xaxes(type="category")
    fig.update_layout(barmode="stack" if stacked else "group", hovermode="closest")
    if y_range:
        fig.update_yaxes(range=list(y_range))
    return fig


def gantt_figure(
    events: Sequence[Any],
    title: str,
    x_title: str = "time",
    until: float | None = None,
    x_range: tuple[float, float] | None = None,
) -> "go.Figure":
    """A schedule as a Gantt chart: one row per device, a bar per forward/backward (objects with
    stage, microbatch, kind "F"/"B", start, end and optionally chunk), labelled by micro-batch.
    `until` draws only what has happened by that time (to step through a schedule)."""
    import plotly.graph_objects as go

    stages = sorted({e.stage for e in events})
    groups: dict[tuple[str, int], list] = {}
    for e in events:
        if until is None or e.start < until:
            groups.setdefault((e.kind, getattr(e, "chunk", 0)), []).append(e)
    colours = {
        "F": ["#4f46e5", "#818cf8", "#3730a3", "#a5b4fc"],
        "B": ["#e11d48", "#fb7185", "#9f1239", "#fda4af"],
    }
    traces = []
    for (kind, chunk), evs in sorted(groups.items()):
        ends = [min(e.end, until) if until is not None else e.end for e in evs]
        name = ("forward" if kind == "F" else "backward") + (
            f" (chunk {chunk + 1})" if chunk else ""
        )
        traces.append(
            dict(
                type="bar",
                y=[f"device {e.stage}" for e in evs],
                x=[t - e.start for e, t in zip(evs, ends)],
                base=[e.start for e in evs],
                orientation="h",
                name=name,
                marker={"color": colours[kind][chunk % 4], "line": {"color": "white", "width": 1}},
                text=[str(e.microbatch) for e in evs],
                textposition="inside",
                insidetextanchor="middle",
                hovertext=[
                    f"{name} of micro-batch {e.microbatch} on device {e.stage}: {e.start:.4g} → {e.end:.4g}"
                    for e in evs
                ],
                hoverinfo="text",
            )
        )
    # thousands of bars: plotly's per-element validation would cost ~0.1 s; these lists are ours
    fig = go.Figure(data=traces, _validate=False)
    fig = style_figure(fig, title, x_title, "")
    fig.update_yaxes(
        type="category",
        autorange="reversed",
        categoryorder="array",
        categoryarray=[f"device {s}" for s in stages],
    )
    fig.update_layout(
        barmode="overlay", hovermode="closest", height=max(240, 110 + 45 * len(stages))
    )
    if x_range:
        fig.update_xaxes(range=list(x_range))
    return fig
