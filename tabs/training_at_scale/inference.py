"""The Inference tab: KV cache, int8 and int4 quantization, magnitude pruning and distillation,
measured on the bundled base model (and a student of it). The measurements and the comparisons are
`training.inference` (InferenceResults, summarize); this module wires the page and formats."""

from __future__ import annotations

import gradio as gr

from shared import ui
from training import inference as lab

INF_NONE = (
    "No bundled inference results: build them with `python -m training inference --preset cpu`."
)
TABLE_HEADERS = [
    "weights",
    "size",
    "vs fp32",
    "ms / token",
    "tokens / s",
    "held-out loss",
    "accuracy",
    "top-1 agrees with fp32",
    "max |Δlogit|",
]
INF_TEXT = (
    "**KV cache**: at {s.context} tokens of context a token costs "
    "{s.cached_ms:.2f} ms with the cache "
    "vs {s.uncached_ms:.2f} ms without "
    "(**×{s.speedup:.1f}**), "
    "identical tokens: {identical}; the cache is "
    "{s.cache_megabytes:.2f} MB, "
    "equal to 2·layers·kv_heads·head_dim·seq·bytes. Without the cache each token recomputes every earlier "
    "position; with it, each token does one position's work and reads the stored keys and values.\n\n"
    "**{s.int8.name}**: weights {s.fp32.megabytes:.2f} → {s.int8.megabytes:.2f} MB "
    "({s.int8.size_ratio:.2f}×); held-out loss {s.fp32.heldout_loss:.4f} → "
    "{s.int8.heldout_loss:.4f}, accuracy {fp32_pct:.1f}% → {int8_pct:.1f}%.  \n"
    "**{s.int4.name}** ({s.int4_bits_per_weight:.3f} bits per weight: 4-bit codes, an fp16 scale "
    "and a 4-bit zero point per {group} weights, packed two codes per byte): weights "
    "{s.fp32.megabytes:.2f} → **{s.int4.megabytes:.2f} MB** ({s.int4.size_ratio:.2f}×; the "
    "blocks' int4 tensors' bytes equal the formula's: {formula}), held-out loss {s.fp32.heldout_loss:.4f} → "
    "{s.int4.heldout_loss:.4f}, accuracy {fp32_pct:.1f}% → {int4_pct:.1f}%, top-1 agreement with "
    "fp32 {int4_agree:.1f}% (int8: {int8_agree:.1f}%); {int4_tps:.0f} vs {fp32_tps:.0f} tokens/s "
    "(×{int4_speed:.2f}, timed side by side): with no int4 kernel on this CPU path every forward "
    "dequantizes the weights, so here 4 bits save memory, not time. The embedding and the tied "
    "head stay fp32, as in the int8 row. "
    + ui.source_note(
        "Frantar et al. 2022 (GPTQ) and Lin et al. 2023 (AWQ) store this w4 format; round-to-nearest "
        "is their baseline",
        "https://arxiv.org/abs/2210.17323",
    )
    + "  \n"
    "**Distillation** ({s.steps} steps each, T = {s.temperature}): held-out loss "
    "{s.data_only.heldout_loss:.3f} trained on data alone vs **{s.distilled.heldout_loss:.3f}** "
    "on the teacher's distributions; accuracy {data_only_pct:.1f}% vs "
    "{distilled_pct:.1f}%.\n\n"
    "Rebuild: `{rebuild}` · "
) + ui.source_note(
    "Hinton et al. 2015, Distilling the Knowledge in a Neural Network",
    "https://arxiv.org/abs/1503.02531",
)


def _right_axis(title: str, **extra) -> dict:
    return {
        "overlaying": "y",
        "side": "right",
        "title": {"text": title},
        "showgrid": False,
        **extra,
    }


def _kv_figure(kv: lab.KVCache):
    """Latency per generated token with and without the cache, and the cache's size."""
    fig = ui.line_figure(
        {
            "with KV cache": (kv.contexts, kv.cached_ms_per_token),
            "without (recompute every position)": (kv.contexts, kv.uncached_ms_per_token),
        },
        "Latency per generated token vs context",
        "context length (tokens)",
        "ms per token",
        markers=True,
    )
    fig.add_scatter(
        x=kv.contexts,
        y=[b / 1e6 for b in kv.cache_bytes],
        mode="lines+markers",
        name="cache size (MB, right axis)",
        yaxis="y2",
        line={"dash": "dot", "color": ui.PALETTE[2]},
    )
    fig.update_layout(yaxis2=_right_axis("KV cache (MB)"), margin={"r": 70})
    return fig


def _pruning_figure(pr: list[lab.PrunePoint]):
    """Held-out loss and accuracy against the share of weights pruned."""
    removed = [100 * x.sparsity for x in pr]
    fig = ui.line_figure(
        {"held-out loss": (removed, [x.heldout_loss for x in pr])},
        "Magnitude pruning (no fine-tuning after)",
        "weights removed (%)",
        "held-out loss",
        markers=True,
    )
    fig.add_scatter(
        x=removed,
        y=[100 * x.accuracy for x in pr],
        mode="lines+markers",
        name='"born in" accuracy (%, right axis)',
        yaxis="y2",
    )
    fig.update_layout(yaxis2=_right_axis("accuracy (%)", range=[0, 105]), margin={"r": 70})
    return fig


def _distillation_figure(d: lab.Distillation):
    """Both students' held-out loss curves."""
    return ui.line_figure(
        {k: ([x.step for x in v], [x.eval_loss for x in v]) for k, v in d.curves.items()},
        f"Distillation: a {d.student.params:,}-param student, {d.steps} steps each",
        "step",
        "held-out loss (log)",
        log_y=True,
        markers=True,
    )


def _weights_row(w: lab.WeightsRow) -> list[str]:
    return [
        w.name,
        f"{w.megabytes:.2f} MB",
        f"{w.size_ratio:.2f}×",
        f"{w.ms_per_token:.2f}",
        f"{1e3 / w.ms_per_token:.0f}",
        f"{w.heldout_loss:.4f}",
        f"{100 * w.accuracy:.1f}%",
        f"{100 * w.top1_agreement:.1f}%",
        f"{w.max_abs_logit_diff:.3g}",
    ]


def _weights_figure(s: lab.InferenceSummary):
    """Each weight format's bytes against its held-out loss (one point each)."""
    return ui.line_figure(
        {w.name: ([w.megabytes], [w.heldout_loss]) for w in s.weights},
        "Weight formats: size vs held-out loss",
        "weights (MB)",
        "held-out loss",
        markers=True,
    )


def inference_weights():
    """The weight formats' bytes against held-out loss (fp32, int8, int4 at each group size)."""
    r = lab.read_results()
    return ui.message_figure(INF_NONE) if r is None else _weights_figure(lab.summarize(r))


def inference():
    """KV cache, int8 and int4 quantization, magnitude pruning and distillation, measured on the bundled
    base model (and a student of it)."""
    r = lab.read_results()
    if r is None:
        return [ui.message_figure(INF_NONE)] * 3 + [[], INF_NONE]
    s = lab.summarize(r)
    text = INF_TEXT.format(
        s=s,
        identical="yes" if s.identical_tokens else "NO",
        fp32_pct=100 * s.fp32.accuracy,
        int8_pct=100 * s.int8.accuracy,
        int4_pct=100 * s.int4.accuracy,
        group=max(r.int4.group_sizes),
        formula="yes" if r.int4.tensor_bytes == r.int4.formula_bytes else "NO",
        int4_agree=100 * s.int4.top1_agreement,
        int8_agree=100 * s.int8.top1_agreement,
        int4_tps=1e3 / s.int4.ms_per_token,
        fp32_tps=1e3 / s.fp32.ms_per_token,
        int4_speed=s.fp32.ms_per_token / s.int4.ms_per_token,
        data_only_pct=100 * s.data_only.accuracy,
        distilled_pct=100 * s.distilled.accuracy,
        rebuild=r.rebuild,
    )
    return (
        _kv_figure(r.kv_cache),
        _pruning_figure(r.pruning),
        _distillation_figure(r.distillation),
        [_weights_row(w) for w in s.weights],
        text,
    )


def build_inference_tab(demo: gr.Blocks) -> None:
    """The Inference tab's components and events; call it inside the app's `with gr.Tab("Inference")`."""
    in_text = gr.Markdown(elem_id="tas-inf-text")
    with gr.Row():
        in_kv = gr.Plot(show_label=False, elem_id="tas-inf-kv")
        in_dist = gr.Plot(show_label=False)
    in_table = gr.Dataframe(
        headers=TABLE_HEADERS,
        interactive=False,
        label="int8 dynamic and int4 weight-only quantization of the base model "
        "(timed side by side)",
        elem_id="tas-inf-table",
    )
    with gr.Row():
        in_weights = gr.Plot(show_label=False, elem_id="tas-inf-weights")
        in_prune = gr.Plot(show_label=False)
    demo.load(inference, None, [in_kv, in_prune, in_dist, in_table, in_text], api_name="inference")
    demo.load(inference_weights, None, in_weights, api_name="inference_weights")
