"""Pre-train the base model and store it as a checkpoint: the one library function behind
`python -m training pretrain` / `build-base` and the SFT build's "no base for this preset yet".

Runs on one process or on every rank under torchrun (accelerate's PartialState); only the main
process writes the checkpoint. Resumable: a rerun on the same run directory continues from its
last checkpoint (`training.pretrain`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from . import store


@dataclass(frozen=True)
class Trained:
    """What `train_base` leaves: the loop's summary (with the trained model), the prepared data,
    the model spec and the process state (rank, main process)."""

    summary: dict
    data: object  # training.data.blocks.Prepared
    spec: object  # training.models.ModelSpec
    state: object  # accelerate.PartialState


@dataclass(frozen=True)
class BaseBuild:
    """The outcome of `build_base`: `checkpoint` is None on other ranks and when the run stopped
    early (its time limit): rerun to continue."""

    checkpoint: Path | None
    done: bool
    step: int
    steps: int
    metrics: dict


def train_base(
    preset,
    run_dir: Path,
    data_path: str | None = None,
    *,
    resume: bool = True,
    progress: bool = True,
) -> Trained:
    """Prepare the corpus, tokenizer and token blocks (main process first), build the preset's
    model and run the pre-training loop in `run_dir`."""
    # torch only when a base model is built: the CLI's other commands start without it
    import torch
    from accelerate import PartialState

    from .data.blocks import prepare
    from .models import build_model
    from .pretrain import pretrain

    state = PartialState(
        cpu=not torch.cuda.is_available()
    )  # processes only; the loop sets precision
    run_dir = Path(run_dir)
    if state.is_main_process and not (run_dir / "data" / store.MANIFEST).is_file():
        print(
            f"preparing corpus, tokenizer and token blocks in {run_dir / 'data'} …",
            file=sys.stderr,
            flush=True,
        )
    with state.main_process_first():
        data = prepare(run_dir, preset, data_path)
    spec = replace(preset.model, vocab_size=len(data.tokenizer))
    model = build_model(
        spec,
        seed=preset.train.seed,
        eos_id=data.tokenizer.eos_token_id,
        pad_id=data.tokenizer.pad_token_id,
    )
    summary = pretrain(model, data, preset.train, run_dir, resume=resume, progress=progress)
    return Trained(summary, data, spec, state)


def build_base(
    preset,
    run_dir: Path,
    out: Path,
    data_path: str | None = None,
    *,
    resume: bool = True,
    progress: bool = True,
) -> BaseBuild:
    """Pre-train (or resume) `preset` in `run_dir`, evaluate the finished model and save it to
    `out` with its manifest (metrics, "born in" accuracy on the world corpus, examples) and its
    training curve. One build per run directory at a time (a lock held by the main process)."""
    run_dir, out = Path(run_dir), Path(out)
    if int(os.environ.get("RANK", "0")) == 0:
        with store.run_lock(run_dir):
            return _build(preset, run_dir, out, data_path, resume, progress)
    return _build(preset, run_dir, out, data_path, resume, progress)


def _build(preset, run_dir: Path, out: Path, data_path, resume: bool, progress: bool) -> BaseBuild:
    t = train_base(preset, run_dir, data_path, resume=resume, progress=progress)
    summary = dict(t.summary)
    model = summary.pop("model")
    metrics = {
        "heldout_loss": summary.get("eval_loss"),
        "final_train_loss": summary["loss"],
        "tokens_seen": summary["tokens"],
        **summary["params"],
        "global_batch": summary["global_batch"],
        "flops_per_token": summary["flops_per_token"],
        "train_flops": summary["flops_per_token"] * summary["tokens"],
    }
    if not t.state.is_main_process or not summary["done"]:
        return BaseBuild(None, bool(summary["done"]), summary["step"], preset.train.steps, metrics)
    from .models import spec_dict

    examples = []
    if data_path is None:  # the world corpus: what the model knows, person by person
        from .data.world import World
        from .evaluate import fact_accuracy

        world = World(preset.world)
        people = sorted(world.people, key=lambda p: p.rank)[: preset.eval_people]
        by_bucket = fact_accuracy(model, t.data.tokenizer, world, "birth_city", people)
        metrics["born_in_accuracy"] = by_bucket["all"]["accuracy"]
        metrics["born_in_by_bucket"] = {
            k: v["accuracy"] for k, v in by_bucket.items() if k != "all"
        }
        metrics["born_in_n"] = by_bucket["all"]["n"]
        picks = [people[0], people[len(people) // 3], people[-1]]
        examples = [
            {
                "prompt": world.completion_prompt(p, "birth_city")[0],
                "answer": world.completion_prompt(p, "birth_city")[1].strip(),
                "mentions": p.mentions,
                "split": p.split,
            }
            for p in picks
        ]
    manifest = {
        "kind": "base",
        "preset": preset.name,
        "config": {**preset.to_dict(), "model": spec_dict(t.spec)},
        "data": t.data.meta.get("corpus"),
        "metrics": metrics,
        "examples": examples,
        "rebuild": f"python -m training build-base --preset {preset.name}",
    }
    metrics_text = (run_dir / store.METRICS).read_text()
    store.save(out, model, t.data.tokenizer, manifest, extra_files={store.METRICS: metrics_text})
    return BaseBuild(out, True, summary["step"], preset.train.steps, metrics)
