"""Preference tuning: TRL `DPOTrainer` + a new PEFT LoRA on the merged SFT model, and the two
measurements DPO is about — how much more the policy prefers the chosen reply to the rejected one,
and how far it moved from the model it started from.

The reference model: with a ``peft_config`` TRL wraps the (merged SFT) model in a fresh LoRA and
computes the reference log-probs with the adapter disabled (``use_adapter(model, None)`` in
``DPOTrainer._compute_loss``), so the reference *is* the SFT model, without a second copy.

Importable without torch: torch, transformers, TRL and PEFT load inside the functions.
"""

from __future__ import annotations

import copy
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from training import store
from training.sft.base_model import Base, load_base, portable_path
from training.sft.train import (
    SFTResult,
    load_sft,
    lora_config,
    save_adapter,
    trainer_args,
    watch,
)


@dataclass(frozen=True)
class DPOSettings:
    steps: int = 150
    batch_size: int = 8  # preference pairs per step
    lr: float = 5e-4
    warmup_steps: int = 8
    beta: float = 0.1  # DPO's β: how strongly the policy is held to the reference
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    max_time_s: float = 0.0  # 0: no wall-clock bound
    seed: int = 0

    def validate(self) -> None:
        if not 1 <= self.steps <= 100_000:
            raise ValueError(f"steps={self.steps}: choose between 1 and 100000")
        if not 1 <= self.batch_size <= 1024:
            raise ValueError(f"batch_size={self.batch_size}: choose between 1 and 1024")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr}: choose a learning rate between 0 and 1")
        if not 0 < self.beta <= 10:
            raise ValueError(f"beta={self.beta}: choose between 0 (exclusive) and 10")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps}: between 0 and steps={self.steps}")
        if not 1 <= self.lora_r <= 512:
            raise ValueError(f"lora_r={self.lora_r}: choose a rank between 1 and 512")
        if self.max_time_s < 0:
            raise ValueError(f"max_time_s={self.max_time_s}: use 0 (no limit) or seconds > 0")


DPO_PRESETS: dict[str, DPOSettings] = {
    "tiny": DPOSettings(steps=8, batch_size=4, lr=2e-3, warmup_steps=1, lora_r=4, lora_alpha=8),
    "cpu": DPOSettings(steps=60, warmup_steps=4),  # ~4 s a step on the shared 2 cores
    "gpu": DPOSettings(
        steps=1000, batch_size=32, lr=2e-4, warmup_steps=50, lora_r=16, lora_alpha=32
    ),
}


def dpo_settings(preset: str, **overrides) -> DPOSettings:
    if preset not in DPO_PRESETS:
        raise ValueError(f"unknown preset {preset!r} (choose {', '.join(DPO_PRESETS)})")
    s = replace(DPO_PRESETS[preset], **overrides)
    s.validate()
    return s


@dataclass
class DPOResult:
    model: Any  # the PeftModel (the SFT weights frozen inside, the new adapter trained)
    tokenizer: Any
    settings: DPOSettings
    history: list[dict] = field(default_factory=list)  # {"step", "elapsed", "loss", "margin", ...}
    steps_done: int = 0
    seconds: float = 0.0
    stopped_early: str = ""  # "", "time limit" or "stopped"
    n_pairs: int = 0
    n_trainable: int = 0


# what the trainer's log calls a step's numbers -> the name they are kept under
LOGGED = {
    "loss": "loss",
    "rewards/margins": "margin",  # β·(log-ratio chosen − log-ratio rejected), mean over the batch
    "rewards/accuracies": "reward_accuracy",  # share of pairs whose implicit reward ranks chosen first
    "logps/chosen": "logp_chosen",
    "logps/rejected": "logp_rejected",
}


def train_dpo(
    model,
    tokenizer,
    pairs,
    s: DPOSettings,
    *,
    on_log: Callable[[dict], None] | None = None,
    stop: threading.Event | None = None,
    work_dir: str | Path | None = None,
) -> DPOResult:
    """DPO on ``pairs`` (a ``datasets.Dataset`` of conversational prompt/chosen/rejected) with a
    new LoRA on ``model`` (a plain, merged model: it is wrapped in place, pass a copy). The
    reference is ``model`` itself with the adapter disabled."""
    # transformers and TRL only when training starts (the app imports this file)
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    s.validate()
    if len(pairs) == 0:
        raise ValueError("no preference pairs to train on")
    result = DPOResult(model=None, tokenizer=tokenizer, settings=s, n_pairs=len(pairs))
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dpo-", dir=work_dir) as out:
        args = DPOConfig(
            output_dir=out,
            beta=s.beta,
            max_length=int(model.config.max_position_embeddings),
            **trainer_args(s),
        )
        trainer = DPOTrainer(
            model=model,
            args=args,
            train_dataset=pairs,
            processing_class=tokenizer,
            peft_config=lora_config(model, s),
            callbacks=[watch(result, t0, on_log, stop, LOGGED)],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        result.model = trainer.model.eval()
    result.seconds = round(time.monotonic() - t0, 2)
    result.n_trainable = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
    return result


# ---------------------------------------------------------------- the two measurements
def _completion(tokenizer, prompt: list[dict], reply: list[dict]) -> tuple[list[int], list[int]]:
    """(token ids of prompt + reply, positions of the reply's tokens: its text and <|end|>)."""
    out = tokenizer.apply_chat_template(
        prompt + reply, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    return ids, [i for i, m in enumerate(mask) if m and i > 0]


def sequence_logp(model, tokenizer, prompt: list[dict], reply: list[dict]) -> float:
    """log p(reply | prompt), summed over the reply's tokens (teacher-forced): what DPO compares."""
    return _reply_logp(model, tokenizer, prompt, reply)[0]


def _reply_logp(model, tokenizer, prompt: list[dict], reply: list[dict]) -> tuple[float, int]:
    """(log p(reply | prompt) summed over the reply's tokens, how many tokens that is)."""
    import torch

    ids, pos = _completion(tokenizer, prompt, reply)
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    return float(sum(logp[i - 1, ids[i]] for i in pos)), len(pos)


def preference_margin(model, tokenizer, rows: list[dict]) -> dict:
    """Over preference pairs, overall ("all") and by rejection kind: the mean of log p(chosen) −
    log p(rejected) (nats, summed over each reply's tokens: what DPO's loss sees), the same per
    token (each reply's log-prob divided by its length: the length-normalised margin), the share
    of pairs where the chosen reply is the more likely one, and the replies' mean lengths."""
    was = model.training
    model.eval()
    by: dict[str, list[tuple[float, float, int, int]]] = {}
    for r in rows:
        lc, nc = _reply_logp(model, tokenizer, r["prompt"], r["chosen"])
        lr, nr = _reply_logp(model, tokenizer, r["prompt"], r["rejected"])
        m = (lc - lr, lc / max(nc, 1) - lr / max(nr, 1), nc, nr)
        by.setdefault("all", []).append(m)
        by.setdefault(r["kind"], []).append(m)
    model.train(was)

    def mean(v, i, nd=4):
        return round(sum(x[i] for x in v) / len(v), nd)

    return {
        k: {
            "margin": mean(v, 0),
            "prefers_chosen": round(sum(x[0] > 0 for x in v) / len(v), 4),
            "n": len(v),
            "margin_per_token": mean(v, 1),
            "tokens_chosen": mean(v, 2, 2),
            "tokens_rejected": mean(v, 3, 2),
        }
        for k, v in by.items()
    }


def token_kl(policy, reference, prompt_ids: list[int], reply_ids: list[int]) -> float:
    """Σ over the reply's positions of KL(π(·|context) ‖ π_ref(·|context)), each over the whole
    vocabulary, teacher-forced along ``reply_ids`` (the policy's own reply). 0 when the two
    models are the same."""
    import torch

    if not reply_ids:
        return 0.0
    ids = torch.tensor([prompt_ids + reply_ids])
    n = len(prompt_ids)
    with torch.inference_mode():
        lp = torch.log_softmax(policy(input_ids=ids).logits[0, n - 1 : -1].float(), -1)
        lq = torch.log_softmax(reference(input_ids=ids).logits[0, n - 1 : -1].float(), -1)
    return float((lp.exp() * (lp - lq)).sum())


# ---------------------------------------------------------------- models: load, merge, save
def merged_sft(sft_path: str | Path, base_path: str | None):
    """The SFT model (base + its adapter, hashes verified, merged into plain weights)."""
    model, tok, manifest = load_sft(sft_path, base=load_base(base_path))
    return model.eval(), tok, manifest


def merged_copy(peft_model):
    """A plain merged model, leaving ``peft_model`` itself unmerged."""
    return copy.deepcopy(peft_model).merge_and_unload().eval()


def save_dpo_adapter(
    out_dir: str | Path, result: DPOResult, sft_path, sft_manifest, base: Base, extra=None
):
    """The DPO adapter (safetensors) + tokenizer + manifest; the manifest names the SFT adapter it
    sits on (and its hash), which sits on the base."""

    as_sft = SFTResult(  # save_adapter's shape, with DPO's settings and pair count
        model=result.model,
        tokenizer=result.tokenizer,
        settings=result.settings,
        history=result.history,
        steps_done=result.steps_done,
        seconds=result.seconds,
        stopped_early=result.stopped_early,
        n_records=result.n_pairs,
        n_trainable=result.n_trainable,
    )
    return save_adapter(
        out_dir,
        as_sft,
        base,
        extra={
            **(extra or {}),
            "kind": "dpo-adapter",
            "sft": {
                "path": portable_path(sft_path),
                "files_sha256": store.manifest_digest(sft_manifest),
            },
        },
    )


def load_dpo(path: str | Path, sft_model=None, *, sft_path=None, base_path=None):
    """(model, tokenizer, manifest): the DPO adapter (hashes verified) on the merged SFT model it
    was trained on, merged. ``sft_model`` (a plain merged SFT model, consumed) saves a reload."""
    from peft import PeftModel
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    manifest = store.verify(path)
    if manifest.get("kind") != "dpo-adapter":
        raise store.CheckpointError(f"{path}: not a DPO adapter (kind {manifest.get('kind')!r})")
    if sft_model is None:
        sft_model, _, sft_manifest = merged_sft(sft_path or store.resolve("sft"), base_path)
        want = manifest.get("sft", {}).get("files_sha256")
        if want and store.manifest_digest(sft_manifest) != want:
            raise store.CheckpointError(
                f"{path}: this DPO adapter was trained on a different SFT model; rebuild it"
            )
    model = PeftModel.from_pretrained(sft_model, str(path), is_trainable=False).merge_and_unload()
    return model.eval(), PreTrainedTokenizerFast.from_pretrained(path), manifest
