"""The glossary (`shared/glossary.py`, issue 18 items 6-7): how it finds and annotates terms, that
gradio shows its annotations (in Chromium), and its coverage of the real apps — every term on a
page is in that page's "Words used on this page" panel, every term the glossary defines is used
somewhere, and the jargon we promise to define is defined wherever it is on screen, in the text
a page is built with and in the text its events write when it loads."""

from __future__ import annotations

import html
import inspect
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from shared import apps, glossary
from shared import ui as lab_ui
from tests.browser_util import chromium_page
from tests.conftest import free_port

ABBR = re.compile(r'<abbr title="([^"]*)">(.*?)</abbr>', re.DOTALL)


def annotated(markdown: str) -> list[tuple[str, str]]:
    """(term, the text wrapped) for every annotation in `markdown`."""
    return [(html.unescape(t).split(": ", 1)[0], text) for t, text in ABBR.findall(markdown)]


# ---------------------------------------------------------------- finding terms
def test_acronyms_match_their_case_and_ordinary_words_any_case():
    assert glossary.find_terms("MFU of 40 %, ZeRO-3 and LoRA") == ["MFU", "ZeRO", "LoRA"]
    assert glossary.find_terms("mfu, zero redundancy, lora, Zero") == []
    assert glossary.find_terms("Scaling Laws and a Power Law") == ["scaling law", "power law"]
    assert glossary.find_terms("the chinchilla law, per Chinchilla") == ["Chinchilla"]


def test_whole_words_only_with_plurals():
    assert glossary.find_terms("SFTTrainer tokenization MFUx pre-tokens_") == []
    assert glossary.find_terms("two all-reduces of the tokens") == ["all-reduce", "token"]
    assert glossary.find_terms("the SSMs and LSTMs") == ["SSM", "LSTM"]


def test_aliases_map_to_one_term_and_the_longest_wins():
    found = glossary.find_terms("IsoFLOP curves, the KV-cache, a kv cache, TP and SP, LoRA r=8")
    assert found == [
        "IsoFLOP",
        "KV cache",
        "tensor parallelism",
        "sequence parallelism",
        "LoRA rank",
    ]
    assert glossary.find_terms("LoRA rank 8") == ["LoRA rank"]  # not also "LoRA"
    assert glossary.find_terms("1f1b and 1F1B") == ["1F1B"]
    assert glossary.find_terms("N_opt(C) and D_opt") == ["N_opt", "D_opt"]


def test_code_urls_link_targets_and_html_attributes_are_not_text():
    text = (
        "`MFU` and ``ZeRO`` in code\n\n```\nFSDP\n```\n\n"
        "[the paper](https://arxiv.org/abs/MQAR) https://example.org/SSM "
        '<span title="LoRA">x</span> $$N_opt$$ <!-- SFT -->'
    )
    assert glossary.find_terms(text) == []
    # a link's text is on screen
    assert glossary.find_terms("[Kaplan et al. 2020](https://arxiv.org/abs/2001.08361)") == [
        "Kaplan"
    ]


def test_every_alias_is_found_as_its_term():
    """Each way of writing a term (and the term itself) is found, and maps to one term only."""
    for term, entry in glossary.ENTRY.items():
        for alias in (term, *entry.aliases):
            assert re.match(r"\w", alias), f"{alias!r}: aliases must start with a word character"
            assert glossary.find_terms(f"see {alias} here") == [term], alias
    names = [a for e in glossary.ENTRIES for a in (e.term, *e.aliases)]
    assert len(names) == len(set(names)) == len(glossary.ALIASES)
    assert set(glossary.JARGON) <= set(glossary.TERMS)


# ---------------------------------------------------------------- annotating
def test_first_use_only_shared_across_blocks():
    seen: set[str] = set()
    one = glossary.annotate("**MFU** is low; MFU again, with ZeRO.", seen)
    two = glossary.annotate("MFU once more, and a bubble.", seen)
    assert annotated(one) == [("MFU", "MFU"), ("ZeRO", "ZeRO")]
    assert one.count("<abbr") == 2 and one.startswith("**<abbr")
    assert annotated(two) == [("bubble", "bubble")]
    assert seen == {"MFU", "ZeRO", "bubble"}


def test_links_code_headings_and_tags_are_left_alone():
    text = (
        "## MFU and ZeRO\n"
        "[MFU explained](https://x.org/MFU) and `ZeRO` "
        '<a href="#">FSDP</a> <span class="lab-note">then MFU</span>\n\n```\nSSM\n```'
    )
    out = glossary.annotate(text, set())
    assert out.startswith("## MFU and ZeRO\n[MFU explained](https://x.org/MFU) and `ZeRO` ")
    assert '<a href="#">FSDP</a>' in out and "```\nSSM\n```" in out
    assert annotated(out) == [("MFU", "MFU")]  # the span's text is prose: the first usable use
    assert '<span class="lab-note">then <abbr' in out


def test_text_without_new_terms_comes_back_unchanged():
    for text in ("plain words only", "", "MFU `code`"):
        seen = {"MFU"}
        assert glossary.annotate(text, seen) == text
    assert glossary.annotate(None, set()) is None


def test_annotating_twice_changes_nothing():
    once = glossary.annotate("MFU, ZeRO and MFU", set())
    assert glossary.annotate(once, set()) == once


def test_the_title_is_escaped_for_html_markdown_and_tables(monkeypatch):
    nasty = 'a "quoted" <b>tag</b> & a | pipe, *stars*, _under_, `tick`, $$math$$ [x](y)'
    monkeypatch.setitem(glossary.TERMS, "MFU", nasty)
    row = "| MFU | 21 % |"
    out = glossary.annotate(row, set())
    title = re.search(r'title="([^"]*)"', out).group(1)
    assert not set(title) & set('"<>|*_`$[]'), title
    assert html.unescape(title) == f"MFU: {nasty}"
    assert out.count("|") == row.count("|")  # the table keeps its columns


def test_panel_lists_each_term_with_definition_and_source():
    panel = glossary.panel_markdown(["MFU", "tensor parallelism", "token"])
    lines = panel.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("- **MFU**: " + glossary.TERMS["MFU"])
    assert "(https://arxiv.org/abs/2204.02311)" in lines[0]  # PaLM defines MFU
    assert lines[1].startswith("- **tensor parallelism** (TP): ")
    assert "Source" not in lines[2]  # a plain word has no paper
    assert glossary.panel_markdown([]) == "*No special terms on this page.*"


# ---------------------------------------------------------------- gradio pages
def _tiny_page():
    with gr.Blocks() as demo:
        with gr.Column() as page:
            gr.Markdown("Why MFU matters, and the KV cache.", elem_id="g-static")
            gr.Markdown("Hidden: SSM", visible=False)
            with gr.Tabs():
                with gr.Tab("ZeRO stages"):
                    gr.Markdown("ZeRO shards; MFU again.", elem_id="g-zero")
                    gr.Slider(1, 8, label="TP size", info="tensor-parallel GPUs")
                    gr.Dropdown(["gpipe", "1f1b"], label="pipeline schedule")
                with gr.Tab("Bubbles"):
                    dynamic = gr.Markdown(elem_id="g-dynamic")
                    gr.Dataframe(headers=["N_opt", "D_opt"], value=[["1", "FLOPs"]])
                    table = gr.Dataframe(
                        headers=["plain", "rich"],
                        datatype=["str", "markdown"],
                        value=[["MQAR", "MQAR and SSM"]],
                        elem_id="g-table",
                    )
                    gr.Button("Train with LoRA")
                    with gr.Accordion("About FSDP", open=False):
                        gr.Markdown("nothing")
                    gr.Markdown("ZeRO in this tab too.", elem_id="g-zero-2")
            with gr.Accordion("Words used on this page", elem_id="glossary-tiny"):
                gr.Markdown("- **MQAR**: …", elem_classes=["glossary"])

        def note():
            return "A pipeline bubble, MFU and ZeRO."

        def stream():
            yield "first a bubble"
            yield "then a bubble and 1F1B"

        def rows():
            return [["SSM", "an SSM, then ZeRO"], ["ZeRO", "ZeRO again"]]

        demo.load(note, None, dynamic, api_name="note")
        demo.load(stream, None, dynamic, api_name="stream")
        demo.load(rows, None, table, api_name="rows")
    return demo, page, dynamic


def test_page_text_reads_what_a_student_sees():
    demo, page, _ = _tiny_page()
    text = glossary.page_text(demo)
    for expected in (
        "Why MFU matters, and the KV cache.",
        "ZeRO stages",
        "TP size",
        "tensor-parallel GPUs",
        "gpipe",
        "N_opt",
        "FLOPs",
        "Train with LoRA",
        "About FSDP",
    ):
        assert expected in text, expected
    assert "Hidden: SSM" not in text and "- **MQAR**: …" not in text  # hidden; the panel itself
    assert glossary.page_text(page) == text


def test_apply_annotates_first_uses_per_tab_and_returns_the_pages_terms():
    demo, page, dynamic = _tiny_page()
    terms = glossary.apply(page)
    assert terms == sorted(
        [
            "MFU", "KV cache", "ZeRO", "tensor parallelism", "GPipe", "1F1B",
            "N_opt", "D_opt", "FLOPs", "LoRA", "FSDP", "bubble", "MQAR", "SSM",
        ],
        key=str.lower,
    )  # fmt: skip
    values = {b.elem_id: b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown)}
    assert annotated(values["g-static"]) == [("MFU", "MFU"), ("KV cache", "KV cache")]
    assert annotated(values["g-zero"]) == [("ZeRO", "ZeRO")]  # MFU: defined above the tabs
    assert annotated(values["g-zero-2"]) == [("ZeRO", "ZeRO")]  # each tab defines its own
    # a table's markdown columns are annotated, its plain ones left as they are
    table = next(b for b in demo.blocks.values() if b.elem_id == "g-table")
    assert table.value["data"][0][0] == "MQAR"
    assert annotated(table.value["data"][0][1]) == [("MQAR", "MQAR"), ("SSM", "SSM")]
    assert glossary.apply(page) == terms
    assert annotated(values["g-zero"]) == [("ZeRO", "ZeRO")]  # applied twice: nothing new


def test_apply_with_the_demo_annotates_what_events_write():
    demo, page, dynamic = _tiny_page()
    glossary.apply(page, demo)
    fns = {fn.api_name: fn.fn for fn in demo.fns.values()}
    out = fns["note"]()
    # MFU was defined above the tabs; the tab's own first uses are annotated
    assert annotated(out) == [("bubble", "pipeline bubble"), ("ZeRO", "ZeRO")]
    assert inspect.isgeneratorfunction(fns["stream"])
    assert [annotated(x) for x in fns["stream"]()] == [
        [("bubble", "bubble")],
        [("bubble", "bubble"), ("1F1B", "1F1B")],
    ]
    rows = fns["rows"]()  # a table's markdown column, row by row (it replaces the table's text)
    assert rows[0][0] == "SSM" and rows[1][0] == "ZeRO"
    assert [annotated(r[1]) for r in rows] == [[("SSM", "SSM"), ("ZeRO", "ZeRO")], []]
    glossary.apply(page, demo)  # wrapping is done once
    assert fns["note"] is {fn.api_name: fn.fn for fn in demo.fns.values()}["note"]


def test_gradio_sends_the_annotation_as_written():
    """gr.Markdown's server side passes the HTML through (the browser sanitizes it: below)."""
    text = glossary.annotate("The MFU of a run.", set())
    assert gr.Markdown().postprocess(text) == text


def test_gradio_shows_the_annotations_in_chromium(tmp_path):
    """gradio 6 sanitizes Markdown's HTML in the browser: the <abbr title> must survive it, on
    the page as built and in what an event writes (wrapped by `apply`, then by the lab's input
    layer at launch)."""
    demo, page, _ = _tiny_page()
    glossary.apply(page, demo)
    port = free_port()
    lab_ui.launch(
        demo, prevent_thread_lock=True, server_port=port, server_name="127.0.0.1", quiet=True
    )
    try:
        with chromium_page(tmp_path / "profile") as browser:
            browser.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            static = browser.locator("#g-static abbr[title]")
            static.first.wait_for()
            assert static.count() == 2
            assert static.first.inner_text() == "MFU"
            assert static.first.get_attribute("title") == f"MFU: {glossary.TERMS['MFU']}"
            browser.get_by_role("tab", name="Bubbles").click()
            written = browser.locator("#g-dynamic abbr[title]")
            written.first.wait_for()
            titles = [written.nth(i).get_attribute("title") for i in range(written.count())]
            assert [t.split(":")[0] for t in titles] in (["bubble", "ZeRO"], ["bubble", "1F1B"])
            # a markdown column of a table (gradio also keeps a hidden copy of each cell)
            cells = browser.locator("#g-table abbr[title] >> visible=true")
            cells.first.wait_for()
            assert cells.first.get_attribute("title") == f"SSM: {glossary.TERMS['SSM']}"
            errors = browser.console_errors
    finally:
        demo.close()
    assert errors == [], errors


# ---------------------------------------------------------------- coverage of the real apps
@dataclass
class Page:
    name: str  # the app, or "suite: <tab label>"
    root: Any
    demo: Any  # the Blocks its events belong to
    panels: list[str] = field(default_factory=list)  # its glossary panels' markdown

    @property
    def terms(self) -> set[str]:
        return {t for text in glossary.page_text(self.root) for t in glossary.find_terms(text)}

    @property
    def listed(self) -> set[str]:
        return {t for p in self.panels for t in re.findall(r"\*\*(.+?)\*\*", p)} & set(
            glossary.TERMS
        )

    @property
    def defined(self) -> set[str]:
        shown = glossary.page_text(self.root)
        return self.listed | {t for text in shown for t, _ in annotated(text)}


def _blocks(root: Any):
    yield root
    for child in getattr(root, "children", None) or []:
        yield from _blocks(child)


def _ids(root: Any) -> set[int]:
    return {id(b) for b in _blocks(root)}


def _page(name: str, root: Any, demo: Any) -> Page:
    page = Page(name, root, demo)
    for b in _blocks(root):
        if str(getattr(b, "elem_id", None) or "").startswith(glossary.PANEL_ID):
            page.panels += [c.value for c in _blocks(b) if isinstance(c, gr.Markdown)]
    return page


@pytest.fixture(scope="module")
def demos() -> dict[str, gr.Blocks]:
    import app  # the suite, at the repo's root

    built = {name: apps.load_app(name).build_demo() for name in apps.app_names()}
    built["suite"] = app.build_suite()
    return built


@pytest.fixture(scope="module")
def pages(demos) -> list[Page]:
    """Each app on its own page, and each tab of the suite (what is under the tab's label: the
    labels themselves are the suite's tab bar, on screen whichever page is open)."""
    out = [_page(name, demo, demo) for name, demo in demos.items() if name != "suite"]
    tabs = next(b for b in _blocks(demos["suite"]) if isinstance(b, gr.Tabs))
    for tab in tabs.children:
        under = SimpleNamespace(children=tab.children)
        out.append(_page(f"suite: {tab.label}", under, demos["suite"]))
    return out


def _no_gaps(gaps: dict[str, list[str]], what: str) -> None:
    bad = {k: v for k, v in gaps.items() if v}
    assert bad == {}, f"{what}:\n" + "\n".join(f"  {k}: {', '.join(v)}" for k, v in bad.items())


def _needs_panels(pages: list[Page]) -> None:
    if not any(p.panels for p in pages):
        pytest.skip(
            "no app has a glossary panel yet (an Accordion with elem_id 'glossary-<app>' "
            "holding gr.Markdown(glossary.panel_markdown(glossary.apply(page))))"
        )


def test_every_app_has_its_panel(demos, pages):
    _needs_panels(pages)
    missing = [p.name for p in pages if p.terms and not p.panels]
    assert missing == [], f"pages using glossary terms without a 'Words used' panel: {missing}"
    for name, demo in demos.items():
        if name != "suite":
            ids = [str(getattr(b, "elem_id", "")) for b in _blocks(demo)]
            assert f"glossary-{name}" in ids, f"{name}: no panel with elem_id glossary-{name}"


def test_every_term_on_a_page_is_in_its_panel(pages):
    _needs_panels(pages)
    gaps = {p.name: sorted(p.terms - p.listed) for p in pages if p.panels}
    _no_gaps(gaps, "terms on the page but not in its panel")


def test_every_defined_term_is_used_somewhere(demos, loaded):
    """No definition for nothing: each term appears on some page (as built, or in what it writes
    on load) or in the course text."""
    texts = [x for demo in demos.values() for x in glossary.page_text(demo)] + _course_text()
    texts += [text for writes in loaded.values() for _, _, text in writes]
    used = {t for x in texts for t in glossary.find_terms(x)}
    assert sorted(set(glossary.TERMS) - used) == []


def _course_text() -> list[str]:
    """Every string of `shared.course` (the session's text: the course page, checks, map)."""
    try:
        from shared import course  # written alongside this glossary (issue 18); may not exist
    except ImportError:
        return []
    out: list[str] = []

    def collect(x: Any) -> None:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                collect(k)
                collect(v)
        elif isinstance(x, (list, tuple, set, frozenset)):
            for v in x:
                collect(v)
        elif hasattr(x, "__dataclass_fields__") and not isinstance(x, type):
            for name in x.__dataclass_fields__:
                collect(getattr(x, name))

    for name, value in vars(course).items():
        if not name.startswith("_"):
            collect(value)
    return out


def test_jargon_on_screen_is_annotated_or_in_the_panel(pages):
    gaps = {p.name: sorted((p.terms & set(glossary.JARGON)) - p.defined) for p in pages}
    _no_gaps(gaps, "jargon on screen, neither annotated nor in the panel")


def test_jargon_that_events_write_on_load_is_defined(demos, pages, loaded):
    """The text pages draw on load (most explanations carry measured numbers, so they are
    written then): each term of JARGON in it is annotated on the page or listed in its panel."""
    gaps: dict[str, list[str]] = {}
    for page in pages:
        ids = _ids(page.root)
        written = [(where, text) for block, where, text in loaded[id(page.demo)] if block in ids]
        defined = page.defined | {t for _, text in written for t, _ in annotated(text)}
        for where, text in written:
            missing = set(glossary.find_terms(text)) & set(glossary.JARGON) - defined
            gaps.setdefault(page.name, []).extend(f"{t} (in {where})" for t in sorted(missing))
    _no_gaps({k: sorted(set(v)) for k, v in gaps.items()}, "jargon written on load, undefined")


@pytest.fixture(scope="module")
def loaded(demos) -> dict[int, list[tuple[int, str, str]]]:
    """id(demo) -> (id(block), which block, text) for what each load event of the demo writes:
    Markdown and Textbox values, table headers and cells. An event that needs a request, or
    fails here, is left out (the app tests check those)."""
    return {id(d): [w for fn in d.fns.values() for w in _run_load(fn)] for d in demos.values()}


def _run_load(fn: Any) -> list[tuple[int, str, str]]:
    if fn.fn is None or "load" not in [t[1] for t in fn.targets]:
        return []
    try:
        value = fn.fn(*[c.value for c in fn.inputs])
        if inspect.isgenerator(value):
            value = list(value)[-1]
    except Exception:  # noqa: BLE001 - not this test's concern
        return []
    values = [value] if len(fn.outputs) == 1 else list(value)
    out = []
    for block, v in zip(fn.outputs, values):
        where = f"{type(block).__name__} {block.elem_id or block.label or fn.api_name}"
        if isinstance(block, (gr.Markdown, gr.Textbox)) and isinstance(v, str):
            out.append((id(block), where, v))
        elif isinstance(block, gr.Dataframe) and v is not None:
            cells = glossary.block_text(gr.Dataframe(value=v, headers=block.headers))
            out += [(id(block), where, c) for c in cells]
    return out
