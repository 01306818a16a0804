"""The inference lab: what makes inference cheap, measured on the project's own models.

The course claims inference is made cheap by KV caching, quantization, pruning and distillation.
Each section measures one claim on the bundled base model (Llama-style, 4 layers, d 256, 3.6M
parameters, context 256) with the project's own code — `training.generate` (the one generation
loop), `training.pretrain.evaluate` (held-out loss), `training.evaluate.fact_accuracy` ("born in"
accuracy), `training.pretrain.pretrain` (the one training loop, given a teacher to distil):

1. KV cache on vs off: milliseconds per generated token against context length, greedy; the
   cache's bytes read from the real cache object beside `shared.memory.kv_cache_bytes`; forward
   FLOPs per token with and without the cache (`flops_per_token` below says how they are counted).
2. int8 dynamic quantization (`torch.ao.quantization.quantize_dynamic` on `nn.Linear`: int8
   weights with one scale per output channel, activations quantized on the fly; the eager
   `torch.ao.quantization` API is deprecated in favour of torchao's `quantize_`, its successor, so its
   deprecation warnings are silenced here alone). Weight bytes counted from the quantized modules,
   latency, held-out loss, accuracy, top-1 agreement and max |Δlogit| against fp32.
   No 4-bit variant: the only maintained CPU int4 path (torchao's prototype int4 weight-only config
   on `aten._weight_int4pack_mm_for_cpu`) is a prototype API in a new dependency that peft then
   imports at every LoRA load (the SFT app); see `NO_INT4`.
3. Magnitude pruning (`torch.nn.utils.prune`, global L1 unstructured over the transformer blocks'
   Linear weights; the tied embedding/output matrix is not pruned) at 0 … 90 % sparsity, without
   any fine-tuning after pruning. Unstructured zeros save nothing in a dense matmul: this section
   measures what the model loses, not time.
4. Distillation: a small student trained on the base model's softened next-token distributions
   (KL at temperature T, weight alpha, the rest cross-entropy) against the same student trained on
   the data alone — same init, steps, data order and seed; only the targets differ.

`build("cpu")` is the bundled default (`checkpoints/inference/results.json`, ~8 min on 2 quiet
cores, plus the waits for quiet); each finished section is cached in `runs/inference-cpu/` (keyed by
its settings and the base model's digest; a section timed on a busy machine is not cached, so the
next build re-measures it), and a distillation run resumes from its last checkpoint. `build("tiny")` runs every
section on the same bundled base with the tiny world's text, three prompts and a 4-step student,
in seconds, on one thread, caching nothing: its numbers prove the pipeline, not the claims.
Timings wait for a quiet machine first and record the cores other processes used meanwhile.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import store
from .quiet import OtherLoad, wait_quiet

RESULTS = store.RESULTS
NO_INT4 = (
    "left out: the one maintained CPU int4 weight-only path (torchao 0.18, "
    "torchao.prototype.quantization.int4 PrototypeInt4WeightOnlyConfig on torch's "
    "_weight_int4pack_mm_for_cpu) "
    "is a prototype API, and installing torchao makes peft import it at every LoRA load "
    "(+1.3 s, CUDA-library warnings) in the SFT app"
)


@dataclass(frozen=True)
class Plan:
    world: str  # bundled_world preset: held-out text, people, student data
    contexts: tuple[int, ...]  # prompt lengths for the KV-cache curve
    new_tokens: int  # decode steps timed after the first token (the prefill)
    repeats: int  # timed runs per point (median), cached/uncached alternating
    latency_context: int  # prompt length for the quantized models' latency
    eval_blocks: int  # held-out blocks for loss (every section)
    logit_blocks: int  # held-out blocks for top-1 agreement and max |Δlogit|
    eval_people: int  # people probed for "born in" accuracy (spread over the ranks)
    sparsities: tuple[float, ...]
    student: tuple[int, int, int]  # n_layer, d_model, n_head (same family as the base)
    steps: int
    micro_batch: int
    lr: float
    eval_interval: int
    # T = 1 with half the weight on the teacher: in a 100-step pilot on the cpu world (2 layers,
    # d 128) it beat pure KL at T = 1 and cross-entropy alone slightly, while T = 2 (alpha 1 or 0.5)
    # trailed cross-entropy at 60 steps — softened targets spend early steps on the tail
    temperature: float = 1.0
    alpha: float = 0.5  # weight of the soft (teacher) term; 1 - alpha on cross-entropy
    quiet_wait_s: float = 0.0  # wait this long at most for a quiet machine before timing
    cache: bool = True  # keep finished sections in runs/inference-<preset>/
    threads: int = 0  # torch threads for the timed sections (0: torch's default)
    compute_threads: int = 1  # for pruning and distillation (untimed). On a shared 2-core
    # machine two threads that wait at every barrier for a
    # descheduled partner ran the tiny decoding 50x and the student
    # steps ~10x slower than one thread


PLANS = {
    "tiny": Plan(
        world="tiny",
        contexts=(8, 32, 64),
        new_tokens=4,
        repeats=1,
        latency_context=16,
        eval_blocks=4,
        logit_blocks=2,
        eval_people=10,
        sparsities=(0.0, 0.5, 0.9),
        student=(1, 32, 2),
        steps=4,
        micro_batch=4,
        lr=3e-3,
        eval_interval=2,
        cache=False,
        threads=1,
    ),
    # the bundled default: ~10 min on 2 quiet cores
    "cpu": Plan(
        world="cpu",
        contexts=(16, 32, 64, 96, 128, 160, 192, 224),
        new_tokens=16,
        repeats=5,
        latency_context=128,
        eval_blocks=64,
        logit_blocks=16,
        eval_people=250,
        sparsities=tuple(i / 10 for i in range(10)),
        student=(2, 128, 4),
        steps=400,
        micro_batch=8,
        lr=3e-3,
        eval_interval=40,
        quiet_wait_s=300.0,
    ),
}
MAX_SPARSITIES = 20


def check_sparsities(sparsities) -> tuple[float, ...]:
    """Sparsities as shares in [0, 1), at most MAX_SPARSITIES, increasing; else one-line ValueError."""
    try:
        s = tuple(float(x) for x in sparsities)
    except (TypeError, ValueError):
        raise ValueError(
            f"sparsities={sparsities!r}: give a list of shares such as [0, 0.5, 0.9]"
        ) from None
    if not 1 <= len(s) <= MAX_SPARSITIES:
        raise ValueError(f"sparsities: give 1 to {MAX_SPARSITIES} values (got {len(s)})")
    if not all(math.isfinite(x) and 0 <= x < 1 for x in s):
        raise ValueError(f"sparsities={list(s)}: each must be a share in [0, 1) (0.9 prunes 90 %)")
    if any(b <= a for a, b in zip(s, s[1:])):
        raise ValueError(f"sparsities={list(s)}: list them in increasing order, without repeats")
    return s


QUIET_CORES = 0.3  # a timing taken while other processes used more cores than this is not cached


def quiet_waiter(budget_s: float):
    """Wait for a quiet machine before each timed point, spending at most `budget_s` in all
    (0: never wait). Returns a function giving the seconds it waited."""
    deadline = time.monotonic() + budget_s

    def wait() -> float:
        left = deadline - time.monotonic()
        return wait_quiet(left, QUIET_CORES) if budget_s and left > 0 else 0.0

    return wait


# --- 1. KV cache ------------------------------------------------------------------------------


def measured_cache_bytes(model, ids: list[int]) -> int:
    """Run the prompt once with the cache on and weigh the cache it returns."""
    import torch

    from .generate import cache_bytes

    with torch.inference_mode():
        out = model(
            input_ids=torch.tensor([ids], device=next(model.parameters()).device), use_cache=True
        )
    return cache_bytes(out.cache)


def predicted_cache_bytes(model, seq: int) -> float:
    """2 · layers · kv_heads · head_dim · seq · batch · bytes (shared.memory, REFERENCES "KV cache")."""
    from shared.memory import kv_cache_bytes

    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return kv_cache_bytes(
        cfg.num_hidden_layers,
        cfg.num_key_value_heads,
        head_dim,
        seq,
        1,
        next(model.parameters()).element_size(),
    )


def flops_per_token(model, context: int, cached: bool) -> float:
    """Forward FLOPs to generate one token whose query sees `context` positions (itself included).
    PaLM's count (`shared.scaling.flops_per_token`, 6N + 12·L·d·T per trained token, 3 × forward):
    forward(T) = 2N + 4·L·d·T, N = the parameters in matmuls (the tied output head included).
    Cached: the new token alone, forward(context). Uncached: the whole sequence re-run, position i
    attending to i positions (causal): Σ_{i=1..context} forward(i)."""
    from .models import forward_flops_per_token as fwd

    return fwd(model, context) if cached else sum(fwd(model, i) for i in range(1, context + 1))


def decode_ms_per_token(
    model, ids: list[int], new_tokens: int, use_cache: bool
) -> tuple[float, list[int]]:
    """Milliseconds per generated token on `training.generate.generate_ids` (greedy), timed after
    the first token so the prompt's prefill is left out: with the cache each timed step feeds one
    token, without it each re-runs the whole sequence. Returns (ms per token, all token ids)."""
    from .generate import generate_ids

    gen = generate_ids(model, ids, new_tokens + 1, use_cache=use_cache)
    out = [next(gen)]
    t0 = time.perf_counter()
    out += list(gen)
    return (time.perf_counter() - t0) * 1e3 / new_tokens, out


def time_decode(
    runs: dict, ids: list[int], new_tokens: int, repeats: int
) -> tuple[dict, dict, float]:
    """Time several (model, use_cache) runs on one prompt, alternating them in every repeat so a
    drift in machine speed hits all alike. Returns ({name: median ms/token}, {name: tokens},
    cores other processes kept busy meanwhile)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    tokens: dict[str, list[int]] = {}
    for model, use_cache in runs.values():  # warm-up: thread pool, allocator, first-call paths
        decode_ms_per_token(model, ids, 2, use_cache)
    with OtherLoad() as load:
        for _ in range(repeats):
            for name, (model, use_cache) in runs.items():
                ms, tokens[name] = decode_ms_per_token(model, ids, new_tokens, use_cache)
                times[name].append(ms)
    return {k: statistics.median(v) for k, v in times.items()}, tokens, round(load.cores, 3)


def kv_cache_section(model, prompt: list[int], plan: Plan) -> dict:
    ctx = model.config.max_position_embeddings
    if max(plan.contexts) + plan.new_tokens + 1 > ctx:
        raise ValueError(
            f"contexts up to {max(plan.contexts)} + {plan.new_tokens + 1} new tokens exceed "
            f"the model's context of {ctx}"
        )
    quiet, waited = quiet_waiter(plan.quiet_wait_s), 0.0
    rows, identical, other = [], True, []
    for c in plan.contexts:
        ids = prompt[:c]
        waited += quiet()
        ms, toks, cores = time_decode(
            {"cached": (model, True), "uncached": (model, False)},
            ids,
            plan.new_tokens,
            plan.repeats,
        )
        identical = identical and toks["cached"] == toks["uncached"]
        steps = range(c + 1, c + plan.new_tokens + 1)  # positions seen by the timed steps' queries
        rows.append(
            {
                "cached": ms["cached"],
                "uncached": ms["uncached"],
                "bytes": measured_cache_bytes(model, ids),
                "predicted": predicted_cache_bytes(model, c),
                "f_cached": statistics.fmean(flops_per_token(model, t, True) for t in steps),
                "f_uncached": statistics.fmean(flops_per_token(model, t, False) for t in steps),
            }
        )
        other.append(cores)
    return {
        "contexts": list(plan.contexts),
        "cached_ms_per_token": [round(r["cached"], 4) for r in rows],
        "uncached_ms_per_token": [round(r["uncached"], 4) for r in rows],
        "cache_bytes": [r["bytes"] for r in rows],
        "predicted_cache_bytes": [r["predicted"] for r in rows],
        "flops_per_token_cached": [r["f_cached"] for r in rows],
        "flops_per_token_uncached": [r["f_uncached"] for r in rows],
        "identical_tokens": identical,
        "other_cores": round(max(other), 3),
        "other_cores_per_context": other,
        "waited_for_quiet_s": round(waited, 1),
        "new_tokens": plan.new_tokens,
        "repeats": plan.repeats,
        "batch": 1,
        "greedy": True,
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "note": "ms per token: median over repeats of the mean of the decode steps after the first "
        "token (prefill excluded); context = prompt length; the cache is weighed after the "
        "prompt's forward; FLOPs are averaged over the timed steps",
    }


# --- 2. quantization ----------------------------------------------------------------------------


@contextmanager
def _quiet_deprecations():
    """torch.ao.quantization warns that it is deprecated (torchao is its successor); say it once
    in the docstring, not on every call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings(
            "ignore", message=r".*quantized tensor creation functions.*deprecated.*"
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
        yield


def quantize_int8(model, *, head: bool = False):
    """A copy of `model` with dynamic int8 Linear layers (int8 weights, one scale per output
    channel; activations quantized per batch on the fly). `head=False` keeps the output head, tied to
    the input embedding, in fp32 — quantizing it stores a second, int8 copy of that matrix."""
    import torch

    emb = model.get_input_embeddings().weight
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and (head or m.weight is not emb)
    }
    with _quiet_deprecations():
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            copy.deepcopy(model), {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8
        ).eval()


def weight_bytes(model) -> int:
    """Bytes of the weights as stored: every distinct parameter at its dtype, plus each dynamic
    int8 Linear's packed weight (int8 values, its per-channel scales and zero points as the
    quantized tensor holds them) and bias. Buffers (rotary frequencies) are not weights."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    for m in model.modules():
        if isinstance(m, QLinear):
            w, b = m.weight(), m.bias()
            total += w.numel() * w.element_size()
            if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                total += sum(
                    t.numel() * t.element_size()
                    for t in (w.q_per_channel_scales(), w.q_per_channel_zero_points())
                )
            else:
                total += 16  # one float64 scale and one int64 zero point
            total += b.numel() * b.element_size() if b is not None else 0
    return total


def compare_logits(reference, model, blocks, batch_size: int = 8) -> tuple[float, float]:
    """(share of positions where the argmax token agrees, max |logit difference|) on `blocks`."""
    import torch

    agree = total = 0
    worst = 0.0
    with torch.inference_mode():
        for i in range(0, len(blocks), batch_size):
            x = blocks[i : i + batch_size, :-1]
            a, b = reference(input_ids=x).logits.float(), model(input_ids=x).logits.float()
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            total += a.shape[0] * a.shape[1]
            worst = max(worst, float((a - b).abs().max()))
    return agree / total, worst


def quantization_section(model, lab: "Lab", plan: Plan) -> list[dict]:
    variants = {
        "fp32": model,
        "int8 (blocks)": quantize_int8(model, head=False),
        "int8 (blocks + head)": quantize_int8(model, head=True),
    }
    waited = quiet_waiter(plan.quiet_wait_s)()
    ms, _, cores = time_decode(
        {k: (m, True) for k, m in variants.items()},
        lab.prompt[: plan.latency_context],
        plan.new_tokens,
        plan.repeats,
    )
    rows = []
    for name, m in variants.items():
        agree, worst = compare_logits(model, m, lab.logit_blocks)
        rows.append(
            {
                "name": name,
                "weight_bytes": weight_bytes(m),
                "ms_per_token": round(ms[name], 4),
                "heldout_loss": lab.loss(m),
                "accuracy": lab.accuracy(m),
                "top1_agreement": round(agree, 5),
                "max_abs_logit_diff": round(worst, 5),
                "other_cores": cores,
                "context": plan.latency_context,
                "waited_for_quiet_s": round(waited, 1),
            }
        )
    return rows


# --- 3. pruning ---------------------------------------------------------------------------------


def prune_global(model, sparsity: float):
    """A copy of `model` with the smallest-|w| share `sparsity` of all block Linear weights set to
    zero, ranked globally (torch.nn.utils.prune L1Unstructured), made permanent; the tied
    embedding/output matrix is left whole. Returns (pruned model, weights considered)."""
    import torch
    from torch.nn.utils import prune

    check_sparsities([sparsity])
    pruned = copy.deepcopy(model)
    emb = pruned.get_input_embeddings().weight
    targets = [
        (m, "weight")
        for m in pruned.modules()
        if isinstance(m, torch.nn.Linear) and m.weight is not emb
    ]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    for m, name in targets:
        prune.remove(m, name)
    return pruned.eval(), sum(m.weight.numel() for m, _ in targets)


def zero_weights(model) -> int:
    """Exact zeros among the block Linear weights (what `prune_global` ranks)."""
    import torch

    emb = model.get_input_embeddings().weight
    return sum(
        int((m.weight == 0).sum())
        for m in model.modules()
        if isinstance(m, torch.nn.Linear) and m.weight is not emb
    )


def pruning_section(model, lab: "Lab", plan: Plan) -> list[dict]:
    rows = []
    for s in check_sparsities(plan.sparsities):
        pruned, n = prune_global(model, s)
        rows.append(
            {
                "sparsity": s,
                "heldout_loss": lab.loss(pruned),
                "accuracy": lab.accuracy(pruned),
                "pruned_weights": n,
                "zeroed": zero_weights(pruned),
            }
        )
    return rows


# --- 4. distillation ----------------------------------------------------------------------------


def student_spec(plan: Plan, vocab_size: int):
    from .presets import get_preset

    base = get_preset(plan.world).model
    n_layer, d_model, n_head = plan.student
    return replace(base, n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=vocab_size)


def student_config(plan: Plan):
    from .presets import get_preset

    return replace(
        get_preset(plan.world).train,
        steps=plan.steps,
        micro_batch=plan.micro_batch,
        grad_accum=1,
        lr=plan.lr,
        warmup_steps=max(1, plan.steps // 10),
        eval_interval=plan.eval_interval,
        ckpt_interval=plan.eval_interval,
        max_time_s=0.0,
    )


def distillation_section(model, lab: "Lab", plan: Plan, run_dir: Path, progress: bool) -> dict:
    from .models import build_model, param_counts
    from .pretrain import pretrain

    tok = lab.data.tokenizer
    spec, cfg = student_spec(plan, len(tok)), student_config(plan)
    data = replace(lab.data, eval=lab.eval_blocks)
    curves, final, n_student = {}, {}, 0
    for name, teacher in (("distilled", model), ("data only", None)):
        student = build_model(spec, seed=cfg.seed, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
        n_student = param_counts(student)["params"]
        d = run_dir / name.replace(" ", "-")
        s = pretrain(
            student,
            data,
            cfg,
            d,
            progress=progress,
            teacher=teacher,
            distill_temperature=plan.temperature,
            distill_alpha=plan.alpha,
        )
        evals = {
            m["step"]: m for m in store.read_metrics(d) if "eval_loss" in m
        }  # a restart re-logs step 0
        curves[name] = [
            {"step": m["step"], "tokens": m["tokens"], "eval_loss": m["eval_loss"]}
            for m in evals.values()
        ]
        final[name] = {"heldout_loss": s["eval_loss"], "accuracy": lab.accuracy(s["model"].eval())}
    return {
        "student": {"n_layer": spec.n_layer, "d_model": spec.d_model, "params": n_student},
        "teacher_params": param_counts(model)["params"],
        "teacher_heldout_loss": lab.loss(model),
        "steps": plan.steps,
        "tokens_per_step": plan.micro_batch * spec.n_ctx,
        "temperature": plan.temperature,
        "alpha": plan.alpha,
        "lr": plan.lr,
        "seed": cfg.seed,
        "curves": curves,
        "final": final,
    }


# --- the build ----------------------------------------------------------------------------------


@dataclass
class Lab:
    """What every section evaluates with: held-out blocks, the prompt, the people probed."""

    data: object  # training.data.blocks.Prepared (bundled tokenizer)
    world: object
    people: list
    eval_blocks: object
    logit_blocks: object
    prompt: list[int]

    def loss(self, model) -> float:
        from .evaluate import heldout_loss

        loss = heldout_loss(model, self.eval_blocks, batch_size=16)
        model.eval()  # the training loop's evaluate hands the model back in train mode
        return round(loss, 5)

    def accuracy(self, model) -> float:
        from .evaluate import fact_accuracy

        return fact_accuracy(model, self.data.tokenizer, self.world, "birth_city", self.people)[
            "all"
        ]["accuracy"]


def make_lab(plan: Plan) -> Lab:
    from .data.blocks import bundled_world
    from .data.world import World
    from .presets import get_preset

    data = bundled_world(plan.world)
    world = World(get_preset(plan.world).world)
    ranked = sorted(world.people, key=lambda p: p.rank)
    people = ranked[:: max(1, len(ranked) // plan.eval_people)][: plan.eval_people]
    return Lab(
        data,
        world,
        people,
        data.eval[: plan.eval_blocks],
        data.eval[: plan.logit_blocks],
        data.eval.reshape(-1).tolist(),
    )


SECTION_FIELDS = {  # the settings each section's cached result depends on (with the base model)
    "kv_cache": ("world", "contexts", "new_tokens", "repeats", "threads"),
    "quantization": (
        "world",
        "new_tokens",
        "repeats",
        "latency_context",
        "eval_blocks",
        "logit_blocks",
        "eval_people",
        "threads",
    ),
    "pruning": ("world", "sparsities", "eval_blocks", "eval_people"),
    "distillation": (
        "world",
        "student",
        "steps",
        "micro_batch",
        "lr",
        "eval_interval",
        "temperature",
        "alpha",
        "eval_blocks",
        "eval_people",
    ),
}


def timed_busy(result) -> float:
    """The most cores other processes used during a section's timings (its `other_cores`) if that
    is QUIET_CORES or more, else 0 (sections without timings: 0)."""
    rows = result if isinstance(result, list) else [result]
    worst = max((r.get("other_cores", 0.0) for r in rows), default=0.0)
    return worst if worst >= QUIET_CORES else 0.0


def _key(section: str, plan: Plan, base_digest: str) -> str:
    fields = {k: getattr(plan, k) for k in SECTION_FIELDS[section]}
    return hashlib.sha256(
        json.dumps([section, fields, base_digest], sort_keys=True).encode()
    ).hexdigest()[:16]


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    *,
    run_dir: str | Path | None = None,
    sparsities=None,
    progress: bool = True,
) -> dict:
    """Measure every section on the bundled base and write the results directory atomically.
    `sparsities` overrides the preset's list (validated)."""
    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    if sparsities is not None:
        plan = replace(plan, sparsities=check_sparsities(sparsities))
    check_sparsities(plan.sparsities)
    out = Path(
        out or (store.BUNDLED_DIR / "inference" if preset == "cpu" else f"runs/inference-{preset}")
    )
    import torch

    threads = torch.get_num_threads()
    try:
        if plan.cache:
            run_dir = Path(run_dir or f"runs/inference-{preset}")
            with store.run_lock(run_dir):
                return _build(preset, plan, out, run_dir, progress)
        with tempfile.TemporaryDirectory(prefix=f"inference-{preset}-") as tmp:
            return _build(preset, plan, out, Path(run_dir or tmp), progress)
    finally:
        torch.set_num_threads(threads)


def _build(preset: str, plan: Plan, out: Path, run_dir: Path, progress: bool) -> dict:
    import torch
    from tqdm import tqdm

    from .models import param_counts

    t0 = time.perf_counter()
    ckpt = store.load(store.resolve("base"))
    model, digest = ckpt.model.eval(), store.manifest_digest(ckpt.manifest)
    lab = make_lab(plan)

    def key(name: str) -> str:
        return _key(name, plan, digest)

    sections = {
        "kv_cache": lambda: kv_cache_section(model, lab.prompt, plan),
        "quantization": lambda: quantization_section(model, lab, plan),
        "pruning": lambda: pruning_section(model, lab, plan),
        "distillation": lambda: distillation_section(
            model, lab, plan, run_dir / f"distill-{key('distillation')}", progress
        ),
    }
    default_threads = torch.get_num_threads()
    threads = {
        name: (plan.compute_threads if name in ("pruning", "distillation") else plan.threads)
        or default_threads
        for name in sections
    }
    results, seconds, other = {}, {}, {}
    bar = tqdm(sections.items(), desc="inference lab", unit="section", disable=not progress)
    for name, run in bar:
        bar.set_postfix_str(name)
        cached = run_dir / f"{name}.json"
        if plan.cache and cached.is_file():
            doc = json.loads(cached.read_text())
            if doc.get("key") == key(name):
                results[name], seconds[name], other[name] = (
                    doc["result"],
                    doc["seconds"],
                    doc["other_cores"],
                )
                continue
        torch.set_num_threads(threads[name])
        with OtherLoad() as load:
            results[name] = run()
        seconds[name], other[name] = round(time.perf_counter() - load.t0, 1), round(load.cores, 3)
        if timed_busy(results[name]):
            print(
                f"{name}: timed while other processes used up to {timed_busy(results[name]):.1f} cores; "
                "not cached, run the build again on a quiet machine to re-measure",
                file=sys.stderr,
                flush=True,
            )
        elif plan.cache:
            store.write_text_atomic(
                cached,
                json.dumps(
                    {
                        "key": key(name),
                        "seconds": seconds[name],
                        "other_cores": other[name],
                        "result": results[name],
                    }
                )
                + "\n",
            )
    cfg = model.config
    body = {
        "rebuild": f"python -m training inference --preset {preset}",
        "machine": {
            "cpus": os.cpu_count() or 1,
            "torch": torch.__version__,
            "torch_threads": threads,
        },
        "preset": preset,
        "plan": asdict(plan),
        "base": {"path": str(ckpt.path), "digest": digest, "created": ckpt.manifest.get("created")},
        "model": {
            "params": param_counts(model)["params"],
            "n_layer": cfg.num_hidden_layers,
            "d_model": cfg.hidden_size,
            "n_ctx": cfg.max_position_embeddings,
        },
        "eval": {
            "heldout_blocks": len(lab.eval_blocks),
            "heldout_tokens": int(lab.eval_blocks[:, 1:].numel()),
            "logit_blocks": len(lab.logit_blocks),
            "people": len(lab.people),
            "world": plan.world,
        },
        "int4": NO_INT4,
        "section_seconds": seconds,
        "section_other_cores": other,
        "section_note": "seconds and other processes' cores over each whole section as it was built, "
        "waits for a quiet machine included; the timings' own loads are "
        "kv_cache.other_cores_per_context and quantization[].other_cores",
        "seconds": round(time.perf_counter() - t0, 1),
        **results,
    }

    store.write_results(
        out,
        body,
        {
            "kind": "inference",
            "preset": preset,
            "rebuild": body["rebuild"],
            "machine": body["machine"],
        },
    )
    body["out"] = str(out)
    return body


def headline(results: dict) -> dict:
    """The numbers to print after a build."""
    kv, q, d = results["kv_cache"], results["quantization"], results["distillation"]
    fp32, int8 = q[0], q[1]
    fin = d["final"]
    return {
        "out": results.get("out"),
        "seconds": results.get("seconds"),
        "kv_cache": {
            "context": kv["contexts"][-1],
            "speedup": round(kv["uncached_ms_per_token"][-1] / kv["cached_ms_per_token"][-1], 2),
            "flops_ratio": round(
                kv["flops_per_token_uncached"][-1] / kv["flops_per_token_cached"][-1], 1
            ),
            "cache_bytes": kv["cache_bytes"][-1],
            "identical_tokens": kv["identical_tokens"],
            "other_cores": kv["other_cores"],
        },
        "int8": {
            "name": int8["name"],
            "size_ratio": round(int8["weight_bytes"] / fp32["weight_bytes"], 3),
            "loss_change": round(int8["heldout_loss"] - fp32["heldout_loss"], 4),
            "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
            "ms_per_token": [fp32["ms_per_token"], int8["ms_per_token"]],
            "top1_agreement": int8["top1_agreement"],
        },
        "pruning_loss": {f"{r['sparsity']:.0%}": r["heldout_loss"] for r in results["pruning"]},
        "distillation": {
            "steps": d["steps"],
            "distilled_loss": fin["distilled"]["heldout_loss"],
            "data_only_loss": fin["data only"]["heldout_loss"],
            "gain": round(fin["data only"]["heldout_loss"] - fin["distilled"]["heldout_loss"], 4),
        },
    }


def read_results(path: str | Path | None = None) -> dict:
    """The bundled inference results (hash-checked), or {} when there are none."""
    return store.read_results("inference", path)
