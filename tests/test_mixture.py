"""The data-mixture lab: the domains' generators (programs print what they state, forum threads
state the world's facts, held-out text never trained on), the mixture sampler (each batch's domain
shares are the weights), the tiny build end to end through the CLI and resumed, the derived
figures recomputed from the per-run records, the bundled results, and bad input refused."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training.data import forum, programs
from training.data.blocks import batch_indices
from training.data.world import World
from training.mixture import (
    DOMAINS,
    GRID,
    PLANS,
    build,
    domain_texts,
    headline_of,
    leave_out_costs,
    mixture_order,
    mixture_train,
    partner_effects,
    read_results,
    versus_single,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = PLANS["tiny"]


# ---- the code domain ---------------------------------------------------------------------------
def test_programs_print_what_their_records_state():
    train, held = programs.programs(0, 300, 60)
    for p in train + held:
        source, stated = programs.split_record(p.text)
        assert programs.execute(source) == stated == list(p.output), p.text
    assert not {p.text for p in held} & {p.text for p in train}
    assert len({p.text for p in train}) == len(train)  # no duplicate programs
    # loops, conditionals and every operator occur: the domain is more than print(k)
    text = "\n".join(p.source for p in train)
    for needle in ("for i in range(", "if ", " // ", " % ", " * ", " - ", " + ", "("):
        assert needle in text, needle
    assert [p.text for p in programs.programs(0, 20, 0)[0]] == [p.text for p in train[:20]]


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "x = open('f')",
        "a = 1\nprint(a.real)",
        "print(b)",
        "x = 1 // 0",
        "while 1:\n    x = 1",
    ],
)
def test_execute_refuses_anything_outside_the_subset_in_one_line(source):
    with pytest.raises(programs.ProgramError) as e:
        programs.execute(source)
    assert "\n" not in str(e.value) and str(e.value).startswith("line ")


# ---- the forum domain --------------------------------------------------------------------------
def test_forum_threads_state_the_worlds_facts():
    world = World(TINY.world_config())
    train, held = forum.threads(world, 1.0, 2, 10)
    assert len(train) >= len(world.people) and len(held) == 20
    for t in train + held:
        p = world.person(t["person_id"])
        asked, reply = t["text"].split("\n")[:2]
        assert p.full_name in asked and t["value"] == p.attribute(t["attribute"])
        assert t["value"] in reply
        if t["also"] is not None:  # the second reply adds another of the person's facts
            assert world.answer(p, t["also"]) in t["text"].split("\n")[2]
        # held-out threads pair phrasings that no training thread pairs
        assert forum.held_out_pairing(*t["phrasing"]) == (t in held)
    assert not {t["text"] for t in held} & {t["text"] for t in train}
    # popular people are asked about more often
    counts = np.bincount([t["person_id"] for t in train], minlength=len(world.people))
    mentions = np.array([p.mentions for p in world.people])
    assert np.corrcoef(counts, mentions)[0, 1] > 0.9


def test_domain_texts_hold_out_text_never_trained_on():
    texts = domain_texts(TINY)
    assert set(texts) == set(DOMAINS)
    for d, (train, held) in texts.items():
        assert train and held, d
        assert not set(held) & set(train), d


# ---- the mixture sampler -----------------------------------------------------------------------
@pytest.mark.parametrize("name,weights", list(TINY.mixtures))
def test_every_prefix_holds_the_weights_share(name, weights):
    n = 97
    order = mixture_order(weights, n)
    counts = np.zeros(3)
    for k, d in enumerate(order):
        counts[d] += 1
        assert np.all(np.abs(counts - np.asarray(weights) * (k + 1)) < 1 + 1e-9), (name, k)
    assert all(weights[d] > 0 for d in order)  # a domain with weight 0 is never drawn


def test_the_loops_batches_read_the_mixture_in_order():
    """The blocks are laid out so that the pre-training loop's own batch order reads, at every
    step, micro_batch blocks whose domains match the weights (to a block), each from its pool."""
    import torch

    pools = {d: torch.arange(i * 1000, i * 1000 + 5 * 9).view(5, 9) for i, d in enumerate(DOMAINS)}
    weights, mb, steps = (0.5, 0.25, 0.25), 4, 12
    blocks, domain = mixture_train(pools, weights, steps * mb, seed=3)
    order = mixture_order(weights, steps * mb)
    for step in range(steps):
        idx = batch_indices(step, len(blocks), mb, 3)
        assert domain[idx].tolist() == order[step * mb : (step + 1) * mb]
        shares = np.bincount(domain[idx].numpy(), minlength=3)
        assert np.all(np.abs(shares - np.asarray(weights) * mb) <= 1)
        for i in idx:  # the block is a row of its domain's pool
            assert int(blocks[i, 0]) // 1000 == int(domain[i])
    # a pool smaller than the run is cycled: every row of bios is read before any repeats
    read = [i for step in range(steps) for i in batch_indices(step, len(blocks), mb, 3)]
    bios_rows = [int(blocks[i, 0]) for i in read if domain[i] == 0]
    assert (
        len(bios_rows) == 24
        and len(set(bios_rows[:5])) == 5
        and set(bios_rows) == set(range(0, 45, 9))
    )


def test_every_plan_is_valid_and_runs_at_equal_tokens():
    for plan in PLANS.values():
        plan.validate()
        assert plan.tokens_per_run() == plan.steps * plan.micro_batch * plan.n_ctx()
    # the gpu plan's extra mixture is in the tiny plan too, so the tests run its code path
    assert set(PLANS["gpu"].mixtures) <= set(TINY.mixtures)


def test_bad_weights_are_refused():
    for w in ((0.5, 0.5, 0.5), (1.2, -0.2, 0.0)):
        with pytest.raises(ValueError, match="sum to 1"):
            mixture_order(w, 4)
    with pytest.raises(ValueError, match="seven of GRID"):
        replace(TINY, mixtures=GRID[1:]).validate()


# ---- the tiny build, end to end ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """`python -m training mixture --preset tiny` into a temporary work directory."""
    work = tmp_path_factory.mktemp("mixture-tiny")
    proc = subprocess.run(
        [sys.executable, "-m", "training", "mixture", "--preset", "tiny", "--work-dir", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, json.loads(proc.stdout)


def _check_derived(r):
    """The derived figures are what the per-run records give."""
    assert r.leave_out == leave_out_costs(r.runs)
    assert r.versus_single == versus_single(r.runs)
    assert r.partners == partner_effects(r.runs)
    assert r.headline == headline_of(r.runs, r.params)
    # the two runs pairing a domain with each of the others give it the same tokens
    for p in r.partners:
        assert p.weight == 0.5 and len(p.loss_with) == 2
        for partner, name in p.runs.items():
            run = r.run(name)
            assert run.weights[p.domain] == run.weights[partner] == 0.5
            assert p.loss_with[partner] == run.final[p.domain]
    uniform = r.run("uniform")
    for x in r.leave_out:
        without = r.run(f"no-{x.domain}")
        assert without.weights[x.domain] == 0
        assert x.cost == pytest.approx(without.final[x.domain] - uniform.final[x.domain], abs=1e-5)


def _check_runs(r, plan):
    assert [x.name for x in r.runs] == [n for n, _ in plan.mixtures]
    tokens = plan.tokens_per_run()
    block = r.n_ctx
    for run, (_, w) in zip(r.runs, plan.mixtures):
        assert run.tokens == tokens  # equal tokens
        assert sum(run.domain_tokens.values()) == tokens
        for d, wd in zip(DOMAINS, w):  # each domain's share of the tokens is its weight
            assert abs(run.domain_tokens[d] - wd * tokens) < block + 1e-6
        assert len(run.curve) == plan.evals_per_run + 1 and run.curve[0].step == 0
        assert run.final == run.curve[-1].loss
        for p in run.curve:
            assert set(p.loss) == set(DOMAINS)
    # every run learns: its loss on a domain it trains on falls from the untrained model's
    for run in r.runs:
        for d in DOMAINS:
            if run.weights[d] > 0:
                assert run.final[d] < run.curve[0].loss[d] - 0.3, (run.name, d)


def test_tiny_build_end_to_end(tiny):
    work, printed = tiny
    r = read_results(work / "results")
    assert r is not None and r.preset == "tiny"
    _check_runs(r, TINY)
    _check_derived(r)
    assert printed["leave_out_cost"] == r.headline.leave_out_cost
    assert printed["runs"] == len(TINY.mixtures)
    stats = {s.name: s for s in r.domains}
    texts = domain_texts(TINY)
    for d in DOMAINS:
        assert stats[d].records == len(texts[d][0])
        assert stats[d].samples == texts[d][0][: len(stats[d].samples)]
    # forum talks about the same people as bios: their token vocabularies overlap most
    assert r.overlap["bios|forum"] > max(r.overlap["bios|code"], r.overlap["code|forum"])


def test_tiny_build_resumes_from_its_kept_runs(tiny):
    work, _ = tiny
    before = read_results(work / "results")
    kept = {n: (work / "runs" / n / "result.json").stat().st_mtime_ns for n, _ in TINY.mixtures}
    again = build("tiny", work_dir=work)  # nothing to train: every run is kept
    assert [x.final for x in again.runs] == [x.final for x in before.runs]
    for n, mtime in kept.items():
        assert (work / "runs" / n / "result.json").stat().st_mtime_ns == mtime
    # a run lost (or never finished) is trained again, alone
    import shutil

    shutil.rmtree(work / "runs" / "no-code")
    third = build("tiny", work_dir=work)
    for n, mtime in kept.items():
        changed = (work / "runs" / n / "result.json").stat().st_mtime_ns != mtime
        assert changed == (n == "no-code"), n
    assert third.run("no-code").final == pytest.approx(before.run("no-code").final, abs=1e-3)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (["--preset", "huge"], ["--preset", "cpu-1bio"]):
        bad = subprocess.run(
            [sys.executable, "-m", "training", "mixture", *args, "--work-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bad.returncode == 2, bad.stderr
        assert bad.stderr.strip().count("\n") == 0 and "--preset" in bad.stderr


# ---- the bundled results -----------------------------------------------------------------------
def test_bundled_results_parse_and_their_figures_are_the_records():
    r = read_results()
    assert r is not None, "checkpoints/mixture is missing: python -m training mixture --preset cpu"
    plan = PLANS["cpu"]
    assert r.preset == "cpu" and r.plan["shape"] == list(plan.shape)
    _check_runs(r, plan)
    _check_derived(r)
    # a domain never trained on stays far worse than the single-domain model of that domain
    for d in DOMAINS:
        others = [x for x in r.runs if x.weights[d] == 0]
        assert all(x.final[d] > r.run(d).final[d] + 0.5 for x in others), d
