"""The Compute-optimal tab's answer to "why is the Approach 3 optimum not Chinchilla?", in-process:
the explanation's numbers against shared.scaling's closed form for both fits, and the frontier
figure's Besiroglu frontier and the two optima at the chosen budget."""

from __future__ import annotations

import math
import re

import gradio as gr
import numpy as np
import pytest

from shared import scaling
from shared.scaling_explore import CHINCHILLA_BUDGET, approach3_vs_refit
from tabs.scaling_explorer import optimal as tab

UNITS = {"M": 1e6, "B": 1e9, "T": 1e12}
SPLIT = re.compile(
    r"([\d.]+)([MBT]) parameters / ([\d.]+)([MBT]) tokens \((\d+) tokens per parameter\)"
)


def _splits(text: str) -> list[tuple[float, float, int]]:
    """Every "N parameters / D tokens (k tokens per parameter)" in the text, as numbers."""
    return [
        (float(n) * UNITS[nu], float(d) * UNITS[du], int(k))
        for n, nu, d, du, k in SPLIT.findall(text)
    ]


def _allocation_exponent(law: str) -> float:
    """a = β/(α+β) (Hoffmann Eq. 4), from the law's constants."""
    c = scaling.LAWS[law]
    return c.beta / (c.alpha + c.beta)


def test_the_explanation_is_both_fits_closed_form_at_chinchillas_budget():
    text = tab.refit_text(approach3_vs_refit())
    assert CHINCHILLA_BUDGET == 5.76e23 and f"{CHINCHILLA_BUDGET:.3g}" in text
    (n3, d3, k3), (nb, db, kb) = _splits(text)  # Approach 3 first, then Besiroglu's refit
    for (n, d, k), law in (((n3, d3, k3), "chinchilla"), ((nb, db, kb), "besiroglu")):
        want_n, want_d = scaling.compute_optimal(CHINCHILLA_BUDGET, law)
        assert n == pytest.approx(want_n, rel=5e-3) and d == pytest.approx(want_d, rel=5e-3)
        assert k == round(want_d / want_n)
        assert f"a = {_allocation_exponent(law):.2f}" in text
    # the published fit: ~32B on ~3T tokens; the refit lands by Chinchilla's 70B / 1.4T
    assert 30e9 < n3 < 35e9 and 2.8e12 < d3 < 3.2e12 and k3 > 80
    assert 60e9 < nb < 80e9 and 1.2e12 < db < 1.5e12 and 15 <= kb <= 25
    assert "70B / 1.4T" in text  # Chinchilla as trained (NOTABLE_MODELS)
    # Hoffmann et al.'s Table 2 exponents for Approaches 1-2, and both sources linked
    assert "N ∝ C^0.50, D ∝ C^0.50" in text and "N ∝ C^0.49, D ∝ C^0.51" in text
    assert scaling.HOFFMANN_URL in text and scaling.BESIROGLU_URL in text
    b = scaling.LAWS["besiroglu"]
    assert f"E = {b.E}, A = {b.A}" in text and f"β = {b.beta}" in text


def test_the_explanation_is_on_the_tab():
    with gr.Blocks() as demo:
        tab.build_optimal_tab(demo)
    shown = [
        blk.value
        for blk in demo.blocks.values()
        if isinstance(blk, gr.Markdown) and blk.elem_id == "scaling-refit"
    ]
    assert shown == [tab.refit_text(approach3_vs_refit()).strip()]


@pytest.mark.parametrize("log_c", [math.log10(CHINCHILLA_BUDGET), 25.0])
def test_the_figure_has_besiroglus_frontier_and_both_optima(log_c):
    _, fig, _ = tab.optimal(log_c)
    traces = {t.name: t for t in fig.data if t.name}
    refit = scaling.LAWS["besiroglu"]
    frontier = traces[f"{refit.name} frontier"]
    cs = np.logspace(18, 26, len(frontier.x))  # the frontiers' budgets (scaling_explore.frontiers)
    n, d = scaling.compute_optimal(cs, "besiroglu")
    assert np.allclose(frontier.x, n) and np.allclose(frontier.y, d)
    C = 10**log_c
    for law, label in (
        ("chinchilla", "Approach 3 optimum"),
        ("besiroglu", "Besiroglu refit optimum"),
    ):
        (marker,) = [t for name, t in traces.items() if name.startswith(label)]
        want_n, want_d = scaling.compute_optimal(C, law)
        assert list(marker.x) == pytest.approx([want_n]) and list(marker.y) == pytest.approx(
            [want_d]
        )
    assert traces[f"{scaling.LAWS['chinchilla'].name} frontier"]
