"""What each tab of the SFT Transformation app shows, as numbers and texts in dataclasses: one
SFT record in both shapes (Data), every answer token's probability (Token view), the loss curves
(Live SFT, Results) and the bundled results' bars and table (Results). The tabs
(tabs/sft_transformation/) word and draw them.

Importable without torch: the functions that need a model or the tokenizer reach it through
`training.sft.lab`, which loads them on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .build import CurvePoint, SFTResults
from .lab import LabError, get_model, record, rendered_tokens, tokenizer_only

MAX_RECORD_CHARS = 5000  # a pasted record (the Data tab's box allows as many)


# ---------------------------------------------------------------- Data: one record, every shape
@dataclass(frozen=True)
class RecordView:
    messages: list[dict]  # TRL's shape: [{"role", "content"}, ...]
    sharegpt: dict  # the course's shape: {"conversations": [{"from", "value"}, ...]}
    rendered: str  # the text the chat template renders
    tokens: list[tuple[str, bool]]  # (token text, carries loss) along the rendering


def _view(messages: list[dict]) -> RecordView:
    # numpy and the world corpus only when a record is shown (this module is the app's, torch-free)
    from .data import to_sharegpt

    tok = tokenizer_only()
    return RecordView(
        messages=messages,
        sharegpt=to_sharegpt(messages),
        rendered=tok.apply_chat_template(messages, tokenize=False),
        tokens=rendered_tokens(messages, tok),
    )


def record_view(index: Any) -> RecordView:
    """SFT record number ``index`` (of the first 200) in both shapes and as the template renders it."""
    return _view(record(index)["messages"])


def pasted_view(text: str | None) -> RecordView:
    """A pasted JSON record (messages, ShareGPT conversations or prompt/completion), converted."""
    from .data import load_sft_records, parse_json

    text = (text or "").strip()
    if not text:
        raise LabError(
            "paste one JSON record: messages, ShareGPT conversations or prompt/completion"
        )
    if len(text) > MAX_RECORD_CHARS:
        raise LabError(f"the record has {len(text)} characters; keep it under {MAX_RECORD_CHARS}")
    try:
        messages = load_sft_records([parse_json(text, "the pasted record")])[0]["messages"]
    except ValueError as e:
        raise LabError(str(e)) from None
    return _view(messages)


# ---------------------------------------------------------------- Token view
@dataclass(frozen=True)
class AnswerProbabilities:
    tokens: list[str]  # the assistant's tokens (the ones that carry loss), as text
    probs: dict[str, list[float]]  # model -> p(token | everything before it), per token
    mean_logprob: dict[str, float]  # model -> mean log p over those tokens


def answer_probabilities(messages: list[dict], names: list[str]) -> AnswerProbabilities:
    """Each model's probability of every assistant token along ``messages``, teacher-forced."""
    import torch

    tok = tokenizer_only()
    out = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    pos = [i for i, m in enumerate(mask) if m and i > 0]
    if not pos:
        raise LabError("this conversation has no assistant turn to score")
    probs, mean_logprob = {}, {}
    for name in names:
        model, _ = get_model(name)
        ctx = int(model.config.max_position_embeddings)
        if len(ids) > ctx:
            raise LabError(
                f"this conversation is {len(ids)} tokens, over the model's context of {ctx}"
            )
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
        logp = torch.log_softmax(logits, -1)
        lp = [float(logp[i - 1, ids[i]]) for i in pos]
        probs[name] = [round(float(torch.tensor(x).exp()), 5) for x in lp]
        mean_logprob[name] = round(sum(lp) / len(lp), 4)
    return AnswerProbabilities(
        tokens=[tok.decode([ids[i]], skip_special_tokens=False) for i in pos],
        probs=probs,
        mean_logprob=mean_logprob,
    )


# ---------------------------------------------------------------- loss curves
@dataclass(frozen=True)
class Series:
    steps: list[int]
    values: list[float]


@dataclass(frozen=True)
class LossCurves:
    train: Series  # training loss on the SFT people's conversations (assistant tokens only)
    heldout: Series  # held-out SFT loss, on held-out people's conversations


def loss_curves(history: Iterable[CurvePoint | dict]) -> LossCurves:
    """A run's log ({"step", "loss"} / {"step", "eval_loss"} entries, or a stored curve) split into
    its training and held-out loss curves."""
    points = [h if isinstance(h, CurvePoint) else _point(h) for h in history]
    train = [(p.step, p.loss) for p in points if p.loss is not None]
    held = [(p.step, p.eval_loss) for p in points if p.eval_loss is not None]
    return LossCurves(
        train=Series([s for s, _ in train], [v for _, v in train]),
        heldout=Series([s for s, _ in held], [v for _, v in held]),
    )


def _point(entry: dict) -> CurvePoint:
    return CurvePoint(
        step=entry["step"],
        elapsed=entry.get("elapsed", 0.0),
        loss=entry.get("loss"),
        eval_loss=entry.get("eval_loss"),
    )


# ---------------------------------------------------------------- Results
@dataclass(frozen=True)
class Bars:
    groups: list[str]  # one group of bars each (the x axis)
    values: dict[str, list[float | None]]  # measure -> its % in each group (None: not evaluated)


@dataclass(frozen=True)
class EvalRow:
    key: str  # the evaluation, as in results.json ("sft/heldout")
    model: str
    mode: str
    people: str
    accuracy: float  # a fraction
    compliance: float
    n: int
    data: str  # the SFT data of the run that made the model (the base's build, for a base)
    steps_done: int | None  # that run's steps (None for a base)


@dataclass(frozen=True)
class ResultsView:
    main: Bars  # base zero-shot, base few-shot, SFT: accuracy, compliance, mentioned
    augmentation: Bars  # the same SFT on the augmented and 1-bio bases: "sft" vs "heldout" people
    lima: Bars  # all clean vs small clean vs large noisy: accuracy, compliance, exact
    curve: LossCurves  # the bundled `sft` run
    rows: list[EvalRow]  # every evaluation, in build order


def _pct(r: SFTResults, key: str, measure: str) -> float | None:
    return 100 * getattr(r.evals[key], measure) if key in r.evals else None


def _bars(r: SFTResults, groups: dict[str, str], measures: dict[str, str]) -> Bars:
    """groups: group -> eval key prefix; measures: measure -> (metric, eval key suffix)."""
    return Bars(
        groups=list(groups),
        values={
            m: [_pct(r, f"{k}{suffix}", metric) for k in groups.values()]
            for m, (metric, suffix) in measures.items()
        },
    )


def results_view(r: SFTResults) -> ResultsView:
    held = "/heldout"
    main = {
        "base zero-shot": "base-augmented/zero-shot",
        "base few-shot": "base-augmented/few-shot",
        "SFT": "sft",
    }
    lima = {"all clean": "sft", "small clean": "lima-clean", "large noisy": "lima-noisy"}
    sft_run = r.runs.get("sft")
    return ResultsView(
        main=_bars(
            r,
            main,
            {
                "accuracy": ("accuracy", held),
                "compliance": ("compliance", held),
                "mentioned": ("mentioned", held),
            },
        ),
        augmentation=_bars(
            r,
            {"augmented base": "sft", "1-bio base": "sft-1bio"},
            {"sft": ("accuracy", "/sft"), "heldout": ("accuracy", held)},
        ),
        lima=_bars(
            r,
            lima,
            {
                "accuracy": ("accuracy", held),
                "compliance": ("compliance", held),
                "exact": ("exact", held),
            },
        ),
        curve=loss_curves(sft_run.curve if sft_run else []),
        rows=[_row(r, key) for key in r.evals],
    )


def _row(r: SFTResults, key: str) -> EvalRow:
    e = r.evals[key]
    run = r.runs.get(e.run)
    return EvalRow(
        key=key,
        model=e.model,
        mode=e.mode,
        people=e.people,
        accuracy=e.accuracy,
        compliance=e.compliance,
        n=e.n,
        data=run.data if run else e.run,
        steps_done=run.steps_done if run else None,
    )
