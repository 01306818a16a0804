"""`python -m training build-sft`: the bundled SFT adapter and every SFT result, in one command.

Runs (each a real LoRA fine-tune, same settings and steps, on the world's SFT-split people):

- ``sft``         the augmented base (the bundled one) + all clean SFT conversations;
- ``sft-1bio``    a base pre-trained on one biography per person (no knowledge augmentation,
                  ``--preset <p>-1bio``; built first if missing) + the same conversations;
- ``lima-clean``  the augmented base + a small clean set (LIMA's 1,000 at the cpu preset);
- ``lima-noisy``  the augmented base + all conversations with a share of answers corrupted
                  (half wrong facts, half sloppy format).

Evaluations (training/sft/evaluate.py) on held-out people — their facts were in pre-training,
never in SFT data — for each base zero-shot and few-shot and each SFT model, plus the SFT people
(memorised vs extracted). Resumable: each finished run or evaluation is kept in the run
directory and skipped on the next call.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from training import store

RESULTS = "results.json"


@dataclass(frozen=True)
class BuildPlan:
    eval_people: int  # held-out people asked (one question per attribute each)
    eval_sft_people: int  # SFT people asked
    lima_clean_records: int  # the small clean set
    noise_fraction: float  # share of corrupted answers in the large noisy set
    shots: int = 3


PLANS = {
    "tiny": BuildPlan(
        eval_people=5, eval_sft_people=3, lima_clean_records=60, noise_fraction=0.3, shots=1
    ),
    "cpu": BuildPlan(
        eval_people=100, eval_sft_people=50, lima_clean_records=1000, noise_fraction=0.3
    ),
    "gpu": BuildPlan(
        eval_people=1000, eval_sft_people=500, lima_clean_records=1000, noise_fraction=0.3
    ),
}


def _log(msg: str) -> None:
    print(f"[build-sft {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def base_dir(preset: str, runs: str | Path = "runs") -> Path | None:
    """Where build-base puts a preset's base: the bundled one for cpu (None = resolve), else
    <runs>/base-<preset>/checkpoint."""
    return None if preset == "cpu" else Path(runs) / f"base-{preset}" / "checkpoint"


def ensure_base(preset: str, runs: str | Path = "runs") -> str | None:
    """The base checkpoint for a preset, pre-trained first (resumably) when it is missing."""
    d = base_dir(preset, runs)
    if d is None:
        return None
    if not (d / store.MANIFEST).is_file():
        with store.run_lock(d.parent, wait=True):  # a build-base already running there: wait for it
            pass
    if not (d / store.MANIFEST).is_file():
        from training.base import build_base
        from training.presets import get_preset

        _log(
            f"no base for preset {preset}: pre-training it (python -m training build-base --preset {preset})"
        )
        built = build_base(get_preset(preset), d.parent, d, progress=False)
        if built.checkpoint is None or not (d / store.MANIFEST).is_file():
            raise RuntimeError(
                f"build-base --preset {preset} did not finish; run the same command again to resume"
            )
    return str(d)


def build_sft(
    preset: str = "cpu",
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    steps: int | None = None,
    bases_dir: str | Path = "runs",
) -> dict:
    from training.data.world import World
    from training.presets import get_preset

    from . import data as sft_data
    from .evaluate import evaluate_qa, few_shot_messages, qa_sample
    from .train import load_base, load_sft, save_adapter, sft_settings, train_sft

    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    settings = sft_settings(preset, **({"steps": steps} if steps else {}))
    out = Path(
        out or (store.BUNDLED_DIR / "sft" if preset == "cpu" else f"runs/sft-{preset}/checkpoint")
    )
    run_dir = Path(run_dir or f"runs/sft-{preset}")
    (run_dir / "stages").mkdir(parents=True, exist_ok=True)
    world = World(get_preset(preset).world)
    max_turns = sft_data.max_turns_for(get_preset(preset).model.n_ctx)
    clean = sft_data.conversations(world, "sft", max_turns=max_turns, seed=settings.seed)
    heldout_conv = sft_data.conversations(world, "heldout", max_turns=max_turns, seed=settings.seed)
    heldout = qa_sample(world, "heldout", plan.eval_people, seed=settings.seed)
    sft_people = qa_sample(world, "sft", plan.eval_sft_people, seed=settings.seed)
    shots = few_shot_messages(world, plan.shots, seed=settings.seed)
    bases = {
        "augmented": (None if preset == "cpu" else ensure_base(preset, bases_dir), preset),
        "1bio": (None, f"{preset}-1bio"),
    }
    datasets_ = {
        "clean": (lambda: clean, f"all {len(clean)} clean conversations"),
        "lima-clean": (
            lambda: clean.select(range(min(plan.lima_clean_records, len(clean)))),
            f"the first {min(plan.lima_clean_records, len(clean))} clean conversations",
        ),
        "lima-noisy": (
            lambda: sft_data.noisy(clean, world, plan.noise_fraction, seed=settings.seed),
            f"all {len(clean)} conversations, {plan.noise_fraction:.0%} of answers corrupted "
            "(half wrong facts, half sloppy: rambling or a bare value)",
        ),
    }
    runs = {
        "sft": ("augmented", "clean"),
        "sft-1bio": ("1bio", "clean"),
        "lima-clean": ("augmented", "lima-clean"),
        "lima-noisy": ("augmented", "lima-noisy"),
    }
    loaded: dict[str, object] = {}

    def base_path(which: str) -> str | None:
        return bases[which][0] if which == "augmented" else ensure_base(bases[which][1], bases_dir)

    def base(which: str):
        if which not in loaded:
            loaded[which] = load_base(base_path(which))
        return loaded[which]

    def stage(name: str, fn):
        f = run_dir / "stages" / f"{name}.json"
        if f.is_file():
            return json.loads(f.read_text())
        _log(f"{name} …")
        t0 = time.monotonic()
        result = {**fn(), "seconds": round(time.monotonic() - t0, 1)}
        store.write_text_atomic(f, json.dumps(result, indent=1))
        _log(f"{name} done in {result['seconds']} s")
        return result

    def run_and_eval(run: str, which: str, data_name: str):
        adapter_dir = run_dir / "adapters" / run

        def train():
            b = load_base(base_path(which))  # a fresh copy: LoRA wraps the model in place
            records = datasets_[data_name][0]()
            _log(f"{run}: {len(records)} records, {settings.steps} steps")
            res = train_sft(
                b,
                records,
                settings,
                eval_records=heldout_conv,
                on_log=lambda e: (
                    _log(
                        f"{run} step {e['step']}/{e['max_steps']} "
                        + (
                            f"loss {e['loss']}"
                            if "loss" in e
                            else f"held-out SFT loss {e['eval_loss']}"
                        )
                    )
                    if e["step"] % 50 == 0
                    else None
                ),
            )
            save_adapter(adapter_dir, res, b, extra={"run": run, "data": datasets_[data_name][1]})
            return {
                "base": which,
                "data": datasets_[data_name][1],
                "n_records": res.n_records,
                "steps_done": res.steps_done,
                "train_seconds": res.seconds,
                "n_trainable": res.n_trainable,
                "curve": res.history,
            }

        info = stage(f"train_{run}", train)
        model = tok = None
        evals = {}
        for people, items in (("heldout", heldout), ("sft", sft_people)):
            if people == "sft" and run.startswith("lima"):
                continue

            def ev(items=items):
                nonlocal model, tok
                if model is None:
                    model, tok, _ = load_sft(adapter_dir, base=load_base(base_path(which)))
                return evaluate_qa(model, tok, items)

            key = f"{run}/{people}"
            evals[key] = {
                "model": f"SFT ({run})",
                "run": run,
                "mode": "chat",
                "people": people,
                **stage(key.replace("/", "_"), ev),
            }
        return info, evals

    results = {
        "preset": preset,
        "rebuild": f"python -m training build-sft --preset {preset}",
        "settings": asdict(settings),
        "plan": asdict(plan),
        "runs": {},
        "evals": {},
    }
    for which in (
        "augmented",
        "1bio",
    ):  # the 1-bio base last: its pre-training may still be running
        for mode, sh in (("zero-shot", None), ("few-shot", shots)):  # the base, before fine-tuning
            key = f"base-{which}/{mode}/heldout"
            results["evals"][key] = {
                "model": f"base ({which})",
                "run": f"build-base --preset {bases[which][1]}",
                "mode": mode,
                "people": "heldout",
                **stage(
                    key.replace("/", "_"),
                    lambda w=which, sh=sh: evaluate_qa(
                        base(w).model, base(w).tokenizer, heldout, shots=sh
                    ),
                ),
            }
        for run, (w, data_name) in runs.items():
            if w == which:
                results["runs"][run], evals = run_and_eval(run, which, data_name)
                results["evals"].update(evals)
    results["headline"] = headline(results)
    _save_bundle(out, run_dir / "adapters" / "sft", results)
    _log(f"wrote {out}")
    return results


def headline(results: dict) -> dict:
    e = results["evals"]

    def g(key, metric="accuracy"):
        return e[key][metric] if key in e else None

    return {
        "heldout_accuracy": {
            "base zero-shot": g("base-augmented/zero-shot/heldout"),
            "base few-shot": g("base-augmented/few-shot/heldout"),
            "SFT": g("sft/heldout"),
            "SFT on the 1-bio base": g("sft-1bio/heldout"),
            "LIMA small clean": g("lima-clean/heldout"),
            "LIMA large noisy": g("lima-noisy/heldout"),
        },
        "heldout_compliance": {
            "base zero-shot": g("base-augmented/zero-shot/heldout", "compliance"),
            "base few-shot": g("base-augmented/few-shot/heldout", "compliance"),
            "SFT": g("sft/heldout", "compliance"),
            "SFT on the 1-bio base": g("sft-1bio/heldout", "compliance"),
            "LIMA small clean": g("lima-clean/heldout", "compliance"),
            "LIMA large noisy": g("lima-noisy/heldout", "compliance"),
        },
        "sft_people_accuracy": {"SFT": g("sft/sft"), "SFT on the 1-bio base": g("sft-1bio/sft")},
    }


def _save_bundle(out: Path, adapter_dir: Path, results: dict) -> None:
    """The main adapter's files + results.json, re-hashed into one store directory."""
    store.verify(adapter_dir)
    manifest = store.read_manifest(adapter_dir)

    def fill(tmp: Path) -> dict:
        for name in manifest["files"]:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes((adapter_dir / name).read_bytes())
        (tmp / RESULTS).write_text(json.dumps(results, indent=1) + "\n")
        body = {k: v for k, v in manifest.items() if k not in ("files", "code_version", "created")}
        return {**body, "headline": results["headline"], "rebuild": results["rebuild"]}

    store.write_atomic(out, fill)


def read_results(path: str | Path | None = None) -> dict:
    """The bundled SFT results (verified), for the app."""
    p = Path(path) if path else store.resolve("sft")
    store.verify(p)
    return json.loads((p / RESULTS).read_text())
