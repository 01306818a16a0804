"""The README's result tables against the bundled data: every figure in them is recomputed here from
what lies under it (the weights' tensors and files, per-step records, per-run curves, per-evaluation
records), formatted at the README's precision and looked up in its row. A rebuilt checkpoint whose
numbers moved, or a README edited by hand, fails here — the README cannot drift from the data.

Where a figure's lowest artifact is a model's behaviour (accuracy, held-out loss), the stored
per-evaluation value is what this file compares with, and `tests/test_headlines.py` /
`tests/test_bundled.py` recompute that value from the weights."""

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from safetensors import safe_open

from training import store

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CK = store.BUNDLED_DIR


def row(first_cell: str) -> str:
    """The one README table row whose first cell starts with `first_cell`."""
    rows = [line for line in README.splitlines() if line.startswith("| " + first_cell)]
    assert len(rows) == 1, (
        f"README: expected one table row starting {first_cell!r}, found {len(rows)}"
    )
    return rows[0]


def paragraph(start: str) -> str:
    """The README paragraph (lines up to a blank one) that contains `start`, joined into one line."""
    i = README.index(start)
    j = README.find("\n\n", i)
    return " ".join(README[README.rfind("\n\n", 0, i) + 2 : j].split())


def assert_figures(text: str, *figures: str) -> None:
    """Each figure appears in `text` as a whole number (not inside a longer one)."""
    missing = [f for f in figures if not re.search(rf"(?<![\d.,]){re.escape(f)}(?![\d])", text)]
    assert not missing, (
        f"README says {text[:70]!r}…, which lacks {missing} computed from the bundled "
        "data: rebuild or correct the README"
    )


def pct(x: float, nd: int = 1) -> str:
    """A share as the README writes it: percent, halves rounded up (0.1825 -> 18.3)."""
    q = Decimal(1).scaleb(-nd)
    return str((Decimal(repr(float(x))) * 100).quantize(q, rounding=ROUND_HALF_UP))


def fix(x: float, nd: int = 1) -> str:
    """A number at `nd` decimals as the README writes it (halves rounded up: 17.25 -> 17.3)."""
    return str(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-nd), rounding=ROUND_HALF_UP))


def sci(x: float) -> str:
    """1.1e-06 as the README writes it: 1.1e-6."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{x:.1e}").replace("e+", "e")


# ---------------------------------------------------------------- the bundled base model
def test_base_model_table():
    manifest = store.verify(CK / "base")
    shards = sorted((CK / "base").glob("model-*.safetensors"))
    params = {}
    for shard in shards:
        with safe_open(str(shard), "pt") as f:
            for k in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
                params[k] = f.get_slice(k).get_shape()
    n = sum(math.prod(s) for s in params.values())
    embed = [math.prod(s) for k, s in params.items() if "embed_tokens" in k]
    assert len(embed) == 1 and not any("lm_head" in k for k in params)  # tied: stored once
    mb = sum(p.stat().st_size for p in shards) / 1e6
    cfg = json.loads((CK / "base" / "config.json").read_text())
    assert_figures(
        row("model |"),
        str(cfg["num_hidden_layers"]),
        str(cfg["hidden_size"]),
        str(cfg["num_attention_heads"]),
        f"{cfg['vocab_size']:,}",
    )
    assert_figures(
        row("parameters"),
        f"{n:,}",
        f"{n - embed[0]:,}",
        f"{mb:.1f}",
        ["one", "two", "three"][len(shards) - 1],
    )
    assert n == manifest["metrics"]["params"]

    curve = store.read_metrics(CK / "base")
    train = manifest["config"]["train"]
    n_ctx = manifest["config"]["model"]["n_ctx"]
    tokens = curve[-1]["tokens"]
    assert (
        curve[-1]["step"] == train["steps"]
        and tokens == train["steps"] * train["micro_batch"] * n_ctx
    )
    assert_figures(
        row("training |"),
        f"{train['steps']:,}",
        str(train["micro_batch"]),
        str(n_ctx),
        f"{tokens / 1e6:.2f}M",
        f"{train['lr']:.0e}".replace("e-0", "e-"),
        str(train["warmup_steps"]),
        f"{train['grad_clip']:.1f}",
    )
    assert_figures(
        row("training |"), f"{curve[-1]['elapsed_s'] / 60:.1f} min"
    )  # the run's own clock
    evals = [m["eval_loss"] for m in curve if "eval_loss" in m]
    assert_figures(
        row("held-out loss |"), f"{evals[-1]:.3f}", f"{evals[0]:.2f}", f"{curve[-1]['loss']:.3f}"
    )
    by = manifest["metrics"]["born_in_by_bucket"]
    assert_figures(
        row('"born in" accuracy'),
        pct(manifest["metrics"]["born_in_accuracy"]),
        f"{manifest['metrics']['born_in_n']:,}".replace(",", ""),
        pct(by["64-127"]),
    )
    assert all(by[b] == 1.0 for b in by if b != "64-127")  # "100 % above"


# ---------------------------------------------------------------- the SFT model
SFT_ROWS = {
    "base model, zero-shot": "base-augmented/zero-shot/heldout",
    "base model, 3-shot": "base-augmented/few-shot/heldout",
    "**SFT** (all": "sft/heldout",
    "SFT on the 1-biography base": "sft-1bio/heldout",
    "SFT on 1,000 clean": "lima-clean/heldout",
    "SFT on all 5,625 with 30 %": "lima-noisy/heldout",
}


def sft_results():
    from training.sft.build import read_results

    store.verify(CK / "sft")  # hashes first: these are the files the build wrote
    return read_results(CK / "sft")


@pytest.mark.parametrize("first_cell", SFT_ROWS)
def test_sft_table(first_cell):
    r = sft_results()
    e = r.evals[SFT_ROWS[first_cell]]
    assert e.n == 600 and "600 questions" in README
    figs = [pct(e.accuracy), pct(e.compliance)]
    if e.mode == "zero-shot" and e.model == "base (augmented)":
        figs.append(pct(e.mentioned))  # "the right fact appears somewhere in …"
    assert_figures(row(first_cell), *figs)
    run = r.runs.get(e.run)
    if run is not None and "conversations" in row(first_cell):  # the training data named in the row
        assert_figures(row(first_cell), f"{run.n_records:,}")


def test_dpo_section():
    """Every figure of the DPO table and paragraph, recomputed from the per-question answers, the
    validation grid rows and the pairs' margins under the summary."""
    from training.dpo import results as dpo_results

    store.verify(CK / "dpo")
    r = dpo_results.read_results(CK / "dpo")
    names = {"sft": "bundled SFT", "noisy-sft": "noisy SFT"}
    arms = {"sft": "", "dpo": " + DPO", "sft-longer": " + more SFT"}
    for start, label in names.items():
        st = r.starts[start]
        for arm, suffix in arms.items():
            answers = st.arms[arm].answers
            assert len(answers) == 600  # the 100 test people x 6 questions
            share = lambda k: sum(getattr(a, k) for a in answers) / len(answers)  # noqa: E731,B023
            kl = sum(a.kl for a in answers) / sum(a.tokens for a in answers)
            cells = [c.strip() for c in row(label + suffix + (" " if suffix else " |")).split("|")]
            assert cells[2:5] == [f"{pct(share(k))} %" for k in ("correct", "wrong_fact", "ramble")]
            assert cells[5] == ("0" if arm == "sft" else f"{kl:.{4 if kl > 1e-3 else 5}f}")
            if arm != "sft":
                chosen = dpo_results.select([g for g in st.grid if g.arm == arm], arm)
                t = st.training[arm]
                assert (t.lr, t.beta) == (chosen.lr, chosen.beta)  # the validation's choice
                text = f"(lr {t.lr:.0e}".replace("e-0", "e-") + (
                    f", β {t.beta})" if arm == "dpo" else ")"
                )
                assert text in cells[1], (cells[1], text)
    p = paragraph("What it shows: with its settings")
    acc = {(s, a): r.starts[s].arms[a] for s in names for a in arms}
    for s_ in names:
        assert_figures(p, f"{pct(acc[s_, 'dpo'].accuracy)} vs {pct(acc[s_, 'sft'].accuracy)}")
    worst = {
        s: min((g for g in r.starts[s].grid if g.arm == "dpo"), key=lambda g: g.accuracy)
        for s in names
    }
    assert_figures(p, pct(worst["sft"].accuracy), pct(worst["noisy-sft"].accuracy))
    m0 = acc["sft", "sft"].margins_heldout
    m1 = acc["sft", "dpo"].margins_heldout
    assert_figures(
        p,
        f"{m0['ramble'].margin:.1f} → {m1['ramble'].margin:.1f}",
        f"{m0['ramble'].margin_per_token:.2f} → {m1['ramble'].margin_per_token:.2f}",
        f"{m0['wrong'].margin:.1f} → {m1['wrong'].margin:.1f}",
    )
    n0, n1 = acc["noisy-sft", "sft"], acc["noisy-sft", "sft-longer"]
    assert_figures(
        p,
        *(f"{pct(getattr(n0, k))} → {pct(getattr(n1, k))}" for k in ("ramble", "accuracy")),
        f"{pct(n0.wrong_fact)} → {pct(n1.wrong_fact)}",
    )
    assert round(m0["ramble"].tokens_rejected / m0["ramble"].tokens_chosen) == 4
    assert all(m.prefers_chosen == 1.0 for a in acc.values() for m in a.margins_heldout.values())


def test_sft_people_sentence():
    r = sft_results()
    text = paragraph("On the SFT people themselves")
    assert_figures(
        text,
        pct(r.evals["sft/sft"].accuracy, 0),
        pct(r.evals["sft-1bio/sft"].accuracy),
        str(r.evals["sft/sft"].n),
    )


# ---------------------------------------------------------------- the scaling sweep
@pytest.fixture(scope="module")
def sweep():
    from training.sweep import read_results

    return read_results(CK / "sweep")  # hash-checked and typed (SweepResults)


def _final_eval(run) -> dict:
    """A run's last evaluation, from its curve (not the run's summary fields)."""
    return run.evals()[-1]


def test_sweep_losses_by_size(sweep):
    text = row("held-out loss, smallest")
    for budget, label in ((1e12, "1 × 10¹²"), (8e12, "8 × 10¹²")):
        runs = sorted((r for r in sweep.runs if r.budget == budget), key=lambda r: r.params)
        figs = ", ".join(f"{_final_eval(r)['eval_loss']:.2f}" for r in runs)
        assert f"{label}: {figs}" in text, f"README sweep row lacks {label}: {figs}"


def test_sweep_approach2_refit_from_the_runs(sweep):
    """Approach 2 refitted here from the runs' final held-out losses (same settings as the build)."""
    from shared import scaling

    held = set(sweep.heldout_budgets)
    fit = [r for r in sweep.runs if r.budget not in held]
    a2 = scaling.fit_approach2(
        [r.params for r in fit],
        [r.tokens for r in fit],
        [_final_eval(r)["eval_loss"] for r in fit],
        [r.flops for r in fit],
        n_boot=200,
        seed=0,
        rtol=0.3,
    )
    assert_figures(row("compute-optimal N at"), *(f"{round(n / 1e3)}k" for n in a2.n_opt))
    lo, hi = a2.ci["a"]
    assert_figures(
        row("allocation exponent, Approach 2"),
        f"{a2.a:.2f}",
        f"{lo:.2f}".replace("-", "−"),
        f"{hi:.2f}",
    )
    assert a2.a == pytest.approx(sweep.approach2.a, abs=1e-6)


def test_sweep_approach3_and_heldout_errors(sweep):
    """The Approach 3 figures (its refit from the runs is `test_sweep`'s) and the held-out errors,
    recomputed from the stored law and the held-out runs' own curves."""
    from training.sweep import lab_law

    a3 = sweep.approach3
    assert_figures(
        row("allocation exponent N_opt"),
        f"{a3.a:.2f}",
        f"{a3.ci['a'][0]:.2f}",
        f"{a3.ci['a'][1]:.2f}",
        f"{a3.E:.2f}",
        f"{a3.alpha:.2f}",
        f"{a3.beta:.2f}",
    )
    law = lab_law(sweep)
    held = [r for r in sweep.runs if r.budget in set(sweep.heldout_budgets)]
    errors = [
        100
        * (float(law.loss(r.params, r.tokens)) - _final_eval(r)["eval_loss"])
        / _final_eval(r)["eval_loss"]
        for r in sorted(held, key=lambda r: r.params)
    ]
    text = row("held-out prediction")
    mean = sum(abs(e) for e in errors) / len(errors)
    signed = ", ".join(f"{e:+.1f}".replace("-", "−") for e in errors) + " %"
    assert_figures(text, f"{mean:.1f}", f"{max(abs(e) for e in errors):.1f}", str(len(held)))
    assert f"({signed})" in text, f"README held-out errors should read ({signed})"


def test_sweep_long_tail_claim(sweep):
    """'at all 116 evaluations after step 0 … 128+ lower than 4–7': every evaluation, counted."""
    lo, hi = f"eval_loss/{sweep.buckets[0]}", f"eval_loss/{sweep.buckets[-1]}"
    evals = [m for r in sweep.runs for m in r.curve if m["step"] > 0 and lo in m]
    assert all(m[hi] < m[lo] for m in evals), "a run where the head is not below the tail"
    text = paragraph("the long tail")
    assert_figures(text, str(len(evals)))
    r = next(
        r for r in sweep.runs if r.budget == 8e12 and r.spec.n_layer == 2 and r.spec.d_model == 64
    )
    last = _final_eval(r)
    assert_figures(text, f"{last[hi]:.2f}", f"{last[lo]:.2f}")


# ---------------------------------------------------------------- stability
def stability_results():
    from training.stability import read_results

    store.verify(CK / "stability")  # hashes first: these are the files the build wrote
    return read_results(CK / "stability")


def _stab(name: str):
    from training.stability import summarize

    r = next(r for r in stability_results().runs if r.name == name)
    return r, summarize(r.records, r.diverged_at)


def test_stability_table():
    base, s = _stab("baseline")
    recs = base.records
    assert_figures(
        row("baseline: lr 2e-3"),
        f"{recs[0].loss:.2f}",
        f"{s.final_loss:.2f}",
        f"{math.ceil(s.max_grad_norm * 10) / 10:.1f}",
    )
    r, _ = _stab("lr-x10-no-warmup")
    first = r.records[0]
    peak = max(r.records[:20], key=lambda x: x.loss)
    assert_figures(
        row("lr ×10, no warmup |"),
        pct(first.update_ratio, 0),
        f"{peak.loss:.2f}",
        str(peak.step),
        f"{first.loss:.2f}",
    )
    r, s = _stab("lr-x10-bare")
    fp32 = [
        _stab(x.name)[1].final_loss
        for x in stability_results().runs
        if x.settings.precision == "fp32"
    ]
    assert s.final_loss == max(fp32)
    assert_figures(
        row("lr ×10, no warmup, no clipping"), f"{s.max_grad_norm:.1f}", f"{s.final_loss:.2f}"
    )
    r, _ = _stab("init-x10")
    above = [x.step for x in r.records if x.grad_norm > 10]
    assert_figures(row("init ×10 |"), f"{r.records[0].loss:.1f}")
    assert 20 <= len(above) <= 30 and "~25 steps" in row("init ×10 |")
    r, _ = _stab("fp16")
    assert_figures(
        row("fp16 without loss scaling"), pct(max(x.head_zero_frac for x in r.records), 0)
    )
    (sc, s_sc), (bf, s_bf) = _stab("fp16-scaled"), _stab("bf16")
    n_head = (
        stability_results().model.d_model
        * json.loads((CK / "base" / "config.json").read_text())["vocab_size"]
    )
    for x in sc.records + bf.records:  # "no underflow (≤ 1 element)" of the output head
        assert x.head_zero_frac * n_head <= 1 + 1e-6, x
    assert_figures(row("fp16 + GradScaler"), f"{s_sc.final_loss:.2f}", f"{s_bf.final_loss:.2f}")
    r, _ = _stab("fp16-overflow")
    assert r.diverged_at == 1 and math.isnan(float(r.records[0].loss))
    assert "NaN at step 1" in row("init ×100")


# ---------------------------------------------------------------- inference
MIXTURE_ROWS = {  # run name -> the first cell of its README row
    "bios": "bios only",
    "code": "code only",
    "forum": "forum only",
    "uniform": "uniform",
    "bios-heavy": "bios-heavy",
    "no-forum": "no forum",
    "no-code": "no code",
    "no-bios": "no bios",
}


def test_mixture_section():
    from training.mixture import read_results

    store.verify(CK / "mixture")
    r = read_results(CK / "mixture")
    runs = {x.name: x for x in r.runs}
    assert set(runs) == set(MIXTURE_ROWS)
    loss3 = lambda x: f"{x:.3f}" if x < 3 else f"{x:.2f}"  # noqa: E731 (the table's two widths)
    for name, run in runs.items():
        last = run.curve[-1]  # the per-run record under the summary
        assert last.step == run.train.steps and last.tokens == run.tokens
        assert last.tokens == run.train.steps * run.train.micro_batch * r.n_ctx
        cells = row(MIXTURE_ROWS[name]).split("|")[2:5]
        for cell, domain in zip(cells, ("bios", "code", "forum"), strict=True):
            assert cell.strip().strip("*") == loss3(last.loss[domain]), (name, domain, cell)
    text = paragraph("python -m training mixture --preset cpu")
    assert_figures(text, f"{r.params:,}", f"{runs['bios'].train.steps}", f"{runs['bios'].tokens:,}")
    final = {n: x.curve[-1].loss for n, x in runs.items()}
    leave = paragraph("Leaving a domain out costs")
    for domain, without in (("bios", "no-bios"), ("code", "no-code"), ("forum", "no-forum")):
        assert_figures(leave, f"+{final[without][domain] - final['uniform'][domain]:.2f}")
    assert_figures(leave, *(f"{v:.2f}" for v in r.overlap.values()))
    shared = paragraph("A mixture does not beat")
    assert final["no-code"]["bios"] > final["bios"]["bios"]  # the claim, from the runs
    assert final["no-code"]["forum"] > final["forum"]["forum"]
    assert_figures(
        shared,
        f"{final['no-code']['bios']:.3f}",
        f"{final['bios']['bios']:.3f}",
        f"{final['no-code']['forum']:.3f}",
        f"{final['forum']['forum']:.3f}",
    )
    company = paragraph("But the company matters")
    assert_figures(
        company,
        f"{final['no-forum']['bios'] - final['no-code']['bios']:.3f}",
        f"{final['no-forum']['code']:.3f}",
        f"{final['no-bios']['code']:.3f}",
    )
    means = {n: sum(v.values()) / 3 for n, v in final.items()}
    best = min(means, key=means.get)
    assert_figures(paragraph("Lowest mean loss"), f"{means[best]:.3f}", f"{means['uniform']:.3f}")
    assert f"Lowest mean loss over the three domains: {best} (" in paragraph("Lowest mean loss")


def test_lr_decay_table():
    from training.stability import read_results

    r = read_results(CK / "stability")
    runs = {x.settings.schedule: x for x in r.schedules}
    assert set(runs) == {"constant", "cosine", "linear", "wsd"}
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    losses = {k: [rec.loss for rec in v.records] for k, v in runs.items()}
    steps = {len(v) for v in losses.values()}
    assert steps == {300}
    # WSD decays over the last 20 % of the steps: up to then it is the constant run, bit for bit
    start = round(300 * (1 - r.wsd_decay_fraction)) + 1  # its first decayed step
    assert losses["wsd"][: start - 1] == losses["constant"][: start - 1]
    assert runs["wsd"].records[start - 2].lr == runs["constant"].records[start - 2].lr == 2e-3
    assert runs["wsd"].records[start].lr < 2e-3
    final = {k: mean(v[-10:]) for k, v in losses.items()}
    before = {k: mean(v[start - 10 : start]) for k, v in losses.items()}
    names = {"constant": "constant (no", "cosine": "cosine decay", "linear": "linear decay"}
    names["wsd"] = "warmup-stable-decay"
    for k, first in names.items():
        assert_figures(
            row(first),
            f"{final[k]:.3f}",
            f"{runs[k].heldout_loss:.3f}",
            f"{before[k] - final[k]:.3f}",
        )
    text = paragraph("What decay buys")
    assert before["wsd"] == before["constant"]
    assert_figures(
        text,
        str(start),
        f"{before['wsd']:.3f}",
        f"{before['constant'] - final['constant']:.3f}",
        f"{before['wsd'] - final['wsd']:.3f}",
        f"{final['constant'] - final['wsd']:.3f}",
        f"{runs['constant'].heldout_loss - runs['wsd'].heldout_loss:.3f}",
        f"+{final['cosine'] - final['constant']:.3f}",
        f"+{final['linear'] - final['constant']:.3f}",
    )


def test_inference_table():
    from training.inference import read_results

    store.verify(CK / "inference")
    inf = read_results(CK / "inference")
    kv = inf.kv_cache
    i, j = kv.contexts.index(224), kv.contexts.index(16)
    c, u = kv.cached_ms_per_token[i], kv.uncached_ms_per_token[i]
    assert kv.cache_bytes == kv.predicted_cache_bytes and kv.identical_tokens
    assert_figures(
        row("KV cache at 224"),
        f"{c:.2f}",
        f"{u:.2f}",
        f"×{u / c:.1f}",
        f"×{kv.uncached_ms_per_token[j] / kv.cached_ms_per_token[j]:.1f}",
        f"{kv.cache_bytes[i] / 1e6:.2f}",
    )
    q = {x.name: x for x in inf.quantization}
    fp, i8 = q["fp32"], q["int8 (blocks)"]
    assert_figures(
        row("int8 dynamic"),
        f"{fp.weight_bytes / 1e6:.2f}",
        f"{i8.weight_bytes / 1e6:.2f}",
        f"{i8.weight_bytes / fp.weight_bytes:.2f}",
        f"{fp.heldout_loss:.3f}",
        f"{i8.heldout_loss:.3f}",
        pct(fp.accuracy, 0),
        pct(i8.accuracy),
        pct(i8.top1_agreement),
    )
    # int4 g32: its bytes recomputed from the base's own tensors (the blocks' Linear weights become
    # 4-bit codes + per 32 weights an fp16 scale and a 4-bit zero point; everything else stays fp32)
    shapes = {}
    for shard in sorted((CK / "base").glob("model-*.safetensors")):
        with safe_open(str(shard), "pt") as f:
            for k in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
                shapes[k] = f.get_slice(k).get_shape()
    linear = sum(math.prod(s) for k, s in shapes.items() if "_proj.weight" in k)
    total = sum(math.prod(s) for s in shapes.values())
    i4 = q["int4 g32 (blocks)"]
    assert i4.weight_bytes == 4 * (total - linear) + linear // 2 + (linear // 32) * (2 + 0.5)
    assert_figures(
        row("int4 weight-only"),
        f"{fp.weight_bytes / 1e6:.2f}",
        f"{i4.weight_bytes / 1e6:.2f}",
        f"{i4.weight_bytes / fp.weight_bytes:.2f}",
        f"{8 * (i4.weight_bytes - 4 * (total - linear)) / linear:.3f} bits",
        f"{fp.heldout_loss:.3f} → {i4.heldout_loss:.3f}",
        f"{pct(fp.accuracy, 0)} % → {pct(i4.accuracy, 0)} %",
        pct(i4.top1_agreement),
        f"{fp.ms_per_token / i4.ms_per_token:.2f}×",
    )
    pr = {round(x.sparsity, 2): x for x in inf.pruning}
    assert all(x.zeroed == round(x.sparsity * x.pruned_weights) for x in pr.values())
    assert_figures(
        row("magnitude pruning"),
        f"{pr[0.4].heldout_loss:.3f}",
        f"{pr[0.6].heldout_loss:.3f}",
        f"{pr[0.8].heldout_loss:.2f}",
    )
    d = inf.distillation
    last = {k: v[-1] for k, v in d.curves.items()}
    assert_figures(
        row("distillation into"),
        f"{round(d.student.params / 1e3)}k",
        str(d.steps),
        f"{last['distilled'].eval_loss:.3f}",
        f"{last['data only'].eval_loss:.3f}",
        pct(d.final["distilled"].accuracy),
        pct(d.final["data only"].accuracy),
    )


# ---------------------------------------------------------------- architectures
@pytest.fixture(scope="module")
def arch():
    from training.architectures import read_results

    store.verify(CK / "architectures")  # hashes first: these are the files the build wrote
    return read_results(CK / "architectures")


def _mqar(arch, name, width):
    return next(r for r in arch.mqar.runs if r.arch == name and r.width == width)


def test_architectures_mqar_rows(arch):
    order = ("transformer", "mamba", "lstm")
    text = row("MQAR (Zoology)")
    for key in ("64x8", "64x4", "64x16"):
        assert_figures(text, *(pct(_mqar(arch, a, 64).accuracy[key]) for a in order))
    assert_figures(text, f"{arch.mqar.steps:,}", str(arch.mqar.batch))
    assert_figures(
        row("MQAR at width 32"), *(pct(_mqar(arch, a, 32).accuracy["64x8"]) for a in order)
    )


def test_architectures_lm_and_copy_rows(arch):
    text = row("language modelling on the world")
    for r in arch.lm.runs:
        assert_figures(text, f"{r.curve[-1].eval_loss:.2f}")
    text = row("selective copying")
    for r in arch.copy.runs:
        assert_figures(text, pct(r.accuracy))
    assert_figures(text, pct(arch.copy.chance, 0))


# ---------------------------------------------------------------- parallel runs
def test_parallel_table():
    from shared import pipeline
    from training.parallel.results import read_results

    par = read_results(CK / "parallel")  # hash-checked and typed
    ddp = par.ddp
    assert_figures(
        row("DDP, 2 ranks"),
        sci(ddp.max_abs_grad_diff),
        f"{ddp.compute_s * 1e3:.1f}",
        f"{ddp.step_s * 1e3:.1f}",
        f"{ddp.grad_bytes / 1e6:.1f}",
        f"{ddp.allreduce_s * 1e3:.1f}",
    )
    tp = par.tensor_parallel
    assert_figures(
        row("tensor-parallel MLP"),
        sci(tp.max_abs_diff),
        f"{tp.compute_s * 1e3:.1f}",
        f"{tp.allreduce_s * 1e3:.1f}",
        f"{tp.allreduce_bytes / 1e6:.1f}",
    )
    fs = par.fsdp
    pred = fs.predicted_per_rank
    text = row("FSDP2 `fully_shard`")
    for rank in fs.per_rank:
        got = (rank.params_bytes, rank.grads_bytes, rank.optimizer_bytes)
        assert got == (pred.params, pred.grads, pred.optimizer)
        assert_figures(text, " / ".join(f"{b:,}" for b in got))
    # ZeRO-3, fp32 AdamW: 4 (weights) + 4 (grads) + 8 (two moments) bytes per parameter, split over the ranks
    for rank in fs.per_rank:
        assert (rank.params_bytes, rank.grads_bytes, rank.optimizer_bytes) == (
            4 * fs.n_params // fs.ranks,
            4 * fs.n_params // fs.ranks,
            8 * fs.n_params // fs.ranks,
        )
    assert_figures(text, f"{fs.n_params / 1e6:.1f}")
    for stages, first in (
        (2, "pipeline GPipe / 1F1B, 2 ranks"),
        (4, "pipeline GPipe / 1F1B, 4 ranks"),
    ):
        runs = {r.schedule: r for r in par.pipeline if r.stages == stages}
        m = runs["gpipe"].microbatches
        measured = [pipeline.measured_bubble(runs[k].timeline()) for k in ("gpipe", "1f1b")]
        assert_figures(
            row(first),
            pct((stages - 1) / (m + stages - 1)),
            str(m),
            " / ".join(pct(b) + " %" for b in measured),
        )


def test_architectures_decode_throughput_and_recurrence_rows(arch):
    inf = arch.inference.archs
    t, m, lstm = (inf[a].rows for a in ("transformer", "mamba", "lstm"))
    spec = inf["transformer"].model
    for r in t:  # the KV formula: keys and values, every layer, every position, fp32
        assert r.cache_bytes == 2 * spec.n_layer * r.context * spec.d_model * 4
    assert len({r.cache_bytes for r in m}) == len({r.cache_bytes for r in lstm}) == 1  # flat
    text = row("decode cost")
    assert_figures(
        text,
        str(t[0].cache_bytes // 1024),
        str(t[-1].cache_bytes // 2**20),
        str(t[-1].context // t[0].context),
        str(m[0].cache_bytes // 1024),
        str(lstm[0].cache_bytes // 1024),
        f"{t[0].flops_per_token / 1e6:.2f}",
        f"{t[-1].flops_per_token / 1e6:.2f}",
        f"{m[0].flops_per_token / 1e6:.2f}",
        sci(max(a.cache_check for a in inf.values())),
    )
    text = row("training throughput")
    for rows in arch.throughput.rows.values():
        assert_figures(text, *(f"{r.tokens_per_s / 1e3:.1f}k" for r in (rows[0], rows[-1])))
    rec = arch.recurrence.rows[-1]
    text = row("the SSM recurrence three ways")
    assert_figures(text, f"{rec.length:,}", str(arch.recurrence.state))
    methods = [rec.sequential, rec.parallel_scan, rec.convolution]
    for c in methods:
        assert_figures(text, f"{round(c.work / 1e3)}k", f"{c.depth:,}")
    worst = max(c.max_abs_diff for c in methods)
    assert f"{worst:.0e}".replace("e-", "e-") == "7e-15" and "all equal to 7e-15" in text


def test_gradient_flow_row(arch):
    text = row("gradient flow after training")
    for a, name in (("transformer", "transformer"), ("mamba", "Mamba"), ("lstm", "LSTM")):
        g = arch.gradients.archs[a].trained  # ‖∂ loss(last) / ∂ embedding t back‖, t = 0 …
        ratio = g[1] / g[127]
        fig = (
            f"{ratio / 1e6:.1f} million"
            if ratio >= 1e6
            else (f"{ratio:.1f}" if ratio < 10 else f"{ratio:.0f}")
        )
        assert f"{name} ÷ {fig}" in text, f"README gradient-flow row should say {name} ÷ {fig}"


def test_activation_row():
    from training.parallel.results import read_results

    store.verify(CK / "parallel")
    acts = read_results(CK / "parallel").activations
    plain = [a for a in acts if a.recompute == "none"]
    full = [a for a in acts if a.recompute == "full"]
    ratios = [a.measured_bytes / a.predicted_bytes for a in plain]
    assert all(a.explained_bytes == a.measured_bytes for a in plain)  # "to the byte"
    for a in full:  # full recomputation keeps only the layer's input: 2 bytes (bf16) × s·b·h
        assert a.measured_bytes == 2 * a.seq * a.batch * a.hidden
    text = row("activations of one GPT-2 layer")
    assert_figures(text, str(len(plain)), f"{min(ratios):.3f}–{max(ratios):.3f}")


# ---------------------------------------------------------------- the benchmarks table
def bench(name: str) -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())


def med(samples: list[float]) -> float:
    import statistics

    return statistics.median(samples)


def test_cold_start_rows_of_the_benchmarks_readme():
    """benchmarks/README's rows of the cold-start run with the first clicks' process (five rows in
    a row), each recomputed per mode from the per-launch records."""
    lines = (ROOT / "benchmarks" / "README.md").read_text().splitlines()
    first = [i for i, line in enumerate(lines) if "with the first clicks' process" in line]
    assert len(first) == 1, "benchmarks/README: one row of the run with the first clicks' process"
    block = lines[first[0] : first[0] + 5]
    runs = [r for r in bench("cold_start")["runs"] if r["ok"]]
    modes = ("warm-up", "thread only", "no warm-up")

    def per_mode(kind: str | None, key: str) -> str:
        return " / ".join(
            fix(med([r[key] for r in runs if r["mode"] == m and kind in (None, r["kind"])]), 2)
            for m in modes
        )

    assert_figures(block[0], per_mode(None, "seconds"))
    assert_figures(block[1], per_mode("paint", "action_after_paint_s"))
    assert_figures(block[2], per_mode("action", "done_after_200_s"))
    assert_figures(block[3], per_mode("paint", "done_after_200_s"))
    assert_figures(block[4], per_mode("click", "click_s"))


def test_redesign_row():
    """The before/after medians recomputed from each launch's samples (benchmarks/redesign.py)."""
    rd = bench("redesign")
    m = {k: {f: med([x[f] for x in rows]) for f in rows[0]} for k, rows in rd["samples"].items()}
    b, a = m["before"], m["after"]
    views = [k for k in a if k.endswith(" ms")]
    assert len(views) == 7 and rd["before_commit"] == "48ec1f2"
    assert_figures(
        row("the redesign (issue 17)"),
        f"{b['http_200_s']:.2f} / {a['http_200_s']:.2f} s",
        f"×{a['http_200_s'] / b['http_200_s']:.2f}",
        f"{b['paint_after_200_s']:.2f} / {a['paint_after_200_s']:.2f} s",
        f"{med([b[k] for k in views]):.1f} / {med([a[k] for k in views]):.1f} ms",
    )
    assert a["http_200_s"] <= b["http_200_s"] and "no worse ✔" in row("the redesign (issue 17)")


def test_benchmarks_table():
    """Each median recomputed from the raw samples the benchmark scripts wrote."""
    lo = bench("loop_overhead")
    ours, bare = med(lo["ours_tokens_per_s"]["samples"]), med(lo["bare_tokens_per_s"]["samples"])
    assert_figures(
        row("training loop vs a bare"),
        f"{ours:,.0f}",
        f"{bare:,.0f}",
        fix(100 * (1 - ours / bare)).replace("-", "−"),
    )
    assert_figures(
        row("MFU of the loop"),
        pct(lo["mfu"]["median"], 0),
        f"{lo['peak_flops']['median'] / 1e9:.0f}",
    )

    cs = bench("cold_start")
    runs = [r for r in cs["runs"] if r["ok"]]

    def of(mode, kind, key):
        return med([r[key] for r in runs if r["mode"] == mode and r["kind"] == kind])

    modes = (
        "warm-up",
        "thread only",
        "no warm-up",
    )  # as shipped, LAB_WARM_PROCESS=0, LAB_WARM_UP=0
    assert_figures(
        row("suite cold start"),
        *(fix(med([r["seconds"] for r in runs if r["mode"] == m]), 2) for m in modes),
        *(fix(of(m, "paint", "done_after_200_s"), 2) for m in modes),
    )
    assert_figures(
        row("first completion after start"),
        *(fix(of(m, "paint", "action_after_paint_s"), 2) for m in modes),
        *(fix(of(m, "action", "done_after_200_s"), 2) for m in modes),
        *(fix(of(m, "click", "click_s"), 2) for m in modes),
    )

    text = row("generation with / without KV cache")
    for length in bench("generation")["lengths"]:
        c, u = (
            med(length["cached_tokens_per_s"]["samples"]),
            med(length["uncached_tokens_per_s"]["samples"]),
        )
        assert_figures(text, f"{c:.0f} / {u:.0f}", f"×{c / u:.1f}", str(length["new_tokens"]))

    text = row("analytic endpoints") + row("the largest pipeline view")
    for e in bench("analytic_endpoints")["endpoints"].values():
        assert_figures(text, fix(med(e["samples_ms"])))

    text = row("live 2-rank run")
    for r in bench("live_parallel")["runs"].values():
        assert_figures(text, fix(med(r["samples_s"])))

    sft = bench("live_sft")
    assert_figures(
        row("live SFT from the app"),
        fix(sft["median"]["train_s"]),
        fix(sft["median"]["request_s"]),
        pct(sft["median"]["compliance_before"], 0),
        pct(sft["median"]["compliance_after"], 0),
        pct(sft["median"]["accuracy_after"], 0),
        str(sft["settings"]["steps"]),
    )


def test_load_table():
    """The load rows recomputed from the per-request samples (numpy's linear percentiles)."""
    import numpy as np

    ld = bench("load")
    samples = ld["phase_a"]["samples"]
    ok = [s for s in samples if s["ok"]]
    text = row("16 `gradio_client` users")
    lat = {
        c: [s["latency_s"] * 1e3 for s in ok if s["class"] == c] for c in ("analytic", "completion")
    }
    assert_figures(
        text,
        str(len(samples)),
        str(len(samples) - len(ok)),
        f"{np.percentile(lat['analytic'], 50):,.0f}",
        f"{np.percentile(lat['analytic'], 95):,.0f}",
        fix(np.percentile(lat["completion"], 50) / 1e3),
        fix(np.percentile(lat["completion"], 95) / 1e3),
    )
    assert "**0 failures**" in text and len(ok) == len(samples)
    assert_figures(text, str(ld["completions_identical"]["checked"]))
    assert ld["completions_identical"]["mismatched"] == 0
    text = row("40 `/complete` at the same instant")
    served = [b["summary"]["succeeded"] for b in ld["phase_b"]["per_burst"]]
    assert all(b["summary"]["other_failures"] == 0 for b in ld["phase_b"]["per_burst"])
    assert_figures(
        text,
        ", ".join(str(n) for n in served),
        str(ld["phase_b"]["per_burst"][0]["summary"]["submitted"]),
    )


# ---------------------------------------------------------------- corpus, Spaces, limits
def test_world_corpus_row():
    """The base model's data row, from the world the manifest names, generated again here."""
    from training.data.world import World, WorldConfig

    manifest = store.verify(CK / "base")
    stats = World(WorldConfig(**manifest["config"]["world"])).stats()
    assert_figures(
        row("data |"),
        str(stats["n_people"]),
        f"{stats['zipf_s']:g}",
        str(stats["mentions_min"]),
        f"{stats['mentions_max']:,}",
        f"{stats['n_records']:,}",
        f"{stats['n_words'] / 1e6:.1f}M",
    )


def test_sweep_paragraph():
    from dataclasses import asdict

    from training.data.world import World
    from training.sweep import PLANS, read_results

    sw = read_results(CK / "sweep")
    text = paragraph("trains 6 Llama-style sizes")
    params = [r.params for r in sw.runs]
    layers = [r.spec.n_layer for r in sw.runs]
    plan = PLANS["cpu"]
    assert plan.world == sw.plan.world
    stats = World(plan.base().world).stats()  # the sweep world, generated again
    assert stats == {k: v for k, v in asdict(sw.data.corpus).items() if k != "source"}
    assert_figures(
        text,
        f"{round(min(params) / 1e3)}k",
        f"{max(params) / 1e6:.2f}M",
        f"{min(layers)}–{max(layers)}",
        str(len(PLANS["cpu"].shapes)),
        f"{stats['n_people']:,}",
        f"{stats['zipf_s']:g}",
        f"{stats['mentions_min']}–{stats['mentions_max']:,}",
        f"{sw.data.train_tokens / 1e6:.2f}M",
        str(sw.plan.micro_batch),
        str(sw.approach3.n_boot),
    )


@pytest.mark.parametrize(
    "name",
    [
        "scaling_explorer",
        "sft_transformation",
        "parallelism",
        "training_at_scale",
        "architectures",
        "suite",
    ],
)
def test_spaces_table(name):
    """Each bundle's size and LFS share from the files `spaces build` would write (planned, not written)."""
    from fnmatch import fnmatch

    from training import deploy
    from training.hub import SPACE_SLUGS

    plan = deploy.plan_bundle(name)
    sizes = {
        rel: len(src) if isinstance(src, bytes) else src.stat().st_size
        for rel, src in plan.files.items()
    }
    attrs = [
        line.split()[0]
        for line in plan.files[".gitattributes"].decode().splitlines()
        if "filter=lfs" in line
    ]
    lfs = sum(
        b
        for rel, b in sizes.items()
        if any(fnmatch(rel, p) or fnmatch(Path(rel).name, p) for p in attrs)
    )
    text = row(f"`{SPACE_SLUGS[name]}`")
    assert_figures(text, f"{sum(sizes.values()) / 1e6:.1f}")
    assert (f"({lfs / 1e6:.1f} MB" in text) if lfs else "(none" in text, (
        f"{name}: LFS {lfs / 1e6:.1f} MB"
    )
    assert f"`{plan.card['suggested_hardware']}`" in text


def test_limits_table():
    """The limits as the built suite declares them (its events' concurrency and time limits)."""
    import app
    from shared import limits

    demo = app.build_suite(app.discover_apps())
    fns = {f.api_name: f for f in demo.fns.values() if f.api_name}
    sizes = {
        int(m)
        for f in [ROOT / "app.py", *ROOT.glob("spaces/*/app.py"), ROOT / "shared" / "ui.py"]
        for m in re.findall(r"queue\(max_size=(\d+)\)", f.read_text())
    }
    assert len(sizes) == 1, f"one queue size for every app and the suite, found {sizes}"
    assert_figures(row("queue (every app"), str(sizes.pop()))
    c = fns["complete"]
    assert_figures(row("base-model completion"), str(c.concurrency_limit), str(c.time_limit))
    cmp, tv = fns["compare"], fns["token_view"]
    assert cmp.concurrency_id == tv.concurrency_id and cmp.concurrency_limit == tv.concurrency_limit
    assert_figures(row("SFT side-by-side"), str(cmp.concurrency_limit), str(cmp.time_limit))
    assert_figures(row("recall probe"), str(fns["probe"].concurrency_limit))
    page, side, lib = limits.PAGE, limits.SIDE_BY_SIDE, limits.LIBRARY
    assert_figures(
        row("a generation request"),
        f"≤ {page.max_new_tokens} new tokens",
        f"temperature ≤ {page.max_temperature:g}",
        f"top-k ≤ {page.max_top_k}",
        f"prompt ≤ {page.max_prompt_chars:,} characters",
        f"≤ {side.max_new_tokens} tokens per model",
        f"prompt ≤ {side.max_prompt_chars:,};",
        f"≤ {lib.max_new_tokens:,} tokens",
    )
    live = [
        fns[k].time_limit for k in ("live_run", "launch_run", "stability_live", "race", "live_sft")
    ]
    assert_figures(row("live runs"), f"{min(live)}–{max(live)}")


def test_mutation_table():
    """The mutation scores, recomputed from the per-file verdict counts of the last complete run."""
    mut = bench("mutation")
    for group, first in (("shared", "`shared/` (≥"), ("core", "training core:")):
        g = mut["groups"][group]
        files = g["files"].values()
        total = sum(f["total"] for f in files)
        unchecked = sum(
            f["not_checked"] for f in files
        )  # a run cut short says how many, in the README
        score = sum(f["killed"] + f["timeout"] for f in files) / sum(
            f["total"] - f["equivalent"] - f["not_checked"] for f in files
        )
        assert score >= g["target"], f"{group}: {score:.3f} is below its target {g['target']}"
        counted = f"{total - unchecked:,} of {total:,} checked" if unchecked else f"{total:,}"
        assert_figures(row(first), counted, pct(score) + " %", pct(g["target"], 0))
