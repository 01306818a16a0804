"""The model card (README.md) generated for each published checkpoint."""

from __future__ import annotations

import json
from typing import Any

from .. import store

LICENSE = "apache-2.0"

# What each checkpoint is, for its model card: (title, one paragraph, library_name or None, extra tags).
ABOUT: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "base": (
        "World base model (cpu preset)",
        "A small Llama-style decoder pre-trained from scratch on the project's synthetic world corpus "
        "(biographies of fictional people, mentions drawn from a Zipf law). It completes text; it "
        "does not follow instructions. It is the base model of the lab's apps and of its SFT adapter.",
        "transformers",
        ("llama", "text-generation", "pretraining"),
    ),
    "sft": (
        "World SFT LoRA adapter (cpu preset)",
        "A LoRA adapter (PEFT) that turns the world base model into an assistant answering questions "
        "about people it learned in pre-training: the same next-token objective on conversations. Load "
        "it on top of the base checkpoint.",
        "peft",
        ("lora", "sft", "text-generation"),
    ),
    "sweep": (
        "Measured scaling sweep (cpu preset)",
        "Results, not a model: 24 training runs (6 sizes x 4 IsoFLOP compute budgets) with their loss "
        "curves and long-tail losses, the Chinchilla Approach 2 and 3 fits, and the sweep's tokenizer.",
        None,
        ("scaling-laws",),
    ),
    "parallel": (
        "Real multi-process parallel runs (cpu preset)",
        "Results, not a model: DDP, tensor-parallel, FSDP2 and pipeline runs on 2 and 4 ranks "
        "(gloo) and one GPT-2 layer's measured activations.",
        None,
        ("distributed-training",),
    ),
    "stability": (
        "Training-stability runs (cpu preset)",
        "Results, not a model: the stability lab's pre-training runs (learning rate, warmup, "
        "clipping, initialisation, fp16/bf16 and loss scaling) and four learning-rate schedules.",
        None,
        ("training-stability",),
    ),
    "inference": (
        "Inference measurements (cpu preset)",
        "Results, not a model: KV cache, int8 and int4 quantization, pruning and distillation measured "
        "on the world base model.",
        None,
        ("inference",),
    ),
    "architectures": (
        "LSTM vs Mamba vs transformer (cpu preset)",
        "Results and three small MQAR models (plain safetensors state dicts): parameter-matched "
        "LSTM, Mamba and transformer compared on language modelling, associative recall, "
        "selective copying, decode cost and gradient flow.",
        None,
        ("mamba", "lstm", "state-space-models"),
    ),
    "mixture": (
        "Data-mixture runs (cpu preset)",
        "Results, not a model: one small model trained on mixtures of three synthetic domains "
        "(biographies, programs with their outputs, forum threads about the same people) at equal "
        "tokens, with every run's held-out loss per domain.",
        None,
        ("data-mixture",),
    ),
    "dpo": (
        "World DPO LoRA adapter (cpu preset)",
        "A LoRA adapter (PEFT) trained with TRL's DPOTrainer on preference pairs from the world "
        "corpus (chosen: the correct one-sentence answer; rejected: a wrong fact or a rambling "
        "answer), on top of the world base model with the SFT adapter merged; results compare it "
        "with SFT alone and with SFT trained longer on the chosen answers.",
        "peft",
        ("lora", "dpo", "preference-tuning"),
    ),
}


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """{"a": {"b": 1}} -> [("a.b", 1)]: every measured figure as one table row."""
    if isinstance(d, dict) and d:
        return [
            kv for k, v in d.items() for kv in _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        ]
    return [(prefix, d)]


# What a manifest says about how a checkpoint was built, shown as JSON on its card (when present).
HOW_KEYS = (
    "preset",
    "config",
    "settings",
    "data",
    "n_records",
    "n_trainable",
    "steps_done",
    "seconds",
    "machine",
    "base",
)


def model_card(
    name: str,
    manifest: dict[str, Any],
    repo_id: str,
    files: dict[str, int],
    base_repo: str | None = None,
) -> str:
    """The README.md of a published checkpoint: front matter, what it is, how it was built (the
    manifest's preset and config, the rebuild command), its measured figures, files and license."""
    lines = [
        *_front_matter(name, base_repo),
        *_about(name),
        *_how_built(name, manifest),
        *_measured(manifest),
        *_files_and_use(name, repo_id, files),
        *_license(),
    ]
    return "\n".join(lines)


def _front_matter(name: str, base_repo: str | None) -> list[str]:
    """The YAML between the '---' lines: license, library, pipeline, base model, tags."""
    _, _, library, tags = ABOUT[name]
    front = [f"license: {LICENSE}"]
    if library:
        front.append(f"library_name: {library}")
    if name == "base":
        front.append("pipeline_tag: text-generation")
    if name == "sft" and base_repo:
        front.append(f"base_model: {base_repo}")
    front += [
        "tags:",
        *(f"- {t}" for t in ("llm-training-lab", "education", "synthetic-data", *tags)),
    ]
    return ["---", *front, "---"]


def _about(name: str) -> list[str]:
    """The title and what the checkpoint is."""
    title, about, _, _ = ABOUT[name]
    return [
        "",
        f"# {title}",
        "",
        about,
        "",
        "Trained on generated data only (the project's synthetic world corpus): no Hub dataset was "
        "used, so the card lists none.",
    ]


def _how_built(name: str, manifest: dict[str, Any]) -> list[str]:
    """The rebuild command and code version, then the manifest's settings as JSON."""
    lines = [
        "",
        "## How it was built",
        "",
        f"Rebuild it with `{manifest.get('rebuild') or store.BUILD_COMMANDS[name]}` "
        f"(preset `{manifest.get('preset', 'cpu')}`), from the LLM Training & Scaling Lab at code version "
        f"`{manifest.get('code_version', 'unknown')}`, created {manifest.get('created', '?')}.",
    ]
    how = {k: manifest[k] for k in HOW_KEYS if k in manifest}
    if how:
        lines += ["", "```json", json.dumps(how, indent=1, sort_keys=True), "```"]
    return lines


def _measured(manifest: dict[str, Any]) -> list[str]:
    """The manifest's figures as a table, or where the measurements are."""
    figures = manifest.get("metrics") or manifest.get("headline")
    lines = ["", "## Measured", ""]
    if figures:
        lines += [
            "| figure | value |",
            "|---|---|",
            *(f"| {k} | {json.dumps(v)} |" for k, v in _flatten(figures)),
        ]
        lines += ["", "Every figure is from the manifest written by the build (`manifest.json`)."]
    else:
        lines.append(
            "The measurements are in `results.json` (every run, its settings and its curves); the lab's "
            "apps draw them."
        )
    return lines


def _files_and_use(name: str, repo_id: str, files: dict[str, int]) -> list[str]:
    """Every file with its size, how the lab fetches the repo, and how to load it."""
    return [
        "",
        "## Files and use",
        "",
        "`manifest.json` holds the sha256 of every file; the lab verifies each one before reading any "
        "weight (`python -m training eval --checkpoint DIR`). Weights are safetensors only.",
        "",
        "| file | bytes |",
        "|---|---|",
        *(f"| {k} | {v:,} |" for k, v in sorted(files.items())),
        "",
        f"The lab fetches this repo at its pinned commit when no checkpoint is bundled "
        f"(`training.store.resolve({name!r})`, pin in `checkpoints/hub.json`).",
        "",
        *_use(name, repo_id),
    ]


def _license() -> list[str]:
    return ["## License", "", f"Apache-2.0 ({LICENSE}), like the code that built it.", ""]


def _use(name: str, repo_id: str) -> list[str]:
    if name == "base":
        return [
            "```python",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            f'model = AutoModelForCausalLM.from_pretrained("{repo_id}", use_safetensors=True)',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")',
            "```",
            "",
        ]
    if name == "sft":
        return [
            "```python",
            "from peft import PeftModel",
            f'model = PeftModel.from_pretrained(base_model, "{repo_id}")   # base_model: the world base model',
            "```",
            "",
        ]
    return []
