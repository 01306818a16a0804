"""In headless Chromium, offline: a deep link opens its tab with its inputs (a bad one shows the
default and a notice), "Link to this view" gives the view's URL, and the course page renders every
embedded view through gradio's web component, lets a student act inside one, logs no console
error and has no nested scrollbar at 1280×800. Screenshot: tests/artifacts/course.png."""

from __future__ import annotations

import pytest

from shared import course, course_page
from tests.browser_util import chromium_page, screenshot

TAB_SELECTED = "button[role=tab][aria-selected=true]"


@pytest.fixture  # a fresh page each: leaving a page aborts its requests (console errors)
def page(suite_url, tmp_path_factory):
    with chromium_page(tmp_path_factory.mktemp("chromium-course")) as page:
        page.set_viewport_size({"width": 1280, "height": 800})
        yield page


def selected_tabs(page) -> list[str]:
    return page.eval_on_selector_all(TAB_SELECTED, "els => els.map(e => e.innerText.trim())")


def test_a_deep_link_opens_its_tab_with_its_inputs(page, suite_url):
    root = suite_url.rstrip("/")
    page.goto(f"{root}/parallelism?tab=memory&model=Llama+2+70B&zero=3&dp=64")
    page.wait_for_function(
        "() => [...document.querySelectorAll('input[type=number]')].some(e => e.value === '64')"
    )
    assert "Memory" in selected_tabs(page)
    assert page.locator("#parallelism-notice").is_hidden()
    # "Link to this view" gives back the same view
    page.click("#parallelism-memory-link")
    url = page.locator("#parallelism-memory-url :is(input, textarea)").input_value(timeout=30_000)
    assert url.startswith(f"{root}/parallelism?tab=memory") and "dp=64" in url and "zero=3" in url
    assert page.console_errors == []


def test_a_bad_deep_link_gives_the_default_and_a_notice(page, suite_url):
    root = suite_url.rstrip("/")
    page.goto(f"{root}/scaling-laws?tab=laws&log_n=99")
    notice = page.locator("#scaling_explorer-notice")
    notice.wait_for(state="visible")
    assert "log_n" in notice.inner_text() and "from 6 to 13" in notice.inner_text()
    assert "Laws" in selected_tabs(page)
    assert page.console_errors == []


NESTED_SCROLL = """() => [...document.querySelectorAll('*')].filter(e => {
  const s = getComputedStyle(e);
  return e !== document.scrollingElement && ['auto', 'scroll'].includes(s.overflowY)
    && e.scrollHeight > e.clientHeight + 2 && e.clientHeight > 200;
}).map(e => e.tagName + '.' + e.className).slice(0, 5)"""


def test_course_page_embeds_every_view(page, suite_url):
    root = suite_url.rstrip("/")
    page.goto(f"{root}/course")
    embeds = course_page.embedded_views()
    slots = page.locator(".lab-embed")
    assert slots.count() == len(embeds)
    for i, view in enumerate(embeds):
        slot = slots.nth(i)
        slot.scroll_into_view_if_needed()  # each app starts when it comes near the screen
        # the embedded app renders, opened at the view's tab (its own view load ran)
        slot.locator("gradio-app .lab-header").first.wait_for(timeout=120_000)
        slot.locator(TAB_SELECTED, has_text=_tab_label(view)).wait_for(timeout=120_000)
    assert page.locator("gradio-app").count() == len(embeds)
    hosts = page.locator("gradio-app")
    # one action inside an embedded app: ask the first view for its link
    first = embeds[0]
    host = hosts.nth(0)
    host.scroll_into_view_if_needed()
    host.locator(f"#{first.app}-{first.tab}-link").click()
    url = host.locator(f"#{first.app}-{first.tab}-url :is(input, textarea)").input_value(
        timeout=30_000
    )
    assert f"tab={first.tab}" in url and url.startswith(f"{root}/{course.stop(first.app).path}")
    page.wait_for_timeout(1000)
    assert page.console_errors == []
    assert page.evaluate(NESTED_SCROLL) == []
    screenshot(page, "course.png")


def _tab_label(view: course.View) -> str:
    import app  # noqa: F401 - the apps' tab labels, from the built pages
    from shared import apps as shared_apps

    demo = shared_apps.load_app(view.app).build_demo()
    tabs = demo.lab_views[view.app].tabs.children
    return next(t.label for t in tabs if t.id == view.tab)
