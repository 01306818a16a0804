"""`python -m training mixture`: the data-mixture lab (the course's "diversity matters").

Three synthetic domains, generated offline and seeded: the world's biographies (`bios`), small
programs with their real output (`code`, training/data/programs.py) and forum Q&A threads about
the same people (`forum`, training/data/forum.py). One byte-level BPE on their union; one model
size of the sweep's family trained on a grid of mixture weights at equal tokens (single domains,
the uniform mix, each leave-one-out pair); held-out loss on every domain at every evaluation.
Derived from the per-run records: the cost of leaving a domain out (its loss in the run without
it minus the uniform mix's) and each mixture against the single-domain run on a shared domain.

Modules: `plan` (the grid and the presets' plans), `data` (the domains' text, statistics and the
mixture sampler), `results` (the typed results.json and the derived figures; no torch), `build`
(training, resumable, and writing the results). Importing this package imports no torch.
"""

from __future__ import annotations

from .build import build
from .data import domain_stats, domain_texts, mixture_order, mixture_train
from .plan import DOMAIN_LABELS, DOMAINS, GRID, PLANS, MixturePlan, get_plan
from .results import (
    DomainStats,
    Headline,
    LeaveOut,
    MixtureResults,
    MixtureRun,
    PartnerEffect,
    VersusSingle,
    headline_of,
    leave_out_costs,
    partner_effects,
    read_results,
    shared_mixture,
    versus_single,
)


def headline(results: MixtureResults) -> dict:
    """The figures the command prints (and the manifest keeps)."""
    h = results.headline
    return {
        "preset": results.preset,
        "params": h.params,
        "tokens_per_run": h.tokens_per_run,
        "runs": h.n_runs,
        "final_loss": {r.name: r.final for r in results.runs},
        "leave_out_cost": h.leave_out_cost,
        "bios": {"single": h.bios_single, h.bios_shared_mix: h.bios_mixed},
        "forum": {"single": h.forum_single, h.bios_shared_mix: h.forum_mixed},
        "bios_same_tokens": {"with forum": h.bios_with_forum, "with code": h.bios_with_code},
        "mix_beats_single_on_bios": h.mix_beats_single_on_bios,
        "mix_beats_single_on_forum": h.mix_beats_single_on_forum,
        "best_mean_run": h.best_mean_run,
        "seconds": results.seconds,
    }


__all__ = [
    "DOMAINS",
    "DOMAIN_LABELS",
    "GRID",
    "PLANS",
    "DomainStats",
    "Headline",
    "LeaveOut",
    "MixturePlan",
    "MixtureResults",
    "MixtureRun",
    "VersusSingle",
    "build",
    "domain_stats",
    "domain_texts",
    "get_plan",
    "headline",
    "headline_of",
    "PartnerEffect",
    "leave_out_costs",
    "partner_effects",
    "mixture_order",
    "mixture_train",
    "read_results",
    "shared_mixture",
    "versus_single",
]
