"""A transformer under a parallel plan: its memory per GPU part by part, with each formula filled in
(`breakdown`), its communication per step (`communication`), and what the Parallelism Visualizer's
tabs compute from them — the plan beside one GPU, ZeRO's stages, one tensor-parallel layer. (What a
training run costs is `shared.scaling_explore.cost_sheet`, the suite's one cost panel.) No torch;
the formulas themselves are `shared/memory.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.memory import (
    ModelShape,
    ModelStates,
    Traffic,
    _pos,
    activation_bytes_per_layer,
    data_parallel_traffic,
    model_state_bytes,
    ring_allreduce_seconds,
)


@dataclass(frozen=True)
class Plan:
    """How a model is split and trained: parallel sizes, ZeRO stage, batch, pipeline schedule,
    recompute, and the bytes of every value (each assumption an input)."""

    dp: int = 1
    tp: int = 1
    pp: int = 1
    zero_stage: int = 0
    sp: bool = False
    micro_batch: int = 1
    microbatches: int = 1  # per step (pipeline); the in-flight count depends on the schedule
    schedule: str = "1f1b"  # "gpipe" holds every micro-batch, "1f1b" at most pp on the first stage
    recompute: str = "none"
    param_bytes: float = 2
    grad_bytes: float = 2
    optimizer_bytes: float = 12
    activation_bytes: float = 2  # Korthikanti's formulas assume 16-bit activations
    logits_bytes: float = 4  # fp32 logits for the loss
    offload_optimizer: bool = False  # optimizer states in CPU memory


def _gb(x: float) -> str:
    return f"{x / 1e9:,.2f} GB"


@dataclass(frozen=True)
class Breakdown:
    """Per-GPU memory of a model shape under a plan, on the most loaded pipeline stage (the first)."""

    parts: dict[str, float]  # part ("parameters", "activations", ...) -> bytes per GPU
    formulas: dict[str, str]  # part -> its formula with this plan's numbers in it
    total: float
    params_per_rank: float  # parameters one model-parallel (tp·pp) rank holds
    in_flight_microbatches: int  # micro-batches whose activations the first stage holds at once
    activation_per_layer: float  # bytes of one layer's activations for one micro-batch
    optimizer_offloaded: float  # optimizer bytes moved to CPU memory (0 unless offloaded)
    gpus: int  # dp · tp · pp
    plan: Plan


def _check(shape: ModelShape, plan: Plan) -> None:
    for n in ("dp", "tp", "pp", "micro_batch", "microbatches"):
        _pos(n, getattr(plan, n), integer=True)
    for n in ("layers", "hidden", "heads", "vocab", "seq"):
        _pos(n, getattr(shape, n), integer=True)
    for n in ("ffn", "kv_heads"):
        if getattr(shape, n) is not None:
            _pos(n, getattr(shape, n), integer=True)
    if shape.hidden % shape.heads:
        raise ValueError(f"hidden ({shape.hidden}) must divide evenly into {shape.heads} heads")
    if shape.kv_heads and shape.heads % shape.kv_heads:
        raise ValueError(f"kv heads ({shape.kv_heads}) must divide the {shape.heads} query heads")
    if shape.layers % plan.pp:
        raise ValueError(f"{shape.layers} layers do not split into {plan.pp} pipeline stages")
    if shape.heads % plan.tp or shape.hidden % plan.tp:
        raise ValueError(
            f"tp={plan.tp} must divide heads ({shape.heads}) and hidden ({shape.hidden})"
        )
    if plan.schedule not in ("gpipe", "1f1b"):
        raise ValueError(f"schedule must be gpipe or 1f1b (got {plan.schedule!r})")


def breakdown(shape: ModelShape, plan: Plan) -> Breakdown:
    """Bytes per GPU (the most loaded pipeline stage: the first) of each part, and for each part
    the formula with this plan's numbers in it (the app shows them beside the chart)."""
    _check(shape, plan)
    psi = shape.n_params() / (plan.tp * plan.pp)  # parameters held by one model-parallel rank
    states = model_state_bytes(
        psi, plan.zero_stage, plan.dp, plan.optimizer_bytes, plan.param_bytes, plan.grad_bytes
    )
    per_layer = (
        activation_bytes_per_layer(
            shape.seq, plan.micro_batch, shape.hidden, shape.heads, plan.tp, plan.sp, plan.recompute
        )
        * plan.activation_bytes
        / 2
    )
    in_flight = plan.microbatches if plan.schedule == "gpipe" else min(plan.pp, plan.microbatches)
    sbh = shape.seq * plan.micro_batch * shape.hidden
    parts = {
        "parameters": states.params,
        "gradients": states.grads,
        "optimizer states": 0.0 if plan.offload_optimizer else states.optimizer,
        "activations": per_layer * (shape.layers // plan.pp) * in_flight,
        # the first stage's input
        "embedding output": sbh * plan.activation_bytes / (plan.tp if plan.sp else 1) * in_flight,
        # on the last stage, which holds fewer in flight
        "logits": (
            shape.seq * plan.micro_batch * shape.vocab * plan.logits_bytes / plan.tp
            if plan.pp == 1
            else 0.0
        ),
    }
    return Breakdown(
        parts=parts,
        formulas=_formulas(shape, plan, states, parts, psi, per_layer, in_flight),
        total=sum(parts.values()),
        params_per_rank=psi,
        in_flight_microbatches=in_flight,
        activation_per_layer=per_layer,
        optimizer_offloaded=states.optimizer if plan.offload_optimizer else 0.0,
        gpus=plan.dp * plan.tp * plan.pp,
        plan=plan,
    )


def activation_formula(plan: Plan) -> str:
    """Korthikanti et al.'s per-layer activation formula for the plan's TP, SP and recompute."""
    return {
        "none": "sbh(34 + 5as/h)"
        if plan.tp == 1 and not plan.sp
        else ("sbh(34/t + 5as/(ht))" if plan.sp else "sbh(10 + 24/t + 5as/(ht))"),
        "selective": "34sbh/t" if plan.sp else "sbh(10 + 24/t)",
        "full": "2sbh/t" if plan.sp else "2sbh",
    }[plan.recompute]


def _formulas(shape, plan, states, parts, psi, per_layer, in_flight) -> dict[str, str]:
    z, d = plan.zero_stage, plan.dp
    psi_txt = (
        f"Ψ = {shape.n_params() / 1e9:.3g}B / (tp·pp = {plan.tp * plan.pp}) = {psi / 1e9:.3g}B"
    )
    return {
        "parameters": f"{plan.param_bytes:g} B × {psi_txt}"
        + (f" / dp {d} (ZeRO-3)" if z >= 3 else "")
        + f" = {_gb(states.params)}",
        "gradients": f"{plan.grad_bytes:g} B × Ψ"
        + (f" / dp {d} (ZeRO-{z})" if z >= 2 else "")
        + f" = {_gb(states.grads)}",
        "optimizer states": f"{plan.optimizer_bytes:g} B × Ψ"
        + (f" / dp {d} (ZeRO-{z})" if z >= 1 else "")
        + f" = {_gb(states.optimizer)}"
        + (" — offloaded to CPU memory, 0 on the GPU" if plan.offload_optimizer else ""),
        "activations": f"{activation_formula(plan)} × {plan.activation_bytes:g}/2 B "
        f"(s={shape.seq}, b={plan.micro_batch}, h={shape.hidden}, a={shape.heads}, t={plan.tp}, "
        f"recompute {plan.recompute}) = {_gb(per_layer)} per layer × {shape.layers // plan.pp} "
        f"layers × {in_flight} micro-batch(es) in flight "
        f"({plan.schedule if plan.pp > 1 else 'no pipeline'}) = {_gb(parts['activations'])}",
        "embedding output": f"s·b·h × {plan.activation_bytes:g} B"
        + (" / t (SP)" if plan.sp else "")
        + f" × {in_flight} in flight = {_gb(parts['embedding output'])}",
        "logits": (
            f"s·b·vocab × {plan.logits_bytes:g} B / t = {_gb(parts['logits'])}"
            if plan.pp == 1
            else "on the last pipeline stage, not the first: 0 here"
        ),
    }


def communication(
    shape: ModelShape, plan: Plan, bandwidth_bytes_s: float = 100e9
) -> dict[str, Traffic]:
    """Bytes each GPU sends per step for each kind of parallelism, and ring all-reduce time."""
    psi = shape.n_params() / (plan.tp * plan.pp)
    out = {}
    if plan.dp > 1:
        t = data_parallel_traffic(psi, plan.dp, plan.zero_stage, plan.grad_bytes, bandwidth_bytes_s)
        out["data parallel"] = Traffic(t.bytes, t.seconds)
    act = shape.seq * plan.micro_batch * shape.hidden * plan.activation_bytes
    if plan.tp > 1:
        per = ring_allreduce_seconds(act, plan.tp, bandwidth_bytes_s)
        # 2 all-reduces forward, 2 backward per layer
        n = 4 * (shape.layers // plan.pp) * plan.microbatches
        out["tensor parallel"] = Traffic(2 * (plan.tp - 1) / plan.tp * act * n, per * n)
    if plan.pp > 1:
        vol = 2 * act * plan.microbatches  # activations forward, gradients backward
        out["pipeline"] = Traffic(vol, vol / bandwidth_bytes_s)
    return out


# ---------------------------------------------------------------- what the app's tabs compute
@dataclass(frozen=True)
class PlanMemory:
    """A plan's memory per GPU beside the same model with no parallelism (one GPU)."""

    plan: Breakdown
    single: Breakdown  # same micro-batch, recompute and bytes per value; dp = tp = pp = 1
    n_params: float

    def fits(self, gpu_bytes: float) -> bool:
        return self.plan.total <= gpu_bytes


def against_one_gpu(shape: ModelShape, plan: Plan) -> PlanMemory:
    """`breakdown` of the plan and of one GPU running the same model the same way."""
    single = Plan(
        micro_batch=plan.micro_batch,
        recompute=plan.recompute,
        param_bytes=plan.param_bytes,
        grad_bytes=plan.grad_bytes,
        optimizer_bytes=plan.optimizer_bytes,
        activation_bytes=plan.activation_bytes,
    )
    return PlanMemory(breakdown(shape, plan), breakdown(shape, single), shape.n_params())


@dataclass(frozen=True)
class ZeroStage:
    stage: int  # 0 = plain data parallelism
    states: ModelStates  # bytes per GPU
    saving: float  # stage 0's total / this stage's total
    traffic: Traffic  # each rank's sends per step (nothing with one rank)


@dataclass(frozen=True)
class ZeroStudy:
    stages: list[ZeroStage]  # stages 0–3 at the chosen data-parallel size
    dps: list[int]  # data-parallel sizes of the scaling curves: powers of 2
    totals: list[list[float]]  # per stage: model-state bytes per GPU at each of `dps`


def zero_stages(
    psi: float,
    dp: int,
    param_bytes: float = 2,
    grad_bytes: float = 2,
    optimizer_bytes: float = 12,
    bandwidth_bytes_s: float = 100e9,
) -> ZeroStudy:
    """Model states per GPU under ZeRO stages 0–3 (Rajbhandari et al. 2020), how they shrink as
    data parallelism grows, and what each stage sends per step on a ring."""
    states = [
        model_state_bytes(psi, z, dp, optimizer_bytes, param_bytes, grad_bytes) for z in range(4)
    ]
    base = states[0].total
    stages = [
        ZeroStage(
            z,
            s,
            base / s.total if s.total else 1.0,
            data_parallel_traffic(psi, dp, z, grad_bytes, bandwidth_bytes_s)
            if dp > 1
            else Traffic(0.0, 0.0, 0.0),
        )
        for z, s in enumerate(states)
    ]
    dps = [2**i for i in range(0, 17) if 2**i <= max(dp, 1024)]
    totals = [
        [model_state_bytes(psi, z, n, optimizer_bytes, param_bytes, grad_bytes).total for n in dps]
        for z in range(4)
    ]
    return ZeroStudy(stages, dps, totals)


TP_SIZES = (1, 2, 4, 8, 16, 32, 64)
# the activation curves of the tensor-parallel view: name -> (sequence parallel, recompute)
TP_SETTINGS = {
    "TP": (False, "none"),
    "TP + sequence parallel": (True, "none"),
    "TP + SP + selective recompute": (True, "selective"),
    "full recompute (+ SP)": (True, "full"),
}


@dataclass(frozen=True)
class TensorLayer:
    """One layer of a model under Megatron tensor parallelism of size t (Shoeybi et al. 2019)."""

    sizes: list[int]  # the TP sizes that divide the heads
    curves: dict[str, list[float]]  # TP_SETTINGS name -> activation bytes per GPU at each size
    activation_bytes: float  # at the chosen t, sequence parallelism and recompute
    activation_formula: str  # Korthikanti's formula with the numbers, as `breakdown` writes it
    layer_params: float
    params_per_gpu: float  # layer_params / t
    allreduces_per_layer: int  # 2 forward (after attention, after the MLP), 2 backward; 0 at t = 1
    allreduce_bytes: float  # one all-reduce carries the s·b·h activations, 16-bit
    allreduce_s: float  # one ring all-reduce on the given link
    step_allreduce_s: float  # every layer's all-reduces in one step, before overlap


def tensor_layer(
    shape: ModelShape,
    tp: int,
    sp: bool = False,
    micro_batch: int = 1,
    recompute: str = "none",
    bandwidth_bytes_s: float = 450e9,
    name: str = "the model",
) -> TensorLayer:
    """Parameters and activations of one layer per GPU as TP grows, and its all-reduces."""
    if shape.heads % tp or shape.hidden % tp:
        raise ValueError(
            f"TP = {tp} must divide {name}'s {shape.heads} heads and hidden size {shape.hidden}"
        )
    s, h, a, b = shape.seq, shape.hidden, shape.heads, micro_batch
    sizes = [x for x in TP_SIZES if a % x == 0]
    curves = {
        k: [activation_bytes_per_layer(s, b, h, a, x, sp_, rc) for x in sizes]
        for k, (sp_, rc) in TP_SETTINGS.items()
    }
    plan = Plan(tp=tp, sp=bool(sp), micro_batch=b, recompute=recompute)
    msg = s * b * h * 2
    ar = ring_allreduce_seconds(msg, tp, bandwidth_bytes_s) if tp > 1 else 0.0
    return TensorLayer(
        sizes=sizes,
        curves=curves,
        activation_bytes=activation_bytes_per_layer(s, b, h, a, tp, bool(sp), recompute),
        activation_formula=breakdown(shape, plan).formulas["activations"].split(" = ")[0],
        layer_params=shape.layer_params(),
        params_per_gpu=shape.layer_params() / tp,
        allreduces_per_layer=4 if tp > 1 else 0,
        allreduce_bytes=msg,
        allreduce_s=ar,
        step_allreduce_s=4 * shape.layers * ar,
    )
