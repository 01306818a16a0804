"""LLM Training & Scaling Lab — the suite: the session in its own order (`shared/course.py`): a
course map, the base model, then every app in spaces/ as a tab titled with its knowledge point.
Each app is also served at its own path (`/scaling-laws`, …, built on its first request), and the
session as a course page with the apps' views embedded (`/course`).

The "Base model" page shows the checkpoint every app builds on: how its loss fell while it was
pre-trained, what it measurably knows, and a box where it completes text token by token.
Run: `python app.py` (127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT override).
The page starts in seconds without torch; the model (and torch) load in the background once the
server answers (`warm`, run by `ui.launch`), so the first completion finds them ready; until then
the first clicks' process (`shared/warm_process.py`, started first thing below) answers them.
"""

from __future__ import annotations

import os

from shared import warm_process

# the first clicks' process starts first, loading the models while the page below is built
FIRST_CLICKS = ("training.generate:warm_base", "training.sft.lab:warm")
if __name__ == "__main__":
    warm_process.start(*FIRST_CLICKS)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline-first: no telemetry calls

import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from shared import course, gpu, limits, ui, views
from shared.suite import SpaceApp, build_app_page, discover_apps, routes  # noqa: F401 (tests use them)
from training import store

ROOT = Path(__file__).resolve().parent
SPACES = ROOT / "spaces"
GENERIC_PROMPTS = ["He was born in", "She studied", "After university, she worked for"]
CARD_HEADERS = ["quantity", "value"]
BUILD_HINT = (
    "build one with `python -m training build-base --preset cpu` (about 30 min on 2 CPU cores)"
)


# ---------------------------------------------------------------- the base checkpoint (lazy, cached)
_path_lock = threading.Lock()  # page loads must not wait for a model load (store has its own lock)
_cache: dict[str, Any] = {}


def base_path() -> Path:
    """Resolve the base checkpoint once (env var -> bundled -> Hub); a failure is remembered too,
    so an offline machine does not retry the Hub on every page load."""
    with _path_lock:
        if "path" not in _cache:
            try:
                _cache["path"] = store.resolve("base")
            except store.CheckpointError as e:
                _cache["path"] = e
        found = _cache["path"]
    if isinstance(found, Exception):
        raise found
    return found


def base_checkpoint() -> store.Checkpoint:
    """The process's one copy of the base model (`store.load_shared`: hash-checked on first use,
    shared with the SFT app's "base")."""
    return store.load_shared(base_path())


def local_manifest() -> dict[str, Any] | None:
    """The base manifest if it is on this machine (never the Hub: page building must stay fast)."""
    try:
        return store.read_manifest(store.resolve("base", allow_hub=False))
    except store.CheckpointError:
        return None


def example_rows(manifest: dict[str, Any] | None) -> list[list[str]]:
    """[prompt, what the corpus says] for the page's examples, from the manifest's `examples`
    (dicts with `prompt`, `answer`, `mentions`, or plain names); generic prompts without them."""
    rows = []
    for ex in (manifest or {}).get("examples") or []:
        if isinstance(ex, str):
            ex = {"prompt": f"{ex} was born in"}
        if not isinstance(ex, dict) or not ex.get("prompt"):
            continue
        truth = ""
        if ex.get("answer"):
            truth = str(ex["answer"])
            if ex.get("mentions") is not None:
                truth += f" (this person is mentioned {ex['mentions']}× in the corpus)"
        rows.append([str(ex["prompt"]), truth])
    return rows[:4] or [[p, ""] for p in GENERIC_PROMPTS]


# ---------------------------------------------------------------- event handlers
def curve():
    """Train and held-out loss against tokens seen, read from metrics.jsonl (no torch)."""
    title = "How the base model learned"
    try:
        rows = store.read_metrics(base_path())
    except store.CheckpointError as e:
        return ui.message_figure(f"No base checkpoint: {e}", title)
    if not rows:
        return ui.message_figure(
            "This checkpoint has no metrics.jsonl: no training curve was recorded.", title
        )
    train = [(r["tokens"], r["loss"]) for r in rows if r.get("loss") is not None]
    held = [(r["tokens"], r["eval_loss"]) for r in rows if r.get("eval_loss") is not None]
    series = {
        name: tuple(zip(*pts))
        for name, pts in (("train loss", train), ("held-out loss", held))
        if pts
    }
    return ui.line_figure(
        series, title, "tokens seen", "loss (nats per token, log scale)", log_y=True
    )


def knowledge():
    """ "Born in" accuracy by how often a person is mentioned in the corpus: the long tail, measured."""
    title = "What it knows depends on how often it read it"
    try:
        m = store.read_manifest(base_path()).get("metrics") or {}
    except store.CheckpointError as e:
        return ui.message_figure(f"No base checkpoint: {e}", title)
    buckets = sorted(
        (m.get("born_in_by_bucket") or {}).items(), key=lambda kv: _bucket_order(kv[0])
    )
    if not buckets:
        return ui.message_figure(
            "This checkpoint records no fact accuracy (it was not trained on the world corpus).",
            title,
        )
    return ui.bar_figure(
        [f"{b}×" for b, _ in buckets],
        [100 * a for _, a in buckets],
        title,
        "times the person is mentioned in the training corpus",
        '"born in" accuracy (%)',
        hover=[f"{100 * a:.1f}% of people mentioned {b} times" for b, a in buckets],
        y_range=(0, 105),
    )


def _bucket_order(label: str) -> tuple[float, str]:
    """Order mention buckets ("1", "2-4", "17+") by their first number, not alphabetically."""
    digits = re.match(r"\D*(\d+)", str(label))
    return (int(digits.group(1)) if digits else float("inf"), str(label))


def model_card() -> tuple[str, list[list[str]]]:
    """The manifest's headline numbers as a two-column table, and which checkpoint they come from."""
    try:
        path = base_path()
        manifest = store.read_manifest(path)
    except store.CheckpointError as e:
        msg = str(e).rstrip(".") + ("" if "build-base" in str(e) else f"; {BUILD_HINT}")
        return (f"**No base checkpoint.** {msg}, then restart the app.", [])
    m = manifest.get("metrics") or {}
    rows: list[list[str]] = []

    def add(label: str, value: Any, fmt: Callable[[Any], str]) -> None:
        if value is not None:
            rows.append([label, fmt(value)])

    add("held-out loss (nats/token)", m.get("heldout_loss"), lambda v: f"{v:.3f}")
    n = m.get("born_in_n")
    add(
        '"born in" accuracy, all people',
        m.get("born_in_accuracy"),
        lambda v: f"{100 * v:.1f}%" + (f" of {n}" if n else ""),
    )
    for bucket, acc in sorted(
        (m.get("born_in_by_bucket") or {}).items(), key=lambda kv: _bucket_order(kv[0])
    ):
        add(
            f'"born in" accuracy, people mentioned {bucket} times', acc, lambda v: f"{100 * v:.1f}%"
        )
    add("parameters (all)", m.get("params"), lambda v: f"{v:,}")
    add("parameters (non-embedding)", m.get("params_nonembedding"), lambda v: f"{v:,}")
    add("tokens seen", m.get("tokens_seen"), lambda v: f"{v:,}")
    add("preset", manifest.get("preset"), str)
    add("code version", manifest.get("code_version"), str)
    rebuild = f" · rebuild it with `{manifest['rebuild']}`" if manifest.get("rebuild") else ""
    return (f"Checkpoint `{path}`{rebuild}", rows)


# ≤ 256 tokens of a small model (and its first load): seconds; /complete's own bound is 120 s
@gpu.on_gpu(30, first_click=True)
def complete(
    prompt: str, max_new_tokens: float, temperature: float, top_k: float, seed: float
) -> Iterator[str]:
    """Stream the base model's completion of `prompt`, one token at a time (the first clicks
    from the warm process, `shared.warm_process`)."""
    try:
        req = limits.check(limits.PAGE, prompt, max_new_tokens, temperature, top_k, seed)
    except limits.GenerationError as e:
        raise ui.user_error(e) from None
    yield ""  # clear the previous completion at once; the first call may still wait for the model
    try:
        yield from warm_process.run(
            "training.generate:stream_checkpoint",
            str(base_path()),
            req.prompt,
            req.max_new_tokens,
            req.temperature,
            req.top_k,
            req.seed,
        )
    except (store.CheckpointError, limits.GenerationError) as e:
        raise ui.user_error(e) from None


def warm() -> None:
    """What the first Generate needs, ready before anyone clicks (`ui.launch` runs this in the
    background once the server answers): torch, the base checkpoint in the cache `complete`
    reads, and one 1-token completion through the same path (its first-call costs)."""
    from training.generate import warm_base  # torch: not at start-up

    warm_base(str(base_path()))


# ---------------------------------------------------------------- the page
BASE_INTRO = (
    "A small decoder-only transformer, pre-trained from scratch with next-token prediction — by default "
    "on a synthetic encyclopedia of people (biographies with birth cities, universities, employers), "
    "so we know exactly which facts it could have learned. The other tabs build on this checkpoint."
)
CURVE_NOTE = (
    "**Held-out loss** is the average next-token cross-entropy (nats per token) on held-out text: "
    "for the world corpus, biographies worded in ways the model never trained on. It is the quantity "
    'scaling laws predict. **"Born in" accuracy** is the share of people for whom greedy '
    "completion of *“⟨person⟩ was born in”* gives exactly the city the corpus says; split by how "
    "often a person is mentioned it shows the long tail: facts seen often are learned first, rare "
    "ones late or never. Parameters are counted with and without the embedding tables because "
    "Kaplan et al. fit their laws on non-embedding parameters.\n\n"
    + ui.source_note(
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models",
        "https://arxiv.org/abs/2001.08361",
    )
)
COMPLETE_INTRO = (
    "### Let the base model complete text\nIt continues text; it does not answer questions "
    "(that is what supervised fine-tuning adds). Temperature 0 is greedy: the same prompt always "
    "gives the same completion."
)


def build_base_page(demo: gr.Blocks) -> None:
    gr.Markdown(BASE_INTRO)
    _build_checkpoint_panel(demo)
    gr.Markdown(COMPLETE_INTRO)
    _build_completion_panel()


def _build_checkpoint_panel(demo: gr.Blocks) -> None:
    """The checkpoint's training curve, what it knows by frequency, and its card (drawn on load)."""
    with gr.Row():
        with gr.Column(scale=3):
            plot = gr.Plot(label="Training curve", show_label=False, elem_id="base-curve")
            gr.Markdown(CURVE_NOTE, elem_classes=["lab-note"])
        with gr.Column(scale=2):
            tail = gr.Plot(
                label="Knowledge by frequency", show_label=False, elem_id="base-knowledge"
            )
            source = gr.Markdown(elem_classes=["lab-note"])
            table = gr.Dataframe(
                headers=CARD_HEADERS,
                interactive=False,
                label="What the checkpoint knows",
                elem_id="base-card",
                wrap=True,
                column_widths=["62%", "38%"],
            )
    # render on first paint, not only after the first click
    demo.load(curve, outputs=plot, api_name="curve")
    demo.load(model_card, outputs=[source, table], api_name="model_card")
    demo.load(knowledge, outputs=tail, api_name="knowledge")


def _build_completion_panel() -> None:
    """The prompt, the sampling settings (inside `shared.limits.PAGE`) and the streamed completion."""
    page = limits.PAGE
    with gr.Row():
        with gr.Column():
            prompt = gr.Textbox(
                label="Prompt",
                lines=2,
                max_length=page.max_prompt_chars,
                elem_id="prompt",
                placeholder="e.g. a person's name followed by 'was born in'",
            )
            with gr.Row():
                max_new = gr.Slider(
                    1, page.max_new_tokens, value=32, step=1, label="max new tokens"
                )
                temperature = gr.Slider(
                    0.0,
                    page.max_temperature,
                    value=0.0,
                    step=0.05,
                    label="temperature (0 = greedy)",
                )
            with gr.Row():
                top_k = gr.Slider(0, page.max_top_k, value=0, step=1, label="top-k (0 = off)")
                seed = gr.Number(
                    value=0, precision=0, minimum=0, maximum=page.max_seed, label="seed"
                )
            run = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column():
            output = gr.Textbox(
                label="Completion (streams token by token)",
                lines=6,
                elem_id="completion",
                buttons=["copy"],
            )
            truth = gr.Textbox(
                label="What the corpus says (for the example prompts)",
                interactive=False,
                elem_id="truth",
            )
    examples = example_rows(local_manifest())
    if any(t for _, t in examples):
        gr.Examples(
            examples, inputs=[prompt, truth], label="Example prompts (click one, then Generate)"
        )
    else:
        gr.Examples([[p] for p, _ in examples], inputs=[prompt], label="Example prompts")
    gr.on(
        [run.click, prompt.submit],
        complete,
        inputs=[prompt, max_new, temperature, top_k, seed],
        outputs=output,
        api_name="complete",
        concurrency_limit=2,
        concurrency_id="base-model",
        time_limit=120,
    )
    # typing a new prompt clears the stale ground truth (in the browser; no server call)
    prompt.input(None, None, truth, js="() => ''", api_visibility="private")


def build_suite(found: list[SpaceApp] | None = None) -> gr.Blocks:
    """The whole lab as one page: the base model, then one tab per app in spaces/ (`found`:
    `discover_apps()` already called, e.g. to collect their warm-ups)."""
    apps = discover_apps(SPACES) if found is None else found
    with gr.Blocks(title="LLM Training & Scaling Lab") as demo:
        ui.header(
            "LLM Training & Scaling Lab",
            "Pre-training, scaling laws, fine-tuning, parallelism and architectures — shown on real "
            "models and real runs.",
            course_ref=course.COURSE_TITLE,
        )
        with gr.Tab(course.stop("map").title, id="map"):
            with gr.Column() as page:
                gr.Markdown(course.map_markdown([a.name for a in apps]), elem_id="course-map")
            views.glossary_panel(page, "map")
        with gr.Tab(course.stop("base").title, id="base"):
            with gr.Column() as page:
                build_base_page(demo)
            views.glossary_panel(page, "base")
        for app in apps:
            with gr.Tab(app.title, id=app.name):
                error = app.error or build_app_page(app, demo)
                if error:
                    gr.Markdown(
                        f"**This app could not be loaded.** {' '.join(error.split())[:300]}"
                    )
    demo.queue(max_size=32)
    return demo


def warm_ups(apps: list[SpaceApp]) -> list[Callable[[], Any]]:
    """The suite's warm-ups for `ui.launch`: the base model first (the first tab), then each
    app's own `warm()` — of the apps that loaded and built."""
    return [
        warm,
        *(a.warm for a in apps if a.warm is not None and a.build_demo is not None and not a.error),
    ]


if __name__ == "__main__":
    found = discover_apps(SPACES)
    ui.launch(build_suite(found), warm=warm_ups(found), routes=routes(found))
