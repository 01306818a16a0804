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

What it writes, `results.json` beside the adapter, is `SFTResults` (read it with `read_results`).
Importable without torch (the app reads the results at start): torch loads inside the steps.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal

from training import schema, store

from .train import SFTSettings

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
# run -> (the base it fine-tunes, its data); the 1-bio base last: its pre-training may still run
RUNS: dict[str, tuple[str, str]] = {
    "sft": ("augmented", "clean"),
    "lima-clean": ("augmented", "lima-clean"),
    "lima-noisy": ("augmented", "lima-noisy"),
    "sft-1bio": ("1bio", "clean"),
}
BASES = ("augmented", "1bio")


# ---------------------------------------------------------------- the results (results.json)
@dataclass(frozen=True)
class Rates:
    accuracy: float  # the fact in the first sentence (training/sft/evaluate.py)
    mentioned: float  # the fact anywhere in the reply
    exact: float  # the canonical one-sentence answer, character for character
    compliance: float  # one sentence, then a stop token
    n: int  # questions asked


@dataclass(frozen=True)
class Example:
    question: str
    response: str
    stopped: bool  # the model ended its turn (a stop token) within the token budget
    expected: str  # the canonical answer
    correct: bool
    mentioned: bool
    exact: bool
    compliant: bool


@dataclass(frozen=True)
class SFTEval(Rates):
    model: str  # "base (augmented)", "SFT (lima-clean)", ...
    run: str  # the run that made the model (a key of `runs`), or the base's build command
    mode: Literal["zero-shot", "few-shot", "chat"]  # chat: an SFT model, asked without shots
    people: Literal["heldout", "sft"]  # held-out people (never in SFT data) or the SFT people
    by_attribute: dict[str, Rates]  # birth_city, employer, ...
    by_bucket: dict[str, Rates]  # how often a person is mentioned in pre-training ("64-127", ...)
    examples: list[Example]  # the first few questions
    seconds: float  # the evaluation's wall-clock time


@dataclass(frozen=True)
class CurvePoint:
    step: int
    elapsed: float  # seconds since training started
    loss: float | None = None  # training loss (assistant tokens only), on a training step
    eval_loss: float | None = None  # held-out SFT loss, on an evaluation step


@dataclass(frozen=True)
class SFTRun:
    base: Literal["augmented", "1bio"]
    data: str  # what it was trained on, in words
    n_records: int
    steps_done: int
    train_seconds: float
    n_trainable: int  # LoRA parameters
    curve: list[CurvePoint]
    seconds: float  # the whole stage (loading, training, saving)


@dataclass(frozen=True)
class SFTHeadline:  # held-out accuracy etc. by model ("base zero-shot", "SFT", ...); None: not run
    heldout_accuracy: dict[str, float | None]
    heldout_compliance: dict[str, float | None]
    sft_people_accuracy: dict[str, float | None]


@dataclass(frozen=True)
class SFTResults:
    SCHEMA_VERSION = 1
    preset: str
    rebuild: str  # the command that rebuilds these results
    settings: SFTSettings  # every run's training settings
    plan: BuildPlan
    runs: dict[str, SFTRun]  # "sft", "sft-1bio", "lima-clean", "lima-noisy"
    evals: dict[str, SFTEval]  # "<run>/<people>" and "base-<which>/<mode>/heldout"
    headline: SFTHeadline


def read_results(path: str | Path | None = None) -> SFTResults | None:
    """The bundled SFT results (hash-checked), for the app; None when there are none."""
    return store.read_results("sft", path, schema=SFTResults)


def headline(evals: dict[str, SFTEval]) -> SFTHeadline:
    models = {
        "base zero-shot": "base-augmented/zero-shot/heldout",
        "base few-shot": "base-augmented/few-shot/heldout",
        "SFT": "sft/heldout",
        "SFT on the 1-bio base": "sft-1bio/heldout",
        "LIMA small clean": "lima-clean/heldout",
        "LIMA large noisy": "lima-noisy/heldout",
    }

    def by_model(metric: str, keys: dict[str, str]) -> dict[str, float | None]:
        return {m: getattr(evals[k], metric) if k in evals else None for m, k in keys.items()}

    return SFTHeadline(
        heldout_accuracy=by_model("accuracy", models),
        heldout_compliance=by_model("compliance", models),
        sft_people_accuracy=by_model(
            "accuracy", {"SFT": "sft/sft", "SFT on the 1-bio base": "sft-1bio/sft"}
        ),
    )


# ---------------------------------------------------------------- the build
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
        # the pre-training stack only when a base must be built first
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


@dataclass
class _Build:
    """What every step of one build reads: the plan, the data and where things go."""

    preset: str
    plan: BuildPlan
    settings: SFTSettings
    run_dir: Path
    bases_dir: str | Path
    world: Any
    clean: Any  # datasets.Dataset of the SFT people's conversations
    heldout_conv: Any  # the held-out people's, for the held-out SFT loss
    heldout: list  # QAItems about held-out people
    sft_people: list  # QAItems about SFT people
    shots: list[dict]  # the few-shot prompt's answered questions
    loaded: dict[str, Any] = field(default_factory=dict)  # base models evaluated, by which

    def base_preset(self, which: str) -> str:
        return self.preset if which == "augmented" else f"{self.preset}-1bio"

    def base_path(self, which: str) -> str | None:
        return ensure_base(self.base_preset(which), self.bases_dir)

    def base(self, which: str):
        from .train import load_base

        if which not in self.loaded:
            self.loaded[which] = load_base(self.base_path(which))
        return self.loaded[which]


def _prepare(preset: str, run_dir: str | Path | None, steps: int | None, bases_dir) -> _Build:
    from training.data.world import World
    from training.presets import get_preset

    from . import data as sft_data
    from .evaluate import few_shot_messages, qa_sample
    from .train import sft_settings

    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    s = sft_settings(preset, **({"steps": steps} if steps else {}))
    run_dir = Path(run_dir or f"runs/sft-{preset}")
    (run_dir / "stages").mkdir(parents=True, exist_ok=True)
    world = World(get_preset(preset).world)
    max_turns = sft_data.max_turns_for(get_preset(preset).model.n_ctx)
    return _Build(
        preset=preset,
        plan=plan,
        settings=s,
        run_dir=run_dir,
        bases_dir=bases_dir,
        world=world,
        clean=sft_data.conversations(world, "sft", max_turns=max_turns, seed=s.seed),
        heldout_conv=sft_data.conversations(world, "heldout", max_turns=max_turns, seed=s.seed),
        heldout=qa_sample(world, "heldout", plan.eval_people, seed=s.seed),
        sft_people=qa_sample(world, "sft", plan.eval_sft_people, seed=s.seed),
        shots=few_shot_messages(world, plan.shots, seed=s.seed),
    )


def _stage(b: _Build, name: str, fn: Callable[[], dict]) -> dict:
    """fn()'s result + its seconds, kept in the run directory: a finished stage is not redone."""
    return store.kept_stage(b.run_dir / "stages" / f"{name}.json", fn, _log)


def _dataset(b: _Build, name: str) -> tuple[Callable[[], Any], str]:
    """(a function making the data set, what it is in words) for "clean", "lima-clean", ..."""
    from . import data as sft_data

    clean, plan = b.clean, b.plan
    small = min(plan.lima_clean_records, len(clean))
    return {
        "clean": (lambda: clean, f"all {len(clean)} clean conversations"),
        "lima-clean": (
            lambda: clean.select(range(small)),
            f"the first {small} clean conversations",
        ),
        "lima-noisy": (
            lambda: sft_data.noisy(clean, b.world, plan.noise_fraction, seed=b.settings.seed),
            f"all {len(clean)} conversations, {plan.noise_fraction:.0%} of answers corrupted "
            "(half wrong facts, half sloppy: rambling or a bare value)",
        ),
    }[name]


def _log_step(run: str, e: dict) -> None:
    if e["step"] % 50 == 0:
        what = f"loss {e['loss']}" if "loss" in e else f"held-out SFT loss {e['eval_loss']}"
        _log(f"{run} step {e['step']}/{e['max_steps']} {what}")


def _train_run(b: _Build, run: str) -> dict:
    """One LoRA fine-tune, its adapter saved under the run directory: the run's summary."""
    from .train import load_base, save_adapter, train_sft

    which, data_name = RUNS[run]
    make, described = _dataset(b, data_name)
    base = load_base(b.base_path(which))  # a fresh copy: LoRA wraps the model in place
    records = make()
    _log(f"{run}: {len(records)} records, {b.settings.steps} steps")
    res = train_sft(
        base,
        records,
        b.settings,
        eval_records=b.heldout_conv,
        on_log=lambda e: _log_step(run, e),
    )
    save_adapter(b.run_dir / "adapters" / run, res, base, extra={"run": run, "data": described})
    return {
        "base": which,
        "data": described,
        "n_records": res.n_records,
        "steps_done": res.steps_done,
        "train_seconds": res.seconds,
        "n_trainable": res.n_trainable,
        "curve": res.history,
    }


def _eval_run(b: _Build, run: str) -> dict[str, dict]:
    """The fine-tuned model asked about held-out people (and SFT people, for the full runs)."""
    from .evaluate import evaluate_qa
    from .train import load_base, load_sft

    loaded: list = []  # (model, tokenizer), loaded by the first evaluation not already kept

    def ask(items):
        if not loaded:
            model, tok, _ = load_sft(
                b.run_dir / "adapters" / run, base=load_base(b.base_path(RUNS[run][0]))
            )
            loaded.append((model, tok))
        return evaluate_qa(*loaded[0], items)

    evals = {}
    for people, items in (("heldout", b.heldout), ("sft", b.sft_people)):
        if people == "sft" and run.startswith("lima"):
            continue
        key = f"{run}/{people}"
        evals[key] = {
            "model": f"SFT ({run})",
            "run": run,
            "mode": "chat",
            "people": people,
            **_stage(b, key.replace("/", "_"), lambda items=items: ask(items)),
        }
    return evals


def _base_evals(b: _Build, which: str) -> dict[str, dict]:
    """A base, before fine-tuning, asked about held-out people zero-shot and few-shot."""
    from .evaluate import evaluate_qa

    evals = {}
    for mode, shots in (("zero-shot", None), ("few-shot", b.shots)):
        key = f"base-{which}/{mode}/heldout"

        def ask(shots=shots):
            return evaluate_qa(b.base(which).model, b.base(which).tokenizer, b.heldout, shots=shots)

        evals[key] = {
            "model": f"base ({which})",
            "run": f"build-base --preset {b.base_preset(which)}",
            "mode": mode,
            "people": "heldout",
            **_stage(b, key.replace("/", "_"), ask),
        }
    return evals


def build_sft(
    preset: str = "cpu",
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    steps: int | None = None,
    bases_dir: str | Path = "runs",
) -> SFTResults:
    """Every base evaluation, run and run evaluation (each kept, so a second call resumes), then
    the bundle: the `sft` run's adapter + results.json."""
    b = _prepare(preset, run_dir, steps, bases_dir)
    out = Path(
        out or (store.BUNDLED_DIR / "sft" if preset == "cpu" else f"runs/sft-{preset}/checkpoint")
    )
    runs, evals = {}, {}
    for which in BASES:
        evals.update(_base_evals(b, which))
        for run in (r for r, (w, _) in RUNS.items() if w == which):
            runs[run] = _stage(b, f"train_{run}", lambda run=run: _train_run(b, run))
            evals.update(_eval_run(b, run))
    results = _results(b, runs, evals)
    _save_bundle(out, b.run_dir / "adapters" / "sft", results)
    _log(f"wrote {out}")
    return results


def _results(b: _Build, runs: dict[str, dict], evals: dict[str, dict]) -> SFTResults:
    """The stages' dicts as SFTResults: a body its reader would refuse fails here, not later."""
    body = {
        "preset": b.preset,
        "rebuild": f"python -m training build-sft --preset {b.preset}",
        "settings": asdict(b.settings),
        "plan": asdict(b.plan),
        "runs": runs,
        "evals": evals,
        "headline": asdict(SFTHeadline({}, {}, {})),  # filled in from the parsed evaluations
    }
    results = schema.parse(SFTResults, body)
    return replace(results, headline=headline(results.evals))


def _save_bundle(out: Path, adapter_dir: Path, results: SFTResults) -> None:
    """The main adapter's files + results.json, re-hashed into one store directory."""
    store.verify(adapter_dir)
    manifest = store.read_manifest(adapter_dir)
    body = {k: v for k, v in manifest.items() if k not in ("files", "code_version", "created")}
    body.update(headline=asdict(results.headline), rebuild=results.rebuild)
    store.write_results(
        out, results, body, files={name: adapter_dir / name for name in manifest["files"]}
    )
