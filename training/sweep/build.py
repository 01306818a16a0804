"""`python -m training sweep`: train the plan's runs (resumable), fit them, write the results."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from shared import scaling

from .. import schema, store
from .plan import PLANS, SweepPlan, plan_runs
from .results import (
    TOKENIZER,
    Approach2Result,
    Approach3Result,
    Headline,
    Prediction,
    RunTrain,
    SweepResults,
)

TRAIN_KEYS = tuple(RunTrain.__dataclass_fields__)  # the settings a kept run must share


def _log(msg: str) -> None:
    print(f"[sweep {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _kept_settings(run_dir: Path) -> dict | None:
    """The training settings a kept run (finished, or checkpointed half-way) was made with;
    None when there is nothing kept. A finished run from before settings were recorded: {}."""
    if (run_dir / "result.json").is_file():
        return json.loads((run_dir / "result.json").read_text()).get("train", {})
    # torch (resume checkpoints) only when a sweep is built: the app imports this package
    from ..resume import RESUME

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
    from ..data.blocks import pack

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


def _train_run(r: dict, plan: SweepPlan, data, buckets: dict, run_dir: Path) -> dict:
    """Train one run of the plan into run_dir; its result.json body (settings, losses, curve)."""
    import torch

    from ..models import build_model
    from ..pretrain import pretrain

    cfg = plan.run_config(r["steps"], r["shape"][1])
    spec = replace(
        plan.base().model,
        **{k: r["spec"][k] for k in ("n_layer", "d_model", "n_head", "vocab_size")},
    )
    model = build_model(
        spec, seed=cfg.seed, eos_id=data.tokenizer.eos_token_id, pad_id=data.tokenizer.pad_token_id
    )
    t0 = time.perf_counter()
    summary = pretrain(model, data, cfg, run_dir, progress=False, extra_evals=buckets)
    kept = ("step", "tokens", "loss")
    result = {
        "train": {k: getattr(cfg, k) for k in TRAIN_KEYS},
        "eval_loss": summary["eval_loss"],
        "train_loss": summary["loss"],
        "seconds": round(time.perf_counter() - t0, 1),
        "tokens_per_s": round(r["tokens"] / max(1e-9, time.perf_counter() - t0), 1),
        "curve": [
            {k: v for k, v in m.items() if k in kept or k.startswith("eval_loss")}
            for m in store.read_metrics(run_dir)
        ],
    }
    store.write_text_atomic(run_dir / "result.json", json.dumps(result))
    del model
    torch.manual_seed(0)
    return result


def _run_all(runs: list[dict], plan: SweepPlan, data, buckets: dict, sweep_dir: Path, progress):
    """Each run trained, or taken from its kept result.json when it was made with these settings."""
    for i, r in enumerate(runs):
        f = sweep_dir / "runs" / r["name"] / "result.json"
        cfg = plan.run_config(r["steps"], r["shape"][1])
        kept = _kept_settings(f.parent)
        if kept is not None and kept != {k: getattr(cfg, k) for k in TRAIN_KEYS}:
            _log(f"{r['name']}: the kept run was trained with other settings; training it again")
            shutil.rmtree(f.parent)
        elif f.is_file():
            r.update(json.loads(f.read_text()))
            continue
        _log(
            f"run {i + 1}/{len(runs)} {r['name']}: {r['params']:,} params, {r['steps']} steps, "
            f"{r['tokens']:,} tokens, lr {cfg.lr:.2e}"
        )
        r.update(_train_run(r, plan, data, buckets, f.parent))
        if progress is not None:
            progress(i + 1, len(runs))


@dataclass(frozen=True)
class SweepFit:
    """The fits and the held-out check: the first five fields of SweepResults."""

    approach3: Approach3Result
    approach2: Approach2Result
    heldout_budgets: list[float]
    predictions: list[Prediction]
    headline: Headline


def _columns(rs: list[dict]) -> tuple[list, list, list, list]:
    """(N, D, L, C) of some runs: parameters, tokens, final held-out loss, FLOPs."""
    return (
        [r["params"] for r in rs],
        [r["tokens"] for r in rs],
        [r["eval_loss"] for r in rs],
        [r["flops"] for r in rs],
    )


def _predict(law, held: list[dict]) -> list[Prediction]:
    out = []
    for r in held:
        pred = float(law.loss(r["params"], r["tokens"]))
        error = round(100 * (pred - r["eval_loss"]) / r["eval_loss"], 2)
        out.append(
            Prediction(r["name"], r["params"], r["tokens"], r["eval_loss"], round(pred, 5), error)
        )
    return out


def _approach2(N, D, L, C) -> Approach2Result:
    try:
        a2 = scaling.fit_approach2(N, D, L, C, n_boot=200, seed=0, rtol=0.3)
    except ValueError as e:
        return Approach2Result(error=str(e))
    ci = {k: tuple(v) for k, v in a2.ci.items()}
    return Approach2Result(a2.a, a2.b, a2.coef, ci, tuple(a2.budgets), tuple(a2.n_opt))


def fit_sweep(runs: list[dict], plan: SweepPlan) -> SweepFit:
    """Approach 3 and Approach 2 on all but the largest budget(s); predict the held-out runs."""
    held_budgets = sorted({r["budget"] for r in runs})[-plan.holdout_budgets :]
    fit_runs = [r for r in runs if r["budget"] not in held_budgets]
    held = [r for r in runs if r["budget"] in held_budgets]
    N, D, L, C = _columns(fit_runs)
    a3 = scaling.fit_approach3(N, D, L, n_boot=plan.n_boot, seed=0)
    predictions = _predict(a3.law(), held)
    a2 = _approach2(N, D, L, C)
    keys = ("E", "A", "B", "alpha", "beta", "a", "b", "objective")
    a3_out = Approach3Result(**{k: getattr(a3, k) for k in keys}, ci=a3.ci, n_boot=a3.n_boot)
    errs = [abs(p.error_pct) for p in predictions]
    headline = Headline(
        approach3_a=a3.a,
        approach3_a_ci=a3.ci.get("a"),
        approach2_a=a2.a,
        approach2_a_ci=a2.ci.get("a"),
        heldout_max_abs_error_pct=max(errs) if errs else None,
        heldout_mean_abs_error_pct=round(sum(errs) / len(errs), 2) if errs else None,
        n_runs=len(runs),
        n_fit=len(fit_runs),
        n_heldout=len(held),
    )
    return SweepFit(a3_out, a2, held_budgets, predictions, headline)


def _plan_and_dirs(preset: str, plan, out, sweep_dir) -> tuple[SweepPlan, Path, Path]:
    if plan is None:
        if preset not in PLANS:
            raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
        plan = PLANS[preset]
    plan.validate()
    sweep_dir = Path(sweep_dir or f"runs/sweep-{preset}")
    out = Path(
        out or (store.BUNDLED_DIR / "sweep" if preset == "cpu" else sweep_dir / "checkpoint")
    )
    return plan, out, sweep_dir


def run_sweep(
    preset: str = "cpu",
    out: str | Path | None = None,
    sweep_dir: str | Path | None = None,
    plan: SweepPlan | None = None,
    progress=None,
) -> SweepResults:
    from ..data.blocks import prepare
    from ..data.world import World

    plan, out, sweep_dir = _plan_and_dirs(preset, plan, out, sweep_dir)
    base = plan.base()
    with store.run_lock(sweep_dir):
        world = World(base.world)
        _reset_if_other_world(sweep_dir, world)
        data = prepare(sweep_dir, base)
        buckets = bucket_blocks(world, data.tokenizer, base.model.n_ctx)
        runs = plan_runs(plan, len(data.tokenizer))
        _log(f"{len(runs)} runs, {sum(r['flops'] for r in runs):.2e} FLOPs in all")
        _run_all(runs, plan, data, buckets, sweep_dir, progress)
        body = {
            **asdict(fit_sweep(runs, plan)),
            "preset": preset,
            "plan": asdict(plan),
            "buckets": list(buckets),
            "runs": runs,
            "data": {
                "corpus": data.meta.get("corpus"),
                "train_tokens": data.meta.get("train_tokens"),
            },
            "rebuild": f"python -m training sweep --preset {preset}",
        }
        # through JSON and the schema: the build never writes a body its reader refuses
        results = schema.parse(SweepResults, json.loads(json.dumps(body)))
        # the sweep's tokenizer rides along: the live micro-run packs the same world with it
        tok_files = {
            f"{TOKENIZER}/{p.name}": p
            for p in sorted(data.path.iterdir())
            if p.is_file() and p.name not in (store.MANIFEST, "blocks.safetensors")
        }
        manifest = {"kind": "sweep", "preset": preset, "rebuild": results.rebuild}
        manifest["headline"] = asdict(results.headline)
        store.write_results(out, results, manifest, files=tok_files)
    _log(f"wrote {out}")
    return results
