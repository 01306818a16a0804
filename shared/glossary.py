"""Words the audience knows: one glossary for every app (the terms are `shared/glossary_terms.py`).

A page's text is searched for the terms (`find_terms`); the first use of each on a page becomes
`<abbr title="definition">term</abbr>` (`annotate`), so hovering it shows the definition, and the
page ends with a "Words used on this page" panel listing every term it uses (`panel_markdown`).
`apply(root)` does both for a built gradio page. Pure Python: gradio blocks are taken as
arguments and recognised by their class names, so this module imports no gradio.

Why <abbr>: gradio 6 sanitizes Markdown's HTML in the browser (its frontend's allow-list keeps
the `abbr` element and the `title` attribute, as it does in table cells of datatype "markdown");
tests/test_glossary.py checks it in Chromium. Browsers show a title on hover and underline
`abbr[title]` with dots. On touch screens, with no hover, the page's panel is the definition.
"""

from __future__ import annotations

import functools
import html
import inspect
import re
from typing import Any, Callable, Iterable, Iterator

from shared.glossary_terms import ENTRIES, Entry

TERMS: dict[str, str] = {e.term: e.definition for e in ENTRIES}
ENTRY: dict[str, Entry] = {e.term: e for e in ENTRIES}
# every way a page may write a term -> the term (its canonical name)
ALIASES: dict[str, str] = {a: e.term for e in ENTRIES for a in (e.term, *e.aliases)}
# The jargon the lab promises to define wherever it is on screen (issue 18): each is underlined on
# first use or listed in the page's panel (tests/test_glossary.py checks every page).
JARGON: tuple[str, ...] = (
    "MFU", "LoRA", "IsoFLOP", "ZeRO", "1F1B", "MQAR", "N_opt", "D_opt", "FLOPs", "PF-day",
    "SFT", "FSDP", "DDP", "KV cache", "SSM", "GPU-hour", "tensor parallelism",
    "pipeline parallelism", "data parallelism", "sequence parallelism", "bubble", "GPipe",
)  # fmt: skip
PANEL_ID = "glossary-"  # elem_id prefix of a page's panel (`glossary-<app>`): not page text
PANEL_CLASS = "glossary"

# ---------------------------------------------------------------- finding terms
# Text the student does not read as prose: fenced code, code spans, $$math$$, HTML comments and
# tags (their attributes), link targets and bare URLs. `annotate` also leaves alone whole links,
# the insides of <a>/<abbr>/<code>/<pre>/<kbd>, and headings (gradio derives their anchors).
_HIDDEN = [
    r"^[ \t]*(?P<fence>`{3,}|~{3,}).*?(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",  # fenced code block
    r"(?P<tick>`+)(?!`).+?(?<!`)(?P=tick)(?!`)",  # code span
    r"\$\$.+?\$\$",  # display math (gradio's default delimiter)
    r"<!--.*?-->",  # HTML comment
    r"<(?:code|pre|kbd|samp|script|style)\b[^>]*>.*?</(?:code|pre|kbd|samp|script|style)\s*>",
    r"https?://[^\s)<>\]]+",  # bare URL
]
_TAG = r"</?[A-Za-z][^<>]*>"  # one HTML tag: its attributes are not text
_LINK_TARGET = r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"  # the (url "title") of [text](url "title")
_FROZEN = [
    r"!?\[[^\]\n]*\]\([^)\s]*(?:\s+\"[^\"]*\")?\)",  # a whole link or image
    r"<(?P<el>a|abbr)\b[^>]*>.*?</(?P=el)\s*>",  # a link or an existing annotation, with its text
    r"^[ \t]{0,3}#{1,6}[ \t][^\n]*",  # a heading line
]


@functools.lru_cache(maxsize=2)
def _protected(frozen: bool) -> re.Pattern[str]:
    parts = _HIDDEN + ([*_FROZEN, _TAG] if frozen else [_TAG, _LINK_TARGET])
    return re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL | re.MULTILINE)


def _alias_pattern(alias: str) -> str:
    """`alias` as a regex: a word with two or more capitals (MFU, ZeRO, LoRA, 1F1B) matches its
    case exactly, any other word any case (Chinchilla, token); a space matches any run of spaces;
    a plural s/es may follow; no word character may touch either end."""
    out = []
    for part in re.split(r"(\w+)", alias):
        if not part:
            continue
        if re.fullmatch(r"\w+", part):
            exact = sum(c.isupper() for c in part) >= 2
            out.append(re.escape(part) if exact else f"(?i:{re.escape(part)})")
        else:
            out.append(r"\s+" if part.isspace() else re.escape(part))
    tail = "(?:e?s)?" if alias[-1].isalnum() else ""
    return rf"(?<!\w){''.join(out)}{tail}(?!\w)"


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, list[tuple[int, re.Pattern[str], str]]]:
    """Each alias's pattern and term, filed under its first word (lower case): a page is scanned
    word by word and only the aliases that can start at a word are tried there."""
    index: dict[str, list[tuple[int, re.Pattern[str], str]]] = {}
    for alias, term in ALIASES.items():
        first = re.match(r"\w+", alias)
        key = first.group(0).lower() if first else alias[:1]
        index.setdefault(key, []).append((len(alias), re.compile(_alias_pattern(alias)), term))
    return index


def _segments(text: str, frozen: bool) -> Iterator[tuple[str, bool]]:
    """`text` cut into (piece, is_prose) in order; the pieces join back to `text`."""
    at = 0
    for m in _protected(frozen).finditer(text):
        if m.start() > at:
            yield text[at : m.start()], True
        if m.end() > m.start():
            yield m.group(0), False
        at = m.end()
    if at < len(text):
        yield text[at:], True


def _matches(prose: str) -> Iterator[tuple[re.Match[str], str]]:
    """Every use of a term in `prose`, left to right, not overlapping; where several aliases
    start at one word the longest wins ("LoRA rank" over "LoRA", "KV cache" over "KV")."""
    index, at = _index(), 0
    for word in re.finditer(r"\w+", prose):
        if word.start() < at:
            continue
        w = word.group(0).lower()
        keys = {w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w}
        candidates = sorted((c for k in keys for c in index.get(k, ())), key=lambda c: -c[0])
        for _, pattern, term in candidates:
            m = pattern.match(prose, word.start())
            if m:
                yield m, term
                at = m.end()
                break


def find_terms(text: str) -> list[str]:
    """The glossary terms (canonical names) `text` uses, in order of first use, each once;
    occurrences in code, URLs, link targets and HTML attributes do not count."""
    found: dict[str, None] = {}
    for piece, prose in _segments(text or "", frozen=False):
        if prose:
            found.update((term, None) for _, term in _matches(piece))
    return list(found)


# ---------------------------------------------------------------- annotating markdown
def title(term: str) -> str:
    """The hover text of `term`: its name and definition, escaped for an HTML attribute inside
    markdown (also the characters markdown, gradio's $$math$$ or a table row would act on)."""
    text = f"{term}: {TERMS[term]}"
    text = html.escape(" ".join(text.split()), quote=True)
    return text.translate({ord(c): f"&#{ord(c)};" for c in "|*_`[]$\\~<>"})


def annotate(markdown: str, seen: set[str]) -> str:
    """`markdown` with the first use of each term not in `seen` wrapped in
    `<abbr title="…">…</abbr>`; `seen` gains the terms annotated (and those already annotated in
    the text), so blocks of one page share it. Links, code, headings and HTML tags are left alone;
    text without new terms comes back unchanged."""
    if not isinstance(markdown, str) or not markdown:
        return markdown
    out = []
    for piece, prose in _segments(markdown, frozen=True):
        if not prose:
            if piece.lower().startswith("<abbr"):
                seen.update(find_terms(piece))  # annotated before (apply run twice): counts
            out.append(piece)
            continue
        at = 0
        for m, term in _matches(piece):
            if term in seen:
                continue
            seen.add(term)
            out.append(piece[at : m.start()])
            out.append(f'<abbr title="{title(term)}">{m.group(0)}</abbr>')
            at = m.end()
        out.append(piece[at:])
    return "".join(out)


def panel_markdown(terms: Iterable[str]) -> str:
    """The "Words used on this page" panel: each term in bold, its other names, its definition
    and its source."""
    lines = []
    for term in terms:
        e = ENTRY[term]
        also = [a for a in e.aliases if a.isupper() and len(a) <= 4]  # TP, PP, DP, SP, INT8…
        name = f"**{term}**" + (f" ({', '.join(also)})" if also else "")
        source = f" *Source: [{e.source[0]}]({e.source[1]}).*" if e.source else ""
        lines.append(f"- {name}: {e.definition}{source}")
    return "\n".join(lines) if lines else "*No special terms on this page.*"


# ---------------------------------------------------------------- gradio pages (duck-typed)
def _kinds(block: Any) -> set[str]:
    return {cls.__name__ for cls in type(block).__mro__}


def _skipped(block: Any) -> bool:
    """The glossary panel itself, and what the student cannot see (visible=False)."""
    elem_id = str(getattr(block, "elem_id", None) or "")
    classes = getattr(block, "elem_classes", None) or []
    classes = [classes] if isinstance(classes, str) else classes
    return (
        getattr(block, "visible", True) in (False, "hidden")
        or elem_id.startswith(PANEL_ID)
        or PANEL_CLASS in classes
    )


def _walk(root: Any) -> Iterator[Any]:
    """`root` and every block under it, in page order (layout blocks keep theirs in `.children`)."""
    if _skipped(root):
        return
    yield root
    for child in getattr(root, "children", None) or []:
        yield from _walk(child)


def _choices(block: Any) -> list[str]:
    out = []
    for c in getattr(block, "choices", None) or []:
        out.append(str(c[0] if isinstance(c, (list, tuple)) and c else c))
    return out


def _table(value: Any) -> list[str]:
    """Headers and text cells of a Dataframe's value (gradio 6: {"headers": …, "data": …})."""
    if not isinstance(value, dict):
        return []
    cells = [*(value.get("headers") or [])]
    for row in value.get("data") or []:
        cells.extend(row if isinstance(row, (list, tuple)) else [row])
    return [c for c in cells if isinstance(c, str)]


def block_text(block: Any) -> list[str]:
    """The text one block shows by itself (not its children's)."""
    kinds = _kinds(block)
    out: list[str] = []
    label = getattr(block, "label", None)
    shown = getattr(block, "show_label", None) is not False or kinds & {"Tab", "Accordion"}
    if isinstance(label, str) and shown:
        out.append(label)
    for attr in ("info", "placeholder"):
        value = getattr(block, attr, None)
        if isinstance(value, str):
            out.append(value)
    value = getattr(block, "value", None)
    if kinds & {"Markdown", "HTML", "Button", "Textbox"} and isinstance(value, str):
        out.append(value)
    out += _choices(block)
    if "Dataframe" in kinds:
        out += [h for h in getattr(block, "headers", None) or [] if isinstance(h, str)]
        out += [c for c in _table(value) if c not in out]
    if "Dataset" in kinds:  # gr.Examples
        samples = getattr(block, "samples", None) or []
        out += [str(x) for row in samples for x in row if isinstance(x, str)]
    return out


def page_text(root: Any) -> list[str]:
    """All the text a student sees in a built gradio subtree (a gr.Blocks, gr.Column, gr.Tab…):
    Markdown and HTML values, labels, info lines, placeholders, button texts, tab and accordion
    labels, choices, table headers and cells, example prompts — not the glossary panel itself and
    not what is hidden (visible=False)."""
    return [t for block in _walk(root) for t in block_text(block) if t]


def apply(root: Any, demo: Any = None) -> list[str]:
    """Annotate the first use of each term in the Markdown blocks of `root`'s subtree (and in the
    markdown/html columns of its tables), and return every term its text uses (sorted), for the
    page's panel. A tab is what a student sees at once, so each tab of a gr.Tabs annotates its own
    first uses (after what precedes the Tabs).

    With `demo` (the gr.Blocks the page's events belong to), what events write into those blocks
    (drawn on load, after a click) is annotated too, as it is sent: each such event's handler is
    wrapped (`glossed`); first uses count from the text above the block."""
    terms = {t for text in page_text(root) for t in find_terms(text)}
    spots: dict[int, Spot] = {}
    _annotate_tree(root, set(), spots)
    if demo is not None:
        for block_fn in (getattr(demo, "fns", None) or {}).values():
            outputs = list(getattr(block_fn, "outputs", None) or [])
            mine = {i: spots[id(o)] for i, o in enumerate(outputs) if id(o) in spots}
            if getattr(block_fn, "fn", None) is not None and mine:
                block_fn.fn = glossed(block_fn.fn, outputs, mine)
    return sorted(terms, key=lambda t: (t.lower(), t))


# where a block's text is annotated: the terms defined above it, and for a table which columns
# render markdown (None: the block is one markdown string)
Spot = tuple[frozenset[str], Callable[[int], bool] | None]


def _annotate_tree(block: Any, seen: set[str], spots: dict[int, Spot]) -> None:
    if _skipped(block):
        return
    kinds = _kinds(block)
    if "Markdown" in kinds:
        spots[id(block)] = (frozenset(seen), None)
        block.value = annotate(getattr(block, "value", None), seen)
    elif "Dataframe" in kinds and _markdown_columns(block):
        spots[id(block)] = (frozenset(seen), _markdown_columns(block))
        block.value = _annotate_table(block.value, _markdown_columns(block), seen)
    for child in getattr(block, "children", None) or []:
        # each tab starts from what was above the tabs
        _annotate_tree(child, set(seen) if "Tabs" in kinds else seen, spots)


def _markdown_columns(block: Any) -> Callable[[int], bool] | None:
    """Which columns of a Dataframe render markdown or HTML (its `datatype`), or None if none."""
    kinds = getattr(block, "datatype", None)
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if not {"markdown", "html"} & set(kinds):
        return None
    rich = [k in ("markdown", "html") for k in kinds]

    def markdown(j: int) -> bool:  # one datatype for all columns, or one per column
        return rich[0] if len(rich) == 1 else j < len(rich) and rich[j]

    return markdown


def _annotate_table(value: Any, markdown: Callable[[int], bool], seen: set[str]) -> Any:
    """A table value (rows, gradio's {"headers", "data"} or a pandas DataFrame) with its markdown
    cells annotated, row by row."""

    def rows(data: list) -> list:
        return [
            [annotate(v, seen) if markdown(j) else v for j, v in enumerate(row)]
            if isinstance(row, (list, tuple))
            else row
            for row in data
        ]

    if isinstance(value, dict) and isinstance(value.get("data"), list):
        return {**value, "data": rows(value["data"])}
    if isinstance(value, list):
        return rows(value)
    if hasattr(value, "iat") and len(getattr(value, "shape", ())) == 2:  # a pandas DataFrame
        value = value.copy()
        for r in range(value.shape[0]):
            for c in range(value.shape[1]):
                if markdown(c) and isinstance(value.iat[r, c], str):
                    value.iat[r, c] = annotate(value.iat[r, c], seen)
    return value


def glossed(fn: Callable[..., Any], outputs: list[Any], spots: dict[int, Spot]):
    """`fn` (an event handler, plain or generator) with what it returns for output `i` annotated
    as `spots[i]` says; other outputs untouched. Each value starts from the block's own `seen`."""
    if getattr(fn, "__glossed__", False) or not (
        inspect.isfunction(fn) or inspect.ismethod(fn) or isinstance(fn, functools.partial)
    ):
        return fn
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return fn  # the lab has no async handlers; leave any untouched rather than break it
    where = {id(o): i for i, o in enumerate(outputs)}

    def fix(i: int | None, value: Any) -> Any:
        if i not in spots:
            return value
        seen, columns = spots[i]
        if columns is None:
            return annotate(value, set(seen)) if isinstance(value, str) else value
        return _annotate_table(value, columns, set(seen))

    def result(value: Any) -> Any:
        if isinstance(value, dict) and any(id(k) in where for k in value):
            return {k: fix(where.get(id(k)), v) for k, v in value.items()}
        if len(outputs) == 1:
            return fix(0, value)
        if isinstance(value, (tuple, list)) and len(value) == len(outputs):
            return type(value)(fix(i, v) for i, v in enumerate(value))
        return value

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for value in fn(*args, **kwargs):
                yield result(value)
    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return result(fn(*args, **kwargs))

    wrapper.__glossed__ = True
    return wrapper
