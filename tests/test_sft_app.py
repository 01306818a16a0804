"""The SFT Transformation app through its public API (gradio_client), served by `python app.py`
with the bundled checkpoints, and in headless Chromium; its headline and the Results tab's LIMA
answer in-process, against the bundled results' per-run evaluations."""

from __future__ import annotations

import json
import re
import time

import gradio as gr
import pytest
from gradio_client import Client

from shared import course
from tabs.sft_transformation.headline import headline_text
from tests.browser_util import chromium_page, screenshot
from tests.client_util import CALL_TIMEOUT_S, app_error, call, load_space, rows
from training import store
from training.data.world import World
from training.presets import PRESETS
from training.sft.build import read_results
from training.sft.lab import LIVE_TIME_LIMIT_S

BUNDLED_SFT = store.BUNDLED_DIR / "sft"


@pytest.fixture(scope="module")
def client(bundled_url) -> Client:
    return Client(bundled_url, verbose=False)


def test_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/compare", "/token_view", "/record", "/convert", "/live_sft", "/results"} <= names


def test_compare_matches_local_greedy_decoding(client):
    """The side-by-side answers are exactly each model's own greedy reply to the chat prompt."""
    from training.sft.evaluate import respond
    from training.sft.train import load_base, load_sft

    w = World(PRESETS["cpu"].world)
    person = next(p for p in w.people if p.split == "heldout")
    q = f"Where was {person.full_name} born?"
    base_text, sft_text, live_text = call(client, q, ["base", "sft"], 40, 0.0, api_name="/compare")
    base = load_base(None)
    model, tok, _ = load_sft(BUNDLED_SFT)
    want_sft, stopped = respond(model, tok, [{"role": "user", "content": q}], 40)
    assert stopped and sft_text == want_sft + " ⏹"
    assert " was born in " in sft_text  # the SFT model answers in the template's sentence
    want_base, base_stopped = respond(
        base.model, base.tokenizer, [{"role": "user", "content": q}], 40
    )
    assert base_text == want_base + (" ⏹" if base_stopped else "")
    assert live_text == ""


def test_bad_input_is_one_line_and_the_server_survives(client):
    assert "empty" in app_error(client, "  ", ["base"], 10, 0.0, api_name="/compare")
    assert "characters" in app_error(client, "x" * 1500, ["base"], 10, 0.0, api_name="/compare")
    # out-of-range sliders: gradio's own one-line check names the bound
    assert "and 128 (got" in app_error(client, "hi", ["base"], 5000, 0.0, api_name="/compare")
    assert "and 2 (got" in app_error(client, "hi", ["base"], 10, 9.0, api_name="/compare")
    assert "at least one model" in app_error(client, "hi", [], 10, 0.0, api_name="/compare")
    assert "and 199 (got" in app_error(client, 10_000, api_name="/record")
    assert "choose between 0 and 199" in app_error(
        client, 10_000, "", "", False, api_name="/token_view"
    )
    assert "both a question and an answer" in app_error(
        client, 0, "", "", True, api_name="/token_view"
    )
    assert "JSON" in app_error(client, "{not json", api_name="/convert")
    assert "unknown role" in app_error(
        client, json.dumps({"conversations": [{"from": "bot", "value": "x"}]}), api_name="/convert"
    )
    # still serving
    assert call(client, "Hello", ["sft"], 4, 0.0, api_name="/compare")[1]


def test_record_and_convert_show_both_shapes(client):
    messages, sharegpt, rendered, tokens_html = call(client, 3, api_name="/record")
    conv = sharegpt["conversations"]
    assert [t["from"] for t in conv] == [
        {"user": "human", "assistant": "assistant"}[m["role"]] for m in messages["messages"]
    ]
    assert [t["value"] for t in conv] == [m["content"] for m in messages["messages"]]
    assert (
        rendered.startswith("<|user|>")
        and rendered.count("<|assistant|>") == len(messages["messages"]) // 2
    )
    rec = {"prompt": "Where is the lab?", "completion": "The lab is online."}
    messages, sharegpt, rendered, _ = call(client, json.dumps(rec), api_name="/convert")
    assert rendered == "<|user|>Where is the lab?<|end|><|assistant|>The lab is online.<|end|>"
    assert sharegpt == {
        "conversations": [
            {"from": "human", "value": "Where is the lab?"},
            {"from": "assistant", "value": "The lab is online."},
        ]
    }


def test_token_view_marks_the_answer_and_scores_both_models(client):
    html_out, fig = call(
        client,
        0,
        "Where was Ada Lovelace born?",
        "Ada Lovelace was born in London.",
        True,
        api_name="/token_view",
    )
    assert "carry loss" in html_out and "London" in html_out
    plot = json.loads(fig["plot"]) if isinstance(fig, dict) and "plot" in fig else fig
    names = [t["name"] for t in plot["data"]]
    assert any(n.startswith("base") for n in names) and any(n.startswith("sft") for n in names)
    assert len(plot["data"][0]["y"]) == len(plot["data"][0]["x"]) > 3


def test_results_are_the_bundled_json(client):
    out = call(client, api_name="/results")
    main, note, table = out[0], out[4], out[5]
    results = read_results(BUNDLED_SFT)
    assert results.rebuild in note
    by_key = {r[0]: r for r in rows(table)}
    assert list(by_key) == list(results.evals)  # every evaluation, in the build's order
    for key, e in results.evals.items():
        assert float(by_key[key][4].rstrip("%")) == pytest.approx(100 * e.accuracy, abs=0.05)
        assert int(by_key[key][6]) == e.n
    plot = json.loads(main["plot"]) if isinstance(main, dict) and "plot" in main else main
    bars = {t["name"]: t["y"] for t in plot["data"]}
    heldout = ["base-augmented/zero-shot/heldout", "base-augmented/few-shot/heldout", "sft/heldout"]
    assert bars["format compliance"] == pytest.approx(
        [100 * results.evals[k].compliance for k in heldout]
    )


BOLD_PERCENT = re.compile(r"\*\*([\d.]+)%\*\*")


@pytest.fixture(scope="module")
def page() -> gr.Blocks:
    """The app's page, built in-process (its headline and LIMA answer are built with the page)."""
    return load_space("sft_transformation").build_demo()


def _markdown(demo: gr.Blocks, elem_id: str) -> str:
    (md,) = [b for b in demo.blocks.values() if isinstance(b, gr.Markdown) and b.elem_id == elem_id]
    return re.sub(r"</?abbr[^>]*>", "", md.value)  # the glossary's hover notes, not the text


def test_the_headline_names_the_generative_search_engine_with_the_evals_numbers(page):
    """The headline's numbers are the held-out accuracies of the per-run evaluations (not only of
    the build's headline summary): base zero-shot -> SFT, and SFT on the 1-bio base."""
    r = read_results(BUNDLED_SFT)
    text = _markdown(page, "sft-headline")
    assert text == headline_text(r).strip() and "generative search engine" in text
    ev = r.evals
    base = 100 * ev["base-augmented/zero-shot/heldout"].accuracy
    sft = 100 * ev["sft/heldout"].accuracy
    one_bio = 100 * ev["sft-1bio/heldout"].accuracy
    title = re.search(r"([\d.]+)% → ([\d.]+)%", text)
    assert [float(title[1]), float(title[2])] == pytest.approx([base, sft], abs=0.05)
    bold = [float(x) for x in BOLD_PERCENT.findall(text)]
    assert bold == pytest.approx([base, sft, one_bio], abs=0.05)
    few = 100 * ev["base-augmented/few-shot/heldout"].accuracy
    assert f"{few:.1f}% with {r.plan.shots} answered examples" in text
    assert f"of {ev['sft/heldout'].n} questions" in text and "exact-answer accuracy" in text
    assert "knowledge" in text and "augmentation" in text and "Allen-Zhu & Li 2023" in text
    assert base < 5 < 50 < sft and one_bio < sft  # the transformation, and what makes it possible


def test_the_lima_comparison_answers_quality_over_quantity(page):
    r = read_results(BUNDLED_SFT)
    text = _markdown(page, "sft-lima-answer")
    assert "quality more important than quantity" in text
    small, noisy = r.evals["lima-clean/heldout"], r.evals["lima-noisy/heldout"]
    bold = [float(x) for x in BOLD_PERCENT.findall(text)]
    assert bold == pytest.approx([100 * small.accuracy, 100 * noisy.accuracy], abs=0.05)
    assert f"{100 * noisy.compliance:.1f}%" in text and f"{100 * small.compliance:.1f}%" in text
    ratio = r.runs["lima-noisy"].n_records / r.runs["lima-clean"].n_records
    assert f"{ratio:.1f}× as many" in text and r.runs["lima-noisy"].data in text
    assert f"{100 * r.evals['sft/heldout'].accuracy:.1f}%" in text
    assert small.accuracy > noisy.accuracy  # the clean few beat the noisy many


def test_live_sft_is_bounded_one_at_a_time_and_raises_compliance(client):
    """A short live run from the API: a second request meanwhile is refused in one line; the
    run raises held-out compliance and the live model then answers in the comparison."""
    # the longest time limit the page allows: a bound against a hang, so a busy machine does not
    # cut the 30 steps short (the run's speed is benchmarks' business)
    job = client.submit("clean", 30, 3e-3, 8, LIVE_TIME_LIMIT_S, api_name="/live_sft")
    # the handler yields its first update ("starting …") only after the run took the lock: wait for
    # that event (polling the job, 120 s: a hang guard), not for a fixed time
    deadline = time.monotonic() + 120
    while not job.outputs() and not job.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.outputs() and not job.done(), f"the live run never started: {job.status()}"
    assert "already in progress" in app_error(
        client, "clean", 10, 3e-3, 8, 30, api_name="/live_sft"
    )
    status, _, table = job.result(timeout=CALL_TIMEOUT_S)
    by_measure = {r[0].split(" (")[0]: r for r in rows(table)}
    before = float(by_measure["format compliance"][1].rstrip("%"))
    after = float(by_measure["format compliance"][2].rstrip("%"))
    assert "Done" in status and after > before and after >= 50, (status, by_measure)
    live = call(client, "Where was Ada Lovelace born?", ["live"], 20, 0.0, api_name="/compare")[2]
    assert live


def test_sft_tab_in_chromium(bundled_url, tmp_path):
    with chromium_page(tmp_path / "profile") as page:
        page.goto(bundled_url, wait_until="domcontentloaded")
        page.get_by_role("tab", name=course.stop("sft_transformation").title).click()
        w = World(PRESETS["cpu"].world)
        person = next(p for p in w.people if p.split == "heldout")
        page.locator("#sft-prompt textarea").fill(f"Where was {person.full_name} born?")
        page.locator("#sft-ask").click()
        page.wait_for_function(
            "(sel) => document.querySelector(sel).value.endsWith('⏹')", arg="#sft-out-sft textarea"
        )
        answer = page.locator("#sft-out-sft textarea").input_value()
        assert " was born in " in answer and answer.count(".") == 1, answer
        assert page.locator("#sft-out-base textarea").input_value()
        page.get_by_role("tab", name="Results").click()
        page.wait_for_selector("#sft-results-main .js-plotly-plot")
        screenshot(page, "sft.png")
        errors = page.console_errors
    assert errors == [], errors


# --- Preference tuning (DPO) ------------------------------------------------------------------


def test_dpo_results_are_the_bundled_json(client):
    from tabs.sft_transformation.preference import TABLE_HEADERS
    from training.dpo.results import ARM_LABELS
    from training.dpo.results import read_results as read_dpo

    bars, curve, note, table = call(client, api_name="/dpo_results")
    r = read_dpo()
    assert r.rebuild in note
    for st in r.starts.values():  # the settings each start's reported rows were trained with
        t = st.training["dpo"]
        assert f"{st.label}: DPO, lr {t.lr:g}, β {t.beta:g}" in note
    got = {row[0]: row for row in rows(table)}
    labels = {
        (s, arm): ARM_LABELS[arm].format(start=st.label)
        for s, st in r.starts.items()
        for arm in st.arms
    }
    assert list(got) == list(labels.values())  # every start's arms, in the build's order
    for (s, arm), label in labels.items():
        h, row = r.headline[s][arm], dict(zip(TABLE_HEADERS, got[label]))
        assert float(row["accuracy"].rstrip("%")) == pytest.approx(100 * h.accuracy, abs=0.05)
        assert float(row["wrong fact"].rstrip("%")) == pytest.approx(100 * h.wrong_fact, abs=0.05)
        assert float(row["rambling"].rstrip("%")) == pytest.approx(100 * h.ramble, abs=0.05)
        assert float(row["KL from SFT (nats/token)"]) == pytest.approx(h.kl_per_token, abs=5e-5)
        assert int(row["questions"]) == h.n
        assert f"{100 * h.accuracy:.1f}%" in note  # the findings above the table
    plot = json.loads(bars["plot"]) if isinstance(bars, dict) and "plot" in bars else bars
    by_name = {t["name"]: t["y"] for t in plot["data"]}
    assert by_name["exact-answer accuracy"] == pytest.approx(
        [100 * r.headline[s][arm].accuracy for s, arm in labels]
    )


def test_dpo_grid_is_the_bundled_validation_grid_and_margins(client):
    from tabs.sft_transformation.preference_grid import GRID_HEADERS, MARGIN_HEADERS
    from training.dpo.results import read_results as read_dpo
    from training.dpo.results import select

    plot, note, grid, margins = call(client, api_name="/dpo_grid")
    r = read_dpo()
    got = [dict(zip(GRID_HEADERS, row)) for row in rows(grid)]
    want = [(st.label, g) for st in r.starts.values() for g in st.grid]
    assert len(got) == len(want)
    for row, (label, g) in zip(got, want):
        assert row["start"] == label and (row["selected"] == "✓") == g.selected
        assert float(row["accuracy"].rstrip("%")) == pytest.approx(100 * g.accuracy, abs=0.05)
        assert float(row["KL from SFT (nats/token)"]) == pytest.approx(g.kl_per_token, abs=5e-5)
    for st in r.starts.values():
        best = select(st.grid, "dpo")
        assert f"DPO lr {best.lr:g}, β {best.beta:g} (validation accuracy " in note
        assert f"{100 * best.accuracy:.1f}%" in note
    m = {(row[0], row[1]): dict(zip(MARGIN_HEADERS, row)) for row in rows(margins)}
    dpo = r.starts["sft"].arms["dpo"].margins_heldout
    label = f"{r.starts['sft'].label} + DPO"
    for kind, words in (("wrong", "wrong fact"), ("ramble", "rambling")):
        assert float(m[(label, words)]["margin (nats, summed)"]) == pytest.approx(
            dpo[kind].margin, abs=0.005
        )
        assert float(m[(label, words)]["margin per token (nats)"]) == pytest.approx(
            dpo[kind].margin_per_token, abs=5e-4
        )
    assert f"{dpo['ramble'].margin:.1f} nats" in note and f"{dpo['wrong'].margin:.1f} nats" in note


def test_compare_dpo_puts_the_dpo_model_beside_sft_and_refuses_bad_input(client):
    w = World(PRESETS["cpu"].world)
    person = next(p for p in w.people if p.split == "heldout")
    q = f"Where was {person.full_name} born?"
    base, sft, dpo, live = call(client, q, ["sft", "dpo"], 40, 0.0, api_name="/compare_dpo")
    assert base == "" and live == "" and dpo.endswith("⏹")
    assert sft == call(client, q, ["sft"], 40, 0.0, api_name="/compare")[1]  # one SFT model
    assert "no live DPO model yet" in app_error(
        client, q, ["live-dpo"], 10, 0.0, api_name="/compare_dpo"
    )
    assert "at least one model" in app_error(client, q, [], 10, 0.0, api_name="/compare_dpo")
    assert "empty" in app_error(client, " ", ["dpo"], 10, 0.0, api_name="/compare_dpo")


def test_live_dpo_refuses_bad_input_in_one_line(client):
    from training.dpo.lab import LIVE_MAX_STEPS

    assert f"and {LIVE_MAX_STEPS} (got" in app_error(
        client, "both", 500, 0.1, 5e-4, 60, api_name="/live_dpo"
    )
    assert "(got" in app_error(client, "both", 10, 5.0, 5e-4, 60, api_name="/live_dpo")
    assert call(client, api_name="/dpo_results")[2]  # still serving
