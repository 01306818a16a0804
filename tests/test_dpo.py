"""Preference tuning after SFT (training/dpo): the preference pairs' statistics, a DPO step moving
the policy toward the chosen replies (against a reference that is the starting model), the KL
measure, the whole build at the tiny preset (resumed), the bundled results recomputed from their
per-question records, and bad input refused in one line."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from training import store
from training.data.world import ATTRIBUTES, World
from training.dpo import lab as dpo_lab
from training.dpo.build import PLANS, build
from training.dpo.evaluate import answer_all, classify, validation_sample
from training.dpo.pairs import pairs, pairs_dataset, values_by_attribute
from training.dpo.results import ARMS, DPOResults, rates, read_results, select
from training.dpo.train import dpo_settings, preference_margin, token_kl, train_dpo
from training.presets import PRESETS
from training.sft import lab as sft_lab
from training.sft.evaluate import QAItem, chat_prompt_ids, qa_sample, score
from training.sft.lab import LabError
from training.sft.train import load_base

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DPO = store.BUNDLED_DIR / "dpo"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _item(world, row, reply=None) -> QAItem:
    p = world.person(row["person_id"])
    a = row["attribute"]
    return QAItem(
        p.id, a, 0, row["prompt"][0]["content"], world.answer(p, a), p.attribute(a), p.split, ""
    )


# --- the pairs ------------------------------------------------------------------------------------


def test_pairs_chosen_is_right_and_concise_rejected_is_wrong_or_rambling():
    w = World(PRESETS["cpu"].world)
    rows = pairs(w, 1000, seed=0)
    assert rows == pairs(w, 1000, seed=0)  # deterministic
    kinds = [r["kind"] for r in rows]
    assert kinds.count("wrong") == kinds.count("ramble") == 500
    assert len({(r["person_id"], r["attribute"], r["prompt"][0]["content"]) for r in rows}) == 1000
    pool = values_by_attribute(w)
    for r in rows:
        item = _item(w, r)
        chosen, rejected = r["chosen"][0]["content"], r["rejected"][0]["content"]
        assert chosen == item.answer  # the canonical one-sentence answer
        assert score(chosen, True, item) == dict(
            correct=True, mentioned=True, exact=True, compliant=True
        )
        c = classify(rejected, True, item, pool)
        if r["kind"] == "wrong":  # one fluent sentence with another value of the same attribute
            assert c["wrong_fact"] and not c["correct"] and c["compliant"] and not c["ramble"]
            assert item.value not in rejected
        else:  # the right fact, buried in more sentences
            assert c["ramble"] and not c["compliant"] and item.value in rejected
            assert len(_SENTENCE_END.split(rejected)) >= 3 and len(rejected) > 2 * len(chosen)


def test_held_out_people_are_never_in_training_pairs():
    w = World(PRESETS["cpu"].world)
    qa = w.qa_dataset("sft")
    rows = pairs(w, len(qa), seed=3)  # every SFT question
    people = {r["person_id"] for r in rows}
    assert {w.person(i).split for i in people} == {"sft"}
    held = {i.person_id for i in qa_sample(w, "heldout", PLANS["cpu"].eval_people)}
    assert held and not held & people
    held_pairs = {r["person_id"] for r in pairs(w, 200, split="heldout")}
    assert {w.person(i).split for i in held_pairs} == {"heldout"}
    with pytest.raises(ValueError, match="choose between 1 and"):
        pairs(w, len(qa) + 1)


def test_validation_test_and_pair_people_are_disjoint():
    """The grid is chosen on validation people; the reported numbers are on other (test) people;
    neither ever appears in a training pair."""
    for preset in ("tiny", "cpu"):
        w, plan = World(PRESETS[preset].world), PLANS[preset]
        test = {i.person_id for i in qa_sample(w, "heldout", plan.eval_people)}
        val_items = validation_sample(w, plan.val_people, test)
        val = {i.person_id for i in val_items}
        trained = {r["person_id"] for r in pairs(w, plan.n_pairs)}
        assert len(test) == plan.eval_people and len(val) == plan.val_people
        assert not val & test and not val & trained and not test & trained
        assert {w.person(i).split for i in val | test} == {"heldout"}
        assert len(val_items) == plan.val_people * len(ATTRIBUTES)
        assert val_items == validation_sample(w, plan.val_people, test)  # deterministic
    with pytest.raises(ValueError, match="choose between 1 and"):
        validation_sample(w, 10_000, test)


def test_select_keeps_the_best_validation_accuracy_ties_to_the_lower_kl():
    def row(arm, lr, acc, kl):
        return {"arm": arm, "lr": lr, "beta": 0.1, "accuracy": acc, "kl_per_token": kl}

    grid = [
        row("sft", None, 0.9, 0.0),  # another arm: never picked for "dpo"
        row("dpo", 5e-5, 0.80, 0.001),
        row("dpo", 2e-4, 0.84, 0.020),
        row("dpo", 5e-4, 0.84, 0.010),  # tied best accuracy, lower KL: kept
        row("dpo", 1e-3, 0.70, 0.000),
        row("sft-longer", 5e-5, 0.5, 0.0),
    ]
    assert select(grid, "dpo")["lr"] == 5e-4
    assert select(grid, "sft-longer")["lr"] == 5e-5 and select(grid, "sft")["lr"] is None
    with pytest.raises(ValueError, match="no 'x' rows"):
        select(grid, "x")


def test_register_model_adds_a_side_by_side_model_without_changing_the_sft_lab():
    def unknown():
        with pytest.raises(LabError, match="unknown model") as e:
            sft_lab.get_model("gpt-5")
        return str(e.value)

    before = unknown()
    pair = (object(), object())
    sft_lab.register_model("test-extra", "a test model", pair)
    try:
        assert sft_lab.get_model("test-extra") is pair
        assert unknown() == before == "unknown model 'gpt-5': choose one of base, sft, live"
        with pytest.raises(ValueError, match="SFT lab's own"):
            sft_lab.register_model("sft", "not the SFT model", pair)
    finally:
        sft_lab._models.pop("test-extra", None), sft_lab._extra_labels.pop("test-extra", None)


# --- DPO on the tiny base --------------------------------------------------------------------------


def test_a_dpo_run_moves_the_policy_toward_the_chosen_replies(tiny_base):
    """Three DPO steps raise log p(chosen) − log p(rejected) on the training pairs; the reference
    (the adapter disabled) is exactly the starting model; its KL from itself is 0, the trained
    policy's is not."""
    import torch

    w = World(PRESETS["tiny"].world)
    base = load_base(str(tiny_base))
    start = copy.deepcopy(base.model).eval()
    rows = pairs(w, 12, seed=0)
    before = preference_margin(start, base.tokenizer, rows)
    res = train_dpo(base.model, base.tokenizer, pairs_dataset(rows), dpo_settings("tiny", steps=3))
    after = preference_margin(res.model, base.tokenizer, rows)
    assert res.steps_done == 3 and [h["step"] for h in res.history] == [1, 2, 3]
    assert after["all"]["margin"] > before["all"]["margin"] + 0.5, (before, after)
    ids = torch.tensor([chat_prompt_ids(base.tokenizer, rows[0]["prompt"])])
    with torch.inference_mode(), res.model.disable_adapter():
        ref_logits = res.model(input_ids=ids).logits
    assert torch.allclose(ref_logits, start(input_ids=ids).logits, atol=1e-5)
    items = qa_sample(w, "heldout", 1)[:3]
    same = answer_all(start, start, base.tokenizer, items, w, max_new_tokens=8)
    assert all(a["kl"] == 0 for a in same) and rates(same)["kl_per_token"] == 0
    prompt = chat_prompt_ids(base.tokenizer, rows[0]["prompt"])
    reply = base.tokenizer(rows[0]["chosen"][0]["content"])["input_ids"]
    assert token_kl(start, start, prompt, reply) == pytest.approx(0, abs=1e-6)
    assert token_kl(res.model, start, prompt, reply) > 1e-4


def test_build_tiny_writes_the_bundle_and_resumes(tiny_base, tmp_path, capfd):
    out, work = tmp_path / "out", tmp_path / "work"
    r = build("tiny", out, work, base=tiny_base)
    capfd.readouterr()
    assert read_results(out) == r and set(r.starts["sft"].arms) == set(ARMS)
    manifest = store.verify(out)
    assert manifest["kind"] == "dpo-adapter" and "adapter_model.safetensors" in manifest["files"]
    _check_records(r, World(PRESETS["tiny"].world))
    assert r.headline["sft"]["sft"].kl_per_token == 0 < r.headline["sft"]["dpo"].kl_per_token
    dpo = r.starts["sft"].arms["dpo"].margins_train["all"].margin
    assert dpo > r.starts["sft"].arms["sft"].margins_train["all"].margin
    _check_grid(r)
    m = r.starts["sft"].arms["sft"].margins_heldout
    assert set(m) == {"all", "wrong", "ramble"} and m["wrong"].n + m["ramble"].n == m["all"].n
    assert m["ramble"].tokens_rejected > 2 * m["ramble"].tokens_chosen  # rambling is long
    again = build("tiny", out, work, base=tiny_base)  # every stage kept: nothing retrained
    assert again == r and "…" not in capfd.readouterr().err


def _check_records(r: DPOResults, w: World) -> None:
    """Each answer's flags re-derived from its reply; the headline recomputed from the answers."""
    pool = values_by_attribute(w)
    items = {(i.person_id, i.attribute): i for i in qa_sample(w, "heldout", r.plan.eval_people)}
    for start, st in r.starts.items():
        for arm, e in st.arms.items():
            assert len(e.answers) == r.plan.eval_people * len(ATTRIBUTES) == e.n
            for a in e.answers:
                item = items[(a.person_id, a.attribute)]
                flags = classify(a.response, a.stopped, item, pool)
                assert {k: getattr(a, k) for k in flags} == flags
            h = r.headline[start][arm]
            assert h.__dict__ == rates(e.answers)
            assert {k: getattr(e, k) for k in h.__dict__} == h.__dict__


def _check_grid(r: DPOResults) -> None:
    """Every setting in the grid once; each arm's selected row is `select`'s pick, and it is the
    setting the start's reported (test) arm was trained with."""
    plan = r.plan
    for st in r.starts.values():
        want = [("sft", None, None)] + [("dpo", lr, b) for lr in plan.lrs for b in plan.betas]
        want += [("sft-longer", lr, None) for lr in plan.lrs]
        assert [(g.arm, g.lr, g.beta) for g in st.grid] == want
        assert {g.n for g in st.grid} == {plan.val_people * len(ATTRIBUTES)}
        for arm in ARMS:
            chosen = [g for g in st.grid if g.arm == arm and g.selected]
            assert chosen == [select(st.grid, arm)], arm
            if arm != "sft":
                t = st.training[arm]
                assert (t.lr, t.beta) == (chosen[0].lr, chosen[0].beta)


# --- the bundled results -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> DPOResults:
    r = read_results(BUNDLED_DPO)
    if r is None:
        pytest.fail("no bundled DPO results: run `python -m training dpo --preset cpu`")
    return r


def test_bundled_results_parse_and_recompute_from_their_records(bundled):
    from training.sft.build import read_results as read_sft

    assert bundled.preset == "cpu" and bundled.plan == PLANS["cpu"]
    _check_records(bundled, World(PRESETS["cpu"].world))
    sft = bundled.starts["sft"]
    assert sft.arms["sft"].kl_per_token == 0 < sft.arms["dpo"].kl_per_token
    # the SFT arm is the bundled SFT model on the same held-out questions: SFT's own number
    assert sft.arms["sft"].accuracy == read_sft().evals["sft/heldout"].accuracy
    assert sft.training["dpo"].steps_done == bundled.settings.steps
    _check_grid(bundled)
    # the bundled adapter is the bundled start's selected DPO run
    settings = store.verify(BUNDLED_DPO)["settings"]
    assert (settings["lr"], settings["beta"]) == (sft.training["dpo"].lr, sft.training["dpo"].beta)
    assert (bundled.settings.lr, bundled.settings.beta) == (settings["lr"], settings["beta"])


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [(["--preset", "huge"], "--preset 'huge'"), (["--preset", "tiny", "--steps", "3"], "--steps")],
)
def test_cli_bad_input_is_one_line(args, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "training", "dpo", "--out", str(tmp_path / "o"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"steps": 0}, "steps = 0"),
        ({"steps": 500}, "steps = 500"),
        ({"kinds": "nice ones"}, "unknown pairs"),
        ({"beta": 5.0}, "beta = 5"),
        ({"lr": 1.0}, "learning rate = 1"),
        ({"time_limit_s": 1e6}, "time limit"),
    ],
)
def test_live_request_is_refused_in_one_line(kw, message):
    with pytest.raises(LabError, match=re.escape(message)) as e:
        dpo_lab.live_dpo(dpo_lab.LiveRequest(**kw))
    assert "\n" not in str(e.value)
    assert not dpo_lab.live_busy()
