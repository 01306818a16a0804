"""The training package on real tiny runs: tokenizer, loop, exact resume, DDP, store, CLI."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.numerics import greedy_divergence
from training import store
from training.data.world import World, WorldConfig
from training.generate import GenerationError, complete, generate_ids
from training.resume import read_sessions
from training.tokenizer import END, train_tokenizer

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def metrics(run_dir: Path) -> list[dict]:
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a killed run may be cut short
            pass
    return out


# --- tokenizer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    world = World(WorldConfig(n_people=60))
    return train_tokenizer([r["text"] for r in world.pretrain_texts()], 600, 128), world


def test_tokenizer_round_trip(tokenizer):
    tok, world = tokenizer
    for text in [
        world.biography(world.people[3], 1),
        "Zürich — naïve café, 42 ×",
        "  two  spaces\tand tab",
    ]:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    # special tokens are single tokens, never split
    for special in ("<|endoftext|>", "<|user|>", "<|assistant|>", END):
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1


def test_chat_template_masks_exactly_the_answers_and_end_of_turn(tokenizer):
    tok, _ = tokenizer
    msgs = [
        {"role": "user", "content": "Where was Ada born?"},
        {"role": "assistant", "content": "Ada was born in Oslo."},
        {"role": "user", "content": "And where does she work?"},
        {"role": "assistant", "content": "She works at Novartis."},
    ]
    out = tok.apply_chat_template(
        msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    learned = tok.decode([i for i, m in zip(ids, mask) if m])
    assert learned == "Ada was born in Oslo.<|end|>She works at Novartis.<|end|>"
    ignored = tok.decode([i for i, m in zip(ids, mask) if not m])
    assert (
        ignored
        == "<|user|>Where was Ada born?<|end|><|assistant|><|user|>And where does she work?<|end|><|assistant|>"
    )
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>")


# --- the model factory ----------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_model_factory_counts_parameters_like_kaplan(arch):
    from training.models import ModelSpec, build_model, param_counts

    spec = ModelSpec(arch=arch, n_layer=3, d_model=96, n_head=4, n_ctx=64, vocab_size=300)
    model = build_model(spec)
    counts = param_counts(model)
    assert counts["params"] == sum(p.numel() for p in model.parameters())  # tied head counted once
    emb = spec.vocab_size * spec.d_model + (spec.n_ctx * spec.d_model if arch == "gpt2" else 0)
    assert counts["params"] - counts["params_nonembedding"] == emb
    # Kaplan: N ≈ 12·n_layer·d_model² (attention 4d², MLP 8d²; norms and biases are the small rest)
    assert counts["params_nonembedding"] == pytest.approx(
        12 * spec.n_layer * spec.d_model**2, rel=0.05
    )
    logits = model(input_ids=torch.randint(0, spec.vocab_size, (2, spec.n_ctx))).logits
    assert logits.shape == (2, spec.n_ctx, spec.vocab_size)
    with pytest.raises(ValueError, match="divisible"):
        ModelSpec(arch=arch, d_model=100, n_head=3).validate()


# --- the loop -------------------------------------------------------------------------------


def test_bf16_autocast_run_trains(tmp_path):
    r = cli(
        "pretrain",
        "--preset",
        "tiny",
        "--steps",
        "20",
        "--bf16",
        "--quiet",
        "--run-dir",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    curve = metrics(tmp_path)
    assert curve[-1]["eval_loss"] < curve[0]["eval_loss"] - 0.5


def test_tiny_pretrain_lowers_heldout_loss(tiny_base):
    curve = store.read_metrics(tiny_base)
    evals = [m["eval_loss"] for m in curve if "eval_loss" in m]
    vocab = json.loads((tiny_base / "config.json").read_text())["vocab_size"]
    assert curve[0]["step"] == 0 and abs(evals[0] - math.log(vocab)) < 0.5  # untrained ≈ uniform
    assert evals[-1] < evals[0] - 1.0
    manifest = store.read_manifest(tiny_base)
    assert manifest["metrics"]["heldout_loss"] == evals[-1]
    assert {"loss", "lr", "grad_norm", "tokens_per_s", "mfu"} <= set(curve[5])
    lrs = [m["lr"] for m in curve if "lr" in m]
    warm = manifest["config"]["train"]["warmup_steps"]
    assert lrs[warm - 1] == pytest.approx(max(lrs)) and lrs[-1] < 0.2 * max(
        lrs
    )  # warmup, then cosine decay


def test_kill_and_resume_reproduces_the_trajectory(tmp_path):
    args = ["pretrain", "--preset", "tiny", "--steps", "160", "--ckpt-interval", "10", "--quiet"]
    full = tmp_path / "full"
    assert cli(*args, "--run-dir", str(full)).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", *args, "--run-dir", str(killed)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        f = killed / "metrics.jsonl"
        if f.is_file() and sum(1 for _ in f.open()) >= 26:  # past the step-20 checkpoint
            break
        assert proc.poll() is None, "run finished before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stopped_at = metrics(killed)[-1]["step"]
    assert stopped_at < 160
    resumed_from = json.loads((killed / "resume" / "state.json").read_text())["step"]
    assert resumed_from % 10 == 0 and resumed_from <= stopped_at
    assert cli(*args, "--run-dir", str(killed)).returncode == 0
    # the restart really resumed: it started at the checkpoint and computed only the steps after it
    killed_call, resumed_call = read_sessions(killed)[0], read_sessions(killed)[1:]
    assert killed_call == {"event": "start", "resumed_from": 0, "target": 160}
    assert resumed_call == [
        {"event": "start", "resumed_from": resumed_from, "target": 160},
        {"event": "end", "executed": [[resumed_from + 1, 160]], "final_step": 160},
    ], (
        f"the restart must continue from its step-{resumed_from} checkpoint, not recompute earlier steps"
    )
    assert read_sessions(full)[-1] == {"event": "end", "executed": [[1, 160]], "final_step": 160}
    a, b = metrics(full), metrics(killed)
    assert [m["step"] for m in a] == [m["step"] for m in b] == list(range(0, 161))
    # bit for bit: both runs are on this machine with the same settings, so resuming must be exact
    assert [m.get("loss") for m in a] == [m.get("loss") for m in b], (
        "resume must reproduce the uninterrupted run's losses exactly (same machine, same settings)"
    )
    wa, wb = (
        load_file(full / "resume" / "model.safetensors"),
        load_file(killed / "resume" / "model.safetensors"),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa), (
        "resume must reproduce the uninterrupted run's weights bit for bit (same machine, same settings)"
    )


def test_two_process_ddp_matches_single_process_with_same_global_batch(tmp_path):
    common = ["-m", "training", "pretrain", "--preset", "tiny", "--steps", "12", "--quiet"]
    one = subprocess.run(
        [sys.executable, *common, "--micro-batch", "8", "--run-dir", str(tmp_path / "one")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            *common,
            "--micro-batch",
            "4",
            "--run-dir",
            str(tmp_path / "two"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, "\n".join(
        line for line in two.stderr.splitlines() if not line.startswith("W")
    )[-3000:]
    s1, s2 = json.loads(one.stdout.splitlines()[-1]), json.loads(two.stdout.splitlines()[-1])
    assert (s1["world_size"], s2["world_size"]) == (1, 2) and s1["global_batch"] == s2[
        "global_batch"
    ] == 8
    w1 = load_file(tmp_path / "one" / "resume" / "model.safetensors")
    w2 = load_file(tmp_path / "two" / "resume" / "model.safetensors")
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) < 1e-4
    assert [m["loss"] for m in metrics(tmp_path / "one") if "loss" in m] == pytest.approx(
        [m["loss"] for m in metrics(tmp_path / "two") if "loss" in m], abs=1e-4
    )
    assert metrics(tmp_path / "two")[-1]["loss"] < metrics(tmp_path / "two")[1]["loss"] - 0.3


def test_gradient_accumulation_matches_the_larger_batch(tmp_path):
    a = cli(
        "pretrain",
        "--preset",
        "tiny",
        "--steps",
        "6",
        "--micro-batch",
        "8",
        "--quiet",
        "--run-dir",
        str(tmp_path / "a"),
    )
    b = cli(
        "pretrain",
        "--preset",
        "tiny",
        "--steps",
        "6",
        "--micro-batch",
        "4",
        "--grad-accum",
        "2",
        "--quiet",
        "--run-dir",
        str(tmp_path / "b"),
    )
    assert a.returncode == b.returncode == 0
    wa, wb = (
        load_file(tmp_path / "a" / "resume" / "model.safetensors"),
        load_file(tmp_path / "b" / "resume" / "model.safetensors"),
    )
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-4


def test_user_text_file_plugs_into_the_same_pipeline(tmp_path):
    world = World(WorldConfig(n_people=30, seed=7))
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in world.pretrain_texts()))
    out = tmp_path / "ckpt"
    r = cli(
        "build-base",
        "--preset",
        "tiny",
        "--data",
        str(data),
        "--steps",
        "10",
        "--quiet",
        "--run-dir",
        str(tmp_path / "run"),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    manifest = store.verify(out)
    assert manifest["data"]["source"] == str(data) and manifest["metrics"]["heldout_loss"] > 0


# --- generation -------------------------------------------------------------------------------


def test_cached_and_uncached_generation_give_identical_tokens(tiny_base):
    ck = store.load(tiny_base)
    ids = ck.tokenizer("Some person was born in", add_special_tokens=False)["input_ids"]
    cached = list(generate_ids(ck.model, ids, 20, use_cache=True))
    plain = list(generate_ids(ck.model, ids, 20, use_cache=False))
    assert len(cached) == 20
    why = greedy_divergence(ck.model, ids, cached, plain)
    assert why is None, why
    sampled = complete(
        ck.model, ck.tokenizer, "Some person", temperature=1.0, top_k=20, seed=3, max_new_tokens=10
    )
    assert sampled == complete(
        ck.model, ck.tokenizer, "Some person", temperature=1.0, top_k=20, seed=3, max_new_tokens=10
    ), "same seed, same process: sampling must be deterministic"
    with pytest.raises(GenerationError, match="context"):
        list(generate_ids(ck.model, list(range(5)) * 100, 5))
    with pytest.raises(GenerationError, match="temperature"):
        complete(ck.model, ck.tokenizer, "x", temperature=-1)


# --- the store --------------------------------------------------------------------------------


def test_tampered_checkpoint_fails_with_a_clear_error(tiny_base, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_base, bad)
    weights = bad / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-7] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(store.CheckpointError, match=r"model\.safetensors: sha256 mismatch"):
        store.load(bad)
    r = cli("eval", "--checkpoint", str(bad))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "model.safetensors" in r.stderr
    shutil.copy(tiny_base / "model.safetensors", weights)
    store.verify(bad)  # restored: passes again
    (bad / "tokenizer.json").unlink()
    with pytest.raises(store.CheckpointError, match=r"tokenizer\.json: missing"):
        store.verify(bad)


def test_resolver_order_and_offline_hub_message(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "no-bundle")
    monkeypatch.delenv("LAB_BASE_CHECKPOINT", raising=False)
    assert store.resolve("base", tiny_base) == tiny_base  # 1. explicit path
    monkeypatch.setenv("LAB_BASE_CHECKPOINT", str(tiny_base))
    assert store.resolve("base") == tiny_base  # 2. environment variable
    monkeypatch.delenv("LAB_BASE_CHECKPOINT")
    shutil.copytree(tiny_base, tmp_path / "no-bundle" / "base")
    assert store.resolve("base") == tmp_path / "no-bundle" / "base"  # 3. bundled default
    shutil.rmtree(tmp_path / "no-bundle")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        store.CheckpointError, match="could not be fetched.*offline"
    ):  # 4. Hub, offline
        store.resolve("base")
    with pytest.raises(store.CheckpointError, match="no checkpoint there"):
        store.resolve("base", tmp_path)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    def fill(tmp: Path):
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.write_atomic(tmp_path / "ck", fill)
    assert list(tmp_path.iterdir()) == []


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, option",
    [
        (["pretrain", "--preset", "huge", "--run-dir", "{tmp}/r"], "--preset"),
        (["pretrain", "--preset", "tiny", "--steps", "0", "--run-dir", "{tmp}/r"], "--steps"),
        (["pretrain", "--preset", "tiny", "--lr", "5", "--run-dir", "{tmp}/r"], "--lr"),
        (
            [
                "build-base",
                "--preset",
                "tiny",
                "--data",
                "{tmp}/missing.jsonl",
                "--run-dir",
                "{tmp}/r",
            ],
            "--data",
        ),
        (["pretrain", "--preset", "tiny", "--steps", "many", "--run-dir", "{tmp}/r"], "--steps"),
        (["pretrain", "--preset", "tiny"], "--run-dir"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, option):
    r = cli(*[a.format(tmp=tmp_path) for a in args], timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and option in r.stderr
    assert not (tmp_path / "r").exists()


def test_cli_hub_dataset_offline_is_one_clear_line(tmp_path):
    r = cli(
        "build-base",
        "--preset",
        "tiny",
        "--data",
        "someone/some-corpus",
        "--run-dir",
        str(tmp_path / "r"),
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        timeout=120,
    )
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr
    assert "someone/some-corpus" in errors[0] and "offline" in errors[0].lower()
    assert not (tmp_path / "r" / "data" / "manifest.json").exists()


def test_cli_corpus_tokenizer_and_eval_commands(tmp_path, tiny_base):
    out = tmp_path / "world.jsonl"
    r = cli("corpus", "--preset", "tiny", "--out", str(out), "--samples", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    stats = json.loads(r.stdout[: r.stdout.index("}") + 1])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == stats["n_records"] and {"text", "person_id", "mentions"} <= set(
        records[0]
    )
    r = cli("tokenizer", "--preset", "tiny", "--out", str(tmp_path / "tok"))
    assert r.returncode == 0, r.stderr[-2000:]
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tmp_path / "tok")
    assert (
        "{% generation %}" in tok.chat_template
        and store.verify(tmp_path / "tok")["kind"] == "tokenizer"
    )
    r = cli("eval", "--checkpoint", str(tiny_base))
    assert r.returncode == 0
    assert (
        json.loads(r.stdout)["heldout_loss"]
        == store.read_manifest(tiny_base)["metrics"]["heldout_loss"]
    )
