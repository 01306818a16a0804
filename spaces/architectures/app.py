"""RNN vs SSM vs Transformer: an LSTM, Mamba and a transformer, parameter-matched, trained and
measured side by side — recall, copying, language modelling, speed, memory, gradients.

UI wiring only: each tab is a module of `tabs/architectures/` (its handlers format what
`training/architectures/figures.py` and `shared/recurrence.py` compute); the models and
experiments are `training/architectures/` (results bundled in checkpoints/architectures, rebuilt
by `python -m training architectures --preset cpu`), the real model shapes `shared/memory.py`.
The two handlers that run models on a GPU (the recall probe, the live race) are defined here, so
ZeroGPU sees them as this app's.
Run alone: `python spaces/architectures/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = (
    HERE if (HERE / "shared").is_dir() else HERE.parents[1]
)  # a Space bundle keeps shared/ beside app.py
if (
    str(ROOT) not in sys.path
):  # run as a script: spaces/<app>/app.py in the repo, or app.py of a bundle
    sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402

from shared import gpu, ui, views  # noqa: E402
from tabs.architectures import common  # noqa: E402  (no torch at import)
from tabs.architectures.gradients import build_gradients_tab, gradient_view  # noqa: E402
from tabs.architectures.inference import (  # noqa: E402
    STATE_CONTEXTS,
    build_inference_tab,
    inference_view,
    state_table,
)
from tabs.architectures.lm import build_lm_tab, lm_view  # noqa: E402
from tabs.architectures.overview import build_overview_tab, overview  # noqa: E402
from tabs.architectures.race import build_race_tab  # noqa: E402
from tabs.architectures.recall import PROBE_EXAMPLE, ask, build_recall_tab, mqar_view  # noqa: E402
from tabs.architectures.recurrence import (  # noqa: E402
    build_recurrence_tab,
    recurrence_bundled,
    recurrence_view,
)
from tabs.architectures.selective_copy import build_copy_tab, copy_view  # noqa: E402
from tabs.architectures.speed import build_speed_tab, throughput_view  # noqa: E402
from training import architectures  # noqa: E402  (no torch at import: the models load inside)

TITLE = "RNN vs SSM vs Transformer"
SUBTITLE = (
    "An LSTM, Mamba and a transformer with the same width and parameters, trained by the same loop "
    "— and measured: what they recall, how fast they train, what they keep in memory, how far their "
    "gradients reach."
)
COURSE_REF = "Session 2.3, knowledge point 4: from RNNs to state-space models"
NAMES = common.NAMES
_num = ui.checked_number
_pct = common.pct
_lines = common.lines
_results = (
    common.results
)  # the bundled results, typed (benchmarks/analytic_endpoints.py reads them)

__all__ = [  # the handlers, re-exported: tests and benchmarks call them on this module
    "copy_view",
    "gradient_view",
    "inference_view",
    "lm_view",
    "mqar_view",
    "overview",
    "recurrence_bundled",
    "recurrence_view",
    "state_table",
    "throughput_view",
    "STATE_CONTEXTS",
]


# ---------------------------------------------------------------- recall probe
@gpu.on_gpu(20)  # three forward passes of tiny models (and their first load)
def recall_probe(text, gap):
    """Each bundled MQAR model answers your key-value probe, with its confidence."""
    return ask(text, gap)


# ---------------------------------------------------------------- live race
@gpu.on_gpu(90)  # three models × at most 20 s each (RACE_SECONDS_PER_MODEL), + data and evaluations
def race(task, steps, width, seq, progress=gr.Progress()):
    """Train the three architectures on a small task now (bounded, one race at a time) and draw
    their accuracy per step as it comes in."""
    settings = {
        "task": task,
        "steps": int(_num("steps", steps, 10, architectures.RACE_MAX_STEPS, integer=True)),
        "width": int(_num("width", width, 16, 64, integer=True)),
        "seq": int(_num("sequence length", seq, 16, 64, integer=True)),
    }
    settings["eval_every"] = max(5, settings["steps"] // 10)
    curves: dict[str, list] = {}

    def collect(ev):
        curves.setdefault(ev.data.arch, []).append(ev.data)

    def render(ev):
        if ev.kind == "progress":
            text = f"{NAMES[ev.data.arch]}: step {ev.data.step} / {settings['steps']}"
            return _race_fig(curves, settings), text
        return _race_fig(ev.data.curves, settings), _race_summary(ev.data)

    yield from ui.stream_live(
        lambda: architectures.live_race(settings),
        render,
        progress,
        failed="race failed",
        starting=(ui.message_figure("starting …"), "starting …"),
        collect=collect,
    )


def _race_summary(result) -> str:
    final = ", ".join(
        f"{NAMES[a]} {_pct(c[-1].accuracy)} in {c[-1].elapsed_s or 0:.0f} s"
        for a, c in result.curves.items()
        if c
    )
    stopped = [NAMES[a] for a, s in result.stopped.items() if s]
    limit = (
        f" Stopped at the {architectures.RACE_SECONDS_PER_MODEL:.0f} s limit: {', '.join(stopped)}."
    )
    return f"**Done.** Final accuracy: {final}." + (limit if stopped else "")


def _race_fig(curves: dict, settings: dict):
    fig = _lines(
        {NAMES[a]: ([p.step for p in c], [p.accuracy for p in c]) for a, c in curves.items()},
        f"Live race: {settings['task']} at length {settings['seq']}, width {settings['width']}",
        "step",
        "held-out accuracy",
    )
    fig.update_xaxes(range=[0, settings["steps"]])
    fig.update_yaxes(range=[0, 1.05])
    return fig


def warm() -> None:
    """What the recall probe's first click needs, ready before anyone clicks (`ui.launch` runs this
    in the background once the server answers): the three bundled MQAR models, loaded into the
    cache the probe reads, and one probe through the same path."""
    models, info = architectures.load_probe_models()
    architectures.probe(models, PROBE_EXAMPLE, info.vocab, info.seq, 0)


# ---------------------------------------------------------------- page
def build_page(demo: gr.Blocks, standalone: bool = True) -> None:
    """This app's page, built into `demo`: its own Blocks (`build_demo`) or a tab of the suite
    (`standalone=False`: its links then point at the app's own path)."""
    r = _results()
    mq_widths = sorted({x.width for x in r.mqar.runs}) if r else [64]
    lm_widths = sorted({x.width for x in r.lm.runs}) if r else [64]
    with views.page(demo, "architectures", standalone=standalone, writes=("FLOPs",)):
        ui.header(TITLE, SUBTITLE, course_ref=COURSE_REF)
        build_overview_tab(demo)
        build_recall_tab(demo, mq_widths, recall_probe)
        build_lm_tab(demo, lm_widths)
        build_copy_tab(demo)
        build_speed_tab(demo)
        build_inference_tab(demo)
        build_gradients_tab(demo)
        build_recurrence_tab(demo)
        build_race_tab(race)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        build_page(demo)
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo, warm=warm)
