"""The live micro-run (the Scaling Laws Explorer): one more model of the cpu sweep's family,
trained here for a bounded time and compared with the bundled lab fit's prediction.

It runs as a `training.live` job: one at a time, streamed, bounded by LIVE_TIME_LIMIT_S."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import live, store
from .plan import PLANS, SweepPlan
from .results import TOKENIZER, lab_law, read_results

LIVE_SHAPES = {"L1 d48": (1, 48, 4), "L2 d64": (2, 64, 4), "L2 d96": (2, 96, 4)}
LIVE_MAX_BUDGET = 2e12
LIVE_TIME_LIMIT_S = 90.0
_live_lock = threading.Lock()
_live_cache: dict = {}


def _live_data(plan: SweepPlan, tok_dir: Path):
    """The plan's world packed with the tokenizer the bundled sweep's runs used (built once)."""
    key = (plan.preset, str(tok_dir))
    if key not in _live_cache:
        # transformers when the live run first needs the sweep's tokenizer
        from transformers import PreTrainedTokenizerFast

        from ..data.blocks import world_blocks

        _live_cache[key] = world_blocks(
            plan.base(), PreTrainedTokenizerFast.from_pretrained(tok_dir)
        )
    return _live_cache[key]


@dataclass(frozen=True)
class LivePoint:
    """One live run against the lab fit."""

    params: int
    tokens: int  # trained on (steps × tokens per step)
    steps: int
    measured: float  # its held-out loss
    predicted: float  # the bundled lab fit's loss at (params, tokens)
    seconds: float
    stopped_early: bool  # stopped by LIVE_TIME_LIMIT_S before its budget


def _check(shape: str, budget: float) -> Path:
    """The bundled sweep's tokenizer directory, or a one-line ValueError for bad settings or a
    missing sweep."""
    if shape not in LIVE_SHAPES:
        raise ValueError(f"unknown model {shape!r}: choose one of {', '.join(LIVE_SHAPES)}")
    if not (
        isinstance(budget, (int, float))
        and math.isfinite(budget)
        and 1e10 <= budget <= LIVE_MAX_BUDGET
    ):
        raise ValueError(
            f"compute budget {budget!r}: choose between 1e10 and {LIVE_MAX_BUDGET:.0e} FLOPs"
        )
    rebuild = "`python -m training sweep --preset cpu`"
    if not read_results():
        raise ValueError(f"no sweep results to compare with: build them with {rebuild}")
    tok_dir = store.resolve("sweep", allow_hub=False) / TOKENIZER
    if not tok_dir.is_dir():
        raise ValueError(f"the bundled sweep has no tokenizer: rebuild it with {rebuild}")
    return tok_dir


def live_run(shape: str, budget: float) -> live.Events:
    """Train one model of the cpu sweep's family for `budget` FLOPs (6·N·D) and compare its
    held-out loss with the bundled lab fit's prediction, as this process's one live job
    (`training.live`): progress events count steps, the last event carries a `LivePoint`. Bad
    settings or a run already in progress raise a one-line ValueError at once."""
    tok_dir = _check(shape, budget)
    plan = PLANS["cpu"]

    def work(emit, stop) -> LivePoint:
        import tempfile  # torch and transformers load with the run, not with the app

        import torch

        from ..models import build_model, param_counts
        from ..pretrain import pretrain

        data = _live_data(plan, tok_dir)
        base = plan.base()
        n_layer, d_model, n_head = LIVE_SHAPES[shape]
        spec = replace(
            base.model,
            n_layer=n_layer,
            d_model=d_model,
            n_head=n_head,
            vocab_size=len(data.tokenizer),
        )
        tok = data.tokenizer
        model = build_model(spec, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
        n = param_counts(model)["params"]
        steps = plan.steps_for(budget, n)
        cfg = replace(
            plan.run_config(steps, spec.d_model),
            eval_interval=steps,
            ckpt_interval=0,
            max_time_s=LIVE_TIME_LIMIT_S,
        )
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="live-run-") as tmp:
            done, box = threading.Event(), {}

            def train():
                try:
                    torch.manual_seed(0)
                    box["summary"] = pretrain(model, data, cfg, Path(tmp), progress=False)
                except Exception as e:  # noqa: BLE001 - raised below, in the job
                    box["error"] = e
                finally:
                    done.set()

            threading.Thread(target=train, daemon=True).start()
            while not done.wait(0.5):  # the loop's own log says how far it is
                m = store.read_metrics(Path(tmp))
                emit(m[-1]["step"] if m else 0, steps, "training")
            if "error" in box:
                raise box["error"]
        s = box["summary"]
        tokens = s["step"] * plan.micro_batch * base.model.n_ctx
        return LivePoint(
            params=n,
            tokens=tokens,
            steps=s["step"],
            measured=float(s["eval_loss"]),
            predicted=float(lab_law(read_results()).loss(n, tokens)),
            seconds=round(time.perf_counter() - t0, 1),
            stopped_early=not s["done"],
        )

    return live.start(
        _live_lock,
        work,
        busy="a live run is already in progress; wait for it to finish (90 s at most)",
        name="live-run",
    )
