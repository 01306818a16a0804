"""The results directory: build every section (cached, resumable), write it atomically with the
recall probe's models, read it back, and the headline figures."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from .. import store
from .plan import MODELS_DIR, PLANS, Plan
from .sections import (
    copy_section,
    gradient_section,
    inference_section,
    lm_section,
    mqar_section,
    recurrence_section,
    throughput_section,
)
from .specs import matched_specs, quiet_model_warnings

SECTIONS = ("recurrence", "inference", "throughput", "lm", "gradients", "mqar", "copy")


SECTION_FIELDS = {  # the plan fields each section's cached result depends on
    "recurrence": ("recurrence_", "seed"),
    "inference": ("inference_", "lm_widths", "lm_layers", "repeats"),
    "throughput": ("throughput_", "lm_widths", "lm_layers", "repeats"),
    "lm": ("lm_", "world", "seed"),
    "gradients": ("gradient_", "lm_", "world", "seed"),
    "mqar": ("mqar_", "seed"),
    "copy": ("copy_", "mqar_layers", "mqar_target", "seed"),
}


def _key(section: str, plan: Plan) -> str:
    """A section's cache key: its own settings only, so changing one section's plan reruns that
    section alone (and the gradients when the LM runs change)."""
    fields = {
        k: v
        for k, v in asdict(plan).items()
        if any(k == f or (f.endswith("_") and k.startswith(f)) for f in SECTION_FIELDS[section])
    }
    return hashlib.sha256(json.dumps([section, fields], sort_keys=True).encode()).hexdigest()[:16]


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    *,
    work_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Run every section (each cached in the work directory: a rerun resumes after the last
    finished one) and write the results directory atomically: results.json and the MQAR models
    of the widest size (models/<arch>.safetensors + .json spec) for the recall probe."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    work = Path(work_dir or f"runs/architectures-{preset}")
    out = Path(
        out or (store.BUNDLED_DIR / "architectures" if preset == "cpu" else work / "results")
    )
    with store.run_lock(work):
        return _build(preset, plan, out, work, progress)


def _build(preset: str, plan: Plan, out: Path, work: Path, progress: bool) -> dict:
    import torch
    from tqdm import tqdm

    from ..quiet import OtherLoad

    quiet_model_warnings()
    t0 = time.perf_counter()
    runs = {
        "recurrence": lambda: recurrence_section(plan),
        "inference": lambda: inference_section(plan),
        "throughput": lambda: throughput_section(plan),
        "lm": lambda: lm_section(plan, work, progress),
        "gradients": lambda: gradient_section(plan, work),
        "mqar": lambda: mqar_section(plan, work, progress),
        "copy": lambda: copy_section(plan, work, progress),
    }
    results, seconds, other = {}, {}, {}
    bar = tqdm(SECTIONS, desc="architectures", unit="section", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        cached = work / f"{name}.json"
        if cached.is_file():
            doc = json.loads(cached.read_text())
            if doc.get("key") == _key(name, plan):
                results[name], seconds[name], other[name] = (
                    doc["result"],
                    doc["seconds"],
                    doc["other_cores"],
                )
                continue
        with OtherLoad() as load:
            results[name] = runs[name]()
        seconds[name], other[name] = round(time.perf_counter() - load.t0, 1), round(load.cores, 3)
        store.write_text_atomic(
            cached,
            json.dumps(
                {
                    "key": _key(name, plan),
                    "seconds": seconds[name],
                    "other_cores": other[name],
                    "result": results[name],
                }
            )
            + "\n",
        )
    width = max(plan.mqar_widths)
    probe_specs = matched_specs(width, plan.mqar_layers, plan.mqar_vocab, plan.mqar_seq)
    body = {
        "rebuild": f"python -m training architectures --preset {preset}",
        "preset": preset,
        "plan": asdict(plan),
        "machine": {
            "cpus": os.cpu_count() or 1,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(),
        },
        "section_seconds": seconds,
        "section_other_cores": other,
        "seconds": round(time.perf_counter() - t0, 1),
        "probe": {
            "width": width,
            "seq": plan.mqar_seq,
            "vocab": plan.mqar_vocab,
            "models": {a: asdict(s) for a, s in probe_specs.items()},
        },
        **results,
    }

    models = {}
    for arch in probe_specs:
        src = work / f"mqar-{arch}-{width}" / "resume"
        store.verify(src)
        models[f"{MODELS_DIR}/{arch}.safetensors"] = src / "model.safetensors"
    store.write_results(
        out,
        body,
        {
            "kind": "architectures",
            "preset": preset,
            "rebuild": body["rebuild"],
            "machine": body["machine"],
        },
        files=models,
    )
    body["out"] = str(out)
    return body


def mqar_at_longest(results: dict) -> dict:
    """{arch: accuracy} at the longest evaluated length with the most pairs the models were
    trained on (larger counts in the grid test generalisation beyond training), widest models."""
    m = results["mqar"]
    seq = max(g["seq"] for g in m["grid"])
    trained = max(m["train_pairs"])
    pairs = max(g["pairs"] for g in m["grid"] if g["seq"] == seq and g["pairs"] <= trained)
    width = max(r["width"] for r in m["runs"])
    key = f"{seq}x{pairs}"
    return {
        "seq": seq,
        "pairs": pairs,
        "width": width,
        "accuracy": {r["arch"]: r["accuracy"][key] for r in m["runs"] if r["width"] == width},
    }


def headline(results: dict) -> dict:
    """The numbers to print after a build."""
    longest = mqar_at_longest(results)
    lm = {f"{r['arch']}-{r['width']}": r["final_eval_loss"] for r in results["lm"]["runs"]}
    inf = results["inference"]["archs"]
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "mqar_longest": longest,
        "mqar_ordering": sorted(longest["accuracy"], key=lambda a: -longest["accuracy"][a]),
        "lm_final_eval_loss": lm,
        "copy_accuracy": {r["arch"]: r["accuracy"] for r in results["copy"]["runs"]},
        "cache_bytes_at": {
            a: [inf[a]["rows"][0]["cache_bytes"], inf[a]["rows"][-1]["cache_bytes"]] for a in inf
        },
        "cache_check_max_diff": {a: inf[a]["cache_check"] for a in inf},
    }


def read_results(path: str | Path | None = None) -> dict:
    """The bundled architectures results (hash-checked), or {} when there are none."""
    return store.read_results("architectures", path)
