"""The command line's options: one function per `python -m training` command (what `main` in
training/cli.py parses; the commands themselves live there)."""

from __future__ import annotations

import argparse

DESCRIPTION = """`python -m training …` — the one command line for data, tokenizer, pre-training,
the base model, SFT, the labs' results and the Spaces. Bad input ends with one line naming the
option and exit status 2; nothing is half-written (every output is written atomically)."""


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


def _corpus(sub) -> None:
    p = sub.add_parser("corpus", help="show the world corpus (stats, samples) or write it as JSONL")
    _common(p)
    p.add_argument("--out", help="write the pre-training records to this .jsonl file")
    p.add_argument("--samples", type=int, default=3)


def _tokenizer(sub) -> None:
    p = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer and save it")
    _common(p)
    p.add_argument("--out", required=True, help="output directory")


def _pretrain(sub) -> None:
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


def _build_base(sub) -> None:
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


def _sft(sub) -> None:
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


def _build_sft(sub) -> None:
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


# The labs' results commands: name -> (help, presets, default --out otherwise, extra option).
# Each writes checkpoints/<name> for the cpu preset.
LABS = {
    "sweep": (
        "the scaling sweep: IsoFLOP grid of runs, long-tail losses, fitted laws (resumable)",
        "tiny | cpu | gpu",
        "runs/sweep-<preset>/checkpoint",
        ("--sweep-dir", "working directory (default: runs/sweep-<preset>)"),
    ),
    "parallel": (
        "real distributed runs (DDP, tensor parallel, FSDP2, pipeline) and one layer's measured "
        "activations, stored for the Parallelism Visualizer",
        "tiny | cpu",
        "runs/parallel-<preset>",
        None,
    ),
    "stability": (
        "the stability lab: small pre-training runs with warmup/clipping/lr/init/precision/schedule "
        "toggles, per-step loss, grad norm, update size, zero/inf/NaN gradients",
        "tiny | cpu | gpu (the LR-decay runs only, on CUDA)",
        "runs/stability-<preset>",
        None,
    ),
    "inference": (
        "the inference lab: KV cache, int8 and int4 quantization, pruning and distillation measured on "
        "the project's models",
        "tiny | cpu",
        "runs/inference-<preset>",
        None,
    ),
    "architectures": (
        "LSTM vs Mamba vs transformer, parameter-matched: language modelling, MQAR recall, "
        "selective copying, throughput, inference cache, gradient flow, the SSM recurrence three "
        "ways (resumable)",
        "tiny | cpu | gpu",
        "<work dir>/results",
        (
            "--work-dir",
            "working directory, one cached file per section (default: runs/architectures-<preset>)",
        ),
    ),
    "mixture": (
        "the data-mixture lab: one model size trained on a grid of mixtures of three synthetic "
        "domains (biographies, programs, forum Q&A) at equal tokens, held-out loss per domain "
        "(resumable)",
        "tiny | cpu | gpu",
        "runs/mixture-<preset>/results",
        (
            "--work-dir",
            "working directory, one kept record per run (default: runs/mixture-<preset>)",
        ),
    ),
    "dpo": (
        "preference tuning after SFT: TRL DPOTrainer + PEFT LoRA on the bundled SFT model, against "
        "SFT alone and SFT trained longer on the chosen answers (resumable)",
        "tiny | cpu | gpu",
        "runs/dpo-<preset>/checkpoint",
        ("--work-dir", "working directory, one kept stage per run (default: runs/dpo-<preset>)"),
    ),
}


def _labs(sub) -> None:
    for name, (text, presets, elsewhere, extra) in LABS.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("--preset", default="cpu", help=f"{presets} (default: cpu)")
        p.add_argument(
            "--out",
            help=f"results directory (default: checkpoints/{name} for cpu, {elsewhere} otherwise)",
        )
        if extra:
            p.add_argument(extra[0], help=extra[1])


def _spaces(sub) -> None:
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


def _checkpoints(sub) -> None:
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


def _eval(sub) -> None:
    p = sub.add_parser("eval", help="verify a checkpoint and print its metrics")
    p.add_argument(
        "--checkpoint", default=None, help="path (default: the resolved base checkpoint)"
    )


def parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="python -m training", description=DESCRIPTION)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=OneLineParser)
    for add in (
        _corpus,
        _tokenizer,
        _pretrain,
        _build_base,
        _sft,
        _build_sft,
        _labs,
        _spaces,
        _checkpoints,
        _eval,
    ):
        add(sub)
    return ap
