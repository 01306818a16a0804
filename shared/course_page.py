"""The course page (`/course` of `python app.py`): the session's knowledge points in order, in the
project's own words, with the apps' views embedded where the text talks about them — through
gradio's web component, loaded from the installed gradio (`shared.serve.LOADER_PATH`, no CDN), an
iframe where the component cannot load — then the understanding checks, the corrections of the
course text, and the snippets a course author pastes to embed the public Spaces instead.
Pure: writes HTML from `shared.course`; no gradio import.
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass
from typing import Any

from shared import course

GRADIO_CDN = "https://gradio.s3-us-west-2.amazonaws.com/{version}/gradio.js"


@dataclass(frozen=True)
class Section:
    kp: int
    text: tuple[str, ...]  # paragraphs (HTML allowed: our own text)
    views: tuple[tuple[course.View, str], ...]  # (view, the sentence it illustrates)
    also: tuple[tuple[course.View, str], ...] = ()  # more of the text, measured: links, not embeds


# One view per knowledge point: each live app holds connections open (its heartbeat), and a browser
# opens at most six to one host over HTTP/1.1; six apps on one page stalled loading.


SECTIONS: tuple[Section, ...] = (
    Section(
        1,
        (
            "Pre-training is next-token prediction: read text, predict the next token, lower the "
            "cross-entropy. A modern LLM trains with the same objective as the first neural "
            "language models; what changed is scale — billions of parameters, trillions of tokens.",
            "Loss falls predictably with scale: as a power law in parameters <i>N</i>, tokens "
            "<i>D</i> and compute <i>C</i> ≈ 6·<i>N</i>·<i>D</i>. Each doubling buys a smaller, "
            "but predictable, gain. For a fixed budget there is a best split between a bigger "
            "model and more data — the compute-optimal frontier. Here it is at GPT-3's budget "
            "(3.14·10<sup>23</sup> FLOPs): GPT-3 was far larger, and trained on far fewer tokens, "
            "than Chinchilla's law would choose.",
        ),
        (
            (
                course.View("scaling_explorer", "compute-optimal", {"log_c": "23.5"}),
                "The compute-optimal split at GPT-3's budget, under each published law.",
            ),
        ),
        (
            (
                course.View("scaling_explorer", "data-mixture"),
                "What the data is made of: one model trained on mixtures of biographies, programs "
                "and forum threads at equal tokens — the cost of leaving a domain out, and which "
                "company helps a domain",
            ),
        ),
    ),
    Section(
        2,
        (
            "Supervised fine-tuning continues the same training on different data: questions and "
            "the answers we want. The base model has read the facts but only continues text; "
            "after a few minutes of fine-tuning it answers questions about people it never saw "
            "a question about — a generative search engine over what it read in pre-training.",
            "Fine-tuning teaches the format, not the facts: a small clean data set does better "
            "than a bigger noisy one.",
        ),
        (
            (
                course.View("sft_transformation", "results"),
                "Held-out answers before and after SFT, and clean vs noisy data.",
            ),
        ),
        (
            (
                course.View("sft_transformation", "preference-tuning"),
                "After SFT, preferences (the step towards RLHF): DPO on pairs of a good and a bad "
                "answer, measured against simply training SFT longer on the good ones",
            ),
        ),
    ),
    Section(
        3,
        (
            "A large model does not fit on one GPU: weights, gradients, optimizer state and "
            "activations take about 16–20 bytes per parameter before activations. Training "
            "splits it: data parallelism copies the model and splits the batch; ZeRO/FSDP "
            "shards the copies; the course's <i>model parallelism</i> is tensor parallelism "
            "(split each layer) and pipeline parallelism (different layers on different GPUs).",
            "At scale, training must also stay stable (warmup, clipping, loss scaling), and the "
            "trained model must be served cheaply (quantization, KV cache, distillation, pruning).",
        ),
        (
            (
                course.View(
                    "parallelism", "memory", {"model": "Llama 2 70B", "zero": "3", "dp": "64"}
                ),
                "Llama 2 70B's training memory per GPU with ZeRO-3 over 64 GPUs.",
            ),
        ),
        (
            (
                course.View("training_at_scale", "stability"),
                "Warmup, clipping, loss scaling — and learning-rate decay: constant, cosine, linear "
                "and warmup-stable-decay at equal steps",
            ),
            (
                course.View("training_at_scale", "inference"),
                "Serving cheaply: KV cache, int8 and 4-bit weights, pruning, distillation, measured",
            ),
        ),
    ),
    Section(
        4,
        (
            "An RNN reads a sequence one step at a time: training cannot run in parallel over "
            "positions, and what it saw long ago must survive in one fixed-size state. Attention "
            "computes all positions at once, which is why transformers won; state-space models "
            "such as Mamba bring back the fixed-size state with training that runs in parallel, "
            "and generation whose cost does not grow with the context.",
        ),
        (
            (
                course.View("architectures", "inference-memory"),
                "A transformer's KV cache grows with the context; an SSM's state does not.",
            ),
        ),
    ),
)


def embedded_views() -> list[course.View]:
    return [v for s in SECTIONS for v, _ in s.views]


def _esc(text: str) -> str:
    return _html.escape(text, quote=True)


def embed(view: course.View, base: str, *, iframe: bool = False) -> str:
    """One embedded view: a placeholder the page's script fills with gradio's web component when
    it comes near the screen (six apps starting at once stall the browser), or an iframe on
    `?embed=iframe` and where the component cannot load."""
    src = _esc(view.embed_path(base))
    url = _esc(view.url(base))
    frame = (
        f'<iframe src="{url}" loading="lazy" title="{_esc(view.app)}: {_esc(view.tab)}" '
        'class="lab-frame"></iframe>'
    )
    inner = frame if iframe else '<div class="lab-slot">The app loads when you scroll here.</div>'
    return (
        f'<div class="lab-embed" data-src="{src}" data-frame="{url}" data-app="{_esc(view.app)}" '
        f'data-tab="{_esc(view.tab)}">{inner}<p class="lab-open"><a href="{url}" target="_blank">'
        "Open this view on its own</a></p></div>"
    )


def _also(links: tuple[tuple[course.View, str], ...], base: str) -> str:
    """More of the section's text measured in the apps: one link per view (opens in a new tab)."""
    items = "".join(
        f'<li><a href="{_esc(v.url(base))}" target="_blank">{_esc(text)}</a></li>'
        for v, text in links
    )
    return f'<div class="lab-also"><p>Also measured in the apps:</p><ul>{items}</ul></div>'


def also_views() -> list[course.View]:
    return [v for s in SECTIONS for v, _ in s.also]


def snippet(view: course.View, version: str, owner: str = "OWNER") -> str:
    """What a course author pastes to embed the public Space's view instead."""
    host = f"https://{owner.lower()}-{course.stop(view.app).space}.hf.space"
    loader = GRADIO_CDN.format(version=version)
    return (
        f'<script type="module" src="{loader}"></script>\n'
        f'<gradio-app src="{host}/view/{view.query()}/"></gradio-app>'
    )


def html(
    request: Any = None, *, base: str = "", version: str = "", iframe: bool | None = None
) -> str:
    """The whole page; `request` (a Starlette request) supplies `?embed=iframe`."""
    query = getattr(request, "query_params", {}) or {}
    use_iframe = iframe if iframe is not None else query.get("embed") == "iframe"
    version = version or _gradio_version()
    if not base and request is not None:  # the web component needs absolute addresses
        base = str(request.base_url).rstrip("/")
    parts = [_HEAD.format(title=_esc(course.COURSE_TITLE)), f"<h1>{_esc(course.COURSE_TITLE)}</h1>"]
    parts.append(
        "<p>The session's four knowledge points, each with the lab's apps open at the view the "
        "text talks about — live apps, not pictures: change the inputs. "
        '<a href="/">The suite</a> has every app as a tab.</p>'
    )
    for sec in SECTIONS:
        parts.append(
            f'<section id="kp{sec.kp}"><h2>KP{sec.kp} · {_esc(course.KNOWLEDGE_POINTS[sec.kp])}</h2>'
        )
        parts += [f"<p>{p}</p>" for p in sec.text]
        if sec.kp == 1:
            parts.append(_corrections())
        for view, caption in sec.views:
            parts.append(f'<p class="lab-caption">{_esc(caption)}</p>')
            parts.append(embed(view, base, iframe=use_iframe))
        if sec.also:
            parts.append(_also(sec.also, base))
        parts.append(_checks(sec.kp, base))
        parts.append("</section>")
    parts.append(_snippets(version))
    parts.append(_TAIL)
    return "\n".join(parts)


def _checks(kp: int, base: str) -> str:
    items = [
        f"<li><b>{_esc(c.question)}</b><br>{_esc(c.answer)}<br><i>Try it:</i> {_esc(c.do)} "
        f'<a href="{_esc(c.view.url(base))}" target="_blank">Open the view</a></li>'
        for c in course.CHECKS
        if c.kp == kp
    ]
    return f'<h3>Check your understanding</h3><ul class="lab-checks">{"".join(items)}</ul>'


def _corrections() -> str:
    items = [
        f"<li>The course text says “{_esc(c.says)}”. {_esc(c.instead)} "
        f'(<a href="{_esc(c.url)}">{_esc(c.source)}</a>)</li>'
        for c in course.CORRECTIONS
    ]
    return f'<aside class="lab-corrections"><b>A note on the course text.</b><ul>{"".join(items)}</ul></aside>'


def _snippets(version: str) -> str:
    rows = "".join(
        f"<li>{_esc(v.app)} · {_esc(v.tab)}<pre>{_esc(snippet(v, version))}</pre></li>"
        for v in embedded_views()
    )
    return (
        '<section id="embed"><h2>Embed the public Spaces in your own course page</h2>'
        "<p>Replace OWNER with the Hub account the Spaces are published under "
        "(<code>python -m training spaces publish all --owner OWNER</code>). Each snippet opens "
        "the same view as above.</p>"
        f'<ul class="lab-snippets">{rows}</ul></section>'
    )


def _gradio_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only the page's snippets need it

    return version("gradio")


_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<script type="module" src="/gradio.js"></script>
<style>
body {{ max-width: 1100px; margin: 0 auto; padding: 0 16px; font-family: system-ui, sans-serif;
  line-height: 1.5; color: #1f2937; }}
.lab-caption {{ font-weight: 600; margin-bottom: 4px; }}
.lab-embed {{ margin: 0 0 24px; }}
.lab-frame {{ width: 100%; height: 900px; border: 1px solid #e5e7eb; }}
.lab-slot {{ min-height: 480px; display: flex; align-items: center; justify-content: center;
  color: #64748b; border: 1px dashed #cbd5e1; }}
.lab-open {{ font-size: 0.85em; margin: 4px 0; }}
.lab-corrections {{ background: #f8fafc; border-left: 3px solid #6366f1; padding: 4px 12px; }}
pre {{ white-space: pre-wrap; word-break: break-all; background: #f1f5f9; padding: 8px; }}
</style></head><body>"""
_TAIL = """<script>
// Each view starts when it comes near the screen, one app at a time; where gradio's web component
// did not load, each view is an iframe instead.
const slots = [...document.querySelectorAll(".lab-embed")].filter(d => d.querySelector(".lab-slot"));
const queue = [];
let busy = false;
function next() {
  if (busy || !queue.length) return;
  const div = queue.shift();
  busy = true;
  // properties, not attributes: gradio 6's element mounts a second, leaked copy of the app (with its
  // own open connections) when a src attribute is seen after the element connects
  const app = document.createElement("gradio-app");
  app.src = div.dataset.src;
  app.initial_height = "480px";
  div.replaceChild(app, div.querySelector(".lab-slot"));
  const done = () => { busy = false; next(); };
  app.addEventListener("render", done, { once: true });
  setTimeout(() => { if (busy && app.parentNode) done(); }, 6000);
}
const seen = new IntersectionObserver(entries => {
  for (const e of entries) if (e.isIntersecting) { seen.unobserve(e.target); queue.push(e.target); }
  next();
}, { rootMargin: "300px" });
customElements.whenDefined("gradio-app").then(() => slots.forEach(d => seen.observe(d)));
setTimeout(() => {
  if (customElements.get("gradio-app")) return;
  for (const div of slots) {
    const f = document.createElement("iframe");
    f.src = div.dataset.frame; f.className = "lab-frame"; f.loading = "lazy";
    div.replaceChild(f, div.querySelector(".lab-slot"));
  }
}, 8000);
</script></body></html>"""
