"""The session in its own order, every app and tab at an address, deep links that never break a
page, and the course page that embeds the apps' views (`shared/course.py`, `shared/views.py`,
`shared/serve.py`, `shared/course_page.py`)."""

from __future__ import annotations

import html
import urllib.error
import urllib.request

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import apps as shared_apps
from shared import course, course_page, views


@pytest.fixture(scope="module")
def built() -> dict[str, views.AppViews]:
    """Every app built on its own page: key -> its views registry."""
    found = {}
    for name in shared_apps.app_names():
        demo = shared_apps.load_app(name).build_demo()
        found[name] = demo.lab_views[name]
    return found


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


# ---------------------------------------------------------------- the order
def test_every_app_on_disk_has_its_place_in_the_session():
    assert sorted(shared_apps.app_names()) == sorted(course.APP_ORDER)
    # an app nobody placed yet still shows, after the session's own
    assert course.order_apps(["zzz_new", *reversed(course.APP_ORDER)]) == [
        *course.APP_ORDER,
        "zzz_new",
    ]


def test_the_suite_runs_in_the_sessions_order():
    import app

    demo = app.build_suite()
    tabs = next(c for c in demo.children if isinstance(c, gr.Tabs))
    titles = [t.label for t in tabs.children]
    assert titles == [s.title for s in course.SESSION]
    assert titles[:2] == ["Course map", "Base model"]
    kps = [s.kp for s in course.SESSION if s.app]
    assert kps == sorted(kps) == [1, 2, 3, 3, 4]
    for s in course.SESSION[2:]:
        assert s.title.startswith(f"KP{s.kp} ")
    errors = [a.error for a in app.discover_apps() if a.error]
    assert not errors


# ---------------------------------------------------------------- views and deep links
def test_every_check_and_embedded_view_opens_cleanly(built):
    wanted = [c.view for c in course.CHECKS] + course_page.embedded_views()
    wanted += course_page.also_views()
    for view in wanted:
        v = built[view.app]
        tab, values, notes = v.resolve({"tab": view.tab, **view.params})
        assert tab == view.tab and not notes, (view, notes)
        assert len(values) == len(view.params)
    assert {c.view.app for c in course.CHECKS} == set(course.APP_ORDER)
    assert {c.kp for c in course.CHECKS} == {1, 2, 3, 4}


def test_no_app_holds_a_connection_open_for_a_heartbeat(built):
    """A course page embeds four apps from one host, and a browser opens at most six connections
    per host: an app that holds one open for gradio's heartbeat (any gr.State, unload or stream
    event) leaves the last embed too few to load (CI saw it stall for 120 s)."""
    import app  # noqa: PLC0415 - the suite page, which serves the course page

    for name, v in built.items():
        assert v.demo.get_config_file()["connect_heartbeat"] is False, name
    assert app.build_suite(app.discover_apps()).get_config_file()["connect_heartbeat"] is False


def test_every_tab_of_every_app_has_an_id_and_a_link_control(built):
    for key, v in built.items():
        assert v.tab_ids and len(set(v.tab_ids)) == len(v.tab_ids)
        for tab in v.tabs.children:
            ids = {getattr(b, "elem_id", None) for b in _walk(tab)}
            assert f"{key}-{tab.id}-link" in ids, (key, tab.id)


def _walk(block):
    yield block
    for child in getattr(block, "children", []) or []:
        yield from _walk(child)


def test_bad_view_values_keep_the_default_with_a_one_line_notice(built):
    v = built["scaling_explorer"]
    tab, values, notes = v.resolve({"tab": "laws", "log_n": "99", "law": "nope", "zzz": "1"})
    assert tab == "laws" and values == {}
    assert len(notes) == 3 and all("\n" not in n for n in notes)
    assert "from 6 to 13" in notes[0] and "must be one of" in notes[1] and "zzz" in notes[2]
    tab, values, notes = v.resolve({"tab": "bogus"})
    assert tab is None and "not a tab of this app" in notes[0]
    # a good value lands on the slider's grid; a choice matches its label or value, any case
    tab, values, notes = v.resolve({"tab": "laws", "log_n": "10.02", "law": "KAPLAN"})
    assert not notes
    assert sorted(values.values(), key=str) == [10.0, "kaplan"]


def test_view_updates_open_the_tab_and_show_the_notice(built):
    v = built["architectures"]
    out = v.updates({"tab": "recall", "width": "999"})
    assert out[0].selected == "recall"
    assert out[1].visible is True and "must be one of" in out[1].value
    assert out[2] == "recall"
    out = v.updates({})
    assert out[1].visible is False and out[2] == ""


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=6))
def test_any_view_query_gives_a_page_never_an_error(built, raw):
    for v in built.values():
        tab, values, notes = v.resolve(raw)
        assert tab is None or tab in v.tab_ids
        assert all(isinstance(n, str) and "\n" not in n for n in notes)


def test_coerce_follows_each_components_own_rules():
    with gr.Blocks():
        n = gr.Number(minimum=1, maximum=64, precision=0)
        s = gr.Slider(18, 26, step=0.05)
        c = gr.Checkbox()
        r = gr.Radio([0, 1, 2, 3])
    assert views.coerce(n, " 8 ") == 8 and isinstance(views.coerce(n, "8"), int)
    assert views.coerce(s, "23.497") == 23.5
    assert views.coerce(c, "TRUE") is True and views.coerce(c, "off") is False
    assert views.coerce(r, "3") == 3
    with gr.Blocks():
        g = gr.CheckboxGroup(["lr ×10, no warmup", "bf16"])
    assert views.coerce(g, "bf16|LR ×10, no warmup") == ["bf16", "lr ×10, no warmup"]
    assert views._text(["bf16", "lr ×10, no warmup"]) == "bf16|lr ×10, no warmup"
    with pytest.raises(views.LinkError):
        views.coerce(g, "bf16|fp8")
    for comp, bad in [(n, "2.5"), (n, "65"), (n, "nan"), (s, "inf"), (c, "maybe"), (r, "4")]:
        with pytest.raises(views.LinkError):
            views.coerce(comp, bad)


def test_parse_view_and_addresses_round_trip():
    view = course.View("parallelism", "memory", {"model": "Llama 2 70B", "zero": "3", "dp": "64"})
    assert course.parse_view(view.query()) == {"tab": "memory", **view.params}
    assert view.url("http://h") == "http://h/parallelism?tab=memory&model=Llama+2+70B&zero=3&dp=64"
    assert view.embed_path("http://h").startswith("http://h/parallelism/view/tab=memory&")


def test_base_url_is_the_apps_own_address_without_the_view():
    class R:
        def __init__(self, url, headers):
            self.url, self.headers = url, headers

    r = R("http://127.0.0.1:7860/sft/view/tab=results/gradio_api/queue/join?x=1", {"host": "h:1"})
    assert views.base_url(r) == "http://h:1/sft"
    r = R(
        "http://0.0.0.0:7860/gradio_api/queue/join",
        {"host": "a", "x-forwarded-host": "me.hf.space", "x-forwarded-proto": "https"},
    )
    assert views.base_url(r) == "https://me.hf.space"


# ---------------------------------------------------------------- the server's routes
def test_each_app_has_its_own_path_and_the_course_page_embeds_them(suite_url):
    root = suite_url.rstrip("/")
    for s in course.SESSION:
        if s.app:
            code, body = get(f"{root}/{s.path}/")
            assert code == 200 and "gradio" in body.lower(), s.path
    code, body = get(f"{root}/course")
    assert code == 200
    for view in course_page.embedded_views():
        assert f'data-src="{html.escape(view.embed_path(root))}"' in body, view
    code, framed = get(f"{root}/course?embed=iframe")  # the fallback: every view in an iframe
    assert code == 200 and "<gradio-app" not in framed
    for view in course_page.embedded_views():
        assert f'<iframe src="{html.escape(view.url(root))}"' in framed, view
    for c in course.CHECKS:
        assert html.escape(c.question) in body
    code, js = get(f"{root}/gradio.js")
    assert code == 200 and "import" in js and "http" not in js.split("import", 1)[1][:80]
    code, _ = get(f"{root}/scaling-laws/view/tab=laws&log_n=10/")
    assert code == 200


def test_an_app_is_built_once_on_its_first_request_and_a_failed_build_says_why():
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from shared import serve, ui

    builds = []

    def build() -> gr.Blocks:
        builds.append(1)
        if len(builds) == 1:
            raise ValueError("no results\nbuild them first")
        with gr.Blocks() as demo:
            gr.Markdown("hello")
        return demo

    lazy = serve.LazyApp(build, ui.prepare)
    client = TestClient(Starlette(routes=serve.app_mounts({"x": lazy})))
    first = client.get("/x/")
    assert first.status_code == 500 and "\n" not in first.text
    assert first.text == "this app could not be built: ValueError: no results build them first"
    assert client.get("/x/").status_code == 200 and client.get("/x/config").status_code == 200
    assert client.get("/x/view/tab=a/config").status_code == 200  # the view path, same app
    assert len(builds) == 2  # tried again after the failure, then never rebuilt
