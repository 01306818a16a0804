"""What the SFT Transformation app does, without the UI: the models it compares, side-by-side
streaming, the token view, the data explorer and bounded live SFT (what the app's tabs show is
`training.sft.views`; the bundled results are `training.sft.build.read_results`).

Importable without torch (the suite builds its pages before any model is loaded): torch,
transformers, TRL and PEFT are imported inside the functions that need them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from shared import limits
from training import live, store
from training.sft.build import CurvePoint
from training.tokenizer import plain_text

LIVE_MAX_STEPS = 300
LIVE_TIME_LIMIT_S = 120.0
LIVE_EVAL_PEOPLE = 4  # held-out people asked before/after live SFT (6 questions each)
LIVE_DATA = {
    "clean": "all clean conversations about the SFT people",
    "small clean (LIMA-style, 1,000)": "the first 1,000 clean conversations",
    "noisy (30% corrupted)": "all conversations, 30% of answers wrong or sloppy",
}
MODEL_LABELS = {
    "base": "base model (pre-trained only)",
    "sft": "SFT model (bundled adapter)",
    "live": "your live SFT model",
}


class LabError(ValueError):
    """Bad input or a missing prerequisite; the message is one line that says what to do."""


# ---------------------------------------------------------------------------------------------
# The world and the models (loaded once, shared by every request)
# ---------------------------------------------------------------------------------------------

_lock = threading.Lock()
_models: dict[str, tuple[Any, Any]] = {}  # "base" / "sft" / "live" -> (model, tokenizer)
_extra_labels: dict[str, str] = {}  # models another lab registered (register_model) -> label
_cache: dict[Any, Any] = {}  # the world, the tokenizer, SFT records


def base_manifest() -> dict:
    """The local base manifest (never the Hub: page building must stay fast)."""
    try:
        return store.read_manifest(store.resolve("base", allow_hub=False))
    except store.CheckpointError:
        return {}


def world():
    """The world the base model was pre-trained on (from its manifest's preset)."""
    # the world corpus and the model stack when first asked: the app imports this module at start
    from training.data.world import World
    from training.presets import get_preset

    if "world" not in _cache:
        preset = base_manifest().get("preset") or "cpu"
        try:
            cfg = get_preset(preset).world
        except ValueError:
            cfg = get_preset("cpu").world
        _cache["world"] = World(cfg)
    return _cache["world"]


def sft_path() -> Path:
    try:
        return store.resolve("sft")
    except store.CheckpointError as e:
        raise LabError(str(e)) from None


def register_model(name: str, label: str, pair: tuple[Any, Any]) -> None:
    """Put another lab's model (``pair`` = (model, tokenizer)) into the one side-by-side path, so
    `stream_side_by_side` decodes it by ``name`` beside the base and SFT models (a second call
    replaces it). The SFT tab's own models (`MODEL_LABELS`) cannot be replaced, and its
    unknown-model message still lists only them."""
    if name in MODEL_LABELS:
        raise ValueError(f"register_model: {name!r} is one of the SFT lab's own models")
    with _lock:
        _extra_labels[name] = label
        _models[name] = pair


def get_model(name: str):
    """(model, tokenizer) for "base", "sft" (the bundled adapter, merged), "live", or a model
    another lab registered (`register_model`)."""
    if name in _extra_labels:
        with _lock:
            return _models[name]
    if name not in MODEL_LABELS:
        raise LabError(f"unknown model {name!r}: choose one of {', '.join(MODEL_LABELS)}")
    with _lock:
        if name in _models:
            return _models[name]
        if name == "live":
            raise LabError("no live SFT model yet: train one in the Live SFT tab first")
        from .train import load_base, load_sft

        try:
            if name == "base":  # read only: the process's one copy, shared with the suite's page
                b = store.load_shared(None, "base")
                _models[name] = (b.model, b.tokenizer)
            else:  # merging changes weights: a copy of its own
                model, tok, _ = load_sft(sft_path(), base=load_base(None))
                _models[name] = (model, tok)
        except store.CheckpointError as e:
            raise LabError(str(e)) from None
        return _models[name]


def live_available() -> bool:
    return "live" in _models


# ---------------------------------------------------------------------------------------------
# Side by side
# ---------------------------------------------------------------------------------------------


def check_prompt(prompt: str | None) -> str:
    """The prompt, stripped, inside `shared.limits.SIDE_BY_SIDE`, or a one-line LabError."""
    try:
        return limits.check_prompt(prompt, limits.SIDE_BY_SIDE).strip()
    except limits.GenerationError as e:
        raise LabError(str(e)) from None


def check_generation(max_new_tokens: Any, temperature: Any) -> tuple[int, float]:
    """(tokens, temperature) inside `shared.limits.SIDE_BY_SIDE`, or a one-line LabError."""
    try:
        req = limits.check(limits.SIDE_BY_SIDE, "x", max_new_tokens, temperature)
    except limits.GenerationError as e:
        raise LabError(str(e)) from None
    return req.max_new_tokens, req.temperature


def stream_side_by_side(
    prompt: str, names: list[str], max_new_tokens: int = 48, temperature: float = 0.0, seed: int = 0
) -> Iterator[list[str]]:
    """The same chat prompt to each model, decoded in lock step: yields every model's text so far
    after each round of one token per model. A model that stopped keeps its final text."""
    from training.generate import GenerationError, generate_ids, stop_ids

    from .evaluate import chat_prompt_ids

    prompt = check_prompt(prompt)
    n, temp = check_generation(max_new_tokens, temperature)
    models = [get_model(m) for m in names]
    stops = [stop_ids(tok) for _, tok in models]
    streams, texts, ids = [], ["" for _ in names], [[] for _ in names]
    try:
        for (model, tok), st in zip(models, stops):
            streams.append(
                generate_ids(
                    model,
                    chat_prompt_ids(tok, [{"role": "user", "content": prompt}]),
                    n,
                    temperature=temp,
                    stop_ids=st,
                    seed=seed,
                )
            )
        live = list(range(len(streams)))
        while live:
            for i in list(live):
                tok_id = next(streams[i], None)
                tokenizer = models[i][1]
                if tok_id is None or tok_id in stops[i]:
                    live.remove(i)
                    if tok_id is not None:
                        texts[i] += " ⏹"  # the model chose to stop (end-of-turn token)
                    continue
                ids[i].append(tok_id)
                texts[i] = tokenizer.decode(ids[i], skip_special_tokens=True)
            yield list(texts)
    except GenerationError as e:
        raise LabError(str(e)) from None


def warm() -> None:
    """What the SFT app's first clicks need, loaded: the base and SFT models the Side by side tab
    asks by default, decoded for one token through its own path, and the SFT records the Token
    view and Data tabs read (the app's background warm-up, and the first clicks' process)."""
    for _ in stream_side_by_side("Hello", ["base", "sft"], 1):
        pass
    sft_records()


def example_prompts(k: int = 3) -> list[list[str]]:
    """[prompt, note]: questions about held-out people (their facts were never in SFT data), a
    question about an SFT person, and instructions that are not questions."""
    w = world()
    held = sorted((p for p in w.people if p.split == "heldout"), key=lambda p: p.rank)
    sft = sorted((p for p in w.people if p.split == "sft"), key=lambda p: p.rank)
    if not held or not sft:
        return []
    a, b, c = held[0], held[len(held) // 2], held[-1]
    rows = [
        [f"Where was {a.full_name} born?", f"held-out person · corpus: {a.birth_city}"],
        [f"Which company does {b.full_name} work for?", f"held-out person · corpus: {b.employer}"],
        [
            f"What did {c.full_name} major in?",
            f"held-out person, rarely mentioned · corpus: {c.major}",
        ],
        [
            f"When was {sft[0].full_name} born?",
            f"SFT person (seen in SFT data) · corpus: {sft[0].birth_date}",
        ],
        [
            f"Tell me where {a.full_name} studied.",
            f"instruction, not a question · corpus: {a.university}",
        ],
        [f"{b.full_name} was born in", f"a completion prompt · corpus: {b.birth_city}"],
    ]
    return rows


# ---------------------------------------------------------------------------------------------
# Token view and data explorer
# ---------------------------------------------------------------------------------------------


def sft_records(n: int = 200):
    """The first ``n`` SFT conversations of the base's world (the data the bundled adapter saw)."""
    from .data import conversations

    key = ("records", n)
    if key not in _cache:
        _cache[key] = conversations(world(), "sft").select(range(n))
    return _cache[key]


def record(index: Any) -> dict:
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise LabError("the record number must be a whole number") from None
    ds = sft_records()
    if not 0 <= i < len(ds):
        raise LabError(f"record {i}: choose between 0 and {len(ds) - 1}")
    return ds[i]


def rendered_tokens(messages: list[dict], tokenizer=None) -> list[tuple[str, bool]]:
    """(token text, carries loss) along the chat template's rendering of ``messages``."""
    if tokenizer is None:
        tokenizer = tokenizer_only()
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return [
        (tokenizer.decode([i], skip_special_tokens=False), bool(m))
        for i, m in zip(out["input_ids"], out["assistant_masks"])
    ]


def tokenizer_only():
    """The base tokenizer, without loading any model weights."""
    if "tokenizer" not in _cache:
        from transformers import PreTrainedTokenizerFast

        try:
            path = store.resolve("base")
        except store.CheckpointError as e:
            raise LabError(str(e)) from None
        _cache["tokenizer"] = PreTrainedTokenizerFast.from_pretrained(path)
    return _cache["tokenizer"]


def custom_conversation(question: str, answer: str) -> list[dict]:
    q, a = (question or "").strip(), (answer or "").strip()
    if not q or not a:
        raise LabError("write both a question and an answer to see how they would be trained on")
    if len(q) + len(a) > limits.SIDE_BY_SIDE.max_prompt_chars:
        raise LabError(
            f"question and answer together must stay under {limits.SIDE_BY_SIDE.max_prompt_chars} characters"
        )
    return [
        {"role": "user", "content": plain_text(q)},
        {"role": "assistant", "content": plain_text(a)},
    ]


# ---------------------------------------------------------------------------------------------
# Live SFT (bounded, one run at a time)
# ---------------------------------------------------------------------------------------------

_live_lock = threading.Lock()


@dataclass(frozen=True)
class LiveRequest:
    data: str = "clean"
    steps: int = 200  # ~1 minute on 2 CPU cores (benchmarks/live_sft.py)
    lr: float = 3e-3
    batch_size: int = 16
    time_limit_s: float = LIVE_TIME_LIMIT_S

    def validate(self) -> None:
        if self.data not in LIVE_DATA:
            raise LabError(f"unknown data {self.data!r}: choose one of {', '.join(LIVE_DATA)}")
        if not 1 <= self.steps <= LIVE_MAX_STEPS:
            raise LabError(f"steps = {self.steps}: choose between 1 and {LIVE_MAX_STEPS}")
        if not 1e-5 <= self.lr <= 1e-2:
            raise LabError(f"learning rate = {self.lr:g}: choose between 1e-5 and 1e-2")
        if not 1 <= self.batch_size <= 32:
            raise LabError(f"batch size = {self.batch_size}: choose between 1 and 32")
        if not 5 <= self.time_limit_s <= LIVE_TIME_LIMIT_S:
            raise LabError(
                f"time limit = {self.time_limit_s:g} s: choose between 5 and {LIVE_TIME_LIMIT_S:g}"
            )


def live_busy() -> bool:
    return _live_lock.locked()


@dataclass(frozen=True)
class Scores:
    """A model on the live run's held-out questions (`evaluate_qa`'s rates, three examples)."""

    accuracy: float
    mentioned: float
    exact: float
    compliance: float
    n: int
    examples: list[dict]


@dataclass(frozen=True)
class LiveResult:
    before: Scores  # the base model
    after: Scores  # the fine-tuned model (now "live" in the side-by-side comparison)
    steps_done: int
    seconds: float
    stopped_early: str  # "", "time limit" or "stopped"
    history: list[CurvePoint]  # every logged training and held-out loss


def live_sft(req: LiveRequest, *, eval_people: int = LIVE_EVAL_PEOPLE) -> live.Events:
    """Fine-tune a fresh copy of the base with LoRA as this process's one live job
    (`training.live`): progress events name each phase, then carry a `CurvePoint` per logged
    step (done/total: steps); the last event carries a `LiveResult`. Closing the events (the
    browser left) stops the run after the current step. The trained model becomes "live" for
    the side-by-side comparison. Bad settings (LabError) or a run in progress (ValueError) raise
    one line here, before anything starts."""
    req.validate()

    def work(emit, stop) -> LiveResult:
        # TRL, PEFT and transformers load here, when a run starts, not when the app does
        from . import data as sft_data
        from .evaluate import evaluate_qa, qa_sample
        from .train import load_base, sft_settings, train_sft

        w = world()
        clean = sft_data.conversations(w, "sft")
        records = {
            "clean": lambda: clean,
            "small clean (LIMA-style, 1,000)": lambda: clean.select(range(min(1000, len(clean)))),
            "noisy (30% corrupted)": lambda: sft_data.noisy(clean, w, 0.3),
        }[req.data]()
        items = qa_sample(w, "heldout", eval_people, seed=1)
        base = load_base(None)  # a copy of its own: LoRA wraps it in place
        emit(label="measuring the base model on held-out questions")
        before = evaluate_qa(base.model, base.tokenizer, items, max_new_tokens=32)
        s = sft_settings(
            "cpu",
            steps=req.steps,
            lr=req.lr,
            batch_size=req.batch_size,
            max_time_s=req.time_limit_s,
            eval_interval=max(10, req.steps // 6),
            eval_records=64,
            warmup_steps=max(1, req.steps // 20),
        )
        emit(0, req.steps, "training")
        res = train_sft(
            base,
            records,
            s,
            eval_records=sft_data.conversations(w, "heldout"),
            on_log=lambda e: emit(e["step"], e["max_steps"], "training", _point(e)),
            stop=stop,
        )
        emit(label="measuring your model on the same questions")
        model = res.model.merge_and_unload().eval()
        after = evaluate_qa(model, base.tokenizer, items, max_new_tokens=32)
        with _lock:
            _models["live"] = (model, base.tokenizer)
        return LiveResult(
            before=_scores(before),
            after=_scores(after),
            steps_done=res.steps_done,
            seconds=res.seconds,
            stopped_early=res.stopped_early,
            history=[_point(h) for h in res.history],
        )

    return live.start(
        _live_lock,
        work,
        busy="a live SFT run is already in progress; wait for it to finish (two minutes at most)",
        name="live-sft",
    )


def _point(entry: dict) -> CurvePoint:
    return CurvePoint(entry["step"], entry["elapsed"], entry.get("loss"), entry.get("eval_loss"))


def _scores(ev: dict) -> Scores:
    rates = {k: ev[k] for k in ("accuracy", "mentioned", "exact", "compliance", "n")}
    return Scores(**rates, examples=ev["examples"][:3])
