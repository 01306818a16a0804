"""Presets: `tiny` (seconds; tests and CI), `cpu` (the bundled default; ~30 min on 2 cores),
`gpu` (one H100/H200: a bigger world and model, bf16, SDPA/flash attention, torch.compile)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .data.world import WorldConfig
from .models import ModelSpec


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200
    micro_batch: int = 16  # sequences per process per micro-step
    grad_accum: int = 1  # micro-steps per optimizer step
    lr: float = 3e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr·min_lr_ratio
    warmup_steps: int = 20
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # 0 disables clipping
    eval_interval: int = 50
    ckpt_interval: int = 100  # steps between resumable checkpoints (0: only at the end)
    log_interval: int = 1
    bf16: bool = False
    compile: bool = False
    seed: int = 0
    max_time_s: float = (
        0.0  # 0: no wall-clock bound; otherwise stop (and checkpoint) after this long
    )

    def validate(self) -> None:
        for name in ("steps", "micro_batch", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)}: must be at least 1")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr}: choose a learning rate between 0 and 1")
        if self.warmup_steps < 0 or self.warmup_steps > self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps}: must be between 0 and steps={self.steps}"
            )
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip={self.grad_clip}: use 0 (off) or a positive norm")


@dataclass(frozen=True)
class Preset:
    name: str
    world: WorldConfig
    model: ModelSpec
    train: TrainConfig
    eval_people: int = 400  # people probed for the "born in" accuracy
    description: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        world=WorldConfig(n_people=40, bios_per_person=3, max_mentions=6, min_mentions=2),
        model=ModelSpec(arch="llama", n_layer=2, d_model=64, n_head=4, n_ctx=128, vocab_size=512),
        train=TrainConfig(
            steps=40, micro_batch=8, lr=3e-3, warmup_steps=5, eval_interval=10, ckpt_interval=10
        ),
        eval_people=40,
        description="seconds on a laptop: tests and CI",
    ),
    "cpu": Preset(
        name="cpu",
        # every mention is a fresh rendering (bios_per_person = max_mentions), so the 5.7M training
        # tokens are ~1 epoch: held-out loss tracks training loss instead of memorised wording
        world=WorldConfig(
            n_people=500,
            bios_per_person=1600,
            permute=True,
            fullname=True,
            zipf_s=0.5,
            max_mentions=1600,
            min_mentions=64,
        ),
        model=ModelSpec(arch="llama", n_layer=4, d_model=256, n_head=4, n_ctx=256, vocab_size=2048),
        train=TrainConfig(
            steps=1400,
            micro_batch=16,
            lr=2e-3,
            warmup_steps=60,
            eval_interval=100,
            ckpt_interval=100,
        ),
        eval_people=500,
        description="the bundled default: ~30 min on 2 CPU cores",
    ),
    "gpu": Preset(
        name="gpu",
        world=WorldConfig(
            n_people=20000,
            bios_per_person=4096,
            permute=True,
            fullname=True,
            zipf_s=0.5,
            max_mentions=4096,
            min_mentions=64,
        ),  # ~1.2M bios, ~90M tokens
        model=ModelSpec(
            arch="llama", n_layer=12, d_model=768, n_head=12, n_ctx=512, vocab_size=8192
        ),
        train=TrainConfig(
            steps=5000,
            micro_batch=64,
            lr=1e-3,
            warmup_steps=250,
            eval_interval=250,
            ckpt_interval=1000,
            bf16=True,
            compile=True,
        ),
        eval_people=2000,
        description="one H100/H200: bf16, SDPA (flash) attention, torch.compile",
    ),
}


def single_bio(p: Preset) -> Preset:
    """The same people, model and steps without knowledge augmentation (Physics of LMs 3.1
    "bioS single"): one biography per person, repeated at every mention, sentences in a fixed
    order, a pronoun after the first sentence. The base for the SFT knowledge-augmentation ablation.
    Half the steps: the corpus is only `n_people` distinct texts, memorised well before that
    (cpu: training loss 0.40 at step 213 of 1,400, falling; see the build's metrics.jsonl)."""
    return replace(
        p,
        name=f"{p.name}-1bio",
        world=replace(p.world, bios_per_person=1, permute=False, fullname=False),
        train=replace(
            p.train,
            steps=p.train.steps // 2,
            warmup_steps=min(p.train.warmup_steps, p.train.steps // 2),
        ),
        description=f"{p.name} without knowledge augmentation (one biography per person)",
    )


for _name in list(PRESETS):
    PRESETS[f"{_name}-1bio"] = single_bio(PRESETS[_name])


def get_preset(name: str, **train_overrides) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} (choose {', '.join(PRESETS)})")
    p = PRESETS[name]
    if (
        "steps" in train_overrides
        and "warmup_steps" not in train_overrides
        and train_overrides["steps"] > 0
    ):
        # a different length keeps the preset's schedule shape: warmup stays the same share of steps
        train_overrides["warmup_steps"] = round(
            p.train.warmup_steps * train_overrides["steps"] / p.train.steps
        )
    if train_overrides:
        p = replace(p, train=replace(p.train, **train_overrides))
    p.train.validate()
    p.model.validate()
    return p
