"""What the architectures build runs: the three architectures and each preset's plan."""

from __future__ import annotations

from dataclasses import dataclass

ARCHS = ("transformer", "mamba", "lstm")  # display names, in the order every chart uses
FACTORY = {"transformer": "llama", "mamba": "mamba", "lstm": "lstm"}
MODELS_DIR = "models"


@dataclass(frozen=True)
class Plan:
    # language modelling on the world corpus (the bundled tokenizer), two matched sizes
    lm_widths: tuple[int, ...] = (64, 128)
    lm_layers: int = 2  # transformer layers; the others are matched to it
    lm_seq: int = 128
    lm_steps: int = 200
    lm_batch: int = 16
    lm_lr: float = 2e-3
    lm_eval_interval: int = 25
    lm_eval_blocks: int = 64
    world: str = "cpu"
    # MQAR: one model per (architecture, width), trained on a mixture of pair counts at one length
    mqar_widths: tuple[int, ...] = (32, 64)
    mqar_layers: int = 2
    mqar_seq: int = 64
    mqar_vocab: int = 64
    mqar_train_pairs: tuple[int, ...] = (2, 4, 8)
    mqar_train_examples: int = 6000
    mqar_steps: int = 3000
    mqar_batch: int = 32
    mqar_lr: float = 1e-3
    mqar_min_lr_ratio: float = (
        1.0  # constant after warmup: the recall circuit appears suddenly, late
    )
    mqar_eval_interval: int = 100
    mqar_target: float = 0.99  # early stop once the held-out accuracy reaches this
    mqar_eval_seqs: tuple[int, ...] = (16, 32, 64)
    mqar_eval_pairs: tuple[int, ...] = (1, 2, 4, 8, 16)
    mqar_eval_examples: int = 200
    # selective copying, at one width
    copy_width: int = 64
    copy_seq: int = 64
    copy_tokens: int = 8
    copy_vocab: int = 12
    copy_steps: int = 500
    copy_batch: int = 32
    copy_lr: float = 2e-3
    # throughput / inference / gradients (the larger LM size)
    throughput_seqs: tuple[int, ...] = (64, 128, 256, 512)
    throughput_batch: int = 8
    inference_contexts: tuple[int, ...] = (16, 64, 256, 1024)
    inference_new_tokens: int = 16
    repeats: int = 3
    gradient_seq: int = 128
    gradient_samples: int = 8
    recurrence_lengths: tuple[int, ...] = (64, 256, 1024)
    recurrence_state: int = 16
    seed: int = 0


PLANS = {
    "tiny": Plan(
        lm_widths=(32,),
        lm_layers=1,
        lm_seq=32,
        lm_steps=6,
        lm_batch=4,
        lm_eval_interval=3,
        lm_eval_blocks=8,
        world="tiny",
        mqar_widths=(32,),
        mqar_layers=1,
        mqar_seq=24,
        mqar_vocab=32,
        mqar_train_pairs=(2, 4),
        mqar_train_examples=64,
        mqar_steps=6,
        mqar_batch=8,
        mqar_eval_interval=3,
        mqar_eval_seqs=(12, 24),
        mqar_eval_pairs=(1, 2, 4),
        mqar_eval_examples=16,
        copy_width=32,
        copy_seq=16,
        copy_tokens=3,
        copy_vocab=8,
        copy_steps=6,
        copy_batch=8,
        throughput_seqs=(16, 32),
        throughput_batch=2,
        inference_contexts=(8, 32),
        inference_new_tokens=4,
        repeats=1,
        gradient_seq=16,
        gradient_samples=2,
        recurrence_lengths=(16, 64),
        recurrence_state=4,
    ),
    "cpu": Plan(),
    "gpu": Plan(
        lm_widths=(256, 512),
        lm_layers=4,
        lm_seq=512,
        lm_steps=2000,
        lm_batch=32,
        lm_lr=1e-3,
        lm_eval_interval=100,
        lm_eval_blocks=256,
        world="gpu",
        mqar_widths=(64, 128, 256, 512),
        mqar_seq=256,
        mqar_vocab=8192,
        mqar_train_pairs=(4, 8, 16, 32, 64),
        mqar_train_examples=100_000,
        mqar_steps=8000,
        mqar_batch=64,
        mqar_eval_seqs=(64, 128, 256),
        mqar_eval_pairs=(4, 8, 16, 32, 64),
        mqar_eval_examples=1000,
        copy_width=256,
        copy_seq=256,
        copy_tokens=16,
        copy_vocab=16,
        copy_steps=4000,
        copy_batch=64,
        throughput_seqs=(256, 512, 1024, 2048, 4096),
        throughput_batch=8,
        inference_contexts=(64, 256, 1024, 4096, 16384),
        inference_new_tokens=32,
        repeats=5,
        gradient_seq=512,
        gradient_samples=32,
        recurrence_lengths=(256, 1024, 4096, 16384),
    ),
}
