"""What the architectures tabs share: display names and colours, the bundled results, the
message shown without them, the sources cited, and the line chart with each architecture's
colour."""

from __future__ import annotations

from shared import ui
from training.architectures import figures
from training.architectures.plan import ARCHS
from training.architectures.results import ArchitecturesResults, read_results

NAMES = {
    "transformer": "Transformer (Llama-style)",
    "mamba": "Mamba (selective SSM)",
    "lstm": "LSTM",
}
COLORS = {"transformer": ui.PALETTE[0], "mamba": ui.PALETTE[1], "lstm": ui.PALETTE[2]}
BUILD = "python -m training architectures --preset cpu"
NONE = f"No bundled architecture results: build them with `{BUILD}` (about half an hour on 2 CPU cores)."
ZOOLOGY = ("Arora et al. 2023, Zoology (MQAR)", "https://arxiv.org/abs/2312.04927")
MAMBA = ("Gu & Dao 2023, Mamba", "https://arxiv.org/abs/2312.00752")
BENGIO = (
    "Bengio et al. 1994, Learning long-term dependencies with gradient descent is difficult",
    "https://doi.org/10.1109/72.279181",
)
num = ui.checked_number


def results() -> ArchitecturesResults | None:
    """The bundled results (hash-checked, typed), or None: the tabs then say how to build them."""
    return read_results()


def label(arch: str, model=None) -> str:
    """An architecture's name, with its layers and non-embedding parameters when `model` (a
    ModelSummary) is given."""
    if model is not None:
        return f"{NAMES[arch]} · {model.n_layer}L · {model.params_nonembedding / 1e3:.0f}k"
    return NAMES[arch]


def lines(series: dict, title: str, x: str, y: str, **kw):
    """ui.line_figure with each architecture's colour (series keys start with the arch name)."""
    fig = ui.line_figure(series, title, x, y, markers=True, **kw)
    for tr in fig.data:
        arch = next(
            (a for a in ARCHS if tr.name.lower().startswith(a) or tr.name.startswith(NAMES[a])),
            None,
        )
        if arch:
            tr.line.color = COLORS[arch]
            if "init" in tr.name:
                tr.line.dash = "dot"
    return fig


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def runs_at(runs: list, width) -> tuple[int, list]:
    """`figures.runs_at`, its refusal a one-line error on the page."""
    try:
        return figures.runs_at(runs, width)
    except ValueError as e:
        raise ui.user_error(e) from None
