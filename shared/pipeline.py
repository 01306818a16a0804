"""Pipeline-parallel schedules as event lists, simulated, with their bubbles (pure Python).

A schedule is each device's ordered list of operations (forward F or backward B of one
micro-batch on one model chunk). `simulate` runs them with the pipeline's dependencies —
F of a micro-batch on a virtual stage needs its F on the stage before; B needs its B on the
stage after and its own F — and returns every op's (stage, micro-batch, kind, start, end, chunk).

- GPipe (all forward, then all backward): Huang et al. 2019.
- 1F1B: warm up with p − s − 1 forwards, then alternate one forward / one backward (PipeDream-Flush,
  Narayanan et al. 2021).
- Interleaved 1F1B: v model chunks per device (virtual stages c·p + s), Megatron-LM's order:
  (p − s − 1)·2 + (v − 1)·p warm-up forwards (Narayanan et al. 2021, Sec. 2.2; needs p | m).

Bubbles (Narayanan et al. 2021): GPipe and 1F1B idle (p−1)/(m+p−1) of the step (bubble/ideal =
(p−1)/m); interleaved (p−1)/v of a micro-batch-time per device (bubble/ideal = (p−1)/(v·m)).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("gpipe", "1f1b", "interleaved")


@dataclass(frozen=True)
class Event:
    stage: int  # device
    microbatch: int
    kind: str  # "F" or "B"
    start: float
    end: float
    chunk: int = 0  # model chunk on this device (interleaved)


def _check(kind: str, stages: int, microbatches: int, chunks: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(KINDS)}")
    for name, v in (("stages", stages), ("microbatches", microbatches), ("chunks", chunks)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1 (got {v!r})")
    if stages > 512 or microbatches > 4096 or chunks > 64:
        raise ValueError("at most 512 stages, 4096 micro-batches and 64 chunks")
    if kind != "interleaved" and chunks != 1:
        raise ValueError(
            f"{kind} has one chunk per device (got chunks={chunks}); use 'interleaved'"
        )
    if kind == "interleaved" and microbatches % stages:
        raise ValueError(
            f"interleaved 1F1B needs micro-batches divisible by stages ({microbatches} % {stages} ≠ 0)"
        )


def device_orders(
    kind: str, stages: int, microbatches: int, chunks: int = 1
) -> list[list[tuple[str, int, int]]]:
    """Each device's op order: [(kind "F"/"B", micro-batch, chunk), ...]."""
    _check(kind, stages, microbatches, chunks)
    p, m, v = stages, microbatches, chunks
    orders = []
    for s in range(p):
        if kind == "gpipe":
            ops = [("F", i, 0) for i in range(m)] + [("B", i, 0) for i in range(m)]
        elif kind == "1f1b":
            warm = min(p - s - 1, m)
            ops = [("F", i, 0) for i in range(warm)]
            f, b = warm, 0
            while b < m:
                if f < m:
                    ops.append(("F", f, 0))
                    f += 1
                ops.append(("B", b, 0))
                b += 1
        else:  # Megatron-LM interleaved schedule
            total = m * v

            def fwd(k):  # k-th forward on this device -> (micro-batch, chunk)
                return (k // (p * v)) * p + k % p, (k // p) % v

            def bwd(k):
                return (k // (p * v)) * p + k % p, v - 1 - (k // p) % v

            warm = min((p - s - 1) * 2 + (v - 1) * p, total)
            ops = [("F", *fwd(k)) for k in range(warm)]
            f, b = warm, 0
            while b < total:
                if f < total:
                    ops.append(("F", *fwd(f)))
                    f += 1
                ops.append(("B", *bwd(b)))
                b += 1
        orders.append(ops)
    return orders


def simulate(
    kind: str,
    stages: int,
    microbatches: int,
    chunks: int = 1,
    t_forward: float = 1.0,
    t_backward: float = 2.0,
) -> list[Event]:
    """Event list of a schedule; t_forward / t_backward are one micro-batch through one device's
    whole share of the model (each of v chunks takes 1/v of it)."""
    if not (t_forward > 0 and t_backward > 0):
        raise ValueError("t_forward and t_backward must be positive")
    orders = device_orders(kind, stages, microbatches, chunks)
    p, v = stages, chunks
    dur = {"F": t_forward / v, "B": t_backward / v}
    done: dict[tuple[str, int, int], float] = {}  # (kind, micro-batch, virtual stage) -> end
    free = [0.0] * p
    nxt = [0] * p
    events: list[Event] = []
    last_vs = p * v - 1
    remaining = sum(len(o) for o in orders)
    while remaining:
        progressed = False
        for s in range(p):
            while nxt[s] < len(orders[s]):
                k, mb, c = orders[s][nxt[s]]
                vs = c * p + s
                if k == "F":
                    deps = [("F", mb, vs - 1)] if vs > 0 else []
                else:
                    deps = [("F", mb, vs)] + ([("B", mb, vs + 1)] if vs < last_vs else [])
                if any(d not in done for d in deps):
                    break
                start = max([free[s]] + [done[d] for d in deps])
                end = start + dur[k]
                done[(k, mb, vs)] = end
                free[s] = end
                events.append(Event(s, mb, k, start, end, c))
                nxt[s] += 1
                remaining -= 1
                progressed = True
        if not progressed:
            raise RuntimeError(f"{kind}: the op order deadlocks (a bug in the schedule)")
    return sorted(events, key=lambda e: (e.start, e.stage))


def bubble_fraction(schedule: str, stages: int, microbatches: int, chunks: int = 1) -> float:
    """Idle share of each device over one step (forward and backward of equal relative cost):
    (p−1)/v / (m + (p−1)/v); v = 1 for GPipe and 1F1B: (p−1)/(m+p−1)."""
    _check(schedule, stages, microbatches, chunks)
    idle = (stages - 1) / chunks
    return idle / (microbatches + idle)


def bubble_ratio(schedule: str, stages: int, microbatches: int, chunks: int = 1) -> float:
    """Bubble time / ideal time, the form Narayanan et al. state: (p−1)/(v·m)."""
    _check(schedule, stages, microbatches, chunks)
    return (stages - 1) / (chunks * microbatches)


def measured_bubble(events: list[Event]) -> float:
    """1 − busy / (devices · makespan), from an event list (simulated or recorded)."""
    if not events:
        raise ValueError("no events")
    t0 = min(e.start for e in events)
    t1 = max(e.end for e in events)
    devices = {e.stage for e in events}
    busy = sum(e.end - e.start for e in events)
    return 1.0 - busy / (len(devices) * (t1 - t0))


def peak_in_flight(events: list[Event], chunks: int = 1) -> dict[int, float]:
    """Per device, the most micro-batches whose forward has run but whose backward has not
    finished — the activations the device must hold — in units of one micro-batch through
    the device's whole share of the model (a chunk counts 1/chunks)."""
    out: dict[int, float] = {}
    for s in sorted({e.stage for e in events}):
        deltas = []
        for e in events:
            if e.stage == s:
                deltas.append((e.end, 1 if e.kind == "F" else -1))
        # at equal times release (B end) before holding (F end)
        deltas.sort(key=lambda t: (t[0], t[1]))
        cur = best = 0
        for _, d in deltas:
            cur += d
            best = max(best, cur)
        out[s] = best / chunks
    return out


@dataclass(frozen=True)
class ScheduleStudy:
    """One simulated schedule, its bubble measured and from the formula, and the formula's bubble
    as the number of micro-batches grows."""

    events: list[Event]
    span: float  # the step's length
    measured: float  # idle share of the simulated step
    formula: float  # `bubble_fraction`
    ratio: float  # bubble / ideal time, `bubble_ratio`
    peak: dict[int, float]  # device -> most micro-batches' activations held at once
    ms: list[int]  # micro-batch counts of the curves: 1..64
    bubble_curve: list[float]  # GPipe / 1F1B bubble at each of `ms`
    interleaved: dict[int, tuple[list[int], list[float]]]  # chunks v -> (m divisible by p, bubble)


def study(
    schedule: str, stages: int, microbatches: int, chunks: int = 1, backward_ratio: float = 2.0
) -> ScheduleStudy:
    """`simulate` with forward = 1 and backward = `backward_ratio`, and the bubble curves for
    v = 2, 4 and the chosen v chunks."""
    v = chunks if schedule == "interleaved" else 1
    events = simulate(schedule, stages, microbatches, v, 1.0, backward_ratio)
    formula = bubble_fraction(schedule, stages, microbatches, v)
    ms = list(range(1, 65))
    interleaved = {}
    for vv in sorted({2, 4, v} - {1}):
        xs = [x for x in ms if x % stages == 0]
        if xs:
            interleaved[vv] = (xs, [bubble_fraction("interleaved", stages, x, vv) for x in xs])
    return ScheduleStudy(
        events=events,
        span=max(e.end for e in events),
        measured=measured_bubble(events),
        formula=formula,
        ratio=bubble_ratio(schedule, stages, microbatches, v),
        peak=peak_in_flight(events, chunks=v),
        ms=ms,
        bubble_curve=[bubble_fraction("1f1b", stages, x) for x in ms],
        interleaved=interleaved,
    )
