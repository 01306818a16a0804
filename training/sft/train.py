"""Supervised fine-tuning: TRL `SFTTrainer` + PEFT LoRA on a base checkpoint.

The objective is the pre-training one (next-token cross-entropy); only the data differs:
conversations rendered by the chat template, with loss on the assistant tokens only
(``assistant_only_loss=True`` reads the template's ``{% generation %}`` block, which holds each
answer and its ``<|end|>``, so the model learns to answer *and to stop*).

What is trained: LoRA adapters on every linear layer of the attention and MLP blocks; everything
else stays frozen, including the embeddings of the chat's special tokens (``<|user|>``,
``<|end|>``, ...), which pre-training never saw. (PEFT's ``trainable_token_indices`` would train
those rows, but TRL's fused LM head reads ``lm_head.weight`` directly and fails on the wrapped,
tied head; the adapters learn to use the random rows instead.) An adapter is saved with its tokenizer and a
manifest (sha256 of every file, the base it belongs to); :func:`load_sft` can merge it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from training import store

from .base_model import Base, base_record, load_base

LORA_TARGETS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "c_attn",
    "c_proj",
    "c_fc",
)  # Llama names, then GPT-2 names: whichever exist


@dataclass(frozen=True)
class SFTSettings:
    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 15
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    eval_interval: int = 50  # steps between held-out SFT-loss evaluations (0: never)
    eval_records: int = 128  # held-out conversations in that evaluation
    max_time_s: float = 0.0  # 0: no wall-clock bound
    seed: int = 0
    bf16: bool | None = None  # None: bf16 on a GPU that supports it, fp32 otherwise

    def validate(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise ValueError(f"steps={self.steps}: choose between 1 and 100000")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"batch_size={self.batch_size}: choose between 1 and 1024")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr}: choose a learning rate between 0 and 1")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps}: must be between 0 and steps={self.steps}"
            )
        if not 1 <= self.lora_r <= 512:
            raise ValueError(f"lora_r={self.lora_r}: choose a rank between 1 and 512")
        if self.max_time_s < 0:
            raise ValueError(
                f"max_time_s={self.max_time_s}: use 0 (no limit) or a positive number of seconds"
            )


# Per preset: the settings of the bundled run (cpu), a seconds-long one (tiny), a bigger one (gpu).
SFT_PRESETS: dict[str, SFTSettings] = {
    "tiny": SFTSettings(
        steps=40,
        batch_size=8,
        lr=3e-3,
        warmup_steps=4,
        lora_r=8,
        lora_alpha=16,
        eval_interval=10,
        eval_records=32,
    ),
    "cpu": SFTSettings(),
    "gpu": SFTSettings(
        steps=1500,
        batch_size=64,
        lr=1e-3,
        warmup_steps=75,
        lora_r=32,
        lora_alpha=64,
        eval_interval=250,
        eval_records=512,
    ),
}


def sft_settings(preset: str, **overrides) -> SFTSettings:
    base = preset.removesuffix("-1bio")
    if base not in SFT_PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose {', '.join(SFT_PRESETS)})")
    s = SFT_PRESETS[base]
    if "steps" in overrides and "warmup_steps" not in overrides:
        overrides["warmup_steps"] = round(s.warmup_steps * overrides["steps"] / s.steps)
    s = replace(s, **overrides)
    s.validate()
    return s


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@dataclass
class SFTResult:
    model: Any  # the PeftModel (base weights frozen, adapters trained)
    tokenizer: Any
    settings: SFTSettings
    history: list[dict] = field(default_factory=list)  # {"step", "loss"} and {"step", "eval_loss"}
    steps_done: int = 0
    seconds: float = 0.0
    stopped_early: str = ""  # "", "time limit" or "stopped"
    n_records: int = 0
    n_trainable: int = 0


def lora_config(model, s: SFTSettings):
    # PEFT and TRL (several seconds) only when a fine-tune starts
    from peft import LoraConfig

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names]
    if not targets:
        raise ValueError(
            f"the base model has none of the linear layers LoRA targets ({', '.join(LORA_TARGETS)})"
        )
    return LoraConfig(
        r=s.lora_r,
        lora_alpha=s.lora_alpha,
        lora_dropout=s.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def train_sft(
    base: Base,
    train_records,
    s: SFTSettings,
    *,
    eval_records=None,
    on_log: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    work_dir: str | Path | None = None,
) -> SFTResult:
    """LoRA-fine-tune ``base`` on ``train_records`` (a ``datasets.Dataset`` with a ``messages``
    column). ``on_log`` is called with every logged entry ({"step", "loss"} / {"step",
    "eval_loss"}, plus "max_steps" and "elapsed"); ``stop`` (or ``s.max_time_s``) ends training
    after the current step. The base model object is wrapped in place: pass a fresh one."""
    import tempfile

    s.validate()
    if len(train_records) == 0:
        raise ValueError("no SFT records to train on")
    n_eval = (
        min(s.eval_records, len(eval_records))
        if eval_records is not None and s.eval_interval
        else 0
    )
    result = SFTResult(
        model=None, tokenizer=base.tokenizer, settings=s, n_records=len(train_records)
    )
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sft-", dir=work_dir) as out:
        trainer = _trainer(
            base,
            train_records,
            eval_records.select(range(n_eval)) if n_eval else None,
            _sft_config(s, out, int(base.model.config.max_position_embeddings), n_eval),
            watch(result, t0, on_log, stop),
            s,
        )
        if n_eval:  # the curve starts at the base model's own SFT loss (step 0)
            trainer.evaluate()
        trainer.train()
        if n_eval and not any(
            h["step"] == result.steps_done and "eval_loss" in h for h in result.history
        ):
            trainer.evaluate()  # the curve ends at the last step, wherever training stopped
        result.model = trainer.model.eval()
    result.seconds = round(time.monotonic() - t0, 2)
    result.n_trainable = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
    return result


# what SFT's trainer logs -> the name a history entry keeps it under (one of them per log)
SFT_LOGGED = {"loss": "loss", "eval_loss": "eval_loss"}


def watch(
    result,
    t0: float,
    on_log: Callable[[dict], None] | None,
    stop: threading.Event | None,
    logged: dict[str, str] = SFT_LOGGED,
):
    """A trainer callback (SFT's and DPO's): counts steps into ``result``, ends training on
    ``stop`` or the time limit (``result.settings.max_time_s``), and records in
    ``result.history`` (and passes to ``on_log``, with ``max_steps``) the ``logged`` numbers of
    every log that has any of them."""
    from transformers import TrainerCallback

    s = result.settings

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            result.steps_done = state.global_step
            if stop is not None and stop.is_set():
                result.stopped_early = "stopped"
                control.should_training_stop = True
            elif s.max_time_s and time.monotonic() - t0 >= s.max_time_s:
                result.stopped_early = "time limit"
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            kept = {k: round(float(logs[src]), 5) for src, k in logged.items() if src in logs}
            if not kept:
                return
            entry = {"step": state.global_step, "elapsed": round(time.monotonic() - t0, 2), **kept}
            result.history.append(entry)
            if on_log is not None:
                on_log({**entry, "max_steps": s.steps})

    return Watch()


def trainer_args(s, bf16: bool | None = None) -> dict:
    """What every TRL trainer of the lab (SFT, DPO) is given from its settings ``s`` (steps,
    batch_size, lr, warmup_steps, seed): a cosine schedule after warmup, clipping at 1.0, a log
    line every step, seeded data order, nothing saved or reported; the CPU unless there is a GPU,
    bf16 on a GPU that has it (unless ``bf16`` says otherwise)."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported()) if bf16 is None else bool(bf16)
    if bf16 and not cuda:
        raise ValueError("bf16=True needs a GPU; leave it unset on CPU")
    return dict(
        max_steps=s.steps,
        per_device_train_batch_size=s.batch_size,
        learning_rate=s.lr,
        lr_scheduler_type="cosine",
        warmup_steps=s.warmup_steps,
        weight_decay=0.0,
        max_grad_norm=1.0,
        logging_steps=1,
        seed=s.seed,
        data_seed=s.seed,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=bf16,
        fp16=False,
        activation_checkpointing=False,
        dataloader_num_workers=0,
    )


def _sft_config(s: SFTSettings, out: str, ctx: int, n_eval: int):
    """TRL's settings: `trainer_args`, assistant-only loss, evaluation every eval_interval."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=out,
        assistant_only_loss=True,
        max_length=ctx,
        packing=False,
        per_device_eval_batch_size=max(s.batch_size, 16),
        eval_strategy="steps" if n_eval else "no",
        eval_steps=s.eval_interval or None,
        remove_unused_columns=True,
        **trainer_args(s, s.bf16),
    )


def _trainer(base: Base, train_records, eval_records, args, callback, s: SFTSettings):
    """TRL's SFTTrainer with LoRA adapters on ``base.model``, reporting through ``callback``."""
    from transformers import PrinterCallback
    from trl import SFTTrainer

    trainer = SFTTrainer(
        model=base.model,
        args=args,
        train_dataset=train_records,
        eval_dataset=eval_records,
        processing_class=base.tokenizer,
        peft_config=lora_config(base.model, s),
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)  # our callback reports; no raw dicts on stdout
    return trainer


# ---------------------------------------------------------------------------------------------
# Saving and loading adapters
# ---------------------------------------------------------------------------------------------


def save_adapter(
    out_dir: str | Path,
    result: SFTResult,
    base: Base,
    *,
    extra: dict | None = None,
    extra_files: dict[str, str] | None = None,
    merge: bool = False,
) -> Path:
    """Write the adapter (safetensors) + tokenizer + loss curve + manifest atomically.
    ``merge=True`` writes the merged full model instead (a plain checkpoint, no PEFT needed)."""
    base_rec = base_record(base)
    manifest = {
        "kind": "sft-merged" if merge else "sft-adapter",
        "base": base_rec,
        "settings": asdict(result.settings),
        "steps_done": result.steps_done,
        "seconds": result.seconds,
        "stopped_early": result.stopped_early,
        "n_records": result.n_records,
        "n_trainable": result.n_trainable,
        **(extra or {}),
    }
    curve = "".join(json.dumps(h) + "\n" for h in result.history)

    def fill(tmp: Path) -> dict:
        if merge:
            merged = _merged_copy(result.model)
            merged.save_pretrained(tmp, safe_serialization=True, max_shard_size="7MB")
        else:
            for cfg in result.model.peft_config.values():  # no machine-specific path in the adapter
                cfg.base_model_name_or_path = (
                    base_rec["name"] if base_rec["name"] == "base" else base_rec["path"]
                )
            result.model.save_pretrained(tmp, safe_serialization=True)
            (tmp / "README.md").unlink(
                missing_ok=True
            )  # PEFT's generic card; the manifest says it all
        result.tokenizer.save_pretrained(tmp)
        (tmp / store.METRICS).write_text(curve)
        for rel, text in (extra_files or {}).items():
            (tmp / rel).write_text(text)
        return manifest

    return store.write_atomic(Path(out_dir), fill)


def _merged_copy(peft_model):
    """A merged plain model, leaving ``peft_model`` itself unmerged."""
    import copy

    return copy.deepcopy(peft_model).merge_and_unload()


def load_sft(
    path: str | Path, base: Base | None = None, *, merge: bool = True, device: str = "cpu"
):
    """An SFT checkpoint (adapter or merged) -> (model, tokenizer, manifest). Hashes are verified
    first; an adapter is applied to ``base`` (default: the base its manifest names, else the
    project base) and merged unless ``merge=False``."""
    path = Path(path)
    manifest = store.verify(path)
    kind = manifest.get("kind")
    if kind == "sft-merged":
        ck = store.load(path, "base", device=device)
        return ck.model, ck.tokenizer, manifest
    if kind != "sft-adapter":
        raise store.CheckpointError(f"{path}: not an SFT adapter (manifest kind {kind!r})")
    if base is None:
        rec = manifest.get("base", {})
        base = load_base(_base_location(rec), device=device)
    want = manifest.get("base", {}).get("files_sha256")
    if want and base.manifest and store.manifest_digest(base.manifest) != want:
        raise store.CheckpointError(
            f"{path}: this adapter was trained on a different base "
            f"({manifest['base'].get('name')}); load it with that base"
        )
    from peft import PeftModel
    from transformers import PreTrainedTokenizerFast

    model = PeftModel.from_pretrained(base.model, str(path), is_trainable=False).to(device).eval()
    if merge:
        model = model.merge_and_unload()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    return model, tokenizer, manifest


def _base_location(rec: dict) -> str | None:
    """The bundled base by name; otherwise the recorded path (if it still exists)."""
    if rec.get("name") in (None, "base"):
        return None
    p = rec.get("path")
    if p and not Path(p).is_absolute():
        p = str(store.REPO_ROOT / p)
    return p if p and Path(p).exists() else rec.get("name")
