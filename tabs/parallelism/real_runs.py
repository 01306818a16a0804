"""The Real runs tab: the bundled multi-process runs (`training.parallel.results.read_results`) — every
check, measured against the unsplit computation or the memory model — their pipeline Gantt charts
beside the simulation, and a bounded run launched from the page (`training.parallel.launch`)."""

from __future__ import annotations

import gradio as gr

from shared import ui
from tabs.parallelism import num as _num  # the name `live_run` uses
from training import store
from training.parallel import results as parallel_results
from training.parallel.results import LiveLaunch, ParallelResults, PipelineRun

LIVE_KINDS = {
    "pipeline (1F1B)": ("pipeline", "1f1b"),
    "pipeline (GPipe)": ("pipeline", "gpipe"),
    "data parallel (DDP)": ("ddp", None),
    "tensor parallel (MLP)": ("tensor_parallel", None),
    "FSDP2 / ZeRO-3": ("fsdp", None),
}
NO_RESULTS = "No bundled parallel runs: build them with `python -m training parallel --preset cpu` (a few minutes)."
INTRO = (
    "Every parallelism above, run for real: several processes with `torch.distributed` "
    "(DDP, FSDP2 `fully_shard`, `torch.distributed.pipelining` GPipe and 1F1B, a Megatron-style "
    "MLP), each checked against a single process or against the memory model."
)
EXPLAIN = (
    "Measured on {cpus} CPU cores with torch {torch} (gloo; the same code runs with "
    "nccl on GPUs). Rebuild: `{rebuild}`. On CPU the "
    "all-reduce goes through shared memory and sockets, so the compute/communication balance is not a GPU "
    "cluster's; the byte counts and equalities are exact everywhere.\n\n"
    "**Activations**: a real GPT-2 layer (bf16, dropout 0.1, eager attention) stores every tensor Korthikanti "
    "et al. count, plus two things the paper's 34sbh + 5as²b leaves out on this device: dropout masks kept as "
    "2-byte values instead of 1-byte masks (+2sbh + as²b) and the LayerNorm mean and 1/std per token "
    "(a few bytes per token). With those the measurement is explained to the byte; without "
    "them it is 1.06–1.2× the "
    "formula, growing with sequence length. Full recompute keeps only the layer input: exactly 2sbh."
)
PIPELINE_TEXT = (
    "Measured bubble **{measured:.1f}%** vs the formula's **{formula:.1f}%** "
    "(forward {forward:.2f} ms, backward {backward:.2f} ms per "
    "micro-batch per stage, means). Real steps add what the formula leaves out: sending activations and "
    "gradients between processes, the loss on the last stage, and uneven op times.{oversubscribed}"
)
OVERSUBSCRIBED = " These ranks outnumber the CPU cores, so they also waited for a core."
LIVE_NOTE = "**Launch a run now** (bounded: 30 s, one at a time; processes are always cleaned up)."
CHECK_HEADERS = ["run", "what was checked", "measured", "expected"]
ACT_HEADERS = [
    "recompute",
    "s×b×h, heads",
    "measured bytes (saved for backward)",
    "Korthikanti formula",
    "measured / formula",
]
STATES = (("parameters", "params"), ("gradients", "grads"), ("optimizer states", "optimizer"))
LIVE_DDP = (
    "Gradients on every rank equal one process's on the global batch: max |Δ| = {diff:.1e}. "
    "All-reduce of {mb:.2f} MB (ring: {ring:.2f} MB sent per rank)."
)
LIVE_TP = (
    "Column- then row-parallel MLP equals the unsplit MLP: max |Δ| = {diff:.1e}; one all-reduce "
    "of {mb:.2f} MB."
)
LIVE_FSDP = (
    "Each rank holds exactly 1/{ranks} of every state; all-gathers took {gathers} per forward."
)


def _results() -> ParallelResults | None:
    """The bundled results; results that do not match this code are a one-line error."""
    try:
        return parallel_results.read_results()
    except store.CheckpointError as e:
        raise ui.user_error(e) from None


def _pipeline_label(run: PipelineRun) -> str:
    return (
        f"{'GPipe' if run.schedule == 'gpipe' else '1F1B'}, {run.stages} ranks, "
        f"{run.microbatches} micro-batches"
    )


def real_runs():
    """The bundled real runs: every check (measured vs predicted or vs the unsplit computation),
    DDP compute vs all-reduce, FSDP bytes per rank vs the memory model, activations vs Korthikanti."""
    r = _results()
    if r is None:
        return [], ui.message_figure(NO_RESULTS), ui.message_figure(NO_RESULTS), [], NO_RESULTS
    act = [
        [
            a.recompute,
            f"{a.seq}×{a.batch}×{a.hidden}, {a.heads} heads",
            f"{a.measured_bytes:,}",
            f"{a.predicted_bytes:,.0f}",
            f"{a.ratio:.3f}",
        ]
        for a in r.activations
    ]
    text = EXPLAIN.format(cpus=r.machine.cpus, torch=r.machine.torch, rebuild=r.rebuild)
    return _checks(r), _timing_figure(r), _fsdp_figure(r), act, text


def _checks(r: ParallelResults) -> list[list[str]]:
    ddp, tp, fs = r.ddp, r.tensor_parallel, r.fsdp
    rows = [
        [
            "DDP",
            f"{ddp.ranks} ranks: gradients vs one process on the global batch",
            f"max |Δ| = {ddp.max_abs_grad_diff:.1e}",
            "equal (fp32 rounding)",
        ],
        [
            "tensor parallel",
            f"{tp.ranks} ranks: column/row-parallel MLP vs the unsplit MLP",
            f"max |Δ| = {tp.max_abs_diff:.1e}",
            "equal (fp32 rounding)",
        ],
    ]
    for part, key in STATES:
        rows.append(
            [
                "FSDP2 (ZeRO-3)",
                f"{fs.ranks} ranks: {part} bytes per rank",
                " / ".join(f"{g:,}" for g in fs.distinct_bytes(key)),
                f"{getattr(fs.predicted_per_rank, key):,.0f} predicted",
            ]
        )
    for rc in ("none", "full"):
        ratios = r.activation_ratios(rc)
        if ratios:
            rows.append(
                [
                    "activations",
                    f"{len(ratios)} GPT-2 layer shapes, recompute {rc}: bytes saved for backward",
                    f"{min(ratios):.3f}–{max(ratios):.3f}× the formula",
                    "explained byte for byte (below)" if rc == "none" else "2sbh: the layer input",
                ]
            )
    for run in r.pipeline:
        rows.append(
            [
                "pipeline",
                _pipeline_label(run) + (" (oversubscribed)" if run.oversubscribed else ""),
                f"bubble {100 * run.measured_bubble:.1f}%",
                f"{100 * run.formula_bubble:.1f}% formula",
            ]
        )
    return rows


def _timing_figure(r: ParallelResults):
    ddp, tp = r.ddp, r.tensor_parallel
    return ui.grouped_bar_figure(
        ["DDP step", "tensor-parallel MLP forward"],
        {
            "compute": [1e3 * ddp.compute_s, 1e3 * tp.compute_s],
            "all-reduce": [1e3 * ddp.allreduce_s, 1e3 * tp.allreduce_s],
            "whole step with sync": [1e3 * ddp.step_s, 0.0],
        },
        "Measured: compute vs communication",
        "",
        "milliseconds (median)",
    )


def _fsdp_figure(r: ParallelResults):
    fs, pred = r.fsdp, r.fsdp.predicted_per_rank
    return ui.grouped_bar_figure(
        [part for part, _ in STATES],
        {
            **{
                f"rank {i} (measured)": [
                    x.params_bytes / 1e6,
                    x.grads_bytes / 1e6,
                    x.optimizer_bytes / 1e6,
                ]
                for i, x in enumerate(fs.per_rank)
            },
            "ZeRO-3 formula": [pred.params / 1e6, pred.grads / 1e6, pred.optimizer / 1e6],
            "unsharded": [getattr(fs.unsharded_bytes, k) / 1e6 for _, k in STATES],
        },
        f"FSDP2 on {fs.ranks} ranks: bytes per rank vs the memory model",
        "",
        "MB",
    )


def pipeline_labels() -> list[str]:
    """The bundled pipeline runs' names: the run picker's choices, known when the page is built."""
    r = _results()
    return [_pipeline_label(x) for x in r.pipeline] if r else []


def pipeline_run(label: str):
    """One bundled pipeline run: the measured Gantt chart beside the simulated one with the
    measured mean forward/backward times."""
    r = _results()
    if r is None:
        return ui.message_figure(NO_RESULTS), ui.message_figure(NO_RESULTS), NO_RESULTS
    runs = {_pipeline_label(x): x for x in r.pipeline}
    if label not in runs:
        raise ui.user_error(f"unknown run {label!r}: choose one of {', '.join(runs)}")
    return _pipeline_figures(runs[label])


def _pipeline_figures(run: PipelineRun):
    """A bundled pipeline run, or a live one."""
    measured, simulated = run.timeline(), run.timeline(simulated=True)
    span = max(max(e.end for e in measured), max(e.end for e in simulated))
    f1 = ui.gantt_figure(
        measured, f"Measured: {_pipeline_label(run)}", "seconds", x_range=(0, span)
    )
    f2 = ui.gantt_figure(
        simulated, "Simulated with the measured mean F and B times", "seconds", x_range=(0, span)
    )
    text = PIPELINE_TEXT.format(
        measured=100 * run.measured_bubble,
        formula=100 * run.formula_bubble,
        forward=1e3 * run.t_forward_mean,
        backward=1e3 * run.t_backward_mean,
        oversubscribed=OVERSUBSCRIBED if run.oversubscribed else "",
    )
    return f1, f2, text


def live_run(kind_label: str, ranks, microbatches, progress=gr.Progress()):
    """Launch a real multi-process run from the page (bounded; one at a time) and show what it
    measured."""
    from training.parallel import launch  # the launcher (subprocesses): only when a run starts

    if kind_label not in LIVE_KINDS:
        raise ui.user_error(f"unknown run {kind_label!r}: choose one of {', '.join(LIVE_KINDS)}")
    kind, schedule = LIVE_KINDS[kind_label]
    n = _num("ranks", ranks, 2, 64, integer=True)
    opts = {}
    if kind == "pipeline":
        opts = {
            "schedule": schedule,
            "microbatches": _num("micro-batches", microbatches, 1, 32, integer=True),
        }
    waiting = ui.message_figure(f"launching {n} processes …")
    yield from ui.stream_live(
        lambda: launch.live_run(kind, n, **opts),
        lambda ev: _live_figures(ev.data) if ev.kind == "done" else None,
        progress,
        failed="",
        starting=(waiting, waiting, f"Launching {n} processes …"),
    )


def _live_figures(done: LiveLaunch):
    """The figures and text of a finished live run."""
    out, kind = done.run, done.kind
    if kind == "pipeline":
        f1, f2, text = _pipeline_figures(out)
        return f1, f2, f"**Done** in {done.wall_s:.1f} s. " + text
    if kind == "ddp":
        fig = ui.bar_figure(
            ["compute (no sync)", "all-reduce of all gradients", "step with sync"],
            [1e3 * out.compute_s, 1e3 * out.allreduce_s, 1e3 * out.step_s],
            f"DDP on {out.ranks} processes",
            "",
            "milliseconds (median)",
        )
        text = LIVE_DDP.format(
            diff=out.max_abs_grad_diff, mb=out.grad_bytes / 1e6, ring=out.ring_bytes_per_rank / 1e6
        )
    elif kind == "tensor_parallel":
        fig = ui.bar_figure(
            ["local compute", "all-reduce"],
            [1e3 * out.compute_s, 1e3 * out.allreduce_s],
            f"Tensor-parallel MLP on {out.ranks} processes",
            "",
            "milliseconds (median)",
        )
        text = LIVE_TP.format(diff=out.max_abs_diff, mb=out.allreduce_bytes / 1e6)
    else:
        pred = out.predicted_per_rank
        states = ("params", "grads", "optimizer")
        fig = ui.grouped_bar_figure(
            ["parameters", "gradients", "optimizer states"],
            {
                **{
                    f"rank {i}": [getattr(x, f"{k}_bytes") / 1e6 for k in states]
                    for i, x in enumerate(out.per_rank)
                },
                "ZeRO-3 formula": [getattr(pred, k) / 1e6 for k in states],
            },
            f"FSDP2 on {out.ranks} processes: bytes per rank",
            "",
            "MB",
        )
        gathers = ", ".join(f"{1e3 * x.allgather_s:.1f} ms" for x in out.per_rank)
        text = LIVE_FSDP.format(ranks=out.ranks, gathers=gathers)
    return (
        fig,
        ui.message_figure("(a Gantt chart is drawn for pipeline runs)"),
        f"**Done** in {done.wall_s:.1f} s. " + text,
    )


def build_real_runs_tab(demo: gr.Blocks) -> None:
    """The Real runs tab's components and events; call it inside the app's `with gr.Tab("Real runs")`."""
    gr.Markdown(INTRO)
    text = gr.Markdown(elem_id="par-real-text")
    checks = gr.Dataframe(
        headers=CHECK_HEADERS, interactive=False, wrap=True, elem_id="par-real-checks"
    )
    with gr.Row():
        fig = gr.Plot(show_label=False)
        fig2 = gr.Plot(show_label=False)
    act = gr.Dataframe(
        headers=ACT_HEADERS,
        interactive=False,
        label="activations of one real transformer layer vs the formula",
    )
    labels = pipeline_labels()
    pick = gr.Dropdown(labels, value=labels[0] if labels else None, label="bundled pipeline run")
    ptext = gr.Markdown()
    with gr.Row():
        gantt = gr.Plot(show_label=False, elem_id="par-real-gantt")
        gantt2 = gr.Plot(show_label=False)
    demo.load(real_runs, None, [checks, fig, fig2, act, text], api_name="real_runs")
    if labels:
        demo.load(pipeline_run, pick, [gantt, gantt2, ptext], api_name=False)
    pick.input(
        pipeline_run,
        pick,
        [gantt, gantt2, ptext],
        api_name="pipeline_run",
        show_progress="hidden",
    )
    _build_live()


def _build_live() -> None:
    gr.Markdown(LIVE_NOTE)
    with gr.Row():
        kind = gr.Dropdown(list(LIVE_KINDS), value="pipeline (1F1B)", label="run")
        ranks = gr.Slider(2, 4, value=2, step=1, label="processes")
        m = gr.Slider(1, 16, value=4, step=1, label="micro-batches (pipeline)")
        go = gr.Button("Run", variant="primary", elem_id="par-live-go")
    text = gr.Markdown(elem_id="par-live-text")
    with gr.Row():
        fig = gr.Plot(show_label=False, elem_id="par-live-fig")
        fig2 = gr.Plot(show_label=False)
    go.click(
        live_run,
        [kind, ranks, m],
        [fig, fig2, text],
        api_name="launch_run",
        concurrency_limit=2,
        concurrency_id="parallel-live",
        time_limit=60,
    )
