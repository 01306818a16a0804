"""`python -m training sweep`: a measured scaling law — a grid of models from one family, trained
by the project's own loop on the world corpus, laid out as IsoFLOP slices, then fitted.

Layout: for every compute budget C (FLOPs, C = 6·N·D with N all parameters, as Chinchilla counts)
and every model shape, the run trains on D = C / (6·N) tokens — so each budget is an IsoFLOP
slice across sizes. Every run logs its full loss curve and, at each evaluation, the held-out loss
split by how often the people in the text are mentioned in the corpus (the long tail).

Fits (``shared.scaling``): Chinchilla Approach 3 (Huber on log loss, L-BFGS from a grid) and
Approach 2 (IsoFLOP parabolas -> N_opt(C)), with bootstrap intervals, on all budgets but the
largest; the largest budget's runs are held out and predicted. Resumable: each finished run is
kept in the sweep directory and skipped on the next call.

Modules, top to bottom: `plan` (the grid), `results` (the typed results.json and reading it; no
torch), `build` (training and fitting, writing the results), `explore` (what the app shows, computed
from the results), `micro` (the app's live micro-run). Importing this package imports no torch.
"""

from __future__ import annotations

from .. import store
from .build import (
    TRAIN_KEYS,
    SweepFit,
    _kept_settings,
    _reset_if_other_world,
    bucket_blocks,
    fit_sweep,
    run_sweep,
)
from .micro import LIVE_MAX_BUDGET, LIVE_SHAPES, LIVE_TIME_LIMIT_S, _live_data, live_run
from .plan import PLANS, SweepPlan, plan_runs, run_name
from .results import (
    TOKENIZER,
    Approach2Result,
    Approach3Result,
    Headline,
    Prediction,
    RunTrain,
    SweepCorpus,
    SweepData,
    SweepResults,
    SweepRun,
    check_curve,
    lab_law,
    read_results,
)

RESULTS = store.RESULTS

__all__ = [
    "LIVE_MAX_BUDGET",
    "LIVE_SHAPES",
    "LIVE_TIME_LIMIT_S",
    "PLANS",
    "RESULTS",
    "TOKENIZER",
    "TRAIN_KEYS",
    "Approach2Result",
    "Approach3Result",
    "Headline",
    "Prediction",
    "RunTrain",
    "SweepCorpus",
    "SweepData",
    "SweepFit",
    "SweepPlan",
    "SweepResults",
    "SweepRun",
    "_kept_settings",
    "_live_data",
    "_reset_if_other_world",
    "bucket_blocks",
    "check_curve",
    "fit_sweep",
    "lab_law",
    "live_run",
    "plan_runs",
    "read_results",
    "run_name",
    "run_sweep",
]
