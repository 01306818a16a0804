"""The suite in a real headless Chromium: the page paints its plot and table on load, streams a
completion, and logs no console errors. Leaves a screenshot in tests/artifacts/suite.png."""

from __future__ import annotations

import pytest

from tests.browser_util import chromium_page, screenshot
from training import store


@pytest.fixture(scope="module")
def page(suite_url, tmp_path_factory):
    with chromium_page(tmp_path_factory.mktemp("chromium-profile")) as page:
        yield page


def test_suite_page_in_chromium(page, suite_url, tiny_base):
    import app
    from training.generate import complete

    manifest = store.read_manifest(tiny_base)
    page.goto(suite_url, wait_until="domcontentloaded")
    page.get_by_role("tab", name="Base model", exact=True).click()  # the suite opens on the map

    # first paint: the curve (train + held-out traces) and the model card come from demo.load
    page.wait_for_selector("#base-curve .js-plotly-plot .scatterlayer .trace")
    # the tiny preset evaluates every 10 steps, so its curve has a held-out trace beside the train one
    assert any(r.get("eval_loss") is not None for r in store.read_metrics(tiny_base)), (
        "the tiny checkpoint must record held-out losses"
    )
    assert page.locator("#base-curve .scatterlayer .trace").count() == 2
    page.get_by_text(f"{manifest['metrics']['heldout_loss']:.3f}", exact=True).first.wait_for()

    # the completion streamed into the box ends as exactly what the generation helper gives
    # locally with the page's default sliders (32 tokens, greedy)
    prompt, truth = app.example_rows(manifest)[0]
    ckpt = store.load(tiny_base)
    expected = complete(
        ckpt.model, ckpt.tokenizer, prompt, max_new_tokens=32, temperature=0.0, top_k=0, seed=0
    )
    assert expected, "the tiny model should say something after a corpus prompt"
    # build-base on the world corpus stores each example with its answer, so the example has a truth
    assert truth, (
        f"the tiny checkpoint's first example has no answer from the corpus: {manifest['examples']}"
    )
    # clicking an example fills the prompt and what the corpus says about that person
    page.get_by_text(truth, exact=True).click()
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel).value === want",
        arg=["#truth textarea", truth],
    )
    assert page.locator("#prompt textarea").input_value() == prompt
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#generate").click()
    page.wait_for_function(
        "([sel, want]) => document.querySelector(sel).value === want",
        arg=["#completion textarea", expected],
    )
    page.wait_for_timeout(500)  # let late renders (plot resize, toasts) log their errors, if any

    screenshot(page, "suite.png")
    assert page.console_errors == [], "\n".join(page.console_errors)
