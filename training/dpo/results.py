"""The DPO lab's results (``results.json`` beside the bundled DPO adapter), as typed dataclasses,
and the rates recomputed from the per-question records. Importable without torch (the app reads
them at start).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from training import store

from .train import DPOSettings

ARMS = ("sft", "dpo", "sft-longer")  # the starting SFT model, + DPO, + SFT longer on chosen answers
ARM_LABELS = {  # a row's name, from its start's label ("bundled SFT", "noisy SFT")
    "sft": "{start}",
    "dpo": "{start} + DPO",
    "sft-longer": "{start} + more SFT on the chosen answers",
}


@dataclass(frozen=True)
class DPOPlan:
    eval_people: int  # held-out (test) people asked (one question per attribute each)
    val_people: int  # other held-out people: the validation set the grid's settings are chosen on
    lrs: tuple[float, ...]  # the grid: learning rates (DPO and the SFT-longer control) ...
    betas: tuple[float, ...]  # ... × DPO's β
    n_pairs: int  # training pairs (= steps × pairs per step: one epoch)
    margin_pairs: int  # pairs (training people, and held-out people) the margins are measured on
    starts: tuple[str, ...]  # the SFT models preference tuning starts from
    noise_fraction: float = 0.3  # the noisy SFT start's share of corrupted answers


@dataclass(frozen=True)
class Answer:  # one held-out question, one model
    person_id: int
    attribute: str
    question: str
    response: str
    stopped: bool
    correct: bool
    compliant: bool
    wrong_fact: bool
    ramble: bool
    tokens: int  # the reply's tokens, its stop token included (the KL is summed over these)
    kl: float  # Σ per-token KL(policy ‖ SFT) along the reply


@dataclass(frozen=True)
class Margin:
    margin: float  # mean log p(chosen) − log p(rejected), nats summed over each reply
    prefers_chosen: float  # share of pairs where the chosen reply is the more likely
    n: int
    margin_per_token: float  # the same with each reply's log-prob divided by its tokens
    tokens_chosen: float  # the replies' mean lengths (tokens, stop token included)
    tokens_rejected: float


@dataclass(frozen=True)
class Rates:
    accuracy: float
    wrong_fact: float
    ramble: float
    compliance: float
    kl_per_token: float  # Σ KL / Σ reply tokens
    mean_tokens: float
    n: int


@dataclass(frozen=True)
class ArmEval(Rates):
    margins_train: dict[str, Margin]  # on training pairs: "all", "wrong", "ramble"
    margins_heldout: dict[str, Margin]  # on pairs about held-out people (never trained on)
    answers: list[Answer]
    seconds: float


@dataclass(frozen=True)
class CurvePoint:
    step: int
    elapsed: float
    loss: float
    margin: float | None = None  # DPO's implicit reward margin, β·Δ log-ratio (DPO only)
    reward_accuracy: float | None = None
    logp_chosen: float | None = None
    logp_rejected: float | None = None


@dataclass(frozen=True)
class Training:
    method: Literal["dpo", "sft"]
    lr: float
    beta: float | None  # DPO's β (None for SFT)
    data: str
    n_examples: int
    steps_done: int
    train_seconds: float
    n_trainable: int
    curve: list[CurvePoint]
    seconds: float


@dataclass(frozen=True)
class GridRow:  # one setting of the grid, rated on the validation people (never the test ones)
    arm: str  # "dpo", "sft-longer", or "sft" (the start itself, for reference)
    lr: float | None
    beta: float | None
    accuracy: float
    wrong_fact: float
    ramble: float
    kl_per_token: float
    n: int
    final_loss: float | None
    train_seconds: float
    selected: bool  # what `select` picks for this arm (its test numbers are the start's arms)


@dataclass(frozen=True)
class Start:
    label: str  # "bundled SFT", "noisy SFT"
    made_by: str  # how that SFT model was made
    arms: dict[
        str, ArmEval
    ]  # "sft", "dpo", "sft-longer": the selected settings, on the test people
    training: dict[str, Training]  # "dpo", "sft-longer": the selected settings' runs
    grid: list[GridRow]  # every setting, on the validation people


@dataclass(frozen=True)
class DPOResults:
    SCHEMA_VERSION = 2  # 2: the validation grid, selected settings, length-normalised margins
    preset: str
    rebuild: str
    settings: DPOSettings  # the bundled adapter's: the preset's, with its start's selected lr and β
    plan: DPOPlan
    starts: dict[str, Start]  # "sft" (the bundled one), "noisy-sft"
    headline: dict[str, dict[str, Rates]]  # start -> arm -> rates


def read_results(path: str | Path | None = None) -> DPOResults | None:
    """The bundled DPO results (hash-checked); None when there are none."""
    return store.read_results("dpo", path, schema=DPOResults)


def rates(answers: list) -> dict:
    """The rates of a list of per-question records (dicts or `Answer`s)."""
    rows = [a if isinstance(a, dict) else a.__dict__ for a in answers]
    if not rows:
        raise ValueError("no answers to rate")
    n = len(rows)

    def share(k):
        return round(sum(bool(r[k]) for r in rows) / n, 4)

    tokens = sum(r["tokens"] for r in rows)
    return {
        "accuracy": share("correct"),
        "wrong_fact": share("wrong_fact"),
        "ramble": share("ramble"),
        "compliance": share("compliant"),
        "kl_per_token": round(sum(r["kl"] for r in rows) / tokens, 6) if tokens else 0.0,
        "mean_tokens": round(tokens / n, 3),
        "n": n,
    }


def select(rows: list, arm: str):
    """The setting an arm keeps: the highest validation accuracy; ties go to the lower KL per token
    (then the earlier row). ``rows``: `GridRow`s or dicts with arm, accuracy, kl_per_token."""
    cands = [(i, r if isinstance(r, dict) else r.__dict__) for i, r in enumerate(rows)]
    cands = [(i, r) for i, r in cands if r["arm"] == arm]
    if not cands:
        raise ValueError(f"no {arm!r} rows in the grid")
    i, _ = min(cands, key=lambda c: (-c[1]["accuracy"], c[1]["kl_per_token"], c[0]))
    return rows[i]


def headline_of(starts: dict[str, Start]) -> dict[str, dict[str, Rates]]:
    """start -> arm -> rates, recomputed from the per-question records."""
    return {
        s: {arm: Rates(**rates(e.answers)) for arm, e in start.arms.items()}
        for s, start in starts.items()
    }
