"""What two tabs draw alike: a conversation's tokens (Token view, Data) and an SFT loss curve
(Live SFT, Results)."""

from __future__ import annotations

import html

from shared import ui
from training.sft.views import LossCurves

LOSS_SERIES = {
    "train": "training loss (SFT people)",
    "heldout": "held-out SFT loss (held-out people)",
}
TOKENS_NOTE = (
    "<div class='lab-note'>{n} tokens; <b>{n_loss}</b> carry loss (blue: the answer and its "
    "&lt;|end|&gt;); grey tokens are context only.</div><div style='line-height:2'>"
)
LOSS_STYLE = "background:#c7d2fe;border:1px solid #4f46e5;"
CONTEXT_STYLE = "background:#f1f5f9;border:1px solid #cbd5e1;color:#475569;"
TOKEN_SPAN = (
    "<span style='{style}border-radius:4px;padding:1px 3px;margin:1px;"
    "display:inline-block;font-family:ui-monospace,monospace;font-size:0.85em'>{text}</span>"
)


def token_html(tokens: list[tuple[str, bool]]) -> str:
    """(token text, carries loss) pairs as chips: blue where the loss is, grey for context."""
    spans = [
        TOKEN_SPAN.format(
            style=LOSS_STYLE if loss else CONTEXT_STYLE,
            text=html.escape(text).replace("\n", "⏎<br>") or "&nbsp;",
        )
        for text, loss in tokens
    ]
    n_loss = sum(1 for _, loss in tokens if loss)
    return TOKENS_NOTE.format(n=len(tokens), n_loss=n_loss) + "".join(spans) + "</div>"


def loss_figure(curves: LossCurves):
    """A run's training and held-out SFT loss."""
    series = {
        LOSS_SERIES[name]: (s.steps, s.values)
        for name, s in (("train", curves.train), ("heldout", curves.heldout))
        if s.steps
    }
    if not series:
        return ui.message_figure("waiting for the first step …", "Live SFT loss")
    return ui.line_figure(
        series, "Live SFT loss (assistant tokens only)", "step", "loss (nats per token)"
    )
