"""The course's solutions to the computational challenges of LLMs, training-time beside
inference-time: what problem each solves, when it applies, how, and the tab of this suite that
measured it. Pure data (no gradio): the "Training vs inference" tab formats it, and the tests check
that every tab named here exists. Answers the course's understanding check "How do the solutions
for training differ from those for inference?"."""

from __future__ import annotations

from dataclasses import dataclass

PROBLEMS = ("memory", "compute", "stability", "latency")
PARALLELISM = "Parallelism Visualizer"  # the apps' TITLEs
AT_SCALE = "Training at Scale"
ARCHITECTURES = "RNN vs SSM vs Transformer"


@dataclass(frozen=True)
class Where:
    """A tab of the suite that measured (or computes) a solution, and what it shows there."""

    app: str  # the app's title
    tab: str  # the tab's label
    shows: str

    def __str__(self) -> str:
        return f"{self.app} → {self.tab} ({self.shows})"


@dataclass(frozen=True)
class Solution:
    name: str
    phase: str  # "training" or "inference"
    problems: tuple[str, ...]  # of PROBLEMS
    when: str  # when it applies
    how: str
    measured: tuple[Where, ...]


def _t(name, problems, when, how, *measured) -> Solution:
    return Solution(name, "training", problems, when, how, measured)


def _i(name, problems, when, how, *measured) -> Solution:
    return Solution(name, "inference", problems, when, how, measured)


SOLUTIONS: tuple[Solution, ...] = (
    _t(
        "Data parallelism",
        ("compute",),
        "the model fits on one GPU but one GPU is too slow for the data",
        "a model copy per GPU, each on its own share of the batch; gradients averaged "
        "(all-reduce) after every step",
        Where(PARALLELISM, "Data parallel & ZeRO", "traffic per step"),
        Where(PARALLELISM, "Real runs", "DDP gradients equal one process's"),
    ),
    _t(
        "ZeRO / FSDP",
        ("memory",),
        "the copies' model states (16 bytes per parameter with Adam) do not fit",
        "shard optimizer states, then gradients, then parameters across the data-parallel GPUs "
        "(stages 1–3), gathering each when it is needed",
        Where(PARALLELISM, "Data parallel & ZeRO", "bytes per GPU by stage"),
        Where(PARALLELISM, "Real runs", "FSDP2 bytes per rank = the formula"),
    ),
    _t(
        "Tensor parallelism (model parallelism: split each layer)",
        ("memory", "compute"),
        "one layer's weights and activations are too big for one GPU; GPUs on a fast link",
        "split each layer's matrices across GPUs; two all-reduces per layer forward, two backward",
        Where(PARALLELISM, "Tensor parallel", "activations per GPU vs TP size"),
        Where(PARALLELISM, "Real runs", "a split MLP equals the unsplit one"),
    ),
    _t(
        "Pipeline parallelism (model parallelism: layers on different GPUs)",
        ("memory",),
        "the model's layers do not fit on one GPU (or one node)",
        "consecutive layers per GPU; micro-batches flow through like an assembly line, and the "
        "bubble is the GPUs' idle time",
        Where(PARALLELISM, "Pipeline", "schedules and the bubble"),
        Where(PARALLELISM, "Real runs", "GPipe and 1F1B timed"),
    ),
    _t(
        "Activation recompute",
        ("memory",),
        "the activations saved for the backward pass dominate memory",
        "keep fewer activations and recompute them during the backward pass (about one more "
        "forward)",
        Where(PARALLELISM, "Memory", "activations with and without recompute"),
        Where(PARALLELISM, "Real runs", "a GPT-2 layer's saved activations"),
    ),
    _t(
        "Mixed precision + loss scaling",
        ("memory", "compute", "stability"),
        "every large run: 16-bit math is faster and smaller; fp16 needs loss scaling, bf16 not",
        "16-bit weights and activations, fp32 master weights; the loss multiplied so small "
        "gradients do not underflow to zero",
        Where(AT_SCALE, "Stability", "fp16 vs fp16 + GradScaler vs bf16"),
    ),
    _t(
        "Gradient clipping",
        ("stability",),
        "gradient spikes (explosion) that would throw the weights far off",
        "rescale the gradient whenever its norm exceeds a threshold",
        Where(AT_SCALE, "Stability", "runs without clipping"),
    ),
    _t(
        "Learning-rate warmup (and decay)",
        ("stability",),
        "the first steps, while Adam's moment estimates are still noisy",
        "raise the learning rate from near zero over the first steps, then decay it",
        Where(AT_SCALE, "Stability", "runs without warmup"),
    ),
    _t(
        "Careful initialization",
        ("stability",),
        "from step 0: too-large weights blow activations and gradients up",
        "small initial weights scaled to the layer's size",
        Where(AT_SCALE, "Stability", "init ×10 and ×100 runs"),
    ),
    _i(
        "Quantization",
        ("memory", "latency"),
        "serving: every generated token reads every weight, so fewer bytes is faster and cheaper",
        "store weights in 8 (or 4) bits with a scale per block instead of 32; a small accuracy cost",
        Where(AT_SCALE, "Inference", "int8 size, speed, loss, accuracy"),
    ),
    _i(
        "KV cache",
        ("compute", "latency"),
        "generating token by token: without it each token recomputes every earlier position",
        "store each layer's keys and values of the tokens so far; it costs memory that grows with "
        "the context",
        Where(AT_SCALE, "Inference", "latency with vs without, cache bytes"),
        Where(ARCHITECTURES, "Inference & memory", "KV cache vs a fixed state"),
    ),
    _i(
        "Knowledge distillation",
        ("memory", "latency"),
        "a smaller model is good enough for the task: train once, serve many times",
        "train a small student on the large teacher's output distributions",
        Where(AT_SCALE, "Inference", "distilled vs data-only student"),
    ),
    _i(
        "Pruning",
        ("memory", "compute"),
        "many weights are close to zero",
        "remove the smallest weights (then usually fine-tune to recover)",
        Where(AT_SCALE, "Inference", "weights removed vs loss"),
    ),
)

ANSWER = (
    "**How do the solutions for training differ from those for inference?** Training runs "
    "forward *and* backward over hundreds of billions of tokens and must hold weights, gradients, "
    "optimizer states and activations — so its solutions **split the work and the memory across "
    "many GPUs** (data, tensor and pipeline parallelism, ZeRO, recompute) and **keep a long run "
    "numerically stable** (mixed precision with loss scaling, clipping, warmup, initialization). "
    "The splits compute the same model: the Real runs check DDP and tensor parallelism against "
    "one process. Inference runs forward only, one token at a time, with fixed weights, for many "
    "users — so its solutions **make the trained model smaller and each token cheaper** "
    "(quantization, distillation, pruning), an approximation that costs a little accuracy, and "
    "**reuse work** (the KV cache: exact, paid for in memory)."
)


# why a phase has no solution to a problem (the side-by-side table's empty cells)
NOT_A_PROBLEM = {
    ("training", "latency"): "— (training counts throughput, not the wait for one answer)",
    ("inference", "stability"): "— (the weights are fixed: nothing can diverge)",
}


def _check(problem: str) -> None:
    if problem != "all" and problem not in PROBLEMS:
        raise ValueError(f"unknown problem {problem!r}: choose one of all, {', '.join(PROBLEMS)}")


def side_by_side(problem: str = "all") -> list[list[str]]:
    """Rows [problem, training-time solutions, inference-time solutions], one per problem (or
    only `problem`); a phase with no solution to a problem says so."""
    _check(problem)
    rows = []
    for p in PROBLEMS if problem == "all" else (problem,):
        cells = [
            "; ".join(s.name for s in SOLUTIONS if s.phase == phase and p in s.problems)
            or NOT_A_PROBLEM[(phase, p)]
            for phase in ("training", "inference")
        ]
        rows.append([p, *cells])
    return rows


def details(problem: str = "all") -> list[list[str]]:
    """Rows [phase, solution, solves, when it applies, how, measured in], training first, only the
    solutions to `problem` unless "all"; an unknown problem: ValueError naming the choices."""
    _check(problem)
    return [
        [s.phase, s.name, ", ".join(s.problems), s.when, s.how, "; ".join(map(str, s.measured))]
        for s in SOLUTIONS
        if problem == "all" or problem in s.problems
    ]
