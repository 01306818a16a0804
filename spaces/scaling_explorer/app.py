"""Scaling Laws Explorer: published laws with their sources, compute-optimal allocation, cost,
diminishing returns — and a scaling law measured on this project's own runs.

UI wiring only: the laws, allocation, cost and fits are `shared/scaling.py`; the sweep and the
live micro-run are `training/sweep.py` (imported inside handlers: no torch at page build).
Run alone: `python spaces/scaling_explorer/app.py`; in the suite it is a tab of `python app.py`.
"""

from __future__ import annotations

import functools
import math
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
import numpy as np  # noqa: E402

from shared import gpu, scaling, ui  # noqa: E402
from training.sweep import LIVE_SHAPES, PLANS  # noqa: E402  (no torch: sweep imports it inside functions)

TITLE = "Scaling Laws Explorer"
LAW_CHOICES = ["chinchilla", "besiroglu", "kaplan", "our lab fit"]
LAB_NOTE = "our lab fit: Approach 3 on this project's sweep (Results in the Our lab tab)"


# ---------------------------------------------------------------- helpers
_num = ui.checked_number  # a finite number in [lo, hi], or a one-line error


@functools.lru_cache(maxsize=1)
def _sweep() -> dict:
    """The bundled sweep's results, read and hash-checked once per process ({} when missing);
    shared by the handlers, which only read it (5.5 MB: a slider must not re-read it per move)."""
    from training.sweep import read_results  # no torch at import

    return read_results()


@functools.lru_cache(maxsize=1)
def _lab_law():
    """The lab fit as a law (None without sweep results)."""
    from training.sweep import lab_law

    return lab_law(_sweep())


def _law(name: str):
    if name == "our lab fit":
        law = _lab_law()
        if law is None:
            raise ui.user_error(
                "no lab sweep results: build them with `python -m training sweep --preset cpu`"
            )
        return law
    try:
        return scaling.get_law(name)
    except ValueError as e:
        raise ui.user_error(e) from None


def _sci(x: float) -> str:
    return f"{x:.3g}"


def _source(law) -> str:
    return ui.source_note(law.citation, law.url)


# ---------------------------------------------------------------- tab: laws
def laws(law_name: str, log_n: float, log_d: float):
    """Loss vs N (D fixed), vs D (N fixed) and vs compute (allocated optimally), log-log,
    with a marker where (N, D) lands, and a warning outside the law's fitted range."""
    law = _law(law_name)
    N = 10 ** _num("log10 N", log_n, 3, 14)
    D = 10 ** _num("log10 D", log_d, 5, 15)
    L = float(law.loss(N, D))
    ns = np.logspace(max(3, log_n - 3), min(14, log_n + 3), 60)
    ds = np.logspace(max(5, log_d - 3), min(15, log_d + 3), 60)
    fig = ui.line_figure(
        {
            f"L(N), D = {_sci(D)} tokens": (ns, law.loss(ns, D)),
            f"L(D), N = {_sci(N)} params": (ds, law.loss(N, ds)),
        },
        f"{law.name}: loss vs parameters and vs tokens",
        "N (params) or D (tokens)",
        "loss (nats/token)",
        log_x=True,
        log_y=True,
    )
    fig.add_scatter(
        x=[N],
        y=[L],
        mode="markers",
        marker={"size": 12, "symbol": "x", "color": "black"},
        name=f"your N: L = {L:.3f}",
    )
    fig.add_scatter(
        x=[D],
        y=[L],
        mode="markers",
        marker={"size": 12, "symbol": "x", "color": "#e11d48"},
        name=f"your D: L = {L:.3f}",
    )
    C = 6 * N * D
    cs = np.logspace(math.log10(C) - 4, math.log10(C) + 4, 60)
    series = {}  # the published laws; the lab fit only when chosen (far outside its runs it is meaningless)
    for lw in [scaling.get_law(k) for k in ("chinchilla", "besiroglu", "kaplan")] + (
        [law] if law_name == "our lab fit" else []
    ):
        series[lw.name] = (cs, scaling.optimal_loss(cs, lw))
    fig_c = ui.line_figure(
        series,
        "Loss at the compute-optimal allocation, each law",
        "C (FLOPs)",
        "loss (nats/token)",
        log_x=True,
        log_y=True,
    )
    fig_c.add_scatter(
        x=[C],
        y=[L],
        mode="markers",
        marker={"size": 12, "symbol": "x", "color": "black"},
        name=f"your 6ND = {_sci(C)}: L = {L:.3f}",
    )
    warning = scaling.outside_fit_range(law, N, D)
    text = (
        f"**L(N = {_sci(N)}, D = {_sci(D)}) = {L:.3f} nats/token** · compute 6ND = {_sci(C)} FLOPs · "
        f"{D / N:.1f} tokens per parameter.\n\n"
        + (
            f"⚠️ {warning} The law is a fit to runs in a range; outside it, it is a guess.\n\n"
            if warning
            else ""
        )
        + _source(law)
        + (
            "\n\nKaplan's N is *non-embedding* parameters and its loss is on WebText2; Chinchilla's N is all "
            "parameters on MassiveText: compare shapes, not absolute values."
            if law_name == "kaplan"
            else ""
        )
    )
    return fig, fig_c, text


# ---------------------------------------------------------------- tab: compute-optimal
def optimal(log_c: float):
    C = 10 ** _num("log10 C", log_c, 15, 30)
    rows = []
    for k in LAW_CHOICES:
        lw = _lab_law() if k == "our lab fit" else scaling.get_law(k)
        if lw is None:
            continue
        N, D = scaling.compute_optimal(C, lw)
        rows.append(
            [
                lw.name,
                _sci(N),
                _sci(D),
                f"{D / N:.1f}",
                f"{float(lw.loss(N, D)):.3f}",
                f"N ∝ C^{lw.a:.2f}, D ∝ C^{lw.b:.2f}",
            ]
        )
    # the frontier of each law in the (N, D) plane, with the notable models on it
    cs = np.logspace(18, 26, 40)
    series = {}
    for k in ("chinchilla", "besiroglu", "kaplan"):
        lw = scaling.get_law(k)
        n, d = scaling.compute_optimal(cs, lw)
        series[f"{lw.name} frontier"] = (n, d)
    fig = ui.line_figure(
        series,
        "Compute-optimal N and D per law, and the models people trained",
        "parameters N",
        "tokens D",
        log_x=True,
        log_y=True,
    )
    for m in scaling.NOTABLE_MODELS:
        fig.add_scatter(
            x=[m["params"]],
            y=[m["tokens"]],
            mode="markers+text",
            text=[m["name"]],
            textposition="top center",
            marker={"size": 8, "color": "#334155"},
            showlegend=False,
            hovertext=f"{m['name']}: {_sci(m['params'])} params, {_sci(m['tokens'])} tokens "
            f"({m['source']})",
        )
    n_c, d_c = scaling.compute_optimal(C, "chinchilla")
    fig.add_scatter(
        x=[n_c],
        y=[d_c],
        mode="markers",
        marker={"size": 14, "symbol": "star", "color": "#e11d48"},
        name=f"Chinchilla optimum at C = {_sci(C)}",
    )
    # IsoFLOP curves: loss vs N at fixed compute, for the chosen budget and its neighbours
    law = scaling.get_law("chinchilla")
    iso = {}
    for c in (C / 10, C, C * 10):
        ns = np.logspace(
            math.log10(scaling.compute_optimal(c, law)[0]) - 1.5,
            math.log10(scaling.compute_optimal(c, law)[0]) + 1.5,
            50,
        )
        iso[f"C = {_sci(c)}"] = (ns, law.loss(ns, c / (6 * ns)))
    fig_iso = ui.line_figure(
        iso,
        "IsoFLOP curves (Chinchilla Approach 3 law): loss vs N at fixed compute",
        "parameters N",
        "loss (nats/token)",
        log_x=True,
    )
    return rows, fig, fig_iso


# ---------------------------------------------------------------- tab: diminishing returns
def returns(law_name: str, log_n: float, log_d: float, doublings: float):
    law = _law(law_name)
    N = 10 ** _num("log10 N", log_n, 3, 14)
    D = 10 ** _num("log10 D", log_d, 5, 15)
    k = int(_num("doublings", doublings, 1, 20))
    steps = 2.0 ** np.arange(k)
    labels = [f"×{int(s)}→×{int(2 * s)}" for s in steps]
    series = {
        "double N (D fixed)": scaling.diminishing_returns(law, N * steps, D, "N"),
        "double D (N fixed)": scaling.diminishing_returns(law, N, D * steps, "D"),
        "double compute (optimal split)": scaling.diminishing_returns(
            law, N * np.sqrt(steps), D * np.sqrt(steps), "C"
        ),
    }
    fig = ui.grouped_bar_figure(
        labels,
        {k2: np.atleast_1d(v) for k2, v in series.items()},
        f"{law.name}: loss gained by each successive doubling",
        "doubling",
        "loss gained (nats/token)",
    )
    first, last = (
        float(np.atleast_1d(series["double compute (optimal split)"])[i]) for i in (0, -1)
    )
    text = (
        f"The first doubling of compute buys {first:.4f} nats; the {k}th buys {last:.4f} "
        f"({100 * last / first:.0f}% of the first). Each doubling helps less because the easy, frequent "
        "patterns are learned first and what is left is the long tail (see the Long tail tab).\n\n"
        + _source(law)
    )
    return fig, text


# ---------------------------------------------------------------- tab: cost
def cost(log_n: float, log_d: float, gpu: str, mfu_pct: float, price: float, n_gpus: float):
    N = 10 ** _num("log10 N", log_n, 3, 14)
    D = 10 ** _num("log10 D", log_d, 5, 15)
    mfu = _num("MFU (%)", mfu_pct, 1, 100) / 100
    price = _num("price per GPU-hour ($)", price, 0, 100)
    n = int(_num("GPU count", n_gpus, 1, 1e6))
    C = scaling.training_flops(N, D)
    try:
        c = scaling.training_cost(C, gpu, mfu, price, n)
    except ValueError as e:
        raise ui.user_error(e) from None
    rows = [
        ["compute 6·N·D", f"{_sci(C)} FLOPs ({C / scaling.PF_DAY_FLOPS:,.0f} PF-days)"],
        [
            "GPU",
            f"{c.gpu} ({_sci(scaling.GPUS[gpu].peak_flops)} FLOP/s peak, {scaling.GPUS[gpu].precision})",
        ],
        ["GPU-hours = C / (peak · MFU) / 3600", f"{c.gpu_hours:,.0f}"],
        [f"wall-clock on {n:,} GPUs", f"{c.days:,.1f} days"],
        ["cost = GPU-hours · price", f"${c.dollars:,.0f}"],
        ["energy (GPU boards only, no cooling)", f"{c.energy_mwh:,.0f} MWh"],
    ]
    # GPT-3's $4-12M: the same arithmetic at GPT-3's MFU over a range of V100 prices
    g3 = next(m for m in scaling.NOTABLE_MODELS if m["name"] == "GPT-3 175B")
    lo, hi = scaling.gpt3_cost_range()
    text = (
        f'**Where "$4–12M for GPT-3" comes from**: {_sci(g3["flops"])} FLOPs (reported) on V100s at '
        f"GPT-3's {100 * scaling.GPT3_MFU:.1f}% MFU is {lo.gpu_hours / 1e6:.2f}M GPU-hours "
        f"(~{lo.gpu_hours / 24 / 365:,.0f} "
        f"GPU-years); at $1.50–3.50 per GPU-hour that is **${lo.dollars / 1e6:.1f}M–${hi.dollars / 1e6:.1f}M**. "
        "The spread is the price guess — OpenAI did not publish the bill.\n\n"
        + ui.source_note(scaling.GPUS[gpu].source)
        + " · "
        + ui.source_note(g3["source"])
        + " · "
        + ui.source_note(scaling.GPT3_MFU_SOURCE, "https://arxiv.org/abs/2204.02311")
    )
    return rows, text


# ---------------------------------------------------------------- tab: our lab
def lab_results():
    r = _sweep()
    if not r:
        msg = "No sweep results: build them with `python -m training sweep --preset cpu` (~55 min on 2 cores)."
        return ui.message_figure(msg), ui.message_figure(msg), msg, []
    runs, held = r["runs"], set(r["heldout_budgets"])
    budgets = sorted({x["budget"] for x in runs})
    fig = ui.line_figure(
        {},
        "Our sweep: IsoFLOP slices (each line one compute budget)",
        "parameters N",
        "held-out loss (nats/token)",
        log_x=True,
    )
    for i, b in enumerate(budgets):
        rs = sorted((x for x in runs if x["budget"] == b), key=lambda x: x["params"])
        fig.add_scatter(
            x=[x["params"] for x in rs],
            y=[x["eval_loss"] for x in rs],
            mode="lines+markers",
            name=f"C = {_sci(b)}" + (" (held out)" if b in held else ""),
            line={
                "dash": "dot" if b in held else "solid",
                "color": ui.PALETTE[i % len(ui.PALETTE)],
            },
        )
    a3, law = r["approach3"], _lab_law()
    for b in held:
        ns = np.logspace(
            math.log10(min(x["params"] for x in runs)),
            math.log10(max(x["params"] for x in runs)),
            40,
        )
        fig.add_scatter(
            x=ns,
            y=law.loss(ns, b / (6 * ns)),
            mode="lines",
            name=f"fit's prediction at C = {_sci(b)}",
            line={"color": "black", "width": 1},
        )
    preds = r["predictions"]
    fig_p = ui.line_figure(
        {}, "Held-out runs: predicted vs measured", "measured loss", "predicted loss"
    )
    lo = min(min(p["measured"], p["predicted"]) for p in preds)
    hi = max(max(p["measured"], p["predicted"]) for p in preds)
    fig_p.add_scatter(
        x=[lo, hi], y=[lo, hi], mode="lines", name="perfect prediction", line={"dash": "dot"}
    )
    fig_p.add_scatter(
        x=[p["measured"] for p in preds],
        y=[p["predicted"] for p in preds],
        mode="markers",
        name="held-out runs",
        marker={"size": 10},
        hovertext=[f"{p['name']}: {p['error_pct']:+.1f}%" for p in preds],
    )
    ci = a3.get("ci", {})

    def iv(k):
        return f" [{ci[k][0]:.3f}, {ci[k][1]:.3f}]" if k in ci else ""

    a2 = r["approach2"]
    h = r["headline"]
    text = (
        f"**Approach 3** (fit on {h['n_fit']} runs, 95% bootstrap intervals): E = {a3['E']:.3f}{iv('E')}, "
        f"α = {a3['alpha']:.3f}{iv('alpha')}, β = {a3['beta']:.3f}{iv('beta')} → **N_opt ∝ C^{a3['a']:.2f}**"
        f"{iv('a')}.  \n"
        + (
            f"**Approach 2** (IsoFLOP parabolas): N_opt ∝ C^{a2['a']:.2f}"
            + (f" [{a2['ci']['a'][0]:.2f}, {a2['ci']['a'][1]:.2f}]" if a2.get("ci") else "")
            + ".  \n"
            if "a" in a2
            else f"**Approach 2**: {a2.get('error')}.  \n"
        )
        + f"**Held-out check**: the {h['n_heldout']} runs of the largest budget were left out of the fit; "
        f"its predictions miss them by {h['heldout_mean_abs_error_pct']:.1f}% on average "
        f"(worst {h['heldout_max_abs_error_pct']:.1f}%).\n\n"
        + ui.source_note(f"our runs: `{r['rebuild']}`")
        + " · "
        + ui.source_note("method: Hoffmann et al. 2022, Sec. 3.2–3.3", scaling.HOFFMANN_URL)
    )
    rows = [
        [
            x["name"],
            f"{x['params']:,}",
            f"{x['tokens']:,}",
            _sci(x["flops"]),
            f"{x['train']['lr']:.2g}" if "train" in x else "",
            f"{x['eval_loss']:.4f}",
            f"{x.get('seconds', 0):.0f}",
            "held out" if x["budget"] in held else "fit",
        ]
        for x in runs
    ]
    return fig, fig_p, text, rows


@gpu.on_gpu(
    120
)  # training stops at 90 s (training.sweep.LIVE_TIME_LIMIT_S); + packing the corpus, the evaluation
def live_run(shape: str, budget: float, progress=gr.Progress()):
    from training import sweep

    try:
        events = sweep.live_run(shape, ui.checked_number("budget (FLOPs)", budget, 0, float("inf")))
    except ValueError as e:
        raise ui.user_error(e) from None
    status = "starting …"
    for ev in events:
        if ev["kind"] == "progress":
            progress((ev["step"], ev["steps"]), desc="training", unit="steps")
            status = f"step {ev['step']} / {ev['steps']}"
        elif ev["kind"] == "error":
            raise ui.user_error(f"live run failed: {ev['text']}")
        elif ev["kind"] == "done":
            err = 100 * (ev["predicted"] - ev["measured"]) / ev["measured"]
            status = (
                f"**Done** in {ev['seconds']:.0f} s: {ev['params']:,} params, {ev['tokens']:,} tokens. "
                f"Measured held-out loss **{ev['measured']:.3f}**; the lab fit predicted "
                f"**{ev['predicted']:.3f}** ({err:+.1f}%)."
            )
            fig, _, _, _ = lab_results()
            fig.add_scatter(
                x=[ev["params"]],
                y=[ev["measured"]],
                mode="markers",
                name="your live run",
                marker={"size": 16, "symbol": "star", "color": "#e11d48"},
            )
            yield status, fig
            return
        yield status, gr.skip()


# ---------------------------------------------------------------- tab: long tail
def long_tail(size_index: float):
    r = _sweep()
    if not r:
        msg = "No sweep results: build them with `python -m training sweep --preset cpu`."
        return ui.message_figure(msg), ui.message_figure(msg)
    runs = r["runs"]
    shapes = sorted({tuple(x["shape"]) for x in runs}, key=lambda s: s[1] * s[0])
    i = int(_num("model size", size_index, 0, len(shapes) - 1))
    top = max(r["budget"] for r in runs)
    run = next(x for x in runs if tuple(x["shape"]) == shapes[i] and x["budget"] == top)
    series = {}
    for b in r["buckets"]:
        pts = [
            (m["tokens"], m[f"eval_loss/{b}"])
            for m in run["curve"]
            if f"eval_loss/{b}" in m and m["tokens"] > 0
        ]
        if pts:
            series[f"mentioned {b}×"] = tuple(zip(*pts))
    fig = ui.line_figure(
        series,
        f"Loss by how often people are mentioned — {run['params']:,} params",
        "tokens seen",
        "held-out loss (nats/token)",
        log_x=True,
        markers=True,
    )
    finals = {}
    for b in r["buckets"]:
        xs = [
            (x["params"], x["curve"][-1].get(f"eval_loss/{b}")) for x in runs if x["budget"] == top
        ]
        xs = [p for p in sorted(xs) if p[1] is not None]
        if xs:
            finals[f"mentioned {b}×"] = tuple(zip(*xs))
    fig2 = ui.line_figure(
        finals,
        f"C = {_sci(top)}: loss by mentions vs model size",
        "parameters N",
        "held-out loss (nats/token)",
        log_x=True,
        markers=True,
    )
    return fig, fig2


# ---------------------------------------------------------------- the page
def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        ui.header(
            TITLE,
            "Loss falls as a power law in parameters, data and compute — each doubling buys less. "
            "Published laws with their sources, and one we measure ourselves.",
            course_ref="Session 2.3, scaling laws",
        )
        with gr.Tab("Laws"):
            with gr.Row():
                law = gr.Dropdown(LAW_CHOICES, value="chinchilla", label="law", info=LAB_NOTE)
                log_n = gr.Slider(
                    6,
                    13,
                    value=math.log10(70e9),
                    step=0.05,
                    label="log10 N (parameters)",
                    elem_id="scaling-logn",
                )
                log_d = gr.Slider(
                    8, 14, value=math.log10(1.4e12), step=0.05, label="log10 D (tokens)"
                )
            law_text = gr.Markdown(elem_id="scaling-law-text")
            with gr.Row():
                law_fig = gr.Plot(show_label=False, elem_id="scaling-law-fig")
                law_c = gr.Plot(show_label=False)
            ins = [law, log_n, log_d]
            for c in ins:
                c.change(
                    laws, ins, [law_fig, law_c, law_text], api_name=False, show_progress="hidden"
                )
            demo.load(laws, ins, [law_fig, law_c, law_text], api_name="laws")

        with gr.Tab("Compute-optimal"):
            log_c = gr.Slider(
                18, 26, value=math.log10(5.76e23), step=0.05, label="log10 C (training FLOPs)"
            )
            opt_table = gr.Dataframe(
                headers=["law", "N_opt", "D_opt", "tokens/param", "loss", "allocation"],
                interactive=False,
                label="compute-optimal allocation under each law",
            )
            with gr.Row():
                opt_fig = gr.Plot(show_label=False)
                iso_fig = gr.Plot(show_label=False)
            gr.Markdown(
                ui.source_note(scaling.LAWS["chinchilla"].citation, scaling.HOFFMANN_URL)
                + " · "
                + ui.source_note(scaling.LAWS["kaplan"].citation, scaling.KAPLAN_URL)
                + " · "
                + ui.source_note(scaling.LAWS["besiroglu"].citation, scaling.BESIROGLU_URL)
            )
            log_c.change(
                optimal,
                log_c,
                [opt_table, opt_fig, iso_fig],
                api_name=False,
                show_progress="hidden",
            )
            demo.load(optimal, log_c, [opt_table, opt_fig, iso_fig], api_name="optimal")

        with gr.Tab("Diminishing returns"):
            with gr.Row():
                r_law = gr.Dropdown(LAW_CHOICES, value="chinchilla", label="law")
                r_n = gr.Slider(6, 13, value=9, step=0.05, label="log10 N to start from")
                r_d = gr.Slider(8, 14, value=10.3, step=0.05, label="log10 D to start from")
                r_k = gr.Slider(1, 12, value=8, step=1, label="doublings")
            r_fig = gr.Plot(show_label=False)
            r_text = gr.Markdown()
            r_ins = [r_law, r_n, r_d, r_k]
            for c in r_ins:
                c.change(returns, r_ins, [r_fig, r_text], api_name=False, show_progress="hidden")
            demo.load(returns, r_ins, [r_fig, r_text], api_name="returns")

        with gr.Tab("Cost"):
            with gr.Row():
                c_n = gr.Slider(6, 13, value=math.log10(175e9), step=0.01, label="log10 N")
                c_d = gr.Slider(8, 14, value=math.log10(300e9), step=0.01, label="log10 D")
                c_gpu = gr.Dropdown(list(scaling.GPUS), value="V100", label="GPU")
            with gr.Row():
                c_mfu = gr.Slider(1, 100, value=21.3, step=0.1, label="MFU (%)")
                c_price = gr.Number(value=2.0, label="$ per GPU-hour", minimum=0)
                c_count = gr.Number(value=1024, precision=0, label="GPUs", minimum=1)
            c_table = gr.Dataframe(headers=["quantity", "value"], interactive=False)
            c_text = gr.Markdown()
            c_ins = [c_n, c_d, c_gpu, c_mfu, c_price, c_count]
            for c in c_ins:
                c.change(cost, c_ins, [c_table, c_text], api_name=False, show_progress="hidden")
            demo.load(cost, c_ins, [c_table, c_text], api_name="cost")

        with gr.Tab("Our lab"):
            gr.Markdown(
                "A real sweep: Llama-style models of one family trained by this project's loop on a "
                "world corpus whose people are mentioned along a Zipf tail, each compute budget an "
                "IsoFLOP slice across sizes. The largest budget is held out of the fit and predicted. "
                "Runs with few steps (big models on small budgets) are still in the fast early drop, "
                "which E + A/N^α + B/D^β does not describe: they sit off the fit."
            )
            l_text = gr.Markdown(elem_id="scaling-lab-text")
            with gr.Row():
                l_fig = gr.Plot(show_label=False, elem_id="scaling-lab-fig")
                l_pred = gr.Plot(show_label=False)
            l_table = gr.Dataframe(
                headers=[
                    "run",
                    "params",
                    "tokens",
                    "FLOPs (6ND)",
                    "peak lr",
                    "held-out loss",
                    "seconds",
                    "role",
                ],
                interactive=False,
                label="every run of the sweep",
            )
            demo.load(lab_results, None, [l_fig, l_pred, l_text, l_table], api_name="lab")
            gr.Markdown(
                "**Live micro-run**: train one more model of the family here (bounded: ≤ 90 s, one run at "
                "a time) and see where it lands against the fit's prediction."
            )
            with gr.Row():
                lv_shape = gr.Dropdown(list(LIVE_SHAPES), value="L2 d64", label="model")
                lv_budget = gr.Dropdown(
                    [("5e11 FLOPs", 5e11), ("1e12 FLOPs", 1e12), ("2e12 FLOPs", 2e12)],
                    value=1e12,
                    label="compute budget",
                )
                lv_go = gr.Button("Train", variant="primary")
            lv_status = gr.Markdown()
            lv_go.click(
                live_run,
                [lv_shape, lv_budget],
                [lv_status, l_fig],
                api_name="live_run",
                concurrency_limit=2,
                concurrency_id="scaling-live",
                time_limit=180,
            )

        with gr.Tab("Long tail"):
            gr.Markdown(
                "Why progress seems to slow: the held-out loss on biographies of people the corpus mentions "
                "often falls first; rarely mentioned people are learned last, by bigger models and longer "
                "training. Measured in our sweep at every evaluation."
            )
            n_sizes = len(PLANS["cpu"].shapes)
            t_size = gr.Slider(
                0, n_sizes - 1, value=n_sizes - 1, step=1, label="model size (0 = smallest)"
            )
            with gr.Row():
                t_fig = gr.Plot(show_label=False, elem_id="scaling-tail-fig")
                t_fig2 = gr.Plot(show_label=False)
            t_size.change(
                long_tail, t_size, [t_fig, t_fig2], api_name=False, show_progress="hidden"
            )
            demo.load(long_tail, t_size, [t_fig, t_fig2], api_name="long_tail")
    return demo


if __name__ == "__main__":
    demo = build_demo()
    demo.queue(max_size=32)
    ui.launch(demo)
