"""What the Scaling Laws Explorer shows, as numbers: shared/scaling_explore.py (the laws, allocation,
IsoFLOP curves, doublings, cost) and training/sweep/explore.py (the lab's slices and long tail),
each against the law, the arithmetic or the bundled runs it comes from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shared import scaling
from shared import scaling_explore as ex
from training.sweep import explore as lab
from training.sweep import lab_law, read_results

CHIN = scaling.LAWS["chinchilla"]


def test_law_view_is_the_law_at_and_around_the_point():
    published = [scaling.get_law(k) for k in ex.PUBLISHED]
    v = ex.law_view(CHIN, math.log10(70e9), math.log10(1.4e12), published)
    assert v.loss == pytest.approx(1.9366, abs=1e-4)  # Chinchilla at its own 70B x 1.4T
    assert v.flops == pytest.approx(6 * 70e9 * 1.4e12) and v.tokens_per_param == pytest.approx(20)
    assert v.warning == scaling.outside_fit_range(CHIN, 70e9, 1.4e12) and "D outside" in v.warning
    assert v.n_grid[0] == pytest.approx(70e9 / 1e3) and v.n_grid[-1] == pytest.approx(70e9 * 1e3)
    assert ex.law_view(CHIN, 12.5, 14.5, []).n_grid[-1] == pytest.approx(1e14)  # clipped
    assert ex.law_view(CHIN, 12.5, 14.5, []).d_grid[-1] == pytest.approx(1e15)
    assert np.allclose(v.loss_vs_n, CHIN.loss(v.n_grid, 1.4e12))
    assert np.allclose(v.loss_vs_d, CHIN.loss(70e9, v.d_grid))
    assert v.c_grid[0] == pytest.approx(v.flops / 1e4) and v.c_grid[-1] == pytest.approx(
        v.flops * 1e4
    )
    assert list(v.optimal) == [lw.name for lw in published]
    for lw in published:
        assert np.allclose(v.optimal[lw.name], scaling.optimal_loss(v.c_grid, lw))
    # at its own budget the compute-optimal loss is at most the loss of this (N, D)
    mid = np.argmin(abs(np.log(v.c_grid / v.flops)))
    assert v.optimal[CHIN.name][mid] <= v.loss + 1e-3
    assert ex.law_view(CHIN, 9.0, 11.0, []).warning is None


def test_allocations_split_the_budget_by_each_law():
    C = 5.76e23  # Gopher's budget, where Hoffmann et al. put Chinchilla
    laws = [scaling.get_law(k) for k in ex.PUBLISHED]
    out = ex.allocations(C, laws)
    assert [a.law for a in out] == [lw.name for lw in laws]
    for a, lw in zip(out, laws):
        assert 6 * a.params * a.tokens == pytest.approx(C)
        assert (a.a, a.b) == (lw.a, lw.b) and a.loss == pytest.approx(
            float(lw.loss(a.params, a.tokens))
        )
    chin, _, kaplan = out
    assert chin.params == pytest.approx(3.219e10, rel=1e-3) and chin.loss == pytest.approx(
        1.9307, abs=1e-4
    )
    assert kaplan.params > chin.params  # Kaplan spends more of the budget on parameters


def test_frontiers_and_isoflops():
    cs = np.logspace(18, 26, 40)
    for f in ex.frontiers():
        assert np.allclose(6 * f.x * f.y, cs)
    curves = ex.isoflops(1e22)
    assert [c.flops for c in curves] == pytest.approx([1e21, 1e22, 1e23])
    for c in curves:
        n_opt = scaling.compute_optimal(c.flops, CHIN)[0]
        assert np.allclose(c.loss, CHIN.loss(c.params, c.flops / (6 * c.params)))
        assert c.params[0] == pytest.approx(n_opt / 10**1.5) and c.params[-1] == pytest.approx(
            n_opt * 10**1.5
        )
        best = c.params[np.argmin(c.loss)]
        assert abs(math.log10(best / n_opt)) <= 3 / 49  # the minimum at N_opt, to one grid step


def test_each_doubling_buys_less():
    d = ex.doublings(CHIN, 1e9, 10**10.3, 4)
    assert list(d.factors) == [1, 2, 4, 8]
    steps = 2.0 ** np.arange(4)
    assert np.allclose(d.of_params, scaling.diminishing_returns(CHIN, 1e9 * steps, 10**10.3, "N"))
    assert np.allclose(d.of_tokens, scaling.diminishing_returns(CHIN, 1e9, 10**10.3 * steps, "D"))
    assert d.of_compute[0] == pytest.approx(0.089358, abs=1e-6)
    assert d.of_compute[-1] == pytest.approx(0.064933, abs=1e-6)
    assert d.kept == pytest.approx(d.of_compute[-1] / d.of_compute[0])
    for gains in (d.of_params, d.of_tokens, d.of_compute):
        assert all(a > b > 0 for a, b in zip(gains, gains[1:]))


def test_cost_sheet_and_gpt3():
    s = ex.cost_sheet(175e9, 300e9, "V100", 0.3, 2.0, 1024)
    assert s.flops == pytest.approx(3.15e23) and s.pf_days == pytest.approx(3.15e23 / 8.64e19)
    assert s.gpu is scaling.GPUS["V100"]
    assert s.cost == scaling.training_cost(3.15e23, "V100", 0.3, 2.0, 1024)
    assert s.cost.gpu_hours == pytest.approx(3.15e23 / (125e12 * 0.3) / 3600)
    with pytest.raises(ValueError, match="unknown GPU"):
        ex.cost_sheet(1e9, 1e10, "TPU", 0.3, 2.0, 8)
    g3 = ex.gpt3_cost()
    assert g3.flops == 3.14e23 and "Brown et al. 2020" in g3.source
    assert 4e6 <= g3.low.dollars < g3.high.dollars <= 12e6  # the course's $4-12M
    assert g3.high.dollars / g3.low.dollars == pytest.approx(3.5 / 1.5)


@pytest.fixture(scope="module")
def sweep():
    return read_results()


def test_lab_view_is_the_runs_by_budget(sweep):
    v = lab.lab_view(sweep)
    assert [s.budget for s in v.slices] == [1e12, 2e12, 4e12, 8e12]
    assert [s.held_out for s in v.slices] == [False, False, False, True]
    for s in v.slices:
        runs = sorted((x for x in sweep.runs if x.budget == s.budget), key=lambda x: x.params)
        assert s.params == [x.params for x in runs] and s.losses == [x.eval_loss for x in runs]
        assert s.params == sorted(s.params) and len(s.params) == 6
    law = lab_law(sweep)
    (p,) = v.predicted
    assert p.budget == 8e12 and p.params[0] == pytest.approx(78944) and len(p.params) == 40
    assert np.allclose(p.losses, law.loss(p.params, 8e12 / (6 * p.params)))
    assert v.predictions == sweep.predictions
    assert v.low == min(min(q.measured, q.predicted) for q in sweep.predictions)
    assert v.high == max(max(q.measured, q.predicted) for q in sweep.predictions) == 1.17689


def test_long_tail_of_one_size(sweep):
    shapes = lab.shapes(sweep)
    assert shapes[0] == (1, 32, 4) and shapes[-1] == (4, 160, 4) and len(shapes) == 6
    t = lab.long_tail(sweep, 2)
    assert t.budget == 8e12 and t.run.shape == (2, 64, 4) and t.run.budget == 8e12
    assert [line.bucket for line in t.over_training] == sweep.buckets
    evals = [m for m in t.run.evals() if m["tokens"] > 0]
    head, tail = t.over_training[0], t.over_training[-1]
    assert head.x == tuple(m["tokens"] for m in evals)
    assert head.losses == tuple(m["eval_loss/4-7"] for m in evals)
    assert tail.losses[-1] < head.losses[-1]  # the often-mentioned are learned first
    for line in t.over_size:
        assert list(line.x) == sorted(x.params for x in sweep.runs if x.budget == 8e12)
    assert t.over_size[0].losses[2] == t.run.curve[-1]["eval_loss/4-7"]
