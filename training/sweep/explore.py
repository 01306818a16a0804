"""What the Scaling Laws Explorer's lab tabs show, computed from the sweep's results (no torch):
the IsoFLOP slices with the fit's predictions, and the long tail of one model size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .results import Prediction, SweepResults, SweepRun, lab_law


@dataclass(frozen=True)
class Slice:
    """One IsoFLOP slice: the runs of one budget, smallest model first."""

    budget: float
    held_out: bool  # left out of the fit and predicted
    params: list[int]
    losses: list[float]  # final held-out loss


@dataclass(frozen=True)
class Predicted:
    """The lab law's loss along a held-out budget's IsoFLOP slice, over the sweep's sizes."""

    budget: float
    params: np.ndarray
    losses: np.ndarray


@dataclass(frozen=True)
class LabView:
    slices: list[Slice]  # ascending budget
    predicted: list[Predicted]  # one per held-out budget
    predictions: list[Prediction]  # one per held-out run
    low: float  # the smallest measured or predicted held-out loss
    high: float  # the largest


def lab_view(results: SweepResults) -> LabView:
    runs, held = results.runs, set(results.heldout_budgets)
    slices = []
    for b in sorted({x.budget for x in runs}):
        rs = sorted((x for x in runs if x.budget == b), key=lambda x: x.params)
        slices.append(Slice(b, b in held, [x.params for x in rs], [x.eval_loss for x in rs]))
    law = lab_law(results)
    ns = np.logspace(
        math.log10(min(x.params for x in runs)), math.log10(max(x.params for x in runs)), 40
    )
    predicted = [Predicted(b, ns, law.loss(ns, b / (6 * ns))) for b in results.heldout_budgets]
    preds = results.predictions
    return LabView(
        slices=slices,
        predicted=predicted,
        predictions=preds,
        low=min(min(p.measured, p.predicted) for p in preds),
        high=max(max(p.measured, p.predicted) for p in preds),
    )


@dataclass(frozen=True)
class BucketLine:
    """Held-out loss on the people of one mention bucket, against tokens seen or model size."""

    bucket: str  # "4-7", ..., "128+": how often the people are mentioned in the corpus
    x: tuple[float, ...]
    losses: tuple[float, ...]


@dataclass(frozen=True)
class LongTail:
    run: SweepRun  # the chosen size's run at the largest budget
    budget: float  # the largest budget
    over_training: list[BucketLine]  # x: tokens seen, at each evaluation after step 0
    over_size: list[BucketLine]  # x: parameters, final losses of the largest budget's runs


def shapes(results: SweepResults) -> list[tuple[int, int, int]]:
    """The sweep's model shapes, smallest first (by n_layer · d_model)."""
    return sorted({x.shape for x in results.runs}, key=lambda s: s[1] * s[0])


def long_tail(results: SweepResults, size_index: int) -> LongTail:
    """The long tail at the largest budget: for the size_index-th smallest shape over training,
    and for every size at the end of training."""
    runs, shape = results.runs, shapes(results)[size_index]
    top = max(x.budget for x in runs)
    run = next(x for x in runs if x.shape == shape and x.budget == top)
    over_training, over_size = [], []
    for b in results.buckets:
        key = f"eval_loss/{b}"
        pts = [(m["tokens"], m[key]) for m in run.curve if key in m and m["tokens"] > 0]
        if pts:
            over_training.append(BucketLine(b, *zip(*pts)))
        finals = [(x.params, x.curve[-1].get(key)) for x in runs if x.budget == top]
        finals = [p for p in sorted(finals) if p[1] is not None]
        if finals:
            over_size.append(BucketLine(b, *zip(*finals)))
    return LongTail(run, top, over_training, over_size)
