"""`python -m training …` — the one command line for data, tokenizer, pre-training, the base model and SFT.

Bad input ends with one line naming the option and exit status 2; nothing is half-written
(every output directory is written atomically).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import store
from .parallel.launch import RunError

USAGE_ERRORS = (ValueError, store.CheckpointError, FileNotFoundError, RunError)


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; we print one line
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="tiny", help="tiny | cpu | gpu (default: tiny)")
    p.add_argument(
        "--data",
        default=None,
        help="local .txt/.jsonl file or Hub dataset name (default: the world corpus)",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    """Options every training command shares (each overrides the preset)."""
    p.add_argument("--steps", type=int, help="optimizer steps (overrides the preset)")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--seed", type=int, help="training seed")
    p.add_argument("--max-time", type=float, dest="max_time_s", help="stop after this many seconds")


def _train_overrides(p: argparse.ArgumentParser) -> None:
    _run_options(p)
    p.add_argument("--micro-batch", type=int, help="sequences per process per micro-step")
    p.add_argument("--grad-accum", type=int, help="micro-steps per optimizer step")
    p.add_argument(
        "--warmup-steps",
        type=int,
        help="linear warmup steps (default: the preset's share of --steps)",
    )
    p.add_argument("--ckpt-interval", type=int, help="steps between resumable checkpoints")
    p.add_argument(
        "--bf16", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast"
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start from scratch even if run-dir has a checkpoint",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="python -m training", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=OneLineParser)

    p = sub.add_parser("corpus", help="show the world corpus (stats, samples) or write it as JSONL")
    _common(p)
    p.add_argument("--out", help="write the pre-training records to this .jsonl file")
    p.add_argument("--samples", type=int, default=3)

    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer and save it")
    _common(p)
    p.add_argument("--out", required=True, help="output directory")

    p = sub.add_parser(
        "pretrain", help="run the pre-training loop (also under torchrun / accelerate launch)"
    )
    _common(p)
    p.add_argument(
        "--run-dir",
        required=True,
        help="directory for data, metrics.jsonl and resumable checkpoints",
    )
    _train_overrides(p)

    p = sub.add_parser(
        "build-base", help="pre-train, evaluate and store the base model (resumable)"
    )
    _common(p)
    p.add_argument(
        "--out",
        help="checkpoint directory (default: checkpoints/base for --preset cpu, "
        "runs/base-<preset>/checkpoint otherwise)",
    )
    p.add_argument("--run-dir", help="working directory (default: runs/base-<preset>)")
    _train_overrides(p)

    p = sub.add_parser(
        "sft", help="LoRA supervised fine-tuning (TRL SFTTrainer + PEFT) of a base model"
    )
    p.add_argument(
        "--preset",
        default="tiny",
        help="tiny | cpu | gpu: SFT settings and the world (default: tiny)",
    )
    p.add_argument(
        "--base",
        default=None,
        help="base checkpoint: 'base' (default: the resolved project base), "
        "a directory, or a Hub model id",
    )
    p.add_argument(
        "--data",
        default=None,
        help="SFT records (.jsonl: messages, ShareGPT conversations or "
        "prompt/completion); default: conversations about the world's SFT people",
    )
    p.add_argument(
        "--out", required=True, help="output directory for the adapter (or merged model)"
    )
    p.add_argument(
        "--merge", action="store_true", help="save the merged full model instead of the adapter"
    )
    _run_options(p)
    p.add_argument("--batch-size", type=int, help="conversations per step")
    p.add_argument("--lora-r", type=int, help="LoRA rank")

    p = sub.add_parser(
        "build-sft",
        help="fine-tune, evaluate and store the SFT adapter and its ablations (resumable)",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu | gpu (default: cpu)")
    p.add_argument(
        "--out",
        help="checkpoint directory (default: checkpoints/sft for cpu, runs/sft-<preset>/checkpoint otherwise)",
    )
    p.add_argument("--run-dir", help="working directory (default: runs/sft-<preset>)")
    p.add_argument("--steps", type=int, help="SFT steps of every run (default: the preset's)")
    p.add_argument(
        "--bases-dir",
        default="runs",
        help="where the non-bundled bases are built and found "
        "(<dir>/base-<preset>/checkpoint; default: runs)",
    )

    p = sub.add_parser(
        "sweep",
        help="the scaling sweep: IsoFLOP grid of runs, long-tail losses, fitted laws (resumable)",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu | gpu (default: cpu)")
    p.add_argument(
        "--out",
        help="results directory (default: checkpoints/sweep for cpu, runs/sweep-<preset>/checkpoint otherwise)",
    )
    p.add_argument("--sweep-dir", help="working directory (default: runs/sweep-<preset>)")

    p = sub.add_parser(
        "parallel",
        help="real distributed runs (DDP, tensor parallel, FSDP2, pipeline) and one "
        "layer's measured activations, stored for the Parallelism Visualizer",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu (default: cpu)")
    p.add_argument(
        "--out",
        help="results directory (default: checkpoints/parallel for cpu, runs/parallel-<preset> otherwise)",
    )

    p = sub.add_parser(
        "stability",
        help="the stability lab: small pre-training runs with warmup/clipping/lr/init/"
        "precision toggles, per-step loss, grad norm, update size, zero/inf/NaN gradients",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu (default: cpu)")
    p.add_argument(
        "--out",
        help="results directory (default: checkpoints/stability for cpu, runs/stability-<preset> otherwise)",
    )

    p = sub.add_parser(
        "inference",
        help="the inference lab: KV cache, int8 quantization, pruning and distillation "
        "measured on the project's models",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu (default: cpu)")
    p.add_argument(
        "--out",
        help="results directory (default: checkpoints/inference for cpu, runs/inference-<preset> otherwise)",
    )

    p = sub.add_parser(
        "architectures",
        help="LSTM vs Mamba vs transformer, parameter-matched: language modelling, "
        "MQAR recall, selective copying, throughput, inference cache, gradient flow, the SSM "
        "recurrence three ways (resumable)",
    )
    p.add_argument("--preset", default="cpu", help="tiny | cpu | gpu (default: cpu)")
    p.add_argument(
        "--out",
        help="results directory (default: checkpoints/architectures for cpu, "
        "<work dir>/results otherwise)",
    )
    p.add_argument(
        "--work-dir",
        help="working directory, one cached file per section (default: runs/architectures-<preset>)",
    )

    p = sub.add_parser(
        "spaces",
        help="build a self-contained Hugging Face Space repo per app (or the suite), "
        "or publish it to the Hub",
    )
    p.add_argument("action", choices=["build", "publish"])
    p.add_argument("app", help="an app folder name in spaces/, 'suite', or 'all'")
    p.add_argument(
        "--out", help="build: the directory to write (one sub-directory per app with 'all')"
    )
    p.add_argument(
        "--owner", help="publish: the Hub user or organisation that owns the Space repos"
    )
    p.add_argument("--private", action="store_true", help="publish: create the repos private")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="publish: print the operations and sizes, upload nothing",
    )

    p = sub.add_parser(
        "checkpoints", help="publish a bundled checkpoint directory as a Hub model repo and pin it"
    )
    p.add_argument("action", choices=["publish"])
    p.add_argument("name", help="a bundled checkpoint name (base, sft, sweep, ...)")
    p.add_argument(
        "--owner", required=True, help="the Hub user or organisation that owns the model repo"
    )
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument(
        "--dry-run", action="store_true", help="print the operations and sizes, upload nothing"
    )

    p = sub.add_parser("eval", help="verify a checkpoint and print its metrics")
    p.add_argument(
        "--checkpoint", default=None, help="path (default: the resolved base checkpoint)"
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except USAGE_ERRORS as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _preset(args):
    from .presets import get_preset

    overrides = {
        k: getattr(args, k)
        for k in (
            "steps",
            "micro_batch",
            "grad_accum",
            "lr",
            "warmup_steps",
            "seed",
            "max_time_s",
            "ckpt_interval",
            "bf16",
        )
        if getattr(args, k, None) is not None
    }
    try:
        return get_preset(args.preset, **overrides)
    except ValueError as e:
        raise _option_error(e, overrides) from None


def _option_error(e: ValueError, overrides: dict) -> ValueError:
    """Name the command-line option ("--lr=5: ..."), not the dataclass field ("lr=5: ...")."""
    msg = str(e)
    field = msg.split("=", 1)[0] if "=" in msg.split(":", 1)[0] else None
    if field in overrides:
        msg = f"--{field.replace('_', '-')}{msg[len(field) :]}"
    elif msg.startswith("unknown preset"):
        msg = f"--preset: {msg}"
    return ValueError(msg)


def _check_data(args) -> None:
    """A --data that looks like a local file must exist; anything else is a Hub dataset name."""
    if not args.data:
        return
    looks_local = args.data.endswith((".txt", ".jsonl", ".json")) or args.data.startswith(
        (".", "/", "~")
    )
    if looks_local and not Path(args.data).expanduser().exists():
        raise FileNotFoundError(
            f"--data {args.data}: no such file (give a .txt/.jsonl path or a Hub dataset name like user/name)"
        )


def cmd_corpus(args) -> int:
    preset = _preset(args)
    from .data.world import World

    world = World(preset.world)
    print(json.dumps(world.stats(), indent=2))
    records = world.pretrain_texts()
    for r in records[: args.samples]:
        print("-", r["text"])
    if args.out:
        out = store.write_text_atomic(
            Path(args.out), "".join(json.dumps(r) + "\n" for r in records)
        )
        print(f"wrote {len(records)} records to {out}")
    return 0


def cmd_tokenizer(args) -> int:
    preset = _preset(args)
    _check_data(args)
    from .data.blocks import corpus_texts
    from .tokenizer import train_tokenizer

    texts, _, _ = corpus_texts(preset, args.data)
    tok = train_tokenizer(texts, preset.model.vocab_size, preset.model.n_ctx)
    store.write_atomic(
        Path(args.out),
        lambda tmp: (tok.save_pretrained(tmp), {"kind": "tokenizer", "preset": preset.name})[1],
    )
    print(f"tokenizer with {len(tok)} tokens saved to {args.out}")
    return 0


def cmd_pretrain(args) -> int:
    preset = _preset(args)  # validate before the heavy imports: bad input fails fast
    _check_data(args)
    from .base import train_base

    t = train_base(
        preset, Path(args.run_dir), args.data, resume=not args.no_resume, progress=not args.quiet
    )
    if t.state.is_main_process:
        print(json.dumps({k: v for k, v in t.summary.items() if k != "model"}))
    return 0


def cmd_build_base(args) -> int:
    run_dir = Path(args.run_dir or f"runs/base-{args.preset}")
    out = Path(
        args.out or (store.BUNDLED_DIR / "base" if args.preset == "cpu" else run_dir / "checkpoint")
    )
    preset = _preset(args)  # bad input fails before anything (even the lock file) is written
    _check_data(args)
    from .base import build_base

    b = build_base(
        preset, run_dir, out, args.data, resume=not args.no_resume, progress=not args.quiet
    )
    if b.checkpoint is not None:
        print(
            json.dumps(
                {
                    "checkpoint": str(b.checkpoint),
                    **{k: v for k, v in b.metrics.items() if not isinstance(v, dict)},
                }
            )
        )
    elif not b.done and int(os.environ.get("RANK", "0")) == 0:
        print(
            f"stopped at step {b.step} of {b.steps} (time limit); run the same command again to continue"
        )
    return 0


def cmd_sft(args) -> int:
    from .sft.train import sft_settings

    overrides = {
        k: getattr(args, k)
        for k in ("steps", "batch_size", "lr", "lora_r", "seed", "max_time_s")
        if getattr(args, k, None) is not None
    }
    try:
        settings = sft_settings(args.preset, **overrides)
    except ValueError as e:
        raise _option_error(e, overrides) from None
    if args.data and not Path(args.data).is_file():
        raise FileNotFoundError(f"--data {args.data}: no such file (give a .jsonl of SFT records)")
    from .data.world import World
    from .presets import get_preset
    from .sft import data as sft_data
    from .sft.train import load_base, save_adapter, train_sft

    world = World(get_preset(args.preset).world)
    base = load_base(args.base)
    turns = sft_data.max_turns_for(int(base.model.config.max_position_embeddings))
    records = (
        sft_data.load_sft_records(args.data)
        if args.data
        else sft_data.conversations(world, "sft", max_turns=turns)
    )
    res = train_sft(
        base,
        records,
        settings,
        eval_records=sft_data.conversations(world, "heldout", max_turns=turns),
        on_log=lambda e: print(json.dumps(e), file=sys.stderr, flush=True),
    )
    out = save_adapter(
        Path(args.out),
        res,
        base,
        merge=args.merge,
        extra={"data": args.data or "world SFT conversations"},
    )
    print(
        json.dumps(
            {
                "out": str(out),
                "steps_done": res.steps_done,
                "seconds": res.seconds,
                "final_loss": next((h["loss"] for h in reversed(res.history) if "loss" in h), None),
                "stopped_early": res.stopped_early,
            }
        )
    )
    return 0


def cmd_build_sft(args) -> int:
    from .sft.build import build_sft

    results = build_sft(args.preset, args.out, args.run_dir, args.steps, args.bases_dir)
    print(json.dumps(results["headline"], indent=1))
    return 0


def cmd_sweep(args) -> int:
    from .sweep import run_sweep

    results = run_sweep(args.preset, args.out, args.sweep_dir)
    print(json.dumps(results["headline"], indent=1))
    return 0


def cmd_parallel(args) -> int:
    from .parallel.build import build, headline

    print(json.dumps(headline(build(args.preset, args.out)), indent=1))
    return 0


def cmd_stability(args) -> int:
    from .stability import build, headline

    print(json.dumps(headline(build(args.preset, args.out)), indent=1))
    return 0


def cmd_inference(args) -> int:
    from .inference import build, headline

    print(json.dumps(headline(build(args.preset, args.out)), indent=1))
    return 0


def cmd_architectures(args) -> int:
    from .architectures import build, headline

    print(json.dumps(headline(build(args.preset, args.out, work_dir=args.work_dir)), indent=1))
    return 0


def cmd_eval(args) -> int:
    path = store.resolve("base", args.checkpoint)
    manifest = store.verify(path)
    print(
        json.dumps(
            {
                "checkpoint": str(path),
                "preset": manifest.get("preset"),
                **manifest.get("metrics", {}),
            },
            indent=2,
        )
    )
    return 0


def cmd_spaces(args) -> int:
    if args.action == "publish":
        from . import hub

        return hub.publish_spaces(args)
    from . import deploy

    return deploy.cli(args)


def cmd_checkpoints(args) -> int:
    from . import hub

    return hub.cli(args)


COMMANDS = {
    "corpus": cmd_corpus,
    "tokenizer": cmd_tokenizer,
    "pretrain": cmd_pretrain,
    "build-base": cmd_build_base,
    "sft": cmd_sft,
    "build-sft": cmd_build_sft,
    "sweep": cmd_sweep,
    "parallel": cmd_parallel,
    "stability": cmd_stability,
    "inference": cmd_inference,
    "architectures": cmd_architectures,
    "eval": cmd_eval,
    "spaces": cmd_spaces,
    "checkpoints": cmd_checkpoints,
}
