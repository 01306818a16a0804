"""`python -m training mixture`: the domains' data (once), every mixture's run (resumable: one kept
record per finished run), then the derived figures, written as `MixtureResults`."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from .. import schema, store
from .data import domain_stats, domain_texts, mixture_train
from .plan import DOMAIN_LABELS, DOMAINS, MixturePlan, get_plan
from .results import (
    MixtureResults,
    MixtureRun,
    RunTrain,
    headline_of,
    leave_out_costs,
    partner_effects,
    versus_single,
)

TRAIN_KEYS = tuple(RunTrain.__dataclass_fields__)  # the settings a kept run must share
N_SAMPLES = 3


def _log(msg: str) -> None:
    print(f"[mixture {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _plan_digest(plan: MixturePlan) -> dict:
    """What the kept data was made from (a changed plan makes the data again)."""
    keep = ("world", "forum_per_mention", "n_programs", "heldout_programs", "heldout_people")
    return json.loads(
        json.dumps({k: getattr(plan, k) for k in keep} | {"vocab_size": plan.vocab_size})
    )


def prepare_domains(plan: MixturePlan, work_dir: Path):
    """(tokenizer, {domain: train blocks}, {domain: held-out blocks}, stats), made once in
    work_dir/data: one BPE on the union of the domains' training text, each domain packed apart."""
    # torch, safetensors and transformers with the build: the app imports this package at start
    from safetensors.torch import load_file, save_file
    from transformers import PreTrainedTokenizerFast

    from ..data.blocks import pack
    from ..tokenizer import train_tokenizer

    data_dir = work_dir / "data"
    manifest = data_dir / store.MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()).get("plan") != _plan_digest(plan):
        _log(f"{data_dir}: made from another plan; making it again")
        shutil.rmtree(data_dir)
    if not manifest.is_file():
        texts = domain_texts(plan)
        union = [t for d in DOMAINS for t in texts[d][0]]
        tok = train_tokenizer(union, plan.vocab_size, plan.n_ctx())
        n_ctx = plan.n_ctx()

        def fill(tmp: Path) -> dict:
            blocks = {}
            for d in DOMAINS:
                blocks[f"train/{d}"] = pack(texts[d][0], tok, n_ctx)
                blocks[f"heldout/{d}"] = pack(texts[d][1], tok, n_ctx)
            tok.save_pretrained(tmp)
            save_file(blocks, tmp / "blocks.safetensors")
            stats = domain_stats(texts, tok)
            for d in DOMAINS:
                stats["domains"][d]["samples"] = texts[d][0][:N_SAMPLES]
                stats["domains"][d]["train_blocks"] = len(blocks[f"train/{d}"])
                stats["domains"][d]["heldout_blocks"] = len(blocks[f"heldout/{d}"])
            return {"kind": "mixture-data", "plan": _plan_digest(plan), "stats": stats}

        _log("generating the three domains and their tokenizer")
        store.write_atomic(data_dir, fill)
    meta = store.verify(data_dir)
    blocks = load_file(data_dir / "blocks.safetensors")
    tok = PreTrainedTokenizerFast.from_pretrained(data_dir)
    train = {d: blocks[f"train/{d}"] for d in DOMAINS}
    held = {d: blocks[f"heldout/{d}"] for d in DOMAINS}
    return tok, train, held, meta["stats"]


def _model(plan: MixturePlan, tok, seed: int):
    from ..models import build_model
    from ..presets import get_preset

    spec = replace(
        get_preset(plan.preset).model,
        n_layer=plan.shape[0],
        d_model=plan.shape[1],
        n_head=plan.shape[2],
        vocab_size=len(tok),
    )
    spec.validate()
    return build_model(spec, seed=seed, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)


def _train_run(name, weights, plan: MixturePlan, tok, train, held, run_dir: Path) -> dict:
    """Train one mixture into run_dir; its kept record (result.json body)."""
    import torch

    from ..data.blocks import Prepared
    from ..pretrain import pretrain

    cfg = plan.run_config()
    n_blocks = cfg.steps * cfg.micro_batch
    blocks, domain = mixture_train(train, weights, n_blocks, cfg.seed)
    # the loop's own eval_loss reads one held-out block per domain (unused); the per-domain
    # held-out sets are the extra evaluations
    data = Prepared(run_dir, tok, blocks, torch.cat([held[d][:1] for d in DOMAINS]), {})
    torch.manual_seed(cfg.seed)
    model = _model(plan, tok, cfg.seed)
    t0 = time.perf_counter()
    summary = pretrain(
        model, data, cfg, run_dir, progress=False, extra_evals=held, measure_mfu=False
    )
    n_ctx = blocks.size(1) - 1
    curve = [
        {
            "step": m["step"],
            "tokens": m["tokens"],
            "loss": {d: m[f"eval_loss/{d}"] for d in DOMAINS},
        }
        for m in store.read_metrics(run_dir)
        if "eval_loss" in m
    ]
    result = {
        "name": name,
        "weights": dict(zip(DOMAINS, weights)),
        "tokens": n_blocks * n_ctx,
        "domain_tokens": {d: int((domain == i).sum()) * n_ctx for i, d in enumerate(DOMAINS)},
        "final": dict(curve[-1]["loss"]),
        "train_loss": summary["loss"],
        "seconds": round(time.perf_counter() - t0, 1),
        "train": {k: getattr(cfg, k) for k in TRAIN_KEYS},
        "curve": curve,
    }
    store.write_text_atomic(run_dir / "result.json", json.dumps(result))
    return result


def _run_all(plan: MixturePlan, tok, train, held, work_dir: Path) -> list[dict]:
    """Each mixture trained, or taken from its kept record when made with these settings."""
    cfg = plan.run_config()
    want = {k: getattr(cfg, k) for k in TRAIN_KEYS}
    out = []
    for i, (name, weights) in enumerate(plan.mixtures):
        run_dir = work_dir / "runs" / name
        f = run_dir / "result.json"
        if f.is_file():
            kept = json.loads(f.read_text())
            if kept.get("train") == want and kept.get("weights") == dict(zip(DOMAINS, weights)):
                out.append(kept)
                continue
            _log(f"{name}: the kept run was made with other settings; training it again")
            shutil.rmtree(run_dir)
        elif run_dir.exists() and _stale(run_dir, want):
            _log(f"{name}: the half-trained run has other settings; starting it again")
            shutil.rmtree(run_dir)
        _log(f"run {i + 1}/{len(plan.mixtures)} {name}: weights {weights}, {cfg.steps} steps")
        out.append(_train_run(name, weights, plan, tok, train, held, run_dir))
    return out


def _stale(run_dir: Path, want: dict) -> bool:
    """A half-trained run checkpointed with other settings (it cannot resume)."""
    from ..resume import RESUME

    state = run_dir / RESUME / "state.json"
    if not state.is_file():
        return False
    cfg = json.loads(state.read_text()).get("train_config", {})
    return {k: cfg.get(k) for k in TRAIN_KEYS} != want


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    work_dir: str | Path | None = None,
    plan: MixturePlan | None = None,
) -> MixtureResults:
    plan = plan or get_plan(preset)
    plan.validate()
    work_dir = Path(work_dir or f"runs/mixture-{preset}")
    out = Path(out or (store.BUNDLED_DIR / "mixture" if preset == "cpu" else work_dir / "results"))
    work_dir.mkdir(parents=True, exist_ok=True)
    threads = None
    if plan.threads:
        import torch  # torch with the build: the package imports no torch

        threads = torch.get_num_threads()
        torch.set_num_threads(plan.threads)
    try:
        results = _build(preset, plan, out, work_dir)
    finally:
        if threads:
            torch.set_num_threads(threads)  # the caller's setting back (tests run in one process)
    _log(f"wrote {out}")
    return results


def _build(preset: str, plan: MixturePlan, out: Path, work_dir: Path) -> MixtureResults:
    with store.run_lock(work_dir):
        tok, train, held, stats = prepare_domains(plan, work_dir)
        runs = _run_all(plan, tok, train, held, work_dir)
        model = _model(plan, tok, 0)
        from ..models import param_counts

        params = param_counts(model)["params"]
        typed = [schema.parse(MixtureRun, json.loads(json.dumps(r))) for r in runs]
        derived = {
            "leave_out": [asdict(x) for x in leave_out_costs(typed)],
            "versus_single": [asdict(x) for x in versus_single(typed)],
            "partners": [asdict(x) for x in partner_effects(typed)],
            "headline": asdict(headline_of(typed, params)),
        }
        body = _body(preset, plan, stats, runs, params, len(tok))
        # through JSON and the schema: the build never writes a body its reader refuses
        results = schema.parse(MixtureResults, json.loads(json.dumps({**body, **derived})))
        manifest = {
            "kind": "mixture",
            "preset": preset,
            "rebuild": results.rebuild,
            "headline": asdict(results.headline),
        }
        store.write_results(out, results, manifest)
    return results


def _body(preset, plan, stats, runs, params, vocab) -> dict:
    domains = [
        {"name": d, "label": DOMAIN_LABELS[d], **_stat_fields(stats["domains"][d])} for d in DOMAINS
    ]
    return {
        "preset": preset,
        "plan": json.loads(json.dumps(asdict(plan))),
        "shape": list(plan.shape),
        "params": params,
        "n_ctx": plan.n_ctx(),
        "vocab_size": vocab,
        "domains": domains,
        "overlap": stats["overlap"],
        "runs": runs,
        "seconds": round(sum(r["seconds"] for r in runs), 1),
        "rebuild": f"python -m training mixture --preset {preset}",
    }


def _stat_fields(s: dict) -> dict:
    keep = (
        "records",
        "heldout_records",
        "tokens",
        "heldout_tokens",
        "chars",
        "distinct_tokens",
        "tokens_per_record",
        "samples",
    )
    return {k: s[k] for k in keep}
