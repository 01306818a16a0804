"""Inference & memory: the bundled decode cost (cache bytes, FLOPs and latency per token vs
context) and the state-vs-KV table of real published model shapes."""

from __future__ import annotations

import gradio as gr

from shared import ui, views
from training.architectures import figures
from training.architectures.plan import ARCHS

from .common import NAMES, NONE, label, lines, num, results

STATE_CONTEXTS = "1024, 4096, 32768, 131072"
DECODE_TEXT = (
    "Each model (width {width}, random weights — cost does not depend on them) reads a "
    "prompt, then generates {new_tokens} tokens one at a time with its cache. The bytes are "
    "summed over the tensors in the cache object each model returns (keys and values; conv + SSM states; "
    "h and c). Decoding with the cache gives the same logits as one full forward pass (max difference: "
    "{checks}).\n\nThe transformer stores keys and values for every position, so its cache and its "
    "attention FLOPs grow with the context; Mamba and the LSTM carry a fixed state. At this tiny width the "
    "per-token latency is mostly fixed overhead, so the growth shows in FLOPs and bytes long before it shows "
    "in milliseconds."
)
STATE_TEXT = (
    "At {longest:,} tokens a Llama 2 7B keeps {kv} of keys and values per sequence; Falcon Mamba 7B keeps "
    "{ssm} (×{ratio:,.0f} less), the same at every length. KV: 2·layers·kv_heads·head_dim·context·"
    "bytes; SSM: layers·d_inner·(d_state + d_conv)·bytes. Shapes: {sources}."
)


def inference_view():
    r = results()
    if r is None:
        return [ui.message_figure(NONE)] * 3 + [NONE]
    inf = r.inference.archs
    s = {a: figures.decode_series(inf[a]) for a in ARCHS}
    name = {a: label(a, inf[a].model) for a in ARCHS}
    f1 = lines(
        {name[a]: (s[a].contexts, s[a].cache_kib) for a in ARCHS},
        "Cache / state bytes vs context (read from each model's real cache object)",
        "context length (tokens)",
        "KiB per sequence",
        log_x=True,
        log_y=True,
    )
    f2 = lines(
        {name[a]: (s[a].contexts, s[a].mflops) for a in ARCHS},
        "FLOPs per generated token vs context",
        "context length (tokens)",
        "MFLOPs per token",
        log_x=True,
    )
    f3 = lines(
        {name[a]: (s[a].contexts, s[a].ms) for a in ARCHS},
        "Decode latency per token on this CPU",
        "context length (tokens)",
        "ms per token",
        log_x=True,
    )
    checks = ", ".join(f"{NAMES[a]} {inf[a].cache_check:.1e}" for a in ARCHS)
    text = DECODE_TEXT.format(
        width=r.inference.width, new_tokens=r.inference.new_tokens, checks=checks
    )
    return f1, f2, f3, text


def state_table(contexts, bytes_per_value):
    """Bytes a real model keeps per sequence while generating, at several context lengths."""
    parts = [c for c in str(contexts).replace(";", ",").split(",") if c.strip()]
    if not 1 <= len(parts) <= 8:
        raise ui.user_error("give 1 to 8 context lengths, separated by commas")
    ctxs = [num("context length", c.strip(), 1, 100_000_000, integer=True) for c in parts]
    s = figures.state_comparison(ctxs, num("bytes per value", bytes_per_value, 0.5, 8))
    table = [
        [x.model, f"{x.params_b:g}B", "KV cache" if x.kind == "kv" else "SSM state"]
        + [_bytes(b) for b in x.bytes]
        for x in s.rows
    ]
    fig = ui.line_figure(
        {x.model: (ctxs, [b / 2**30 for b in x.bytes]) for x in s.rows},
        "Per-sequence inference memory vs context",
        "context length (tokens)",
        "GiB per sequence",
        log_x=True,
        log_y=True,
        markers=True,
    )
    text = STATE_TEXT.format(
        longest=s.longest,
        kv=_bytes(s.llama_kv),
        ssm=_bytes(s.mamba_state),
        ratio=s.ratio,
        sources="; ".join(x.source for x in s.rows),
    )
    headers = ["model", "params", "kind"] + [f"{c:,} tokens" for c in ctxs]
    return {"headers": headers, "data": table}, fig, text


def _bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b:,.0f} B"


def build_inference_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Inference & memory"):
        in_text = gr.Markdown()
        with gr.Row():
            in_f1 = gr.Plot(show_label=False, elem_id="arch-cache-bytes")
            in_f2 = gr.Plot(show_label=False)
        in_f3 = gr.Plot(show_label=False)
        demo.load(inference_view, None, [in_f1, in_f2, in_f3, in_text], api_name="decode_cost")
        gr.Markdown("### Real model shapes: KV cache vs SSM state")
        with gr.Row():
            st_ctx = gr.Textbox(
                value=STATE_CONTEXTS, label="context lengths (comma-separated)", max_length=200
            )
            st_bpv = gr.Number(
                value=2, label="bytes per value (2 = fp16/bf16)", minimum=0.5, maximum=8
            )
        st_text = gr.Markdown()
        with gr.Row():
            st_table = gr.Dataframe(interactive=False, wrap=True)
            st_fig = gr.Plot(show_label=False)
        ins, outs = [st_ctx, st_bpv], [st_table, st_fig, st_text]
        for c in ins:
            c.change(state_table, ins, outs, api_name=False, show_progress="hidden")
        demo.load(state_table, ins, outs, api_name="state_table")
        views.link("inference-memory", contexts=st_ctx, bytes=st_bpv)  # .change redraws
