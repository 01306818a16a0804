"""SFT: the pipeline (train, save, load, merge, CLI), the evaluation, the bundled results, the
bounded live run, and the SFT Transformation app through gradio_client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from training import store
from training.data.world import World
from training.presets import PRESETS
from training.sft import lab
from training.sft.build import SFTResults, read_results
from training.sft.data import conversations
from training.sft.evaluate import QAItem, evaluate_qa, qa_sample, score
from training.sft.train import load_base, load_sft, save_adapter, sft_settings, train_sft

ROOT = Path(__file__).resolve().parent.parent
CPU_WORLD = PRESETS["cpu"].world
BUNDLED_SFT = store.BUNDLED_DIR / "sft"
CALL_TIMEOUT_S = 300


def _run_cli(*args, timeout=600, env=None):
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# --- scoring -------------------------------------------------------------------------------------


def test_score_rules():
    item = QAItem(
        0,
        "birth_city",
        0,
        "Where was Ann Lee born?",
        "Ann Lee was born in Paris.",
        "Paris",
        "heldout",
        "64-127",
    )
    assert score("Ann Lee was born in Paris.", True, item) == {
        "correct": True,
        "mentioned": True,
        "exact": True,
        "compliant": True,
    }
    # right fact, but the reply rambles on: correct, not compliant
    s = score("Ann Lee was born in Paris. Ann Lee studied at Yale.", True, item)
    assert s["correct"] and not s["compliant"] and not s["exact"]
    # never stopped: not compliant even if one sentence
    assert not score("Ann Lee was born in Paris.", False, item)["compliant"]
    # the fact only in a later sentence: mentioned, not an answer
    s = score(". Ann Lee was born in Paris.", True, item)
    assert s["mentioned"] and not s["correct"]
    # a lone full stop and then a stop token is not an answer in one sentence
    assert not score(".", True, item)["compliant"]
    # no partial credit for a longer word
    assert not score("Ann Lee was born in Parisville.", True, item)["correct"]


def test_qa_sample_is_deterministic_and_split_pure():
    w = World(CPU_WORLD)
    a, b = qa_sample(w, "heldout", 7, seed=3), qa_sample(w, "heldout", 7, seed=3)
    assert a == b and len(a) == 7 * 6
    assert {w.person(i.person_id).split for i in a} == {"heldout"}
    assert all(i.value in i.answer and i.person_id == w.person(i.person_id).id for i in a)


# --- training on the tiny base -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_world():
    return World(PRESETS["tiny"].world)


@pytest.fixture(scope="module")
def tiny_adapter(tiny_base, tiny_world, tmp_path_factory):
    """A real 12-step LoRA run on the tiny base, saved as an adapter."""
    base = load_base(str(tiny_base))
    logs = []
    res = train_sft(
        base,
        conversations(tiny_world, "sft", max_turns=2),
        sft_settings("tiny", steps=12, eval_interval=6),
        eval_records=conversations(tiny_world, "heldout", max_turns=2),
        on_log=logs.append,
    )
    out = save_adapter(tmp_path_factory.mktemp("adapter") / "sft", res, base)
    return out, res, logs


def test_train_logs_saves_and_reloads_the_same_model(tiny_adapter, tiny_base, tiny_world):
    import torch

    out, res, logs = tiny_adapter
    assert res.steps_done == 12 and not res.stopped_early
    steps = [e["step"] for e in logs if "loss" in e]
    assert steps == list(range(1, 13))
    assert [e["step"] for e in logs if "eval_loss" in e] == [
        0,
        6,
        12,
    ]  # starts at the base's own loss
    manifest = store.verify(out)
    assert manifest["kind"] == "sft-adapter" and manifest["steps_done"] == 12
    assert manifest["base"]["files_sha256"] == store.manifest_digest(store.read_manifest(tiny_base))
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= set(
        manifest["files"]
    )
    assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in manifest["files"])
    model, tok, _ = load_sft(out, base=load_base(str(tiny_base)))  # merged
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Where was X born?"}],
        tokenize=True,
        add_generation_prompt=True,
        return_dict=True,
    )["input_ids"]
    x = torch.tensor([ids])
    with torch.no_grad():
        want = res.model(input_ids=x).logits
        got = model(input_ids=x).logits
        base_logits = load_base(str(tiny_base)).model(input_ids=x).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, base_logits, atol=1e-4)  # the adapter changed something


def test_adapter_refuses_another_base_and_a_tampered_file(tiny_adapter, tmp_path):
    import shutil

    out, _, _ = tiny_adapter
    with pytest.raises(store.CheckpointError, match="different base"):
        load_sft(out, base=load_base(None))  # the bundled cpu base
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    with open(bad / "adapter_model.safetensors", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    with pytest.raises(store.CheckpointError, match="adapter_model.safetensors"):
        load_sft(bad)


def test_time_limit_and_stop_event_end_training(tiny_base, tiny_world):
    base = load_base(str(tiny_base))
    stop = threading.Event()
    stop.set()
    res = train_sft(
        base,
        conversations(tiny_world, "sft", max_turns=2).select(range(40)),
        sft_settings("tiny", steps=50, eval_interval=0),
        stop=stop,
    )
    assert res.steps_done == 1 and res.stopped_early == "stopped"


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_sft_sharegpt_file_and_merge(tiny_base, tmp_path):
    data = tmp_path / "course.jsonl"
    rows = [
        {
            "conversations": [
                {"from": "human", "value": f"What is {i} plus {i}?"},
                {"from": "assistant", "value": f"{i} plus {i} is {2 * i}."},
            ]
        }
        for i in range(20)
    ]
    rows.append({"prompt": "Say hi.", "completion": "Hi."})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "merged"
    proc = _run_cli(
        "sft",
        "--preset",
        "tiny",
        "--base",
        str(tiny_base),
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        "3",
        "--merge",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["steps_done"] == 3
    ck = store.load(out)  # a merged model is a plain checkpoint: no PEFT needed to load it
    assert store.read_manifest(out)["kind"] == "sft-merged"
    assert ck.model.config.num_hidden_layers == store.load(tiny_base).model.config.num_hidden_layers


@pytest.mark.parametrize(
    "args, message",
    [
        (["--steps", "0"], "--steps=0"),
        (["--lr", "5"], "--lr=5"),
        (["--data", "nope.jsonl"], "no such file"),
        (["--base", "/nonexistent/dir"], "--base /nonexistent/dir"),
        (["--base", "nobody-here/no-model"], "could not be fetched"),
        (["--preset", "huge"], "unknown preset"),
    ],
)
def test_cli_sft_bad_input_is_one_line(args, message, tmp_path):
    proc = _run_cli(
        "sft", "--out", str(tmp_path / "o"), *args, env={"HF_HUB_OFFLINE": "1"}, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert not (tmp_path / "o").exists()


def test_hub_shaped_base_directory_is_the_same_code_path(tiny_base, tmp_path):
    """A plain `save_pretrained` directory is what a Hub download gives: it loads and fine-tunes."""
    ck = store.load(tiny_base)
    hub_dir = tmp_path / "hub-model"
    ck.model.save_pretrained(hub_dir, safe_serialization=True)
    ck.tokenizer.save_pretrained(hub_dir)
    b = load_base(str(hub_dir))
    assert b.manifest == {} and b.path == hub_dir
    res = train_sft(
        b,
        conversations(World(PRESETS["tiny"].world), "sft", max_turns=2).select(range(16)),
        sft_settings("tiny", steps=2, eval_interval=0),
    )
    assert res.steps_done == 2
    # a tokenizer without generation markers cannot give assistant-only loss: a clear refusal
    ck.tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    ck.tokenizer.save_pretrained(hub_dir)
    with pytest.raises(ValueError, match="generation"):
        load_base(str(hub_dir))


def test_build_sft_tiny_writes_every_result(tmp_path, capfd):
    """The whole build (both bases, four runs, all evaluations) at the tiny preset, then resumed."""
    from training.sft.build import build_sft, read_results

    out, run_dir, bases = tmp_path / "sft", tmp_path / "run", tmp_path / "bases"
    built = build_sft("tiny", out, run_dir, steps=6, bases_dir=bases)
    manifest = store.verify(out)
    results = read_results(out)
    assert results == built  # what the build returns is what its reader reads back
    assert set(results.runs) == {"sft", "sft-1bio", "lima-clean", "lima-noisy"}
    assert {
        "base-augmented/zero-shot/heldout",
        "base-augmented/few-shot/heldout",
        "base-1bio/zero-shot/heldout",
        "sft/heldout",
        "sft/sft",
        "sft-1bio/heldout",
        "sft-1bio/sft",
        "lima-clean/heldout",
        "lima-noisy/heldout",
    } <= set(results.evals)
    for e in results.evals.values():
        assert 0 <= e.accuracy <= 1 and 0 <= e.compliance <= 1 and e.n > 0
    assert all(r.steps_done == 6 for r in results.runs.values())
    assert manifest["headline"] == asdict(results.headline)
    assert results.headline.heldout_accuracy["SFT"] == results.evals["sft/heldout"].accuracy
    # every stage is kept: a second call trains nothing and writes the same results
    assert (bases / "base-tiny-1bio" / "checkpoint" / store.MANIFEST).is_file()  # built, in tmp
    capfd.readouterr()
    again = build_sft("tiny", out, run_dir, steps=6, bases_dir=bases)
    assert "done in" not in capfd.readouterr().err
    assert again.evals == results.evals and read_results(out).evals == results.evals


# --- the bundled SFT model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_results() -> SFTResults:
    if not (BUNDLED_SFT / store.MANIFEST).is_file():
        pytest.fail(
            "checkpoints/sft is missing: build it with `python -m training build-sft --preset cpu`"
        )
    store.verify(BUNDLED_SFT)
    return read_results(BUNDLED_SFT)


def test_bundled_sft_beats_the_base_on_held_out_people(bundled_results):
    """A fixed sample of 3 held-out people (18 questions), recomputed from the weights."""
    w = World(CPU_WORLD)
    items = qa_sample(w, "heldout", 3, seed=7)
    base = load_base(None)
    model, tok, manifest = load_sft(BUNDLED_SFT)
    sft_eval = evaluate_qa(model, tok, items)
    base_eval = evaluate_qa(base.model, base.tokenizer, items, max_new_tokens=24)
    assert sft_eval["accuracy"] >= 0.7, sft_eval["examples"]
    assert sft_eval["compliance"] >= 0.9
    assert base_eval["accuracy"] <= 0.1 and base_eval["compliance"] <= 0.2
    assert manifest["headline"] == asdict(bundled_results.headline)


def test_bundled_results_meet_the_targets(bundled_results):
    h = bundled_results.headline
    assert h.heldout_accuracy["SFT"] >= 0.8
    assert h.heldout_compliance["base zero-shot"] <= 0.1
    assert h.heldout_accuracy["SFT on the 1-bio base"] < h.heldout_accuracy["SFT"]
    for e in bundled_results.evals.values():
        assert e.n >= 300 if e.people == "sft" else e.n >= 600


# --- live SFT ------------------------------------------------------------------------------------


def test_live_request_validation():
    for kw, msg in [
        ({"steps": 0}, "steps"),
        ({"steps": 10_000}, "steps"),
        ({"lr": 1.0}, "learning rate"),
        ({"data": "mystery"}, "unknown data"),
        ({"batch_size": 0}, "batch size"),
        ({"time_limit_s": 3600}, "time limit"),
    ]:
        with pytest.raises(lab.LabError, match=msg):
            lab.live_sft(lab.LiveRequest(**kw)).__next__()


def test_unknown_model_and_bad_prompts_are_one_line():
    with pytest.raises(lab.LabError, match="unknown model"):
        lab.get_model("gpt-5")
    with pytest.raises(lab.LabError, match="empty"):
        lab.check_prompt("   ")
    with pytest.raises(lab.LabError, match="characters"):
        lab.check_prompt("x" * 5000)
    with pytest.raises(lab.LabError, match="max new tokens"):
        lab.check_generation(10_000, 0)
    with pytest.raises(lab.LabError, match="temperature"):
        lab.check_generation(10, -1)
