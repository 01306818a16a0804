"""training.sweep.fit_sweep on runs made from a known law: the typed fit recovers the law, predicts
the held-out budget, counts the runs, and reports an impossible Approach 2 as its error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared import scaling
from training.sweep import PLANS, Approach2Result, SweepFit, fit_sweep

TRUE = scaling.ChinchillaLaw(
    "true", E=0.8, A=400.0, B=3000.0, alpha=0.45, beta=0.5, citation="", url=""
)
PLAN = replace(PLANS["tiny"], n_boot=0)  # one held-out budget, no bootstrap (seconds, not minutes)


def _runs(sizes, budgets) -> list[dict]:
    runs = []
    for n in sizes:
        for c in budgets:
            d = round(c / (6 * n))
            runs.append(
                {
                    "name": f"C{c:.0e}_N{n}",
                    "budget": c,
                    "params": n,
                    "tokens": d,
                    "flops": 6 * n * d,
                    "eval_loss": float(TRUE.loss(n, d)),
                }
            )
    return runs


def test_the_fit_recovers_the_law_and_predicts_the_held_out_budget():
    runs = _runs([20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000], [1e12, 2e12, 4e12, 8e12])
    fit = fit_sweep(runs, PLAN)
    assert isinstance(fit, SweepFit) and fit.heldout_budgets == [8e12]
    h = fit.headline
    assert (h.n_runs, h.n_fit, h.n_heldout) == (24, 18, 6)
    assert [p.name for p in fit.predictions] == [r["name"] for r in runs if r["budget"] == 8e12]
    for p in fit.predictions:  # exact losses: the fit is the law, so is its prediction
        assert p.predicted == pytest.approx(p.measured, abs=2e-4)
        assert p.error_pct == round(100 * (p.predicted - p.measured) / p.measured, 2)
    assert h.heldout_max_abs_error_pct == max(abs(p.error_pct) for p in fit.predictions) < 0.05
    a3 = fit.approach3
    assert (a3.alpha, a3.beta) == pytest.approx((0.45, 0.5), rel=0.05)
    assert a3.a == pytest.approx(TRUE.a, abs=0.02) and h.approach3_a == a3.a
    assert a3.n_boot == 0 and a3.ci == {} and h.approach3_a_ci is None
    assert fit.approach2.error is None and fit.approach2.budgets == pytest.approx(
        (1e12, 2e12, 4e12), rel=1e-3
    )
    assert fit.approach2.a == pytest.approx(TRUE.a, abs=0.05) and h.approach2_a == fit.approach2.a


def test_an_impossible_approach2_is_its_error():
    runs = _runs([50_000, 500_000], [1e12, 2e12, 4e12, 8e12])  # 2 sizes per budget: no parabola
    fit = fit_sweep(runs, PLAN)
    assert fit.approach2 == Approach2Result(error=fit.approach2.error)
    assert "at least 2 compute budgets" in fit.approach2.error
    assert fit.headline.approach2_a is None and fit.headline.approach2_a_ci is None
    assert len(fit.predictions) == 2 and fit.headline.n_fit == 6
