"""What the mixture lab's build writes (`MixtureResults`, checkpoints/mixture/results.json) and the
figures derived from its per-run records: the cost of leaving a domain out and each mixture
against the single-domain run on a domain they share. Torch-free: the app imports this at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .. import store
from .plan import DOMAINS, LEAVE_OUT, SHARED, UNIFORM


@dataclass(frozen=True)
class DomainStats:
    name: str
    label: str
    records: int  # training records
    heldout_records: int
    tokens: int  # training tokens (the shared BPE)
    heldout_tokens: int
    chars: int
    distinct_tokens: int  # token ids the domain's training text uses
    tokens_per_record: float
    samples: list[str]  # the first training records


@dataclass(frozen=True)
class EvalPoint:
    step: int
    tokens: int
    loss: dict[str, float]  # held-out loss (nats/token) per domain


@dataclass(frozen=True)
class RunTrain:
    """The training settings a run was made with (a kept run with others is trained again)."""

    steps: int
    micro_batch: int
    lr: float
    warmup_steps: int
    min_lr_ratio: float
    seed: int


@dataclass(frozen=True)
class MixtureRun:
    name: str
    weights: dict[str, float]  # domain -> share of the training blocks
    tokens: int  # trained on (equal for every run)
    domain_tokens: dict[str, int]  # of which, per domain
    final: dict[str, float]  # held-out loss per domain at the end
    train_loss: float
    seconds: float
    train: RunTrain
    curve: list[EvalPoint]  # every evaluation, the untrained model first


@dataclass(frozen=True)
class LeaveOut:
    """Loss on `domain` of the run without it, minus the uniform mix's (both at equal tokens)."""

    domain: str
    run: str
    loss_without: float
    loss_uniform: float
    cost: float


@dataclass(frozen=True)
class VersusSingle:
    """A mixture against the single-domain run on one domain they share (equal tokens)."""

    domain: str
    mixture: str
    weight: float  # the domain's share in the mixture
    single_loss: float
    mixture_loss: float
    delta: float  # mixture - single: negative means the mixture is better on the domain
    beats: bool


@dataclass(frozen=True)
class PartnerEffect:
    """A domain's loss in the two runs that give it half the tokens, one per partner domain:
    the same tokens of the domain itself, so the gap is what the partner's data is worth on it."""

    domain: str
    weight: float  # the domain's share in both runs
    loss_with: dict[str, float]  # partner domain -> held-out loss on `domain` in that run
    runs: dict[str, str]  # partner domain -> the run


@dataclass(frozen=True)
class Headline:
    params: int
    tokens_per_run: int
    n_runs: int
    leave_out_cost: dict[str, float]  # domain -> cost of leaving it out
    bios_shared_mix: str  # the mixture of the shared domains, no code
    bios_with_forum: float  # bios loss, half the tokens bios and half forum (= bios_mixed)
    bios_with_code: float  # bios loss, half bios and half code: the same bios tokens
    bios_single: float  # bios loss of the bios-only run
    bios_mixed: float  # bios loss of the bios + forum run
    mix_beats_single_on_bios: bool
    forum_single: float
    forum_mixed: float
    mix_beats_single_on_forum: bool
    best_mean_run: str  # the run with the lowest mean held-out loss over the domains
    best_mean_loss: float


@dataclass(frozen=True)
class MixtureResults:
    SCHEMA_VERSION: ClassVar[int] = 1
    preset: str
    plan: dict[str, Any]
    shape: tuple[int, int, int]
    params: int
    n_ctx: int
    vocab_size: int
    domains: list[DomainStats]
    overlap: dict[str, float]  # "a|b" -> Jaccard of the token ids a and b use
    runs: list[MixtureRun]
    leave_out: list[LeaveOut]
    versus_single: list[VersusSingle]
    partners: list[PartnerEffect]
    headline: Headline
    seconds: float  # the runs' training time, summed
    rebuild: str

    def run(self, name: str) -> MixtureRun:
        for r in self.runs:
            if r.name == name:
                return r
        raise KeyError(f"no run {name!r} (runs: {', '.join(r.name for r in self.runs)})")


def _final(runs, name: str, domain: str) -> float:
    return next(r for r in runs if r.name == name).final[domain]


def leave_out_costs(runs: list[MixtureRun]) -> list[LeaveOut]:
    out = []
    for d in DOMAINS:
        without, uniform = _final(runs, LEAVE_OUT[d], d), _final(runs, UNIFORM, d)
        out.append(LeaveOut(d, LEAVE_OUT[d], without, uniform, round(without - uniform, 5)))
    return out


def versus_single(runs: list[MixtureRun]) -> list[VersusSingle]:
    """Every mixture holding a domain (0 < weight < 1) against that domain's single run."""
    out = []
    for d in DOMAINS:
        single = _final(runs, d, d)
        for r in runs:
            w = r.weights[d]
            if 0 < w < 1:
                delta = round(r.final[d] - single, 5)
                out.append(VersusSingle(d, r.name, w, single, r.final[d], delta, delta < 0))
    return out


def partner_effects(runs: list[MixtureRun]) -> list[PartnerEffect]:
    """For each domain, its loss in each two-domain (leave-one-out) run that holds it."""
    out = []
    for d in DOMAINS:
        pair_runs = {
            o: next(x for x in DOMAINS if x not in (d, o)) for o in DOMAINS if o != d
        }  # partner -> the domain the pair leaves out
        names = {o: LEAVE_OUT[left] for o, left in pair_runs.items()}
        weights = {next(r for r in runs if r.name == n).weights[d] for n in names.values()}
        if len(weights) != 1:
            raise ValueError(f"the two runs pairing {d} with another domain give it unequal shares")
        out.append(
            PartnerEffect(
                d, weights.pop(), {o: _final(runs, n, d) for o, n in names.items()}, names
            )
        )
    return out


def shared_mixture() -> str:
    """The leave-one-out run made of exactly the two domains that share facts."""
    (left_out,) = (d for d in DOMAINS if d not in SHARED)
    return LEAVE_OUT[left_out]


def headline_of(runs: list[MixtureRun], params: int) -> Headline:
    mix = shared_mixture()
    means = {r.name: sum(r.final.values()) / len(r.final) for r in runs}
    best = min(means, key=means.get)
    bios_single, bios_mixed = _final(runs, "bios", "bios"), _final(runs, mix, "bios")
    forum_single, forum_mixed = _final(runs, "forum", "forum"), _final(runs, mix, "forum")
    return Headline(
        params=params,
        tokens_per_run=runs[0].tokens,
        n_runs=len(runs),
        leave_out_cost={x.domain: x.cost for x in leave_out_costs(runs)},
        bios_shared_mix=mix,
        bios_with_forum=_final(runs, mix, "bios"),
        bios_with_code=_final(runs, LEAVE_OUT["forum"], "bios"),
        bios_single=bios_single,
        bios_mixed=bios_mixed,
        mix_beats_single_on_bios=bios_mixed < bios_single,
        forum_single=forum_single,
        forum_mixed=forum_mixed,
        mix_beats_single_on_forum=forum_mixed < forum_single,
        best_mean_run=best,
        best_mean_loss=round(means[best], 5),
    )


def read_results(path: str | Path | None = None) -> MixtureResults | None:
    """The bundled (or given) mixture results, hash-checked; None when there are none."""
    return store.read_results("mixture", path, schema=MixtureResults)
