"""Data mixture tab: one model size trained on mixtures of three synthetic domains at equal tokens
(`training.mixture`, checkpoints/mixture): held-out loss on every domain against the mixture, the
cost of leaving a domain out, and whether mixing beats the single-domain model on a shared domain.
UI wiring and formatting only; every number is read from the bundled results."""

from __future__ import annotations

import math

import gradio as gr

from shared import ui, views
from shared.limits import excerpt
from training.mixture import DOMAINS, MixtureResults, read_results

BUILD = "python -m training mixture --preset cpu"
NO_RESULTS = f"No mixture results: build them with `{BUILD}`."
PILE = (
    "Gao et al. 2020, The Pile: An 800GB Dataset of Diverse Text",
    "https://arxiv.org/abs/2101.00027",
)
DOREMI = (
    "Xie et al. 2023, DoReMi: Optimizing Data Mixtures Speeds Up Language Model Pretraining",
    "https://arxiv.org/abs/2305.10429",
)
INTRO = (
    "**What the data is made of.** The course: modern LLMs train on web pages, Wikipedia, books and "
    "code, and *this diversity* matters. Here three synthetic domains stand in for them: "
    "**bios** (the world corpus's biographies), **code** (small programs followed by their real "
    "output) and **forum** (question-and-answer threads about the *same* people, so it states the "
    "biographies' facts in another register). One model size is trained on each mixture for the "
    "same number of tokens; every run is scored on held-out text of every domain."
)
SETUP = (
    "Every run: a {params:,}-parameter transformer (L{n_layer} d{d_model}) trained on "
    "{tokens:,} tokens of its mixture, one {vocab:,}-token BPE shared by all runs. "
    "Held-out text: biographies in renderings never trained on, programs never seen, forum "
    "threads whose question/answer phrasing pairs were never trained on."
)
LEAVE_OUT = (
    "**The cost of leaving a domain out** (held-out loss on the domain in the run without it, "
    "minus the uniform mix's; both at equal tokens):\n\n"
    "| domain | run without it | its loss there | uniform mix | cost |\n|---|---|---|---|---|\n"
    "{rows}"
)
SHARED = (
    "**Does a mixture beat the single-domain model on the domain it shares?** On **bios**, the "
    "bios + forum mix ({mix}: {share:.0%} of its tokens are bios) reaches **{bios_mixed:.3f}** against "
    "**{bios_single:.3f}** for bios alone: {bios_answer}. On **forum** the same mix reaches "
    "**{forum_mixed:.3f}** against **{forum_single:.3f}** for forum alone: {forum_answer}. "
    "Lowest mean held-out loss over the three domains: **{best}** ({best_loss:.3f})."
)
PARTNERS = (
    "**The same tokens of a domain, in different company.** Each two-domain run gives a domain "
    "{share:.0%} of the tokens; the rest is one of the other domains. Held-out loss on the domain "
    "(row) with each partner (column):\n\n| domain | {heads} |\n|---|{bars}\n{rows}\n"
    "With {share:.0%} of the tokens bios in both runs, forum as the rest leaves bios at "
    "**{with_forum:.3f}** and code leaves it at **{with_code:.3f}**: {verdict}"
)
HELPS = (
    "the forum's restatements of the same facts are worth **{gap:.3f} nats** on bios that the "
    "programs are not."
)
NO_HELP = (
    "the forum's restatements of the same facts do not help bios more than programs do "
    "({gap:+.3f} nats)."
)
STATS_HEAD = (
    "| domain | training records | training tokens | held-out tokens | tokens per record | "
    "distinct tokens |\n|---|---|---|---|---|---|\n"
)
SOURCES = ui.source_note(*PILE) + " · " + ui.source_note(*DOREMI)


def _answer(mixed: float, single: float) -> str:
    gap = mixed - single
    return (
        f"the mix is better by {-gap:.3f} nats"
        if gap < 0
        else f"the single-domain model is better by {gap:.3f} nats"
    )


def _heatmap(r: MixtureResults):
    """Held-out loss, domain x mixture, the number in each cell; colours stop at an untrained
    model's loss (ln of the vocabulary), so a domain a run never saw reads as "untrained"."""
    # plotly's figure classes when the figure is drawn, not at start-up
    import plotly.graph_objects as go

    names = [run.name for run in r.runs]
    z = [[run.final[d] for run in r.runs] for d in DOMAINS]
    fig = go.Figure(
        go.Heatmap(
            x=names,
            y=list(DOMAINS),
            z=z,
            zmin=min(min(row) for row in z),
            zmax=math.log(r.vocab_size),
            colorscale="Viridis",
            text=[[f"{v:.2f}" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate="trained on %{x}<br>held-out %{y}: %{z:.3f} nats/token<extra></extra>",
            colorbar={"title": {"text": "nats/token"}},
        )
    )
    fig = ui.style_figure(
        fig,
        "Held-out loss: domain (rows) × training mixture (columns)",
        "training mixture",
        "held-out domain",
    )
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_yaxes(type="category", showgrid=False)
    fig.update_layout(hovermode="closest")
    return fig


def _curves(r: MixtureResults, domain: str):
    return ui.line_figure(
        {
            run.name: ([p.tokens for p in run.curve[1:]], [p.loss[domain] for p in run.curve[1:]])
            for run in r.runs
        },
        f"Held-out loss on {domain} during training, per mixture",
        "tokens trained on",
        f"{domain} held-out loss (nats/token)",
        log_y=True,
        markers=True,
    )


def _text(r: MixtureResults) -> str:
    h = r.headline
    rows = "".join(
        f"| {x.domain} | {x.run} | {x.loss_without:.3f} | {x.loss_uniform:.3f} | "
        f"**{x.cost:+.3f}** |\n"
        for x in r.leave_out
    )
    setup = SETUP.format(
        params=r.params,
        n_layer=r.shape[0],
        d_model=r.shape[1],
        tokens=h.tokens_per_run,
        vocab=r.vocab_size,
    )
    shared = SHARED.format(
        mix=h.bios_shared_mix,
        share=r.run(h.bios_shared_mix).weights["bios"],
        bios_mixed=h.bios_mixed,
        bios_single=h.bios_single,
        bios_answer=_answer(h.bios_mixed, h.bios_single),
        forum_mixed=h.forum_mixed,
        forum_single=h.forum_single,
        forum_answer=_answer(h.forum_mixed, h.forum_single),
        best=h.best_mean_run,
        best_loss=h.best_mean_loss,
    )
    return "\n\n".join([setup, LEAVE_OUT.format(rows=rows), shared, _partners(r), SOURCES])


def _partners(r: MixtureResults) -> str:
    rows = "".join(
        f"| {p.domain} | "
        + " | ".join(f"{p.loss_with[o]:.3f}" if o in p.loss_with else "—" for o in DOMAINS)
        + " |\n"
        for p in r.partners
    )
    h = r.headline
    gap = h.bios_with_code - h.bios_with_forum
    return PARTNERS.format(
        share=r.partners[0].weight,
        heads=" | ".join(f"with {d}" for d in DOMAINS),
        bars="---|" * len(DOMAINS),
        rows=rows,
        with_forum=h.bios_with_forum,
        with_code=h.bios_with_code,
        verdict=(HELPS if gap > 0 else NO_HELP).format(gap=gap),
    )


def _samples(r: MixtureResults, domain: str) -> str:
    stats = STATS_HEAD + "".join(
        f"| {s.name} | {s.records:,} | {s.tokens:,} | {s.heldout_tokens:,} | "
        f"{s.tokens_per_record:.1f} | {s.distinct_tokens:,} |\n"
        for s in r.domains
    )
    overlap = ", ".join(f"{k.replace('|', ' & ')} {v:.2f}" for k, v in r.overlap.items())
    s = next(s for s in r.domains if s.name == domain)
    shown = "\n\n".join(f"```text\n{t}\n```" for t in s.samples[:2])
    return (
        f"{stats}\nShare of token types two domains both use (Jaccard): {overlap}.\n\n"
        f"**Training records of {domain}** ({s.label}):\n\n{shown}"
    )


def mixture(domain: str):
    """(loss per domain x mixture, curves on `domain`, the leave-one-out and shared-domain text,
    the domains' statistics and samples of `domain`)."""
    if domain not in DOMAINS:
        raise ui.user_error(f"unknown domain {excerpt(domain)}: choose one of {', '.join(DOMAINS)}")
    r = read_results()
    if r is None:
        msg = ui.message_figure(NO_RESULTS)
        return msg, msg, NO_RESULTS, ""
    return _heatmap(r), _curves(r, domain), _text(r), _samples(r, domain)


def build_mixture_tab(demo: gr.Blocks) -> None:
    with gr.Tab("Data mixture"):
        gr.Markdown(INTRO)
        domain = gr.Radio(list(DOMAINS), value="bios", label="domain for the curves and samples")
        with gr.Row():
            heat = gr.Plot(show_label=False, elem_id="mixture-heatmap")
            curves = gr.Plot(show_label=False, elem_id="mixture-curves")
        text = gr.Markdown(elem_id="mixture-text")
        samples = gr.Markdown(elem_id="mixture-samples")
        outs = [heat, curves, text, samples]
        domain.change(mixture, domain, outs, api_name=False, show_progress="hidden")
        demo.load(mixture, domain, outs, api_name="mixture")
        views.link("data-mixture", domain=domain)  # .change redraws
