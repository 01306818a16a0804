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
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import store

RESULTS = store.RESULTS


@dataclass(frozen=True)
class SweepPlan:
    preset: str  # the world, tokenizer and context come from this preset
    shapes: tuple[tuple[int, int, int], ...]  # (n_layer, d_model, n_head), small to large
    budgets: tuple[float, ...]  # C = 6·N·D per IsoFLOP slice, ascending
    micro_batch: int = 16
    lr: float = 2e-3  # peak lr at width lr_width (see lr_at)
    lr_width: int = 0  # 0: one lr for every shape
    lr_power: float = 0.0  # lr_at(d) = lr · (lr_width / d) ** lr_power
    evals_per_run: int = 6
    min_steps: int = 8
    holdout_budgets: int = 1  # the largest budgets, held out from the fit
    n_boot: int = 50
    world: tuple[tuple[str, object], ...] = ()  # WorldConfig fields that differ from the preset's

    def base(self):
        """The preset the runs take their context and training defaults from, with this plan's world."""
        from .presets import get_preset

        base = get_preset(self.preset)
        if not self.world:
            return base
        return replace(
            base, name=f"{base.name}-world", world=replace(base.world, **dict(self.world))
        )

    def lr_at(self, d_model: int) -> float:
        """The peak learning rate of a model of width ``d_model``: one lr would be too high for
        the widest shapes and too low for the narrowest (measured: see the cpu plan)."""
        return self.lr * (self.lr_width / d_model) ** self.lr_power if self.lr_width else self.lr

    def steps_for(self, budget: float, params: int) -> int:
        """Optimizer steps that spend ``budget`` = 6·N·D FLOPs on a model of ``params`` parameters."""
        return max(
            self.min_steps,
            round(budget / (6 * params * self.micro_batch * self.base().model.n_ctx)),
        )

    def run_config(self, steps: int, d_model: int):
        """The training settings of every run of this plan (the live micro-run uses them too)."""
        return replace(
            self.base().train,
            steps=steps,
            micro_batch=self.micro_batch,
            grad_accum=1,
            lr=self.lr_at(d_model),
            warmup_steps=max(1, steps // 20),
            eval_interval=max(1, steps // self.evals_per_run),
            ckpt_interval=max(1, steps // 2),
            max_time_s=0.0,
        )

    def validate(self) -> None:
        if len(self.shapes) < 3 or len(self.budgets) < 2 + self.holdout_budgets:
            raise ValueError("a sweep needs at least 3 shapes and holdout_budgets + 2 budgets")
        if any(not (b > 0 and math.isfinite(b)) for b in self.budgets) or list(
            self.budgets
        ) != sorted(self.budgets):
            raise ValueError("budgets must be positive, finite and ascending")


PLANS = {
    "tiny": SweepPlan(
        "tiny",
        shapes=((1, 16, 2), (1, 32, 2), (2, 32, 4), (2, 48, 4), (2, 64, 4)),
        budgets=(1e9, 2e9, 4e9, 8e9),
        micro_batch=8,
        lr=3e-3,
        evals_per_run=3,
        min_steps=4,
        n_boot=10,
    ),
    # sizes 79k-1.5M around the measured N_opt for these budgets (~0.14M-0.22M), ~55 min on 2 cores.
    # Batch and lr from side-by-side runs at equal tokens (2 cores): 4 x 256 tokens per step, not
    # 16 x 256, took L2 d64 from 1.69 to 0.93 held-out loss at 1.48M tokens, and was no slower;
    # the best peak lr fell with width (d64: 8e-3 of 4e-3/8e-3/1.2e-2; d160: 2.5e-3 of
    # 1.5e-3/2.5e-3/4e-3/8e-3), hence lr = 8e-3 · (64 / d)^1.25.
    # The world is the cpu preset's with a longer Zipf tail (2,000 people mentioned 5-1,600 times,
    # not 500 mentioned 72-1,600): on the preset's world every run ended near its ~0.45-nat floor
    # and the held-out prediction missed by 9.5% (mean); here the losses stay in the
    # fact-learning regime (0.9-1.1 at 8e12). L1 d32 is worse than L1 d48 at every budget, so
    # every IsoFLOP slice has its minimum inside the grid (fit on 5 sizes without it: 6.25%; with it: 4.0%).
    "cpu": SweepPlan(
        "cpu",
        shapes=((1, 32, 4), (1, 48, 4), (2, 64, 4), (2, 96, 4), (3, 128, 4), (4, 160, 4)),
        budgets=(1e12, 2e12, 4e12, 8e12),
        micro_batch=4,
        lr=8e-3,
        lr_width=64,
        lr_power=1.25,
        evals_per_run=4,
        world=(("n_people", 2000), ("zipf_s", 0.75), ("min_mentions", 4)),
    ),
    "gpu": SweepPlan(
        "gpu",
        shapes=(
            (4, 256, 4),
            (6, 384, 6),
            (8, 512, 8),
            (10, 640, 10),
            (12, 768, 12),
            (16, 1024, 16),
        ),
        budgets=(1e16, 3e16, 1e17, 3e17, 1e18),
        micro_batch=64,
        lr=1e-3,
    ),
}


def _log(msg: str) -> None:
    print(f"[sweep {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_name(budget: float, shape: tuple[int, int, int]) -> str:
    return f"C{budget:.1e}_L{shape[0]}d{shape[1]}".replace("+", "")


def plan_runs(plan: SweepPlan, vocab_size: int) -> list[dict]:
    """Every (budget, shape) run with its parameter count, steps and tokens (no training)."""
    from .models import build_model, param_counts

    base = plan.base()
    tokens_per_step = plan.micro_batch * base.model.n_ctx
    runs = []
    for shape in plan.shapes:
        spec = replace(
            base.model, n_layer=shape[0], d_model=shape[1], n_head=shape[2], vocab_size=vocab_size
        )
        spec.validate()
        counts = param_counts(build_model(spec))
        for budget in plan.budgets:
            steps = plan.steps_for(budget, counts["params"])
            tokens = steps * tokens_per_step
            runs.append(
                {
                    "name": run_name(budget, shape),
                    "budget": budget,
                    "shape": list(shape),
                    "spec": asdict(spec),
                    **counts,
                    "steps": steps,
                    "tokens": tokens,
                    "flops": 6 * counts["params"] * tokens,
                }
            )
    return runs


TOKENIZER = "tokenizer"  # sub-directory of a sweep's results: the tokenizer its runs used
TRAIN_KEYS = ("steps", "micro_batch", "lr", "warmup_steps", "min_lr_ratio", "seed")


def _kept_settings(run_dir: Path) -> dict | None:
    """The training settings a kept run (finished, or checkpointed half-way) was made with;
    None when there is nothing kept. A finished run from before settings were recorded: {}."""
    if (run_dir / "result.json").is_file():
        return json.loads((run_dir / "result.json").read_text()).get("train", {})
    from .pretrain import RESUME

    state = run_dir / RESUME / "state.json"
    if state.is_file():
        cfg = json.loads(state.read_text()).get("train_config", {})
        return {k: cfg.get(k) for k in TRAIN_KEYS}
    return None


def _reset_if_other_world(sweep_dir: Path, world) -> bool:
    """Kept data and runs made from another world (a plan's world changed, or --sweep-dir points
    at another plan's directory) are deleted, so they are made again; True when that happened."""
    manifest = Path(sweep_dir) / "data" / store.MANIFEST
    if not manifest.is_file():
        return False
    facts = json.loads(json.dumps({"source": "world", **world.stats()}))
    if json.loads(manifest.read_text()).get("corpus") == facts:
        return False
    _log(f"{sweep_dir}: the kept data and runs were made from another world; making them again")
    shutil.rmtree(Path(sweep_dir) / "data")
    shutil.rmtree(Path(sweep_dir) / "runs", ignore_errors=True)
    return True


def bucket_blocks(world, tokenizer, n_ctx: int, n_per_person: int = 2) -> dict:
    """Held-out biographies packed separately per mention bucket: {bucket: blocks}."""
    from .data.blocks import pack

    rows = world.eval_dataset(n_per_person=n_per_person)
    by: dict[str, list[str]] = {}
    for text, pid in zip(rows["text"], rows["person_id"]):
        by.setdefault(world.mention_bucket(int(pid)), []).append(text)
    out = {}
    for b in world.mention_buckets():
        if b in by:
            try:
                out[b] = pack(by[b], tokenizer, n_ctx)
            except ValueError:  # too little text in this bucket for one block
                pass
    return out


def run_sweep(
    preset: str = "cpu",
    out: str | Path | None = None,
    sweep_dir: str | Path | None = None,
    plan: SweepPlan | None = None,
    progress=None,
) -> dict:
    import torch

    from .data.blocks import prepare
    from .data.world import World
    from .models import build_model
    from .pretrain import pretrain

    if plan is None:
        if preset not in PLANS:
            raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
        plan = PLANS[preset]
    plan.validate()
    base = plan.base()
    sweep_dir = Path(sweep_dir or f"runs/sweep-{preset}")
    out = Path(
        out or (store.BUNDLED_DIR / "sweep" if preset == "cpu" else sweep_dir / "checkpoint")
    )
    with store.run_lock(sweep_dir):
        world = World(base.world)
        _reset_if_other_world(sweep_dir, world)
        data = prepare(sweep_dir, base)
        buckets = bucket_blocks(world, data.tokenizer, base.model.n_ctx)
        runs = plan_runs(plan, len(data.tokenizer))
        _log(f"{len(runs)} runs, {sum(r['flops'] for r in runs):.2e} FLOPs in all")
        for i, r in enumerate(runs):
            f = sweep_dir / "runs" / r["name"] / "result.json"
            cfg = plan.run_config(r["steps"], r["shape"][1])
            train = {k: getattr(cfg, k) for k in TRAIN_KEYS}
            kept = _kept_settings(f.parent)
            if kept is not None and kept != train:
                _log(
                    f"{r['name']}: the kept run was trained with other settings; training it again"
                )
                shutil.rmtree(f.parent)
            elif f.is_file():
                r.update(json.loads(f.read_text()))
                continue
            _log(
                f"run {i + 1}/{len(runs)} {r['name']}: {r['params']:,} params, {r['steps']} steps, "
                f"{r['tokens']:,} tokens, lr {cfg.lr:.2e}"
            )
            spec = replace(
                base.model,
                **{k: r["spec"][k] for k in ("n_layer", "d_model", "n_head", "vocab_size")},
            )
            model = build_model(
                spec,
                seed=cfg.seed,
                eos_id=data.tokenizer.eos_token_id,
                pad_id=data.tokenizer.pad_token_id,
            )
            t0 = time.perf_counter()
            summary = pretrain(model, data, cfg, f.parent, progress=False, extra_evals=buckets)
            curve = store.read_metrics(f.parent)
            result = {
                "train": train,
                "eval_loss": summary["eval_loss"],
                "train_loss": summary["loss"],
                "seconds": round(time.perf_counter() - t0, 1),
                "tokens_per_s": round(r["tokens"] / max(1e-9, time.perf_counter() - t0), 1),
                "curve": [
                    {
                        k: v
                        for k, v in m.items()
                        if k in ("step", "tokens", "loss") or k.startswith("eval_loss")
                    }
                    for m in curve
                ],
            }
            store.write_text_atomic(f, json.dumps(result))
            r.update(result)
            del model
            torch.manual_seed(0)
            if progress is not None:
                progress(i + 1, len(runs))
        results = fit_sweep(runs, plan)
        results.update(
            preset=preset,
            plan=asdict(plan),
            buckets=list(buckets),
            runs=runs,
            data={"corpus": data.meta.get("corpus"), "train_tokens": data.meta.get("train_tokens")},
            rebuild=f"python -m training sweep --preset {preset}",
        )

        # the sweep's tokenizer rides along: the live micro-run packs the same world with it
        tok_files = {
            f"{TOKENIZER}/{p.name}": p
            for p in sorted(data.path.iterdir())
            if p.is_file() and p.name not in (store.MANIFEST, "blocks.safetensors")
        }
        store.write_results(
            out,
            results,
            {
                "kind": "sweep",
                "preset": preset,
                "rebuild": results["rebuild"],
                "headline": results["headline"],
            },
            files=tok_files,
        )
    _log(f"wrote {out}")
    return results


def fit_sweep(runs: list[dict], plan: SweepPlan) -> dict:
    """Approach 3 and Approach 2 on all but the largest budget(s); predict the held-out runs."""
    from shared import scaling

    held_budgets = sorted({r["budget"] for r in runs})[-plan.holdout_budgets :]
    fit_runs = [r for r in runs if r["budget"] not in held_budgets]
    held = [r for r in runs if r["budget"] in held_budgets]

    def arrays(rs):
        return (
            [r["params"] for r in rs],
            [r["tokens"] for r in rs],
            [r["eval_loss"] for r in rs],
            [r["flops"] for r in rs],
        )

    N, D, L, C = arrays(fit_runs)
    a3 = scaling.fit_approach3(N, D, L, n_boot=plan.n_boot, seed=0)
    law = a3.law()
    predictions = []
    for r in held:
        pred = float(law.loss(r["params"], r["tokens"]))
        predictions.append(
            {
                "name": r["name"],
                "params": r["params"],
                "tokens": r["tokens"],
                "measured": r["eval_loss"],
                "predicted": round(pred, 5),
                "error_pct": round(100 * (pred - r["eval_loss"]) / r["eval_loss"], 2),
            }
        )
    try:
        a2 = scaling.fit_approach2(N, D, L, C, n_boot=200, seed=0, rtol=0.3)
        a2_out = {
            "a": a2.a,
            "b": a2.b,
            "coef": a2.coef,
            "ci": a2.ci,
            "budgets": a2.budgets,
            "n_opt": a2.n_opt,
        }
    except ValueError as e:
        a2_out = {"error": str(e)}
    a3_out = {k: getattr(a3, k) for k in ("E", "A", "B", "alpha", "beta", "a", "b", "objective")}
    errs = [abs(p["error_pct"]) for p in predictions]
    headline = {
        "approach3_a": a3.a,
        "approach3_a_ci": a3.ci.get("a"),
        "approach2_a": a2_out.get("a"),
        "approach2_a_ci": a2_out.get("ci", {}).get("a"),
        "heldout_max_abs_error_pct": max(errs) if errs else None,
        "heldout_mean_abs_error_pct": round(sum(errs) / len(errs), 2) if errs else None,
        "n_runs": len(runs),
        "n_fit": len(fit_runs),
        "n_heldout": len(held),
    }
    return {
        "approach3": {**a3_out, "ci": a3.ci, "n_boot": a3.n_boot},
        "approach2": a2_out,
        "heldout_budgets": held_budgets,
        "predictions": predictions,
        "headline": headline,
    }


def read_results(path: str | Path | None = None) -> dict:
    """The bundled sweep results (hash-checked), or {} when there are none."""
    return store.read_results("sweep", path)


def lab_law(results: dict):
    """The sweep's Approach 3 fit as a law (`shared.scaling.ChinchillaLaw`), with the range of
    parameters and tokens its runs cover; None when the results hold no fit."""
    from shared import scaling

    a3, runs = results.get("approach3"), results.get("runs", [])
    if not a3:
        return None
    return scaling.ChinchillaLaw(
        name="our lab fit (Approach 3 on our sweep)",
        E=a3["E"],
        A=a3["A"],
        B=a3["B"],
        alpha=a3["alpha"],
        beta=a3["beta"],
        citation=f"fitted here: {results.get('rebuild', 'python -m training sweep')}",
        url="",
        params_range=(min(x["params"] for x in runs), max(x["params"] for x in runs))
        if runs
        else None,
        tokens_range=(min(x["tokens"] for x in runs), max(x["tokens"] for x in runs))
        if runs
        else None,
    )


# ---------------------------------------------------------------------------------------------
# Live micro-run (the app): one more model of the family, bounded, one at a time
# ---------------------------------------------------------------------------------------------

LIVE_SHAPES = {"L1 d48": (1, 48, 4), "L2 d64": (2, 64, 4), "L2 d96": (2, 96, 4)}
LIVE_MAX_BUDGET = 2e12
LIVE_TIME_LIMIT_S = 90.0
_live_lock = threading.Lock()
_live_cache: dict = {}


def _live_data(plan: SweepPlan, tok_dir: Path):
    """The plan's world packed with the tokenizer the bundled sweep's runs used (built once)."""
    key = (plan.preset, str(tok_dir))
    if key not in _live_cache:
        from transformers import PreTrainedTokenizerFast

        from .data.blocks import world_blocks

        _live_cache[key] = world_blocks(
            plan.base(), PreTrainedTokenizerFast.from_pretrained(tok_dir)
        )
    return _live_cache[key]


def live_run(shape: str, budget: float):
    """Train one model of the cpu sweep's family for ``budget`` FLOPs (6·N·D) and compare its
    held-out loss with the bundled lab fit's prediction. Events: {"kind": "progress", "step",
    "steps"}, then {"kind": "done", "measured", "predicted", ...} or {"kind": "error", "text"}.
    Bad settings or a run already in progress raise ValueError at once."""
    import tempfile

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
    results = read_results()
    if not results:
        raise ValueError(
            "no sweep results to compare with: build them with `python -m training sweep --preset cpu`"
        )
    tok_dir = store.resolve("sweep", allow_hub=False) / TOKENIZER
    if not tok_dir.is_dir():
        raise ValueError(
            "the bundled sweep has no tokenizer: rebuild it with `python -m training sweep --preset cpu`"
        )
    plan = PLANS["cpu"]
    from .live import stream

    def work(emit, stop):
        import torch

        from .models import build_model, param_counts
        from .pretrain import pretrain

        data = _live_data(plan, tok_dir)
        base = plan.base()
        spec = replace(
            base.model,
            n_layer=LIVE_SHAPES[shape][0],
            d_model=LIVE_SHAPES[shape][1],
            n_head=LIVE_SHAPES[shape][2],
            vocab_size=len(data.tokenizer),
        )
        model = build_model(
            spec, eos_id=data.tokenizer.eos_token_id, pad_id=data.tokenizer.pad_token_id
        )
        n = param_counts(model)["params"]
        tps = plan.micro_batch * base.model.n_ctx
        steps = plan.steps_for(budget, n)
        cfg = replace(
            plan.run_config(steps, spec.d_model),
            eval_interval=steps,
            ckpt_interval=0,
            max_time_s=LIVE_TIME_LIMIT_S,
        )
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="live-run-") as tmp:
            done = threading.Event()
            box: dict = {}

            def train():
                try:
                    torch.manual_seed(0)
                    box["summary"] = pretrain(model, data, cfg, Path(tmp), progress=False)
                except Exception as e:  # noqa: BLE001
                    box["error"] = e
                finally:
                    done.set()

            threading.Thread(target=train, daemon=True).start()
            while not done.wait(0.5):
                m = store.read_metrics(Path(tmp))
                emit({"kind": "progress", "step": m[-1]["step"] if m else 0, "steps": steps})
            if "error" in box:
                raise box["error"]
        s = box["summary"]
        law = lab_law(results)
        tokens = s["step"] * tps
        return {
            "params": n,
            "tokens": tokens,
            "steps": s["step"],
            "measured": float(s["eval_loss"]),
            "predicted": float(law.loss(n, tokens)),
            "seconds": round(time.perf_counter() - t0, 1),
            "stopped_early": not s["done"],
        }

    return stream(
        _live_lock,
        work,
        name="live-run",
        busy="a live run is already in progress; wait for it to finish (90 s at most)",
    )
