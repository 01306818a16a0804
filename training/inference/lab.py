"""The inference lab's build: the `Lab` every section evaluates with, each section run (or
reused from runs/inference-<preset>/, or from the results already at the output, while its settings
and the base model match) and the results written as `InferenceResults`."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import schema, store
from ..quiet import OtherLoad
from .compression import int4_section, pruning_section, quantization_section
from .distill import distillation_section
from .kv_cache import kv_cache_section
from .plan import PLANS, QUIET_CORES, Plan, check_sparsities
from .results import InferenceResults


@dataclass
class Lab:
    """What every section evaluates with: held-out blocks, the prompt, the people probed."""

    data: object  # training.data.blocks.Prepared (bundled tokenizer)
    world: object
    people: list
    eval_blocks: object
    logit_blocks: object
    prompt: list[int]

    def loss(self, model) -> float:
        # torch-heavy modules only in the build: the app imports this package torch-free
        from ..evaluate import heldout_loss

        loss = heldout_loss(model, self.eval_blocks, batch_size=16)
        model.eval()  # the training loop's evaluate hands the model back in train mode
        return round(loss, 5)

    def accuracy(self, model) -> float:
        from ..evaluate import fact_accuracy

        return fact_accuracy(model, self.data.tokenizer, self.world, "birth_city", self.people)[
            "all"
        ]["accuracy"]


def make_lab(plan: Plan) -> Lab:
    from ..data.blocks import bundled_world
    from ..data.world import World
    from ..presets import get_preset

    data = bundled_world(plan.world)
    world = World(get_preset(plan.world).world)
    ranked = sorted(world.people, key=lambda p: p.rank)
    people = ranked[:: max(1, len(ranked) // plan.eval_people)][: plan.eval_people]
    return Lab(
        data,
        world,
        people,
        data.eval[: plan.eval_blocks],
        data.eval[: plan.logit_blocks],
        data.eval.reshape(-1).tolist(),
    )


SECTION_FIELDS = {  # the settings each section's cached result depends on (with the base model)
    "kv_cache": ("world", "contexts", "new_tokens", "repeats", "threads"),
    "quantization": (
        "world",
        "new_tokens",
        "repeats",
        "latency_context",
        "eval_blocks",
        "logit_blocks",
        "eval_people",
        "threads",
        "int4_groups",
    ),
    "int4": ("int4_groups",),
    "pruning": ("world", "sparsities", "eval_blocks", "eval_people"),
    "distillation": (
        "world",
        "student",
        "steps",
        "micro_batch",
        "lr",
        "eval_interval",
        "temperature",
        "alpha",
        "eval_blocks",
        "eval_people",
    ),
}


def timed_busy(result) -> float:
    """The most cores other processes used during a section's timings (its `other_cores`) if that
    is QUIET_CORES or more, else 0 (sections without timings: 0)."""
    rows = result if isinstance(result, list) else [result]
    worst = max((r.get("other_cores", 0.0) for r in rows), default=0.0)
    return worst if worst >= QUIET_CORES else 0.0


def _key(section: str, plan: Plan | dict, base_digest: str) -> str:
    """A section's cache key: its settings (from a Plan, or a results file's plan as JSON) and the
    base model's digest."""
    get = plan.get if isinstance(plan, dict) else lambda k: getattr(plan, k)
    fields = {k: get(k) for k in SECTION_FIELDS[section]}
    return hashlib.sha256(
        json.dumps([section, fields, base_digest], sort_keys=True).encode()
    ).hexdigest()[:16]


def _prior_sections(out: Path) -> dict[str, dict]:
    """The sections of the results already at `out` (hash-checked, any schema version), as cache
    documents {"key", "seconds", "other_cores", "result"}: a build reuses those whose settings
    and base model still match, so adding a section re-measures only that one."""
    try:
        store.verify(out)
        old = json.loads((out / store.RESULTS).read_text())
        plan, digest = old["plan"], old["base"]["digest"]
        return {
            name: {
                "key": _key(name, plan, digest),
                "seconds": old["section_seconds"][name],
                "other_cores": old["section_other_cores"][name],
                "result": old[name],
            }
            for name in SECTION_FIELDS
            if name in old
            and name in old["section_seconds"]
            and all(k in plan for k in SECTION_FIELDS[name])
        }
    except (OSError, ValueError, KeyError, TypeError, store.CheckpointError):
        return {}


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    *,
    run_dir: str | Path | None = None,
    sparsities=None,
    progress: bool = True,
) -> dict:
    """Measure every section on the bundled base and write the results directory atomically.
    `sparsities` overrides the preset's list (validated). Returns the body written (an
    InferenceResults as a dict) with "out"."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    if sparsities is not None:
        plan = replace(plan, sparsities=check_sparsities(sparsities))
    check_sparsities(plan.sparsities)
    out = Path(
        out or (store.BUNDLED_DIR / "inference" if preset == "cpu" else f"runs/inference-{preset}")
    )
    import torch

    threads = torch.get_num_threads()
    try:
        if plan.cache:
            run_dir = Path(run_dir or f"runs/inference-{preset}")
            with store.run_lock(run_dir):
                return _build(preset, plan, out, run_dir, progress)
        with tempfile.TemporaryDirectory(prefix=f"inference-{preset}-") as tmp:
            return _build(preset, plan, out, Path(run_dir or tmp), progress)
    finally:
        torch.set_num_threads(threads)


def _cached(plan: Plan, path: Path, key: str, prior: dict | None = None) -> dict | None:
    """A section's cached {"key", "seconds", "other_cores", "result"}, if it is still valid: its
    cache file, else its part of the previous results (`prior`), unless timed on a busy machine."""
    if not plan.cache:
        return None
    if path.is_file():
        doc = json.loads(path.read_text())
        if doc.get("key") == key:
            return doc
    if prior and prior.get("key") == key and not timed_busy(prior["result"]):
        store.write_text_atomic(path, json.dumps(prior) + "\n")
        return prior
    return None


def _run_sections(
    sections: dict, threads: dict, plan: Plan, run_dir: Path, key, progress: bool, prior: dict
):
    """Each section's result, seconds and other processes' cores: reused from its cache file or
    the previous results, or run on its thread count (and cached unless timed on a busy machine)."""
    import torch
    from tqdm import tqdm

    results, seconds, other = {}, {}, {}
    bar = tqdm(sections.items(), desc="inference lab", unit="section", disable=not progress)
    for name, run in bar:
        bar.set_postfix_str(name)
        cached = run_dir / f"{name}.json"
        doc = _cached(plan, cached, key(name), prior.get(name))
        if doc is not None:
            results[name], seconds[name], other[name] = (
                doc["result"],
                doc["seconds"],
                doc["other_cores"],
            )
            continue
        torch.set_num_threads(threads[name])
        with OtherLoad() as load:
            results[name] = run()
        seconds[name], other[name] = round(time.perf_counter() - load.t0, 1), round(load.cores, 3)
        if timed_busy(results[name]):
            print(
                f"{name}: timed while other processes used up to {timed_busy(results[name]):.1f} cores; "
                "not cached, run the build again on a quiet machine to re-measure",
                file=sys.stderr,
                flush=True,
            )
        elif plan.cache:
            store.write_text_atomic(
                cached,
                json.dumps(
                    {
                        "key": key(name),
                        "seconds": seconds[name],
                        "other_cores": other[name],
                        "result": results[name],
                    }
                )
                + "\n",
            )
    return results, seconds, other


def _build(preset: str, plan: Plan, out: Path, run_dir: Path, progress: bool) -> dict:
    import torch

    t0 = time.perf_counter()
    prior = _prior_sections(out)
    ckpt = store.load(store.resolve("base"))
    model, digest = ckpt.model.eval(), store.manifest_digest(ckpt.manifest)
    lab = make_lab(plan)

    def key(name: str) -> str:
        return _key(name, plan, digest)

    sections = {
        "kv_cache": lambda: kv_cache_section(model, lab.prompt, plan),
        "quantization": lambda: quantization_section(model, lab, plan),
        "int4": lambda: int4_section(model, plan),
        "pruning": lambda: pruning_section(model, lab, plan),
        "distillation": lambda: distillation_section(
            model, lab, plan, run_dir / f"distill-{key('distillation')}", progress
        ),
    }
    default_threads = torch.get_num_threads()
    threads = {
        name: (plan.compute_threads if name in ("pruning", "distillation") else plan.threads)
        or default_threads
        for name in sections
    }
    results, seconds, other = _run_sections(sections, threads, plan, run_dir, key, progress, prior)
    body = _body(preset, plan, ckpt, model, lab, threads)
    body.update(section_seconds=seconds, section_other_cores=other)
    body["section_note"] = (
        "seconds and other processes' cores over each whole section as it was built, "
        "waits for a quiet machine included; the timings' own loads are "
        "kv_cache.other_cores_per_context and quantization[].other_cores"
    )
    body.update(seconds=round(time.perf_counter() - t0, 1), **results)
    typed = schema.parse(InferenceResults, body)  # never write what read_results refuses
    manifest = {"kind": "inference", "preset": preset, "rebuild": body["rebuild"]}
    store.write_results(out, typed, {**manifest, "machine": body["machine"]})
    return {**schema.dump(typed), "out": str(out)}


def _body(preset: str, plan: Plan, ckpt, model, lab: Lab, threads: dict) -> dict:
    """The results' description of the build: machine, plan, base model, evaluation sets."""
    import torch

    from ..models import param_counts

    cfg = model.config
    return {
        "rebuild": f"python -m training inference --preset {preset}",
        "machine": {
            "cpus": os.cpu_count() or 1,
            "torch": str(torch.__version__),
            "torch_threads": threads,
        },
        "preset": preset,
        "plan": asdict(plan),
        "base": {
            "path": str(ckpt.path),
            "digest": store.manifest_digest(ckpt.manifest),
            "created": ckpt.manifest.get("created"),
        },
        "model": {
            "params": param_counts(model)["params"],
            "n_layer": cfg.num_hidden_layers,
            "d_model": cfg.hidden_size,
            "n_ctx": cfg.max_position_embeddings,
        },
        "eval": {
            "heldout_blocks": len(lab.eval_blocks),
            "heldout_tokens": int(lab.eval_blocks[:, 1:].numel()),
            "logit_blocks": len(lab.logit_blocks),
            "people": len(lab.people),
            "world": plan.world,
        },
    }
