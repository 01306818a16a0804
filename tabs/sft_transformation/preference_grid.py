"""The Preference tuning tab's second section: how each start's DPO and SFT-longer settings were
chosen (the validation grid: figure, table, prose) and the held-out margins split by the rejected
reply's kind (summed and per token), every number read from the bundled results."""

from __future__ import annotations

import gradio as gr

from shared import ui
from training import store
from training.dpo import results as dpo_results
from training.dpo.views import DPOView, dpo_view

MISSING = "No bundled DPO results: build them with `python -m training dpo --preset cpu`."

SELECTED = (
    "- **{start}**: DPO lr {lr_dpo:g}, β {beta_dpo:g} (validation accuracy {val_dpo:.1f}%, KL "
    "{kl_dpo:.4f}); more SFT lr {lr_more:g} (validation {val_more:.1f}%); the start alone "
    "{val_sft:.1f}% on validation. Best to worst DPO setting on validation: {best:.1f}% → "
    "{worst:.1f}%."
)
SELECTION = (
    "**Settings chosen on validation, reported on test.** Each start's grid (DPO: every lr × β; "
    "more SFT: every lr, same steps) is rated on {val} questions about other held-out people "
    "(neither in any training pair nor among the {test} test questions); each arm keeps its "
    "highest validation accuracy (ties: the lower KL), and only that setting is evaluated on "
    "the test people in the table above.\n\n{rows}"
)
MARGINS = (
    "**Why the summed margin is mostly rambling.** DPO compares log-probs summed over each "
    "reply, and a rambling reply is long: on held-out pairs the rejected rambling reply is "
    "{tok_ramble:.0f} tokens against {tok_chosen:.0f} for the chosen one, so its log-prob is far "
    "lower before any training. {start} + DPO: margin on rambling pairs {ramble:.1f} nats "
    "({ramble_tok:.3f} per token), on wrong-fact pairs {wrong:.1f} nats ({wrong_tok:.3f} per "
    "token); the starting model: {ramble0:.1f} ({ramble0_tok:.3f}) and {wrong0:.1f} "
    "({wrong0_tok:.3f})."
)
GRID_HEADERS = [
    "start",
    "setting",
    "selected",
    "accuracy",
    "wrong fact",
    "rambling",
    "KL from SFT (nats/token)",
    "final training loss",
    "questions",
]
MARGIN_HEADERS = [
    "model",
    "rejected reply",
    "margin (nats, summed)",
    "margin per token (nats)",
    "chosen preferred",
    "tokens chosen / rejected",
    "pairs",
]
KIND_LABELS = {"wrong": "wrong fact", "ramble": "rambling"}
GRID_TITLE = "Validation accuracy of every setting (other held-out people)"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _selected(v: DPOView) -> str:
    out = []
    for start in dict.fromkeys(g.start for g in v.grid):
        sel = {g.arm: g for g in v.grid if g.start == start and g.selected}
        dpo = [100 * g.accuracy for g in v.grid if g.start == start and g.arm == "dpo"]
        if set(sel) != {"sft", "dpo", "sft-longer"}:
            continue
        out.append(
            SELECTED.format(
                start=start,
                lr_dpo=sel["dpo"].lr,
                beta_dpo=sel["dpo"].beta,
                val_dpo=100 * sel["dpo"].accuracy,
                kl_dpo=sel["dpo"].kl_per_token,
                lr_more=sel["sft-longer"].lr,
                val_more=100 * sel["sft-longer"].accuracy,
                val_sft=100 * sel["sft"].accuracy,
                best=max(dpo),
                worst=min(dpo),
            )
        )
    return "\n".join(out)


def margins_note(v: DPOView) -> str:
    """The first start's held-out margins by kind, DPO against the start (from the results)."""
    by = {(m.start, m.arm, m.kind): m for m in v.margins}
    start = v.rows[0].start if v.rows else None
    keys = [(start, a, k) for a in ("sft", "dpo") for k in ("wrong", "ramble")]
    if any(k not in by for k in keys):
        return ""
    w0, r0, w, r = (by[k] for k in keys)
    return MARGINS.format(
        tok_ramble=r0.tokens_rejected,
        tok_chosen=r0.tokens_chosen,
        start=v.rows[0].label,
        ramble=r.margin,
        ramble_tok=r.margin_per_token,
        wrong=w.margin,
        wrong_tok=w.margin_per_token,
        ramble0=r0.margin,
        ramble0_tok=r0.margin_per_token,
        wrong0=w0.margin,
        wrong0_tok=w0.margin_per_token,
    )


def grid_table(v: DPOView) -> list[list[str]]:
    return [
        [
            g.start,
            g.setting,
            "✓" if g.selected else "",
            _pct(g.accuracy),
            _pct(g.wrong_fact),
            _pct(g.ramble),
            f"{g.kl_per_token:.4f}",
            "—" if g.final_loss is None else f"{g.final_loss:.4f}",
            str(g.n),
        ]
        for g in v.grid
    ]


def margin_table(v: DPOView) -> list[list[str]]:
    return [
        [
            m.label,
            KIND_LABELS[m.kind],
            f"{m.margin:.2f}",
            f"{m.margin_per_token:.3f}",
            _pct(m.prefers_chosen),
            f"{m.tokens_chosen:.1f} / {m.tokens_rejected:.1f}",
            str(m.n),
        ]
        for m in v.margins
    ]


def grid_figure(v: DPOView):
    settings = list(dict.fromkeys(g.setting for g in v.grid))
    by = {(g.start, g.setting): 100 * g.accuracy for g in v.grid}
    starts = list(dict.fromkeys(g.start for g in v.grid))
    return ui.grouped_bar_figure(
        settings,
        {st: [by.get((st, x), float("nan")) for x in settings] for st in starts},
        GRID_TITLE,
        "setting",
        "% answered exactly (validation)",
        y_range=(0, 105),
    )


def dpo_grid_view():
    """The validation grid (figure, table, prose) and the held-out margins by pair kind."""
    try:
        r = dpo_results.read_results()
    except store.CheckpointError as e:
        raise ui.user_error(e) from None
    if r is None:
        return ui.message_figure(MISSING), MISSING, [], []
    v = dpo_view(r)
    n_val = next((g.n for g in v.grid), 0)
    text = SELECTION.format(val=n_val, test=v.rows[0].n if v.rows else 0, rows=_selected(v))
    return grid_figure(v), text + "\n\n" + margins_note(v), grid_table(v), margin_table(v)


def build_grid_section(demo: gr.Blocks) -> None:
    gr.Markdown("### How the settings were chosen, and the margins by pair kind")
    g_plot = gr.Plot(show_label=False, elem_id="dpo-grid-bars")
    g_note = gr.Markdown(elem_classes=["lab-note"], elem_id="dpo-grid-note")
    g_table = gr.Dataframe(
        headers=GRID_HEADERS,
        interactive=False,
        label="validation people, every setting",
        wrap=True,
        max_height=1100,  # the whole grid (two starts × 13 rows) without a scroll bar
        elem_id="dpo-grid-table",
    )
    m_table = gr.Dataframe(
        headers=MARGIN_HEADERS,
        interactive=False,
        label="held-out people's pairs, margin by the rejected reply's kind",
        wrap=True,
        elem_id="dpo-margin-table",
    )
    demo.load(dpo_grid_view, outputs=[g_plot, g_note, g_table, m_table], api_name="dpo_grid")
