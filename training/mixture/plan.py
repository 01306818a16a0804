"""The mixture lab's plans: three domains, one model size, a grid of mixture weights at equal tokens.

Torch-free (the app reads the plan's grid at start)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ..data.world import WorldConfig
from ..presets import get_preset

DOMAINS = ("bios", "code", "forum")
DOMAIN_LABELS = {
    "bios": "biographies (the world corpus)",
    "code": "programs with their output",
    "forum": "forum Q&A about the same people",
}

# (name, weights in DOMAINS order): three single-domain runs, the uniform mix, and each
# leave-one-out pair; every plan starts with these seven
GRID: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("bios", (1.0, 0.0, 0.0)),
    ("code", (0.0, 1.0, 0.0)),
    ("forum", (0.0, 0.0, 1.0)),
    ("uniform", (1 / 3, 1 / 3, 1 / 3)),
    ("no-forum", (0.5, 0.5, 0.0)),
    ("no-code", (0.5, 0.0, 0.5)),
    ("no-bios", (0.0, 0.5, 0.5)),
)
SKEWED = ("bios-heavy", (0.6, 0.2, 0.2))
UNIFORM = "uniform"
LEAVE_OUT = {"bios": "no-bios", "code": "no-code", "forum": "no-forum"}  # domain -> its run
SHARED = ("bios", "forum")  # the two domains that state the same facts


@dataclass(frozen=True)
class MixturePlan:
    preset: str  # the context length comes from this preset
    shape: tuple[int, int, int]  # (n_layer, d_model, n_head): one size from the sweep's family
    vocab_size: int  # one byte-level BPE on the union of the domains' training text
    steps: int  # every run: steps x micro_batch x n_ctx tokens (equal tokens)
    micro_batch: int
    lr: float
    evals_per_run: int
    world: tuple[tuple[Any, ...], ...]  # WorldConfig fields: the people of bios and forum
    forum_per_mention: float  # forum threads per biography mention of a person
    n_programs: int  # training programs
    heldout_programs: int
    heldout_people: int  # people with held-out biographies and threads (one each)
    mixtures: tuple[tuple[str, tuple[float, float, float]], ...] = GRID
    threads: int = 0  # torch CPU threads for the runs (0: torch's default)

    def world_config(self) -> WorldConfig:
        return WorldConfig(**dict(self.world))

    def n_ctx(self) -> int:
        return get_preset(self.preset).model.n_ctx

    def tokens_per_run(self) -> int:
        return self.steps * self.micro_batch * self.n_ctx()

    def run_config(self):
        """The training settings of every run (the preset's, with this plan's length and lr)."""
        return replace(
            get_preset(self.preset).train,
            steps=self.steps,
            micro_batch=self.micro_batch,
            grad_accum=1,
            lr=self.lr,
            warmup_steps=max(1, self.steps // 20),
            eval_interval=max(1, self.steps // self.evals_per_run),
            ckpt_interval=max(1, self.steps // 4),
            max_time_s=0.0,
        )

    def validate(self) -> None:
        names = [n for n, _ in self.mixtures]
        if [n for n, _ in GRID] != names[: len(GRID)] or len(set(names)) != len(names):
            raise ValueError("a plan's mixtures start with the seven of GRID, names unique")
        for name, w in self.mixtures:
            if len(w) != len(DOMAINS) or min(w) < 0 or not math.isclose(sum(w), 1.0):
                raise ValueError(
                    f"mixture {name}: weights must be 3 non-negative numbers summing to 1"
                )


PLANS = {
    "tiny": MixturePlan(
        "tiny",
        shape=(1, 32, 2),
        vocab_size=384,
        steps=24,
        micro_batch=4,
        lr=3e-3,
        evals_per_run=3,
        world=(("n_people", 30), ("bios_per_person", 6), ("max_mentions", 6), ("min_mentions", 2)),
        forum_per_mention=1.0,
        n_programs=150,
        heldout_programs=20,
        heldout_people=20,
        threads=1,
        mixtures=GRID + (SKEWED,),  # the gpu plan's extra mix, exercised by the tests
    ),
    # L2 d64 of the sweep's family at its sweep lr; 0.82M tokens a run. A 1,024-token vocabulary
    # and one torch thread: on the shared 2 cores (load ~8) a step ran at 10.2k tokens/s with one
    # thread and 1.3k with two, and 19.6k with vocabulary 1,024 instead of 2,048 (one thread).
    "cpu": MixturePlan(
        "cpu",
        shape=(2, 64, 4),
        vocab_size=1024,
        steps=800,
        micro_batch=4,
        lr=8e-3,
        evals_per_run=5,
        world=(
            ("n_people", 600),
            ("bios_per_person", 128),
            ("max_mentions", 128),
            ("min_mentions", 16),
            ("zipf_s", 0.5),
        ),
        forum_per_mention=2.0,
        n_programs=18000,
        heldout_programs=300,
        heldout_people=300,
        threads=1,
        mixtures=GRID + (SKEWED,),
    ),
    # bigger runs for a GPU (not run here): L8 d512, 49M tokens a run (each domain's pool about
    # as many: ~0.8M biographies, 1.2M programs, 1.2M threads), and the skewed mix too
    "gpu": MixturePlan(
        "gpu",
        shape=(8, 512, 8),
        vocab_size=8192,
        steps=3000,
        micro_batch=32,
        lr=1e-3,
        evals_per_run=10,
        world=(
            ("n_people", 20000),
            ("bios_per_person", 512),
            ("max_mentions", 512),
            ("min_mentions", 32),
            ("zipf_s", 0.5),
        ),
        forum_per_mention=1.5,
        n_programs=1_200_000,
        heldout_programs=2000,
        heldout_people=2000,
        mixtures=GRID + (SKEWED,),
    ),
}


def get_plan(preset: str) -> MixturePlan:
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    plan.validate()
    return plan
