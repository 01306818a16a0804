"""The architectures lab on real tiny models: an LSTM, Mamba and a transformer decode with their
caches exactly as a full forward pass does, their caches hold the bytes the memory formulas say
(growing with context for attention, constant for the recurrent two), parameter matching, FLOPs
per token, the training loop on task labels (scored positions only, early stop), the tiny build
end to end (cached, hash-checked, models for the recall probe), the probe's parser and the live
race's settings, events and lock. Everything is tiny (~1 min in all on 2 busy cores)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from shared.memory import kv_cache_bytes, lstm_state_bytes, ssm_state_bytes
from training import architectures as A
from training import live
from training.data.blocks import task_data
from training.data.tasks import IGNORE, mqar
from training.generate import cache_bytes
from training.models import ModelSpec, build_model, forward_flops_per_token, param_counts

VOCAB = 64
WIDTH = 32
SPECS = {  # two heads in the transformer so head_dim != width (the KV formula must use both)
    "transformer": ModelSpec(
        arch="llama", n_layer=2, d_model=WIDTH, n_head=2, n_ctx=64, vocab_size=VOCAB
    ),
    "mamba": ModelSpec(arch="mamba", n_layer=2, d_model=WIDTH, n_ctx=64, vocab_size=VOCAB),
    "lstm": ModelSpec(arch="lstm", n_layer=2, d_model=WIDTH, n_ctx=64, vocab_size=VOCAB),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread (as the other lab tests): small forwards on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    A.quiet_model_warnings()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models():
    return {arch: A.new_model(spec, seed=1).eval() for arch, spec in SPECS.items()}


# --- 1. cached decoding == full forward ----------------------------------------------------------


@pytest.mark.parametrize("arch", list(SPECS))
def test_cache_equivalence_helper(models, arch):
    assert A.cache_equivalence(models[arch]) < 1e-4
    assert A.cache_equivalence(models[arch], prompt=3, steps=9, seed=5) < 1e-4


@pytest.mark.parametrize("arch", list(SPECS))
def test_one_token_decoding_matches_full_forward(models, arch):
    """Our own loop, batch of 2: prompt of 5, then 7 tokens fed one at a time with the cache."""
    model = models[arch]
    g = torch.Generator().manual_seed(7)
    x = torch.randint(0, VOCAB, (2, 12), generator=g)
    with torch.inference_mode():
        full = model(input_ids=x).logits
        out = model(input_ids=x[:, :5], use_cache=True)
        assert out.cache is not None
        diffs = [float((out.logits - full[:, :5]).abs().max())]
        cache = out.cache
        for t in range(5, 12):
            out = model(input_ids=x[:, t : t + 1], cache=cache, use_cache=True)
            assert out.logits.shape == (2, 1, VOCAB)
            diffs.append(float((out.logits[:, 0] - full[:, t]).abs().max()))
            cache = out.cache
        # control: the same last token without any cache must give different logits (the test
        # above would notice a model that ignored its cache)
        alone = model(input_ids=x[:, 11:12]).logits[:, 0]
    assert max(diffs) < 1e-4, diffs
    assert float((alone - full[:, 11]).abs().max()) > 1e-3


# --- 2. cache bytes vs context ------------------------------------------------------------------


def _cache_bytes_at(model, length: int) -> int:
    with torch.inference_mode():
        x = torch.randint(0, VOCAB, (1, length), generator=torch.Generator().manual_seed(length))
        return cache_bytes(model(input_ids=x, use_cache=True).cache)


LENGTHS = (4, 9, 16, 33)


def test_transformer_cache_grows_linearly_as_kv_formula(models):
    spec = SPECS["transformer"]
    got = [_cache_bytes_at(models["transformer"], n) for n in LENGTHS]
    want = [
        kv_cache_bytes(spec.n_layer, spec.n_head, spec.d_model // spec.n_head, n, 1, 4)
        for n in LENGTHS
    ]
    assert got == want
    per_token = got[0] / LENGTHS[0]
    assert all(b == per_token * n for b, n in zip(got, LENGTHS)) and per_token > 0


def test_mamba_state_is_constant_and_matches_formula(models):
    spec = SPECS["mamba"]
    got = {_cache_bytes_at(models["mamba"], n) for n in LENGTHS}
    assert got == {
        ssm_state_bytes(spec.n_layer, spec.expand * spec.d_model, spec.d_state, spec.d_conv, 1, 4)
    }


def test_lstm_state_is_constant_and_matches_formula(models):
    spec = SPECS["lstm"]
    got = {_cache_bytes_at(models["lstm"], n) for n in LENGTHS}
    assert got == {lstm_state_bytes(spec.n_layer, spec.d_model, 1, 4)}
    h, c = models["lstm"](input_ids=torch.zeros(1, 3, dtype=torch.long), use_cache=True).cache
    assert h.shape == c.shape == (spec.n_layer, 1, spec.d_model)


# --- 3. parameter matching ----------------------------------------------------------------------


@pytest.mark.parametrize("width", [64, 128])
def test_matched_specs_within_15_percent(width):
    specs = A.matched_specs(width, 2, VOCAB, 64)
    assert set(specs) == set(A.ARCHS)
    assert [s.arch for s in specs.values()] == [A.FACTORY[a] for a in specs]
    assert all(s.d_model == width for s in specs.values()) and specs["transformer"].n_layer == 2
    counts = {a: A.nonembedding_params(s) for a, s in specs.items()}
    # the meta-device count is the real model's count
    real = param_counts(build_model(specs["lstm"]))["params_nonembedding"]
    assert real == counts["lstm"]
    for arch in ("mamba", "lstm"):
        assert abs(counts[arch] - counts["transformer"]) / counts["transformer"] < 0.15, counts
        # and no other layer count would be closer
        for n in (specs[arch].n_layer - 1, specs[arch].n_layer + 1):
            if n >= 1:
                other = A.nonembedding_params(A.arch_spec(arch, width, n, VOCAB, 64))
                assert abs(other - counts["transformer"]) >= abs(
                    counts[arch] - counts["transformer"]
                )


@pytest.mark.parametrize(
    "width,layers", [(60, 2), (4, 2), (0, 2), (64.0, 2), ("64", 2), (64, 0), (64, 49), (64, 1.5)]
)
def test_matched_specs_rejects_bad_settings(width, layers):
    with pytest.raises(ValueError, match="width|layers"):
        A.matched_specs(width, layers, VOCAB, 64)


# --- 4. FLOPs per token -------------------------------------------------------------------------


def test_forward_flops_per_token(models):
    ctxs = (8, 16, 24, 1024)
    f = {a: [forward_flops_per_token(m, c) for c in ctxs] for a, m in models.items()}
    t = f["transformer"]
    assert t[0] < t[1] < t[2] < t[3]
    assert t[1] - t[0] == pytest.approx(t[2] - t[1])  # linear in the context
    spec = SPECS["transformer"]
    n = param_counts(models["transformer"])["params_matmul"]
    assert t[0] == pytest.approx(2 * n + 4 * spec.n_layer * spec.d_model * ctxs[0])
    for arch in ("mamba", "lstm"):
        assert (
            len(set(f[arch])) == 1 and f[arch][0] >= 2 * param_counts(models[arch])["params_matmul"]
        )
    assert f["lstm"][0] == 2 * param_counts(models["lstm"])["params_matmul"]
    assert (
        f["mamba"][0] > 2 * param_counts(models["mamba"])["params_matmul"]
    )  # the scan's extra work


# --- 5. the training loop on task labels --------------------------------------------------------

TASK_SPEC = ModelSpec(arch="llama", n_layer=1, d_model=32, n_head=1, n_ctx=16, vocab_size=32)


@pytest.fixture(scope="module")
def task():
    x, y = mqar(64, 16, 2, 32, seed=0)
    ex, ey = mqar(16, 16, 2, 32, seed=1)
    return task_data(x, y, ex, ey), (ex, ey)


def test_task_data_shapes(task):
    data, (ex, ey) = task
    assert data.train.shape == (64, 17) and data.eval.shape == (16, 17)
    assert data.train_labels.shape == (64, 16) and torch.equal(
        data.eval[:, :-1], torch.as_tensor(ex)
    )
    assert (data.eval_labels != IGNORE).sum() == 2 * 16  # two queries per example


def test_evaluate_counts_only_scored_positions():
    from accelerate import Accelerator

    from training.pretrain import evaluate

    model = A.new_model(TASK_SPEC, seed=3)
    g = torch.Generator().manual_seed(0)
    blocks = torch.randint(0, 32, (5, 17), generator=g)
    labels = torch.full((5, 16), IGNORE, dtype=torch.long)
    col = 6
    labels[:, col] = torch.randint(0, 32, (5,), generator=g)
    got = evaluate(model, blocks, Accelerator(cpu=True), batch_size=2, labels=labels)
    with torch.no_grad():
        logits = model(input_ids=blocks[:, :-1]).logits
    want = float(F.cross_entropy(logits[:, col].float(), labels[:, col]))
    assert got == pytest.approx(want, rel=1e-5)
    # without labels it is the language-modelling loss over every position: a different number
    lm = evaluate(model, blocks, Accelerator(cpu=True), batch_size=2)
    assert lm == pytest.approx(
        float(F.cross_entropy(logits.reshape(-1, 32).float(), blocks[:, 1:].reshape(-1))), rel=1e-5
    )
    # measured 1.007e-3 apart (a fresh model is near uniform everywhere), so the bound is well below
    # that and well above what the two rel=1e-5 matches above allow (3.5e-5 each)
    assert abs(lm - got) > 2e-4, (
        f"labels must change what evaluate measures: {lm} (every position) vs {got} (scored positions only)"
    )


def test_train_task_runs_and_scores_labels(task, tmp_path):
    data, acc_on = task
    seen = []
    r = A.train_task(
        TASK_SPEC,
        data,
        steps=4,
        batch=8,
        lr=3e-3,
        eval_interval=2,
        run_dir=tmp_path / "run",
        accuracy_on=acc_on,
        on_eval=seen.append,
    )
    assert r["steps"] == 4 and [p["step"] for p in r["curve"]] == [0, 2, 4] and seen == r["curve"]
    for p in r["curve"]:
        assert 0.0 <= p["accuracy"] <= 1.0 and np.isfinite(p["eval_loss"])
    # the step-0 eval loss is the fresh model's cross-entropy on the scored positions only
    fresh = A.new_model(TASK_SPEC, seed=0).eval()
    with torch.no_grad():
        logits = fresh(input_ids=data.eval[:, :-1]).logits
    want = float(
        F.cross_entropy(logits.reshape(-1, 32), data.eval_labels.reshape(-1), ignore_index=IGNORE)
    )
    # batched evaluation vs one forward: fp32 rounding only (measured 1.7e-6); every position
    # instead of the scored ones would be 0.28 off, a model of another seed 0.008
    assert r["curve"][0]["eval_loss"] == pytest.approx(want, abs=5e-5), (
        "the step-0 eval loss must be the fresh model's cross-entropy on the scored positions (kernel rounding allowed)"
    )
    assert r["curve"][0]["accuracy"] == pytest.approx(A.task_accuracy(fresh, *acc_on), abs=1e-4)
    # and the returned model is the trained one: its accuracy is the last point's
    assert A.task_accuracy(r["model"], *acc_on) == pytest.approx(
        r["curve"][-1]["accuracy"], abs=1e-4
    )
    assert (tmp_path / "run" / "resume" / "model.safetensors").is_file()


def test_train_task_stops_early_at_target(task, tmp_path):
    data, acc_on = task
    r = A.train_task(
        TASK_SPEC,
        data,
        steps=40,
        batch=8,
        lr=3e-3,
        eval_interval=2,
        run_dir=tmp_path / "run",
        accuracy_on=acc_on,
        target=0.0,
    )
    assert r["steps"] == 2 and [p["step"] for p in r["curve"]] == [0, 2]


def test_eval_hook_stop_ends_pretrain(task, tmp_path):
    from training.presets import TrainConfig
    from training.pretrain import pretrain

    data, _ = task
    calls = []

    def hook(model, record):
        calls.append(record["step"])
        return {"stop": True}  # at step 0 it must be ignored; at the first later eval it stops

    cfg = TrainConfig(steps=30, micro_batch=8, warmup_steps=1, eval_interval=3, ckpt_interval=0)
    s = pretrain(
        A.new_model(TASK_SPEC),
        data,
        cfg,
        tmp_path / "run",
        resume=False,
        progress=False,
        eval_hook=hook,
    )
    assert calls == [0, 3] and s["step"] == 3 and s["done"] is False


# --- 6. the tiny build end to end ----------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("architectures")
    out, work = tmp / "out", tmp / "work"
    b = A.build("tiny", out=out, work_dir=work, progress=False)
    return {"out": out, "work": work, "built": b, "tmp": tmp}


def test_build_writes_every_section(built):
    out = built["out"]
    assert built["built"].out == out
    results = A.read_results(out)
    assert isinstance(results, A.ArchitecturesResults), "read_results gave None for a fresh build"
    for name in A.SECTIONS:
        assert getattr(results, name) == getattr(built["built"].results, name), name
    assert set(results.section_seconds) == set(A.SECTIONS)
    assert results.preset == "tiny" and results.plan == A.PLANS["tiny"]
    assert results.plan.mqar_widths == (32,)
    assert sorted(p.name for p in (out / A.MODELS_DIR).iterdir()) == sorted(
        f"{a}.safetensors" for a in A.ARCHS
    )
    plan = A.PLANS["tiny"]
    # sections hold what they say: every lm run, every grid point, cache bytes per the formulas
    assert {(r.arch, r.width) for r in results.lm.runs} == {
        (a, w) for a in A.ARCHS for w in plan.lm_widths
    }
    assert all(r.final_eval_loss == r.curve[-1].eval_loss for r in results.lm.runs)
    grid = {(g.seq, g.pairs) for g in results.mqar.grid}
    assert grid == set(A.mqar_eval_grid(plan))
    assert all(g.key == f"{g.seq}x{g.pairs}" for g in results.mqar.grid)
    for arch, info in results.inference.archs.items():
        m = info.model
        assert info.cache_check < 1e-4, (arch, info.cache_check)
        for row in info.rows:
            if arch == "transformer":
                heads = max(1, m.d_model // 32)
                want = kv_cache_bytes(m.n_layer, heads, m.d_model // heads, row.context, 1, 4)
            elif arch == "mamba":
                want = ssm_state_bytes(m.n_layer, 2 * m.d_model, 16, 4, 1, 4)
            else:
                want = lstm_state_bytes(m.n_layer, m.d_model, 1, 4)
            assert row.cache_bytes == want, (arch, row)
    for row in results.recurrence.rows:
        assert row.parallel_scan.max_abs_diff < 1e-6 and row.selective_scan_diff < 1e-6


def test_headline(built):
    results = A.read_results(built["out"])
    h = A.headline(results)
    assert h["out"] is None and A.headline(built["built"])["out"] == str(built["out"])
    assert sorted(h["mqar_ordering"]) == sorted(A.ARCHS)
    longest = A.mqar_at_longest(results)
    assert longest.seq == max(A.PLANS["tiny"].mqar_eval_seqs) and longest.width == 32
    assert longest.pairs == max(p for p in A.PLANS["tiny"].mqar_train_pairs if 3 * p + 1 <= 24)
    assert all(0.0 <= v <= 1.0 for v in longest.accuracy.values())
    for run in results.mqar.runs:
        assert longest.accuracy[run.arch] == run.accuracy[longest.key]
    acc = [longest.accuracy[a] for a in h["mqar_ordering"]]
    assert acc == sorted(acc, reverse=True) and h["mqar_ordering"] == longest.ordering
    first, last = h["cache_bytes_at"]["transformer"]
    assert last > first
    for arch in ("mamba", "lstm"):
        assert h["cache_bytes_at"][arch][0] == h["cache_bytes_at"][arch][1] > 0
    assert set(h["lm_final_eval_loss"]) == {f"{a}-32" for a in A.ARCHS}
    assert all(np.isfinite(v) for v in h["lm_final_eval_loss"].values())
    json.dumps(h)  # printed by the CLI


SECTION_FUNCTIONS = (
    "recurrence_section",
    "inference_section",
    "throughput_section",
    "lm_section",
    "gradient_section",
    "mqar_section",
    "copy_section",
)


def test_rebuild_reuses_cached_sections(built, monkeypatch):
    """A second build computes no section again: every section function is replaced by one that
    records the call, and none is called."""
    rerun = []
    for name in SECTION_FUNCTIONS:
        monkeypatch.setattr(
            A.results,
            name,
            lambda *a, _name=name, **k: (
                rerun.append(_name)
                or pytest.fail(f"{_name} ran again on a rebuild with its result cached")
            ),
        )
    again = A.build("tiny", out=built["out"], work_dir=built["work"], progress=False).results
    assert rerun == []
    first = built["built"].results
    for name in A.SECTIONS:
        assert getattr(again, name) == getattr(first, name), name
    assert again.section_seconds == first.section_seconds
    assert A.read_results(built["out"]).section_seconds == first.section_seconds


def test_tampered_results_are_refused(built):
    copy = built["tmp"] / "tampered"
    shutil.copytree(built["out"], copy)
    assert A.read_results(copy)
    doc = json.loads((copy / "results.json").read_text())
    doc["copy"]["runs"][0]["accuracy"] = 1.0
    (copy / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    assert A.read_results(copy) is None
    with pytest.raises(Exception, match="no architectures results"):
        A.load_probe_models(copy)


@pytest.fixture(scope="module")
def probe_models(built):
    return A.load_probe_models(built["out"])


def test_load_probe_models(built, probe_models):
    models, info = probe_models
    assert set(models) == set(A.ARCHS)
    plan = A.PLANS["tiny"]
    assert (info.width, info.seq, info.vocab) == (32, plan.mqar_seq, plan.mqar_vocab)
    for arch, m in models.items():
        assert not m.training and m.config.vocab_size == plan.mqar_vocab
        spec = info.models[arch]
        assert isinstance(spec, ModelSpec) and spec.arch == A.FACTORY[arch]
        trained = A.load_trained(spec, built["work"] / f"mqar-{arch}-32")
        a, b = m.state_dict(), trained.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        # and they are trained, not fresh
        fresh = A.new_model(spec).state_dict()
        assert any(not torch.equal(a[k], fresh[k]) for k in a)
    assert A.load_probe_models(built["out"])[0] is models  # loaded once per process


# --- 7. the recall probe -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "A=3, B=17, C=5 ? B",
        "A:3; B:17\nC:5\n? B",
        "A = 3,B=17 C: 5?B",
        "  A=3\n\nB=17,,C=5   ?   B  ",
    ],
)
def test_parse_probe_good(text):
    assert A.parse_probe(text, 64, 64) == ([("A", 3), ("B", 17), ("C", 5)], "B")


def test_parse_probe_edges():
    assert A.parse_probe("A=31 ? A", 64, 64) == ([("A", 31)], "A")  # vocab//2 - 1 is the top
    assert A.parse_probe("x1=0, long_key_name=2 ? long_key_name", 64, 8)[1] == "long_key_name"
    assert (
        len(A.parse_probe(" ".join(f"K{i}=1" for i in range(3)) + " ? K0", 64, 7)[0]) == 3
    )  # 7 tokens fit 7


@pytest.mark.parametrize(
    "text,vocab,seq,msg",
    [
        ("", 64, 64, "write some pairs"),
        ("   \n", 64, 64, "write some pairs"),
        ("A=3, B=4", 64, 64, "exactly one '\\?'"),
        ("A=3 ? A ? B", 64, 64, "exactly one '\\?'"),
        ("A=, B=4 ? B", 64, 64, "not a pair"),
        ("A B=4 ? B", 64, 64, "not a pair"),
        ("A=32 ? A", 64, 64, "from 0 to 31"),
        ("A=-1 ? A", 64, 64, "from 0 to 31"),
        ("A=3x ? A", 64, 64, "whole number"),
        ("A=3, A=4 ? A", 64, 64, "appears twice"),
        ("A=3, B=4 ? C", 64, 64, "not among the keys"),
        ("A=3 ?", 64, 64, "after the '\\?'"),
        ("? A", 64, 64, "no pairs"),
        ("A=1 B=2 C=3 D=1 ? A", 8, 64, "know 3 distinct keys"),
        ("A=1 B=2 C=3 D=1 ? A", 64, 8, "at most 3 pairs"),
        ("ABCDEFGHIJKLMNOPQ=1 ? ABCDEFGHIJKLMNOPQ", 64, 64, "too long"),
    ],
)
def test_parse_probe_bad(text, vocab, seq, msg):
    with pytest.raises(ValueError, match=msg) as e:
        A.parse_probe(text, vocab, seq)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [None, 3, b"A=3 ? A", ["A=3 ? A"]])
def test_parse_probe_non_string(bad):
    with pytest.raises(ValueError):
        A.parse_probe(bad, 64, 64)


def test_probe_tokens():
    assert A.probe_tokens([("A", 3), ("B", 5)], "B", 32, gap=2) == [1, 19, 2, 21, 0, 0, 2]


def test_probe_answers(probe_models):
    models, info = probe_models
    vocab, seq = info.vocab, info.seq
    r = A.probe(models, "A=3, B=5 ? B", vocab, seq)
    assert r.tokens == [1, vocab // 2 + 3, 2, vocab // 2 + 5, 2]
    assert r.expected == 5 and r.query == "B"
    assert set(r.answers) == set(A.ARCHS)
    for arch, a in r.answers.items():
        assert 0.0 <= a.confidence <= 1.0 and 0.0 <= a.p_expected <= a.confidence + 1e-4
        assert 0 <= a.token < vocab
        assert a.answer == (a.token - vocab // 2 if a.token >= vocab // 2 else None)
        with torch.inference_mode():
            p = torch.softmax(models[arch](input_ids=torch.tensor([r.tokens])).logits[0, -1], -1)
        assert a.confidence == pytest.approx(float(p.max()), abs=1e-4)
        assert a.p_expected == pytest.approx(float(p[vocab // 2 + 5]), abs=1e-4)
    longest = A.probe(models, "A=3, B=5 ? B", vocab, seq, gap=seq - 5)
    assert len(longest.tokens) == seq
    with pytest.raises(ValueError, match=f"at most {seq - 5}"):
        A.probe(models, "A=3, B=5 ? B", vocab, seq, gap=seq - 4)
    with pytest.raises(ValueError, match="gap"):
        A.probe(models, "A=3, B=5 ? B", vocab, seq, gap=-1)


# --- 8. the live race ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings,msg",
    [
        ({"bogus": 1}, "unknown race setting"),
        ({"task": "lm"}, "task="),
        ({"steps": 0}, "steps="),
        ({"steps": 10000}, "steps="),
        ({"steps": 20.0}, "steps="),
        ({"width": 7}, "width="),
        ({"seq": 100}, "sequence length"),
    ],
)
def test_race_rejects_bad_settings(settings, msg, monkeypatch):
    started = []
    monkeypatch.setattr(
        live, "start", lambda *a, **k: started.append(a) or pytest.fail("a race was started")
    )
    with pytest.raises(ValueError, match=msg):
        A.live_race(settings)
    assert started == [] and not A.race._race_lock.locked()  # refused before anything starts


def test_live_race_events_and_lock():
    settings = {"steps": 10, "width": 16, "seq": 16, "eval_every": 5}
    events = A.live_race(settings)
    first = next(events)
    assert first.kind == "progress" and first.data.arch == "transformer" and first.data.step == 0
    assert (first.done, first.total, first.label) == (0, 30, "training transformer")
    with pytest.raises(ValueError, match="already running"):
        A.live_race(settings)
    rest = list(events)
    assert rest[-1].kind == "done", rest[-1]
    progress = [first] + rest[:-1]
    assert all(e.kind == "progress" for e in progress)
    assert [e.data.arch for e in progress] == [a for a in A.ARCHS for _ in range(3)]
    assert [e.done for e in progress] == [0, 5, 10, 10, 15, 20, 20, 25, 30]  # steps of 3 × 10
    done = rest[-1].data
    assert set(done.curves) == set(A.ARCHS) and set(done.models) == set(A.ARCHS)
    for arch in A.ARCHS:
        curve = done.curves[arch]
        assert [p.step for p in curve] == [0, 5, 10]
        assert all(0.0 <= p.accuracy <= 1.0 and np.isfinite(p.eval_loss) for p in curve)
        assert curve == [e.data for e in progress if e.data.arch == arch]
        assert done.stopped[arch] is None
        assert done.models[arch]["d_model"] == 16
    assert done.settings.steps == 10
    assert not A.race._race_lock.locked()  # released before the "done" event is sent
    assert events.finished.is_set()


def _count_trainings(monkeypatch) -> list[str]:
    """One entry per architecture the race started training (a stopped race starts no further one)."""
    started, real = [], A.train_task
    monkeypatch.setattr(
        A.race, "train_task", lambda spec, *a, **k: started.append(spec) or real(spec, *a, **k)
    )
    return started


def test_live_race_closed_early_releases_lock(monkeypatch):
    started = _count_trainings(monkeypatch)
    events = A.live_race({"steps": 400, "width": 16, "seq": 16, "eval_every": 5})
    assert next(events).kind == "progress"
    events.close()  # the browser left: the race stops at its next evaluation
    assert events.finished.wait(120), (
        "the race did not end after its events were closed"
    )  # a hang guard
    assert not A.race._race_lock.locked()
    assert len(started) == 1, "the race went on to the next architecture after it was closed"


def test_live_race_closed_before_its_first_event_stops(monkeypatch):
    started = _count_trainings(monkeypatch)
    events = A.live_race({"steps": 400, "width": 16, "seq": 16, "eval_every": 5})
    events.close()  # cancelled before anything was read: the race must still stop
    assert events.finished.wait(120), (
        "the race did not end after its events were closed"
    )  # a hang guard
    assert not A.race._race_lock.locked()
    assert list(events) == []
    assert len(started) <= 1, (
        "the race went on after it was closed"
    )  # stopped before or in the first
