"""`python -m training …` — the one command line for data, tokenizer, pre-training, the base model and SFT.

Bad input ends with one line naming the option and exit status 2; nothing is half-written
(every output directory is written atomically).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from . import store
from .cli_args import parser
from .parallel.launch import RunError

USAGE_ERRORS = (ValueError, store.CheckpointError, FileNotFoundError, RunError)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except USAGE_ERRORS as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2


def _preset(args):
    # each command imports what it runs (presets pull in the world corpus and the models)
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
    print(json.dumps(dataclasses.asdict(results.headline), indent=1))
    return 0


def cmd_sweep(args) -> int:
    from .sweep import run_sweep

    results = run_sweep(args.preset, args.out, args.sweep_dir)
    print(json.dumps(dataclasses.asdict(results.headline), indent=1))
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


def cmd_mixture(args) -> int:
    from .mixture import build, headline

    print(json.dumps(headline(build(args.preset, args.out, work_dir=args.work_dir)), indent=1))
    return 0


def cmd_dpo(args) -> int:
    from .dpo import build, headline

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
    "mixture": cmd_mixture,
    "dpo": cmd_dpo,
    "eval": cmd_eval,
    "spaces": cmd_spaces,
    "checkpoints": cmd_checkpoints,
}
