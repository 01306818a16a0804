"""What the Preference tuning tab shows, as numbers: one row per arm (accuracy, the rejected
behaviours' rates, KL from the SFT model, the chosen-minus-rejected margins), the bars, and the
DPO run's curve, all read from the bundled results. Importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from .results import ARM_LABELS, DPOResults


@dataclass(frozen=True)
class ArmRow:
    start: str  # "sft" (the bundled SFT model), ...
    arm: str  # "sft", "dpo", "sft-longer"
    label: str
    accuracy: float  # fractions
    wrong_fact: float
    ramble: float
    compliance: float
    kl_per_token: float  # nats per reply token
    margin_train: float  # nats, log p(chosen) − log p(rejected), training pairs
    margin_heldout: float  # the same on held-out people's pairs
    margin_wrong_heldout: float  # held-out pairs whose rejected reply is a wrong fact
    n: int


@dataclass(frozen=True)
class Curve:
    steps: list[int]
    loss: list[float]
    margin: list[float | None]  # DPO's implicit reward margin (β · Δ log-ratio)


@dataclass(frozen=True)
class GridLine:  # one setting of a start's grid, on the validation people
    start: str  # the start's label
    arm: str
    setting: str  # "DPO, lr 0.0002, β 0.1", "more SFT, lr 5e-05", "SFT alone"
    lr: float | None
    beta: float | None
    accuracy: float
    wrong_fact: float
    ramble: float
    kl_per_token: float
    final_loss: float | None
    selected: bool
    n: int


@dataclass(frozen=True)
class KindMargin:  # one (start, arm, pair kind): the margin on held-out people's pairs
    label: str  # the arm's row label
    start: str
    arm: str
    kind: str  # "wrong", "ramble"
    margin: float  # nats, summed over each reply
    margin_per_token: float  # nats per token (each reply's log-prob / its length)
    prefers_chosen: float
    tokens_chosen: float
    tokens_rejected: float
    n: int


@dataclass(frozen=True)
class DPOView:
    rows: list[ArmRow]
    grid: list[GridLine]
    margins: list[KindMargin]
    curves: dict[str, Curve]  # start label -> its DPO run
    pairs: str  # what DPO was trained on, in words
    control: str  # what the SFT-longer arm was trained on
    starts: dict[str, str]  # start label -> how that SFT model was made


def dpo_view(r: DPOResults) -> DPOView:
    first = next(iter(r.starts.values()))
    return DPOView(
        rows=arm_rows(r),
        grid=grid_lines(r),
        margins=kind_margins(r),
        curves={
            st.label: Curve(
                steps=[p.step for p in st.training["dpo"].curve],
                loss=[p.loss for p in st.training["dpo"].curve],
                margin=[p.margin for p in st.training["dpo"].curve],
            )
            for st in r.starts.values()
        },
        pairs=first.training["dpo"].data,
        control=first.training["sft-longer"].data,
        starts={st.label: st.made_by for st in r.starts.values()},
    )


def arm_rows(r: DPOResults) -> list[ArmRow]:
    """One row per (start, arm), in build order, every number from the headline or the margins."""
    rows = []
    for start, st in r.starts.items():
        for arm, e in st.arms.items():
            h = r.headline[start][arm]
            wrong = e.margins_heldout.get("wrong")
            rows.append(
                ArmRow(
                    start=start,
                    arm=arm,
                    label=ARM_LABELS[arm].format(start=st.label),
                    accuracy=h.accuracy,
                    wrong_fact=h.wrong_fact,
                    ramble=h.ramble,
                    compliance=h.compliance,
                    kl_per_token=h.kl_per_token,
                    margin_train=e.margins_train["all"].margin,
                    margin_heldout=e.margins_heldout["all"].margin,
                    margin_wrong_heldout=wrong.margin if wrong else float("nan"),
                    n=h.n,
                )
            )
    return rows


SETTING = {
    "dpo": "DPO, lr {lr:g}, β {beta:g}",
    "sft-longer": "more SFT, lr {lr:g}",
    "sft": "SFT alone",
}


def grid_lines(r: DPOResults) -> list[GridLine]:
    """Every start's grid, in build order (the start alone first)."""
    return [
        GridLine(
            start=st.label,
            arm=g.arm,
            setting=SETTING[g.arm].format(lr=g.lr or 0, beta=g.beta or 0),
            lr=g.lr,
            beta=g.beta,
            accuracy=g.accuracy,
            wrong_fact=g.wrong_fact,
            ramble=g.ramble,
            kl_per_token=g.kl_per_token,
            final_loss=g.final_loss,
            selected=g.selected,
            n=g.n,
        )
        for st in r.starts.values()
        for g in st.grid
    ]


def kind_margins(r: DPOResults) -> list[KindMargin]:
    """The held-out pairs' margins split by the rejected reply's kind, per (start, arm)."""
    out = []
    for start, st in r.starts.items():
        for arm, e in st.arms.items():
            for kind in ("wrong", "ramble"):
                m = e.margins_heldout.get(kind)
                if m is None:
                    continue
                out.append(
                    KindMargin(
                        label=ARM_LABELS[arm].format(start=st.label),
                        start=start,
                        arm=arm,
                        kind=kind,
                        margin=m.margin,
                        margin_per_token=m.margin_per_token,
                        prefers_chosen=m.prefers_chosen,
                        tokens_chosen=m.tokens_chosen,
                        tokens_rejected=m.tokens_rejected,
                        n=m.n,
                    )
                )
    return out
