"""Overview: the headline numbers and the two verdicts, each tied to the tab that shows it."""

from __future__ import annotations

import gradio as gr

from shared import ui
from training.architectures import figures
from training.architectures.plan import ARCHS

from .common import MAMBA, NAMES, NONE, ZOOLOGY, pct, results

OVERVIEW = (
    "Three models of equal width and (nearly) equal parameters, trained by the same loop on the same data "
    "(`{rebuild}`: {minutes:.0f} min of sections on {cpus} CPU cores).\n\n"
    "**Recall (MQAR)** at length {seq} with {pairs} key-value pairs, width {width}: {recall} → tab *Recall*.\n\n"
    "**Language modelling** (width {lm_width}, {lm_steps} steps): held-out loss {lm} → tab *Language modelling*.\n\n"
    "**Memory while generating**: the transformer's KV cache grew ×{kv_growth:.0f} from {ctx_lo} to {ctx_hi} "
    "tokens; Mamba's and the LSTM's state did not change ({mamba_bytes:,} and {lstm_bytes:,} bytes) → tab "
    "*Inference & memory*.\n\n"
    "**Selective copying**: {copy} → tab *Selective copy*.\n\n"
    "### Why transformers won (for now)\n"
    "- *They recall anything in their context.* Attention looks every earlier token up directly; a recurrent "
    "model must have squeezed it into a fixed state as it went by. The *Recall* tab measures this gap, and the "
    "probe lets you try it.\n"
    "- *They train in parallel over time.* A layer is a few big matrix multiplies over all {seq_hi} positions at "
    "once; an LSTM must run its positions one after another (*Training speed*: sequential steps per layer). "
    "GPUs reward the first.\n"
    "- *Gradients reach far back.* The gradient from the last position to a token t steps earlier does not "
    "shrink with t through attention; through an LSTM it decays (*Gradient flow*).\n\n"
    "### Where SSMs shine\n"
    "- *Constant memory and cost per generated token.* Mamba's state is the same size at any length "
    "(*Inference & memory*: a 7B transformer's KV cache at 128k tokens vs a 7B Mamba's state), and FLOPs per "
    "token do not grow with the context.\n"
    "- *Parallel training anyway.* The recurrence is linear, so it can be computed as a parallel scan "
    "(depth log T) — or, when it does not depend on the input, as one long convolution (*Recurrence three ways*).\n"
    "- *Selection.* Mamba's input-dependent (selective) parameters let it skip noise and keep what matters "
    "(*Selective copy*), which a fixed convolution cannot.\n\n"
    "On this CPU, Mamba runs a plain-PyTorch parallel scan (`mambapy`) without the fused CUDA kernel, so its "
    "wall-clock times are many times what a GPU would show; FLOPs and bytes are given beside every timing.\n\n"
)


def overview() -> str:
    """The headline numbers and the two verdicts, each tied to the tab that shows it."""
    r = results()
    if r is None:
        return NONE
    o = figures.overview(r)
    acc = o.longest.accuracy
    return OVERVIEW.format(
        rebuild=r.rebuild,
        minutes=o.section_minutes,
        cpus=o.cpus,
        seq=o.longest.seq,
        pairs=o.longest.pairs,
        width=o.longest.width,
        recall=", ".join(f"{NAMES[a]} **{pct(acc[a])}**" for a in o.longest.ordering),
        lm_width=o.lm_width,
        lm_steps=r.lm.steps,
        lm=", ".join(f"{NAMES[a]} {loss:.3f}" for a, loss in o.lm_loss.items()),
        kv_growth=o.kv_growth,
        ctx_lo=o.contexts[0],
        ctx_hi=o.contexts[1],
        mamba_bytes=o.mamba_state,
        lstm_bytes=o.lstm_state,
        copy=", ".join(
            f"{NAMES[a]} {pct(o.copy_accuracy[a])}" for a in ARCHS if a in o.copy_accuracy
        ),
        seq_hi=o.longest_train_seq,
    ) + (ui.source_note(*ZOOLOGY) + " · " + ui.source_note(*MAMBA))


def build_overview_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Overview"):
        ov = gr.Markdown(elem_id="arch-overview")
        demo.load(overview, None, ov, api_name="overview")
