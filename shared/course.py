"""The session the suite teaches (Session 2.3, *Training and Scaling Modern LLMs*), declared once:
its order, each stop's title, knowledge point and address, the understanding checks and where an
app answers each, and the course page's text. The suite (`app.py`), the course page, the apps'
"check your understanding" panels and the tests all read this module; nothing derives the order
from folder names. Pure Python: no gradio, no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

COURSE_TITLE = "Session 2.3 — Training and Scaling Modern LLMs"
KNOWLEDGE_POINTS = {
    1: "Pre-training at scale",
    2: "Supervised fine-tuning: creating the generative search engine",
    3: "Computational challenges in LLM training",
    4: "Alternative architectures: from RNNs to state-space models",
}


@dataclass(frozen=True)
class Stop:
    """One stop of the session: a page of the suite (the map, the base model) or an app."""

    key: str  # "map", "base", or the app's folder under spaces/
    title: str  # the suite's tab title, with its knowledge point
    path: str  # where `python app.py` serves it on its own ("" = the suite itself)
    kp: int | None = None
    app: bool = True  # an app in spaces/ (its own Space)
    blurb: str = ""  # one line for the course map

    @property
    def space(self) -> str:
        """Its Hugging Face Space's repo name (`training.hub` publishes under it)."""
        return "llm-lab-" + self.key.replace("_", "-") if self.app else ""


SESSION: tuple[Stop, ...] = (
    Stop(
        "map", "Course map", "", app=False, blurb="The session in order, and where each part lives."
    ),
    Stop(
        "base",
        "Base model",
        "",
        app=False,
        blurb="The small transformer every app builds on: how it learned, what it knows.",
    ),
    Stop(
        "scaling_explorer",
        "KP1 · Scaling laws",
        "scaling-laws",
        1,
        blurb="Power laws in parameters, data and compute; the compute-optimal split; the long tail.",
    ),
    Stop(
        "sft_transformation",
        "KP2 · Supervised fine-tuning",
        "sft",
        2,
        blurb="Same objective, new data: a text completer becomes a generative search engine.",
    ),
    Stop(
        "parallelism",
        "KP3 · Parallelism",
        "parallelism",
        3,
        blurb="Why a model outgrows one GPU, and data, tensor and pipeline parallelism and ZeRO.",
    ),
    Stop(
        "training_at_scale",
        "KP3 · Training at scale",
        "training-at-scale",
        3,
        blurb="Cost, stability tricks, and inference optimization — training vs inference.",
    ),
    Stop(
        "architectures",
        "KP4 · RNN / SSM / Transformer",
        "architectures",
        4,
        blurb="What transformers fixed in RNNs, and why state-space models came back.",
    ),
)
APP_ORDER: tuple[str, ...] = tuple(s.key for s in SESSION if s.app)


def stop(key: str) -> Stop:
    for s in SESSION:
        if s.key == key:
            return s
    raise KeyError(f"no stop {key!r} in the session (stops: {', '.join(s.key for s in SESSION)})")


def order_apps(names: list[str]) -> list[str]:
    """The apps found on disk in the session's order; an app the session does not list goes last
    (alphabetically), so a new app shows up before anyone places it."""
    known = [n for n in APP_ORDER if n in names]
    return known + sorted(n for n in names if n not in APP_ORDER)


SUITE_SPACE = "llm-lab-suite"


def map_markdown(apps: list[str]) -> str:
    """The suite's first tab: the session's stops in order, each with its address."""
    lines = [
        f"### {COURSE_TITLE}",
        "The session's four knowledge points, in the course's order. Each app is also served on "
        "its own (the link), and [the course page](/course) walks through the session with the "
        "apps' views embedded where the text talks about them.",
        "",
    ]
    for s in SESSION:
        if s.app and s.key not in apps:
            continue
        kp = f" ({KNOWLEDGE_POINTS[s.kp]})" if s.kp else ""
        where = f" · [open it on its own](/{s.path})" if s.path else ""
        lines.append(f"1. **{s.title}**{kp} — {s.blurb}{where}")
    return "\n".join(lines)


# ---------------------------------------------------------------- addresses of views
def slug(label: str) -> str:
    """A tab's id from its label: "Data parallel & ZeRO" -> "data-parallel-zero"."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


@dataclass(frozen=True)
class View:
    """A view of an app: a tab, opened with some inputs (link parameter name -> value)."""

    app: str
    tab: str
    params: dict[str, str] = field(default_factory=dict)

    def query(self) -> str:
        return urlencode({"tab": self.tab, **self.params})

    def url(self, base: str = "") -> str:
        """Where `python app.py` serves this view, under `base` (e.g. "http://127.0.0.1:7860")."""
        return f"{base}/{stop(self.app).path}?{self.query()}"

    def embed_path(self, base: str = "") -> str:
        """The view as a path (for gradio's web component, which cannot carry a query string)."""
        return f"{base}/{stop(self.app).path}/view/{self.query()}/"


def parse_view(raw: str) -> dict[str, str]:
    """A view path segment or query string ("tab=x&n=3") as a dict; the last value of a repeated
    name wins; names and values are stripped."""
    return {k.strip(): v.strip() for k, v in parse_qsl(raw or "", keep_blank_values=True)}


# ---------------------------------------------------------------- the understanding checks
@dataclass(frozen=True)
class Check:
    """One of the session's understanding-check questions, answered by doing something in an app."""

    kp: int
    question: str  # the course's words
    answer: str  # ours: short, and pointing at what the view shows
    view: View
    do: str  # what to do in that view to see the answer


CHECKS: tuple[Check, ...] = (
    Check(
        1,
        "How do scaling laws connect to the long-tail distribution we saw in tokenization?",
        "Facts, like words, follow a Zipf law: a few are seen constantly, most rarely. Each size "
        "step of our sweep learns facts seen less and less often, so loss keeps falling as a power "
        "law while every doubling buys fewer newly learned facts.",
        View("scaling_explorer", "long-tail"),
        "Move the model-size slider from the smallest to the largest model and watch which "
        "mention buckets gain accuracy.",
    ),
    Check(
        1,
        "Why does the same training objective work at vastly different scales?",
        "Next-token loss keeps rewarding everything a bigger model can learn: our sweep trains "
        "models of several sizes on the same objective and every larger model reaches a lower "
        "held-out loss on the same power-law curve.",
        View("scaling_explorer", "our-lab"),
        "Read the sweep's curves across model sizes and the fitted law through their end points.",
    ),
    Check(
        2,
        "Why is the quality of SFT data more important than the quantity?",
        "SFT teaches a format, not facts: a small clean set teaches it; a larger set with wrong "
        "answers teaches the model to make things up. The Results tab compares the two runs on "
        "the same held-out questions.",
        View("sft_transformation", "results"),
        "Compare 'LIMA small clean' with 'LIMA large noisy' on held-out accuracy.",
    ),
    Check(
        2,
        "How does SFT transform a text completer into a generative search engine?",
        "The base model already read the facts but only continues text; fine-tuning on questions "
        "about half of the people teaches it to answer, and it then answers about the other half "
        "too — from what it read in pre-training.",
        View("sft_transformation", "side-by-side"),
        "Ask both models about a held-out person and compare their replies.",
    ),
    Check(
        3,
        "Why can't we simply use one very powerful computer to train these models?",
        "Memory and time: Llama 2 70B's training state alone is about a terabyte, more than any "
        "single GPU holds, and GPT-3's compute would take one GPU centuries.",
        View("parallelism", "memory", {"model": "Llama 2 70B", "zero": "3", "dp": "64"}),
        "Set DP back to 1 and ZeRO to 0: the bar for one GPU towers over its memory line.",
    ),
    Check(
        3,
        "How do the solutions for training differ from those for inference?",
        "Training must fit weights, gradients, optimizer state and activations and keep a long "
        "run stable; inference keeps only the weights and a cache and must be fast per token. "
        "The table sets them side by side, with the lab that measured each.",
        View("training_at_scale", "training-vs-inference"),
        "Read the table, then follow a row to the lab that measured it.",
    ),
    Check(
        4,
        "What fundamental limitation of RNNs did transformers solve?",
        "An RNN passes everything through one step after another: training cannot run in "
        "parallel over positions, and the signal from early tokens must survive every step back. "
        "In our trained models the gradient from the last token to the first shrinks by orders of "
        "magnitude in the LSTM, barely in the transformer, whose attention reaches every position "
        "directly.",
        View("architectures", "gradient-flow", {"models": "trained"}),
        "Compare the three curves: gradient size against how far back the token is.",
    ),
    Check(
        4,
        "Why might alternative architectures still be worth exploring?",
        "A transformer's KV cache grows with every token of context; an SSM keeps a fixed-size "
        "state, so generation costs the same at any length — at a price in exact recall.",
        View("architectures", "inference-memory"),
        "Read the cache bytes against context length, then see the Recall tab for the price.",
    ),
)


def checks_for(app: str) -> list[Check]:
    return [c for c in CHECKS if c.view.app == app]


# ---------------------------------------------------------------- corrections of the course text
@dataclass(frozen=True)
class Correction:
    says: str  # what the course text says
    instead: str  # what the source says
    source: str
    url: str


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "Bengio's model: thousands of parameters",
        "Bengio et al. 2003 describe their own models as having millions of parameters (the "
        "paper's abstract: \"training such large models (with millions of parameters) within a "
        'reasonable time is itself a significant challenge") — a word-feature table of '
        "vocabulary × features alone is already that large for a vocabulary of tens of thousands.",
        "Bengio et al. 2003, A Neural Probabilistic Language Model (JMLR 3)",
        "https://jmlr.org/papers/v3/bengio03a.html",
    ),
    Correction(
        "Hoffmann et al. 2022 listed under knowledge point 3",
        "Chinchilla's compute-optimal scaling is a knowledge point 1 result (how to split a "
        "compute budget between parameters and tokens); the suite shows it in the Scaling Laws "
        "Explorer's Compute-optimal tab.",
        "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models",
        "https://arxiv.org/abs/2203.15556",
    ),
)
