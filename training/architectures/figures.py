"""The numbers each tab of the architectures app shows, computed from the typed results (and,
for the state table, from the published model shapes): one function per view, each returning a
dataclass the app only formats; and the headline a build prints. Torch-free."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared import memory, recurrence

from .plan import ARCHS
from .results import (
    ArchitecturesResults,
    Built,
    DecodeArch,
    Gradients,
    LMRun,
    MqarRun,
    Throughput,
)

Line = tuple[list[float], list[float]]  # (x, y)


# ---------------------------------------------------------------- headline figures
@dataclass(frozen=True)
class MqarLongest:
    """MQAR at the longest evaluated length with the most pairs the models were trained on."""

    seq: int
    pairs: int
    width: int  # the widest models
    accuracy: dict[str, float]  # arch -> accuracy

    @property
    def key(self) -> str:
        return f"{self.seq}x{self.pairs}"

    @property
    def ordering(self) -> list[str]:
        """The architectures, best first."""
        return sorted(self.accuracy, key=lambda a: -self.accuracy[a])


def mqar_at_longest(results: ArchitecturesResults) -> MqarLongest:
    """Accuracy at the longest evaluated length with the most pairs the models were trained on
    (larger counts in the grid test generalisation beyond training), widest models."""
    m = results.mqar
    seq = max(g.seq for g in m.grid)
    trained = max(m.train_pairs)
    pairs = max(g.pairs for g in m.grid if g.seq == seq and g.pairs <= trained)
    width = max(r.width for r in m.runs)
    key = f"{seq}x{pairs}"
    accuracy = {r.arch: r.accuracy[key] for r in m.runs if r.width == width}
    return MqarLongest(seq=seq, pairs=pairs, width=width, accuracy=accuracy)


def headline(results: ArchitecturesResults | Built) -> dict:
    """The numbers to print after a build (JSON-able); given a `Built`, also where it was written."""
    out = None
    if isinstance(results, Built):
        out, results = str(results.out), results.results
    longest = mqar_at_longest(results)
    inf = results.inference.archs
    return {
        "out": out,
        "seconds": results.seconds,
        "mqar_longest": asdict(longest),
        "mqar_ordering": longest.ordering,
        "lm_final_eval_loss": {f"{r.arch}-{r.width}": r.final_eval_loss for r in results.lm.runs},
        "copy_accuracy": {r.arch: r.accuracy for r in results.copy.runs},
        "cache_bytes_at": {
            a: [x.rows[0].cache_bytes, x.rows[-1].cache_bytes] for a, x in inf.items()
        },
        "cache_check_max_diff": {a: x.cache_check for a, x in inf.items()},
    }


def runs_at(runs: list, width) -> tuple[int, list]:
    """The runs of one width (a radio's value, text or number), or a one-line ValueError naming
    the widths there are."""
    widths = sorted({x.width for x in runs})
    try:
        width = int(width)
    except (TypeError, ValueError):
        raise ValueError(f"width must be one of {widths} (got {width!r})") from None
    if width not in widths:
        raise ValueError(f"width {width}: the bundled runs have widths {widths}")
    return width, [x for x in runs if x.width == width]


# ---------------------------------------------------------------- overview
@dataclass(frozen=True)
class Overview:
    longest: MqarLongest  # recall at the longest length
    lm_width: int  # the widest LM models
    lm_loss: dict[str, float]  # arch -> final held-out loss at lm_width
    contexts: tuple[int, int]  # the shortest and longest decode contexts
    kv_growth: float  # the transformer's cache bytes, longest / shortest context
    mamba_state: int  # Mamba's state bytes (the same at every context)
    lstm_state: int  # the LSTM's
    longest_train_seq: int  # the longest sequence of the throughput section
    copy_accuracy: dict[str, float]
    section_minutes: float  # the build's sections, in all
    cpus: int


def overview(r: ArchitecturesResults) -> Overview:
    w = max(x.width for x in r.lm.runs)
    t = r.inference.archs["transformer"].rows
    return Overview(
        longest=mqar_at_longest(r),
        lm_width=w,
        lm_loss={
            a: x.final_eval_loss for a in ARCHS for x in r.lm.runs if (x.arch, x.width) == (a, w)
        },
        contexts=(t[0].context, t[-1].context),
        kv_growth=t[-1].cache_bytes / t[0].cache_bytes,
        mamba_state=r.inference.archs["mamba"].rows[0].cache_bytes,
        lstm_state=r.inference.archs["lstm"].rows[0].cache_bytes,
        longest_train_seq=r.throughput.rows["transformer"][-1].seq,
        copy_accuracy={x.arch: x.accuracy for x in r.copy.runs},
        section_minutes=sum(r.section_seconds.values()) / 60,
        cpus=r.machine.cpus,
    )


# ---------------------------------------------------------------- recall (MQAR)
@dataclass(frozen=True)
class MqarView:
    width: int
    runs: list[MqarRun]  # this width's runs
    seqs: list[int]  # the evaluated lengths, shortest first
    by_pairs: dict[tuple[str, int], Line]  # (arch, length) -> (pairs, accuracy)
    longest: MqarLongest
    widths: list[int]
    by_width: dict[str, Line]  # arch -> (width, accuracy at the longest cell)
    training: dict[str, Line]  # arch -> (step, held-out accuracy) at this width


def mqar_view(r: ArchitecturesResults, width) -> MqarView:
    """Accuracy vs key-value pairs at each length (one width), vs width at the longest length,
    and the training curves. A width there is no run of: ValueError."""
    m = r.mqar
    width, runs = runs_at(m.runs, width)
    seqs = sorted({g.seq for g in m.grid})
    by_pairs = {}
    for x in runs:
        for s in seqs:
            cells = [g for g in m.grid if g.seq == s]
            by_pairs[(x.arch, s)] = ([g.pairs for g in cells], [x.accuracy[g.key] for g in cells])
    longest = mqar_at_longest(r)
    widths = sorted({x.width for x in m.runs})
    at = {(x.arch, x.width): x.accuracy[longest.key] for x in m.runs}
    return MqarView(
        width=width,
        runs=runs,
        seqs=seqs,
        by_pairs=by_pairs,
        longest=longest,
        widths=widths,
        by_width={a: (widths, [at[(a, w)] for w in widths]) for a in ARCHS},
        training={x.arch: ([p.step for p in x.curve], [p.accuracy for p in x.curve]) for x in runs},
    )


# ---------------------------------------------------------------- language modelling
@dataclass(frozen=True)
class LMCurves:
    by_step: Line  # (step, held-out loss)
    by_time: Line  # (seconds, held-out loss): the points with a clock


def lm_curves(run: LMRun) -> LMCurves:
    timed = [p for p in run.curve if p.elapsed_s is not None]
    return LMCurves(
        by_step=([p.step for p in run.curve], [p.eval_loss for p in run.curve]),
        by_time=([p.elapsed_s for p in timed], [p.eval_loss for p in timed]),
    )


# ---------------------------------------------------------------- training speed
@dataclass(frozen=True)
class SpeedView:
    tokens_per_s: dict[str, Line]  # arch -> (sequence length, training tokens/s)
    depth: dict[str, Line]  # arch -> (sequence length, dependent steps per forward pass)


def speed_view(t: Throughput) -> SpeedView:
    """Measured throughput, and the dependency depth of each architecture's forward pass:
    attention L, Mamba's parallel scan L·⌈log₂ T⌉, the LSTM L·T (`shared.recurrence`)."""
    seqs = [x.seq for x in t.rows["transformer"]]
    d = recurrence.sequential_depth(seqs, *(t.models[a].n_layer for a in ARCHS))
    return SpeedView(
        tokens_per_s={
            a: ([x.seq for x in t.rows[a]], [x.tokens_per_s for x in t.rows[a]]) for a in ARCHS
        },
        depth=dict(zip(ARCHS, ((seqs, d.attention), (seqs, d.scan), (seqs, d.loop)))),
    )


# ---------------------------------------------------------------- inference & memory
@dataclass(frozen=True)
class DecodeSeries:
    contexts: list[int]
    cache_kib: list[float]
    mflops: list[float]  # MFLOPs per generated token
    ms: list[float]  # ms per generated token


def decode_series(d: DecodeArch) -> DecodeSeries:
    return DecodeSeries(
        contexts=[x.context for x in d.rows],
        cache_kib=[x.cache_bytes / 1024 for x in d.rows],
        mflops=[x.flops_per_token / 1e6 for x in d.rows],
        ms=[x.ms_per_token for x in d.rows],
    )


@dataclass(frozen=True)
class StateRow:
    model: str
    params_b: float
    kind: str  # "kv" or "ssm"
    bytes: list[float]  # per sequence, at each context
    source: str


@dataclass(frozen=True)
class StateComparison:
    contexts: list[int]
    rows: list[StateRow]
    longest: int  # the longest context asked for
    llama_kv: float  # Llama 2 7B's KV bytes there
    mamba_state: float  # Falcon Mamba 7B's state bytes (any context)

    @property
    def ratio(self) -> float:
        return self.llama_kv / self.mamba_state


def state_comparison(contexts: list[int], bytes_per_value: float) -> StateComparison:
    """Bytes each published model keeps per sequence while generating, at each context length."""
    shapes = memory.CACHE_SHAPES
    rows = [
        StateRow(
            n, s.params_b, s.kind, [s.bytes(c, 1, bytes_per_value) for c in contexts], s.source
        )
        for n, s in shapes.items()
    ]
    big = max(contexts)
    return StateComparison(
        contexts=list(contexts),
        rows=rows,
        longest=big,
        llama_kv=shapes["Llama 2 7B (MHA)"].bytes(big, 1, bytes_per_value),
        mamba_state=shapes["Falcon Mamba 7B"].bytes(big, 1, bytes_per_value),
    )


# ---------------------------------------------------------------- gradient flow
GRADIENT_CHOICES = ("init", "trained", "both")


@dataclass(frozen=True)
class GradientView:
    lines: dict[tuple[str, str], list[float]]  # (arch, "init" | "trained") -> norm at t = 0, 1, …
    drop: dict[str, float]  # arch -> norm at t = 1 / at the farthest t (trained models if any)


def gradient_view(g: Gradients, which: str) -> GradientView:
    if which not in GRADIENT_CHOICES:
        raise ValueError("show: choose init, trained or both")
    kinds = ("init", "trained") if which == "both" else (which,)
    lines = {}
    for a in ARCHS:
        for kind in kinds:
            ys = getattr(g.archs[a], kind)
            if ys:
                lines[(a, kind)] = ys
    drop = {}
    for a in ARCHS:
        ys = g.archs[a].trained or g.archs[a].init
        far = ys[-1] if ys[-1] > 0 else min(v for v in ys if v > 0)
        drop[a] = ys[1] / far
    return GradientView(lines=lines, drop=drop)
