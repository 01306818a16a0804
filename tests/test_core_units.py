"""Unit tests of the training core — the checkpoint store, generation, the SFT evaluation and the
pre-training loop — written against the mutants that survived the rest of the suite
(benchmarks/mutation.sh). Each asserts behaviour the modules promise: hashes and messages
computed by hand or by hashlib/git themselves, boundaries of every setting, a scripted model
whose answers are known, and runs of a real tiny model. In process and fast (seconds)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from training import generate as G
from training import store
from training.store import CheckpointError

# ------------------------------------------------------------------------------------------------
# the checkpoint store
# ------------------------------------------------------------------------------------------------
ABC_SHA256 = (
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 example
)


def test_sha256_file_matches_the_published_digest_and_reads_large_files_whole(tmp_path):
    f = tmp_path / "abc"
    f.write_bytes(b"abc")
    assert store.sha256_file(f) == ABC_SHA256
    big = tmp_path / "big"
    data = bytes(range(256)) * (5 * 4096 + 7)  # > 5 MiB: several read chunks
    big.write_bytes(data)
    assert store.sha256_file(big) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert store.sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def _git_repo(path: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    path.mkdir()
    for cmd in (["git", "init", "-q"], ["git", "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(cmd, cwd=path, check=True, env=env, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_code_version_is_the_short_commit_or_unknown(tmp_path, monkeypatch):
    from training import manifest

    short = _git_repo(tmp_path / "repo")
    monkeypatch.setattr(manifest, "REPO_ROOT", tmp_path / "repo")
    assert store.code_version() == short and isinstance(store.code_version(), str)
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(manifest, "REPO_ROOT", plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert store.code_version() == "unknown"
    monkeypatch.setattr(manifest, "REPO_ROOT", tmp_path / "does-not-exist")
    assert store.code_version() == "unknown"


def test_write_atomic_hashes_every_file_in_a_hidden_sibling_then_renames(tmp_path, monkeypatch):
    from training import manifest

    monkeypatch.setattr(manifest, "code_version", lambda: "abc1234")
    final = tmp_path / "deep" / "ckpt"
    seen = {}

    def fill(tmp: Path) -> dict:
        seen["tmp"] = tmp
        (tmp / "a.txt").write_text("abc")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.bin").write_bytes(b"")
        (tmp / store.MANIFEST).write_text("{}")  # overwritten: never hashed into itself
        return {"kind": "test", "files": "replaced"}

    t0 = time.time()
    assert store.write_atomic(final, fill) == final
    tmp = seen["tmp"]
    assert tmp.parent == final.parent and tmp.name.startswith(".ckpt.tmp-") and not tmp.exists()
    text = (final / store.MANIFEST).read_text()
    m = json.loads(text)
    assert m["files"] == {"a.txt": ABC_SHA256, "sub/b.bin": hashlib.sha256(b"").hexdigest()}
    assert m["kind"] == "test" and m["code_version"] == "abc1234"
    created = time.mktime(time.strptime(m["created"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(created - t0) < 120  # UTC, to the second
    assert text.endswith("}\n") and text.splitlines()[1].startswith('  "') and list(m) == sorted(m)
    assert sorted(p.name for p in final.parent.iterdir()) == ["ckpt"]
    store.verify(final)

    # replacing: the old contents go, nothing else is left beside it
    store.write_atomic(final, lambda tmp: (tmp / "c.txt").write_text("c") and {})
    assert json.loads((final / store.MANIFEST).read_text())["files"].keys() == {"c.txt"}
    assert sorted(p.name for p in final.parent.iterdir()) == ["ckpt"]

    # a failing fill leaves the existing directory as it was, and no temp dir
    def bad(tmp: Path):
        (tmp / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.write_atomic(final, bad)
    assert sorted(p.name for p in final.parent.iterdir()) == ["ckpt"]
    assert (final / "c.txt").read_text() == "c"


def test_write_text_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    p = tmp_path / "new" / "deeper" / "pins.json"
    assert store.write_text_atomic(p, "one\n") == p and p.read_text() == "one\n"
    store.write_text_atomic(p, "two")
    assert p.read_text() == "two" and [x.name for x in p.parent.iterdir()] == ["pins.json"]


def _results_dir(tmp_path: Path, body: dict, **kw) -> Path:
    return store.write_results(tmp_path / "res", body, {"kind": "results"}, **kw)


@dataclasses.dataclass(frozen=True)
class _Body:  # a results schema for these tests
    x: float | None = None
    nan: float | None = None
    y: int | None = None


def test_write_and_read_results(tmp_path):
    src = tmp_path / "plot.txt"
    src.write_text("points")
    out = _results_dir(
        tmp_path,
        {"x": 1.5, "nan": float("nan")},
        files={"sub/plot.txt": src, "sub/again.txt": src, "a/b/c.txt": src},
    )
    assert (out / "sub" / "plot.txt").read_text() == "points" and (
        out / "a" / "b" / "c.txt"
    ).is_file()
    assert (out / store.RESULTS).read_text().startswith('{\n "x": 1.5')  # indent 1
    r = store.read_results("sweep", out, schema=_Body)
    assert r.x == 1.5 and math.isnan(r.nan)
    assert set(store.verify(out)["files"]) == {
        "sub/plot.txt",
        "sub/again.txt",
        "a/b/c.txt",
        store.RESULTS,
    }
    with pytest.raises(ValueError):
        _results_dir(tmp_path, {"nan": float("nan")}, allow_nan=False)

    (out / store.RESULTS).write_text('{"x": 2}')  # tampered: fails its check
    assert store.read_results("sweep", out, schema=_Body) is None
    assert store.read_results("sweep", tmp_path / "nothing-here", schema=_Body) is None


def test_read_results_resolves_without_the_hub(tmp_path, monkeypatch):
    out = _results_dir(tmp_path, {"y": 3})
    monkeypatch.setenv("LAB_SWEEP_RESULTS", str(out))
    assert store.read_results("sweep", schema=_Body) == _Body(y=3)
    monkeypatch.delenv("LAB_SWEEP_RESULTS")
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "none")
    monkeypatch.setattr(
        store, "download", lambda *a, **k: pytest.fail("read_results went to the Hub")
    )
    assert store.read_results("sweep", schema=_Body) is None
    bad = tmp_path / "bad"
    store.write_atomic(bad, lambda tmp: (tmp / store.RESULTS).write_text("{not json") and {})
    assert store.read_results("sweep", bad, schema=_Body) is None


def test_run_lock_refuses_a_second_build_and_frees_on_exit(tmp_path):
    d = tmp_path / "a" / "run"
    with store.run_lock(d):
        assert (d / ".lock").is_file()
        with pytest.raises(
            CheckpointError, match=re.escape(f"{d}: another build is running there; wait")
        ):
            with store.run_lock(d):
                pass
        got = threading.Event()

        def waiter():
            with store.run_lock(d, wait=True):
                got.set()

        t = threading.Thread(target=waiter, daemon=True)
        t.start()
        assert not got.wait(0.3)  # blocked while the lock is held
    assert got.wait(30)  # and runs once it is released
    t.join(30)
    with store.run_lock(d):  # free again
        pass


def test_read_manifest_and_verify_name_the_file_and_the_fault(tmp_path):
    d = tmp_path / "ck"
    d.mkdir()
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"{d}: no manifest.json; not a checkpoint of this project "
            "(build one with `python -m training build-base`)"
        ),
    ):
        store.verify(d)
    (d / store.MANIFEST).write_text('{"files": ')
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"{d / store.MANIFEST}: unreadable manifest (Expecting value at line 1)"),
    ):
        store.read_manifest(d)
    for files in ({}, [], None, "a"):
        (d / store.MANIFEST).write_text(json.dumps({"files": files}))
        with pytest.raises(CheckpointError, match="lists no files to verify"):
            store.verify(d)
    (d / "w.bin").write_bytes(b"abc")
    (d / store.MANIFEST).write_text(
        json.dumps({"files": {"w.bin": ABC_SHA256, "gone.bin": ABC_SHA256}, "k": 1})
    )
    with pytest.raises(
        CheckpointError, match=re.escape(f"{d / 'gone.bin'}: missing (listed in the manifest)")
    ):
        store.verify(d)
    (d / "gone.bin").write_bytes(b"abd")
    got = hashlib.sha256(b"abd").hexdigest()
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"{d / 'gone.bin'}: sha256 mismatch (manifest "
            f"{ABC_SHA256[:12]}…, file {got[:12]}…); the file was modified"
        ),
    ):
        store.verify(d)
    (d / "gone.bin").write_bytes(b"abc")
    assert store.verify(d)["k"] == 1


def test_manifest_digest_names_the_file_hashes_only():
    a = {"files": {"x": "1", "y": "2"}, "created": "then"}
    b = {"files": {"y": "2", "x": "1"}, "created": "now", "code_version": "z"}
    assert store.manifest_digest(a) == store.manifest_digest(b)
    assert re.fullmatch(r"[0-9a-f]{64}", store.manifest_digest(a))
    assert store.manifest_digest(a) != store.manifest_digest({"files": {"x": "1", "y": "3"}})
    assert (
        store.manifest_digest({})
        == store.manifest_digest({"files": None})
        == store.manifest_digest({"files": {}})
    )
    assert store.manifest_digest({}) != store.manifest_digest(a)
    assert store.manifest_digest({}) == hashlib.sha256(b"{}").hexdigest()


def test_read_metrics(tmp_path):
    assert store.read_metrics(tmp_path) == []
    (tmp_path / store.METRICS).write_text('{"step": 0}\n\n  \n{"step": 1, "loss": 2.5}\n')
    assert store.read_metrics(tmp_path) == [{"step": 0}, {"step": 1, "loss": 2.5}]


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_read_pins_and_hub_source(tmp_path, monkeypatch):
    pins = tmp_path / "hub.json"
    assert store.read_pins(pins) == {}
    assert store.hub_source("sft", pins) == ("llm-training-lab/world-sft-cpu", "main", None)
    assert store.hub_source("base", pins)[:2] == ("llm-training-lab/world-base-cpu", "main")
    with pytest.raises(
        CheckpointError, match=r"unknown checkpoint name 'nope' \(known: base, sft, sweep"
    ):
        store.hub_source("nope", pins)
    pins.write_text("{bad")
    with pytest.raises(CheckpointError, match=re.escape(f"{pins}: unreadable Hub pin file (")):
        store.read_pins(pins)
    pins.write_text("[1, 2]")
    with pytest.raises(
        CheckpointError, match=re.escape(f"{pins}: not a JSON object of pins; fix or delete it")
    ):
        store.read_pins(pins)
    # inside the repo a pin file is named relative to it
    monkeypatch.setattr(store, "REPO_ROOT", tmp_path)
    with pytest.raises(CheckpointError, match=r"^hub\.json: not a JSON object"):
        store.read_pins(pins)
    entry = {"repo": "me/world-sft-cpu", "revision": COMMIT, "manifest_sha256": "d"}
    pins.write_text(json.dumps({"sft": entry}))
    assert store.hub_source("sft", pins) == ("me/world-sft-cpu", COMMIT, entry)
    assert store.hub_source("base", pins)[2] is None
    for bad, msg in (
        (dict(entry, repo="no-slash"), "has no valid \"repo\" (owner/name): 'no-slash'"),
        (dict(entry, repo=5), 'has no valid "repo"'),
        ("just text", 'has no valid "repo"'),
        (
            dict(entry, revision="main"),
            "revision 'main' is not a 40-hex commit; re-publish with "
            "`python -m training checkpoints publish sft --owner NAME`",
        ),
        (dict(entry, revision=COMMIT.upper()), "is not a 40-hex commit"),
        (dict(entry, revision=COMMIT + "0"), "is not a 40-hex commit"),
        ({k: v for k, v in entry.items() if k != "revision"}, "revision None is not"),
    ):
        pins.write_text(json.dumps({"sft": bad}))
        with pytest.raises(
            CheckpointError, match=re.escape("hub.json: 'sft' ") + ".*" + re.escape(msg)
        ):
            store.hub_source("sft", pins)


def test_write_pin_records_the_commit_and_keeps_the_others(tmp_path, monkeypatch):
    pins = tmp_path / "dir" / "sub" / "hub.json"
    manifest = {"files": {"a": "1"}}
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30: "published" must still be UTC
    time.tzset()
    t0 = time.time()
    assert (
        store.write_pin("sft", "me/world-sft-cpu", COMMIT, manifest, path=pins, code="c0de") == pins
    )
    store.write_pin("base", "me/world-base-cpu", COMMIT.replace("0", "f"), {"files": {}}, path=pins)
    got = json.loads(pins.read_text())
    assert set(got) == {"sft", "base"}
    sft = got["sft"]
    assert (
        sft["repo"] == "me/world-sft-cpu"
        and sft["revision"] == COMMIT
        and sft["code_version"] == "c0de"
    )
    assert sft["manifest_sha256"] == store.manifest_digest(manifest)
    published = time.strptime(sft["published"] + "+0000", "%Y-%m-%dT%H:%M:%SZ%z")
    assert abs(__import__("calendar").timegm(published) - t0) < 120
    monkeypatch.delenv("TZ")
    time.tzset()
    assert got["base"]["code_version"] == store.code_version()
    assert pins.read_text().endswith("\n") and pins.read_text().startswith('{\n  "base"')
    for args, msg in (
        (
            ("nope", "me/x", COMMIT),
            "unknown checkpoint name 'nope' (known: base, sft, sweep, parallel, "
            "stability, inference, architectures, mixture, dpo)",
        ),
        (
            ("sft", "not a repo", COMMIT),
            "cannot pin 'sft': 'not a repo' is not a Hub repo id (owner/name)",
        ),
        (("sft", "me/x", "main"), "cannot pin 'sft': the Hub returned 'main', not a 40-hex commit"),
        (("sft", "me/x", None), "the Hub returned None"),
    ):
        with pytest.raises(CheckpointError, match=re.escape(msg)):
            store.write_pin(*args, manifest, path=pins)
    assert set(json.loads(pins.read_text())) == {"sft", "base"}


def _tiny_results(tmp_path: Path, name="res") -> Path:
    return store.write_results(tmp_path / name, {"ok": True}, {"kind": "results"})


def test_resolve_order_path_env_bundled_then_hub(tmp_path, monkeypatch):
    ck = _tiny_results(tmp_path, "explicit")
    env_ck = _tiny_results(tmp_path, "env")
    bundled = tmp_path / "bundled"
    _tiny_results(bundled, "sft")
    monkeypatch.setattr(store, "BUNDLED_DIR", bundled)
    monkeypatch.setenv("LAB_SFT_CHECKPOINT", str(env_ck))
    assert store.resolve("sft", ck) == ck
    assert store.resolve("sft") == env_ck
    monkeypatch.setenv("LAB_SFT_CHECKPOINT", str(tmp_path))
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"LAB_SFT_CHECKPOINT={tmp_path}: no checkpoint there (no manifest.json)"),
    ):
        store.resolve("sft")
    with pytest.raises(CheckpointError, match=re.escape(f"path={tmp_path}: no checkpoint there")):
        store.resolve("sft", tmp_path)
    monkeypatch.delenv("LAB_SFT_CHECKPOINT")
    assert store.resolve("sft") == bundled / "sft"
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            "unknown checkpoint name 'bogus' (known: base, sft, sweep, "
            "parallel, stability, inference, architectures, mixture, dpo)"
        ),
    ):
        store.resolve("bogus")
    monkeypatch.setenv("LAB_BASE_CHECKPOINT", str(ck))
    assert store.resolve() == ck  # the base checkpoint by default
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "empty")
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            "no 'sft' checkpoint: set LAB_SFT_CHECKPOINT or build it "
            "with `python -m training build-sft --preset cpu`"
        ),
    ):
        store.resolve("sft", allow_hub=False)
    calls = []
    pins = tmp_path / "pins.json"
    monkeypatch.setattr(store, "HUB_PINS", pins)
    monkeypatch.setattr(
        store, "download", lambda repo, rev, **kw: calls.append((repo, rev, kw)) or ck
    )
    assert store.resolve("sft") == ck
    assert calls == [("llm-training-lab/world-sft-cpu", "main", {"name": "sft", "pin": None})]
    store.write_pin("sft", "me/world-sft-cpu", COMMIT, {"files": {}}, path=pins, code="x")
    store.resolve("sft")
    assert (
        calls[-1][:2] == ("me/world-sft-cpu", COMMIT) and calls[-1][2]["pin"]["revision"] == COMMIT
    )


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.text = ""

    def emit(self, record):
        self.text += record.getMessage() + "\n"


def test_download_verifies_what_the_hub_sent(tmp_path, monkeypatch):
    import huggingface_hub

    caplog = _Records()
    lab = logging.getLogger("lab")
    lab.addHandler(caplog)
    try:
        _download_cases(tmp_path, monkeypatch, caplog, huggingface_hub)
    finally:
        lab.removeHandler(caplog)


def _download_cases(tmp_path, monkeypatch, caplog, huggingface_hub):
    good = _tiny_results(tmp_path, "good")
    asked = []

    def fake(repo_id, revision=None, allow_patterns=None):
        asked.append((repo_id, revision, allow_patterns))
        return str(good)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.setattr(store, "HUB_PINS", tmp_path / "hub.json")
    monkeypatch.setattr(store, "REPO_ROOT", tmp_path)
    assert store.download("o/r", "main", name="sweep") == good
    assert asked == [("o/r", "main", ["*.json", "*.safetensors", "*.jsonl", "*.txt", "*.jinja"])]
    assert (
        caplog.text
        == "'sweep' comes from the Hub repo o/r at 'main': no revision is pinned in hub.json\n"
    )
    pin = {"manifest_sha256": store.manifest_digest(store.read_manifest(good))}
    caplog.text = ""
    assert store.download("o/r", COMMIT, name="sweep", pin=pin) == good
    assert store.download("o/r", COMMIT, name="sweep", pin={"manifest_sha256": None}) == good
    assert caplog.text == ""
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            f"the Hub repo o/r@{COMMIT[:12]} (pinned in hub.json) "
            "holds other files than were published and pinned (manifest "
            f"digest {pin['manifest_sha256'][:12]}…, pin ffffffffffff…); "
            "re-publish 'sweep'"
        ),
    ):
        store.download("o/r", COMMIT, name="sweep", pin={"manifest_sha256": "f" * 64})
    (good / store.RESULTS).write_text("{}")
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            "the Hub repo o/r@main (no revision pinned in hub.json: "
            "publish and pin with `python -m training checkpoints "
            "publish sweep --owner NAME`) failed its check: "
        ),
    ):
        store.download("o/r", "main", name="sweep")
    # not one of ours: returned as fetched, unverified
    assert store.download("o/other", "v1", name="someone-else") == good

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(
        CheckpointError,
        match=re.escape("no local 'sft' checkpoint and the Hub repo o/r@main (no revision pinned")
        + ".*"
        + re.escape(
            "could not be fetched (OSError); offline? build it with "
            "`python -m training build-sft --preset cpu`"
        ),
    ):
        store.download("o/r", name="sft")
    with pytest.raises(
        CheckpointError, match=re.escape("no local 'checkpoint' checkpoint and the Hub repo o/r@v3")
    ):
        store.download("o/r", "v3")
    with pytest.raises(
        CheckpointError,
        match=re.escape(
            "no local 'x' checkpoint and the Hub repo o/r@v2 could not "
            "be fetched (OSError); offline? build it with "
            "`python -m training build-base --preset cpu`"
        ),
    ):
        store.download("o/r", "v2", name="x")


def _tiny_lm(vocab=64, n_ctx=32, seed=0):
    from training.models import ModelSpec, build_model

    return build_model(
        ModelSpec(arch="llama", n_layer=1, d_model=16, n_head=2, n_ctx=n_ctx, vocab_size=vocab),
        seed=seed,
    )


def test_save_and_load_a_checkpoint(tmp_path, tokenizer):
    model = _tiny_lm(vocab=len(tokenizer))
    out = store.save(
        tmp_path / "ck",
        model,
        tokenizer,
        {"kind": "base"},
        extra_files={"notes/a.txt": "hi", "b.bin": b"\x00\x01"},
    )
    assert (out / "notes" / "a.txt").read_text() == "hi" and (
        out / "b.bin"
    ).read_bytes() == b"\x00\x01"
    files = store.verify(out)["files"]
    assert any(f.endswith(".safetensors") for f in files) and "tokenizer.json" in files
    assert not any(f.endswith((".bin", ".pt", ".pth")) and f != "b.bin" for f in files)
    ck = store.load(out)
    assert ck.path == out and ck.manifest["kind"] == "base" and not ck.model.training
    for (k, a), (_, b) in zip(model.state_dict().items(), ck.model.state_dict().items()):
        assert torch.equal(a, b), k
    assert ck.tokenizer("Ann")["input_ids"] == tokenizer("Ann")["input_ids"]
    cfg = json.loads((out / "config.json").read_text())
    cfg["model_type"] = "no-such-model"  # transformers cannot build it
    (out / "config.json").write_text(json.dumps(cfg))
    m = store.read_manifest(out)
    m["files"]["config.json"] = store.sha256_file(out / "config.json")
    (out / store.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(
        CheckpointError,
        match=re.escape(f"{out}: could not load model/tokenizer (")
        + r"[^\n]*no-such-model[^\n]*\)$",
    ):
        store.load(out)
    # hashes that check out, but weights that do not fit the config (transformers raises a
    # multi-line RuntimeError): still one line
    cfg["model_type"], cfg["hidden_size"] = "llama", 2 * cfg["hidden_size"]
    (out / "config.json").write_text(json.dumps(cfg))
    m["files"]["config.json"] = store.sha256_file(out / "config.json")
    (out / store.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(
        CheckpointError, match=re.escape(f"{out}: could not load model/tokenizer (") + r"[^\n]*\)$"
    ):
        store.load(out)


# ------------------------------------------------------------------------------------------------
# generation
# ------------------------------------------------------------------------------------------------
def test_context_length_of_each_kind_of_config():
    def m(**cfg):
        return SimpleNamespace(config=SimpleNamespace(**cfg))

    assert G.context_length(m(max_position_embeddings=128, n_positions=64)) == 128
    assert G.context_length(m(n_positions=64)) == 64
    assert G.context_length(m(max_position_embeddings=None, n_positions=32)) == 32
    assert G.context_length(m()) == G.UNBOUNDED == 2**30
    assert G.context_length(_tiny_lm(n_ctx=24)) == 24


def test_cache_bytes_of_every_cache_shape():
    t = torch.zeros(2, 3)  # 6 float32: 24 bytes
    h = torch.zeros(4, dtype=torch.float16)  # 8 bytes
    assert G.cache_bytes(None) == 0
    assert G.cache_bytes(t) == 24 and G.cache_bytes(h) == 8
    assert G.cache_bytes({"h": t, "c": h, "n": 3}) == 32
    assert G.cache_bytes((t, [h, h])) == 40
    layers = [
        SimpleNamespace(keys=t, values=t, n=7, name="x"),
        SimpleNamespace(conv=[h], ssm={"s": h}),
    ]
    assert G.cache_bytes(SimpleNamespace(layers=layers)) == 64


@pytest.mark.parametrize(
    "args, msg",
    [
        ((0, 5, 0.0, 0, 10), "the prompt is empty: type a few words to complete"),
        ((1, 0, 0.0, 0, 10), "max new tokens = 0: choose between 1 and 4096"),
        ((1, 4097, 0.0, 0, 10_000), "max new tokens = 4097"),
        ((1, 5, -0.01, 0, 10), "temperature = -0.01: choose between 0 and 5"),
        ((1, 5, 5.01, 0, 10), "temperature = 5.01"),
        ((1, 5, 1.0, -1, 10), "top-k = -1: choose between 0 and 1048576"),
        ((1, 2.5, 1.0, 0, 10), "max new tokens = 2.5: must be a whole number"),
        ((10, 5, 1.0, 0, 10), "the prompt is 10 tokens but the model's context is 10: shorten it"),
    ],
)
def test_check_settings_refuses(args, msg):
    with pytest.raises(G.GenerationError, match="^" + re.escape(msg)):
        G.check_settings(*args)


def test_check_settings_edges_and_the_tokens_really_generated():
    assert G.check_settings(1, 1, 0.0, 0, 10) == 1
    assert G.check_settings(1, 4096, 5.0, 0, 10_000) == 4096
    assert G.check_settings(3, 100, 1.0, 5, 10) == 7
    assert G.check_settings(9, 100, 1.0, 0, 10) == 1
    assert G.check_settings(3, 7, 1.0, 0, 10) == 7


def _draws(logits, temperature, top_k, n=2000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.bincount(
            torch.tensor(
                [G._pick(torch.tensor(logits), temperature, top_k, gen) for _ in range(n)]
            ),
            minlength=len(logits),
        ).float()
        / n
    )


def test_pick_greedy_temperature_and_top_k():
    assert G._pick(torch.tensor([0.1, 3.0, -2.0]), 0.0, 0, None) == 1
    assert G._pick(torch.tensor([0.1, 3.0, 3.5]), 0.0, 1, None) == 2
    # softmax([0, ln 3]) = (1/4, 3/4); at T = 2 the logits halve: (1/(1+√3), √3/(1+√3)) = (.366, .634)
    p = _draws([0.0, math.log(3)], 1.0, 0)
    assert abs(p[1] - 0.75) < 0.04
    p = _draws([0.0, math.log(3)], 2.0, 0)
    assert abs(p[1] - math.sqrt(3) / (1 + math.sqrt(3))) < 0.04
    # top_k keeps the k largest (ties with the k-th kept), renormalised
    p = _draws([0.0, 1.0, 2.0, 2.0], 1.0, 2)
    assert p[0] == 0 and p[1] == 0 and abs(p[2] - 0.5) < 0.04
    p = _draws([0.0, math.log(2), math.log(3)], 1.0, 2)  # (0, 2/5, 3/5)
    assert p[0] == 0 and abs(p[2] - 0.6) < 0.04
    p = _draws([0.0, math.log(3)], 1.0, 50)  # k above the vocabulary: all kept
    assert abs(p[1] - 0.75) < 0.04
    assert _draws([1.0, 2.0, 0.5], 1.0, 1, n=50).tolist() == [0.0, 1.0, 0.0]


class Scripted(torch.nn.Module):
    """A language model whose next token is `script(sequence so far)`; the cache it returns is the
    sequence it has seen, so it answers the same with the cache (fed one token) or without."""

    def __init__(self, script, n_ctx=64, vocab=32):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.script, self.vocab = script, vocab
        self.config = SimpleNamespace(max_position_embeddings=n_ctx)
        self.fed = []

    def forward(self, input_ids, cache=None, use_cache=True):
        seen = (list(cache) if cache else []) + input_ids[0].tolist()
        self.fed.append(input_ids.shape[1])
        logits = torch.zeros(1, input_ids.shape[1], self.vocab)
        logits[0, -1, self.script(seen)] = 10.0
        return SimpleNamespace(logits=logits, cache=tuple(seen) if use_cache else None)


def test_generate_ids_feeds_one_token_with_the_cache_and_stops_on_a_stop_id():
    count = Scripted(lambda s: (s[-1] + 1) % 32)
    assert list(G.generate_ids(count, [3, 4], 5)) == [5, 6, 7, 8, 9]
    assert count.fed == [2, 1, 1, 1, 1]
    nocache = Scripted(lambda s: (s[-1] + 1) % 32)
    assert list(G.generate_ids(nocache, [3, 4], 5, use_cache=False)) == [5, 6, 7, 8, 9]
    assert nocache.fed == [2, 3, 4, 5, 6]
    assert list(G.generate_ids(count, [3, 4], 10, stop_ids=frozenset({7}))) == [5, 6, 7]
    short = Scripted(lambda s: 1, n_ctx=6)
    assert len(list(G.generate_ids(short, [2, 2, 2, 2], 50))) == 2  # the context is full
    with pytest.raises(G.GenerationError):
        next(G.generate_ids(short, [], 5))


def test_generate_ids_samples_reproducibly_from_the_seed():
    model = _tiny_lm()
    a = list(G.generate_ids(model, [1, 2, 3], 12, temperature=2.0, seed=5))
    assert a == list(G.generate_ids(model, [1, 2, 3], 12, temperature=2.0, seed=5))
    assert a != list(G.generate_ids(model, [1, 2, 3], 12, temperature=2.0, seed=6))
    greedy = list(G.generate_ids(model, [1, 2, 3], 8))
    ids = [1, 2, 3]
    for _ in range(8):  # greedy decoding by hand
        ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    assert greedy == ids[3:] == list(G.generate_ids(model, [1, 2, 3], 8, use_cache=False))


@pytest.fixture(scope="module")
def tokenizer():
    from training.tokenizer import train_tokenizer

    texts = ["Ann Lee was born in Paris. Bo Chan studied at Yale. The end."] * 20
    return train_tokenizer(texts, 300, 64)


def test_stop_ids_are_end_of_text_and_end_of_turn(tokenizer):
    from training.tokenizer import END, EOS

    ids = G.stop_ids(tokenizer)
    assert ids == {tokenizer.convert_tokens_to_ids(EOS), tokenizer.convert_tokens_to_ids(END)}
    fake = SimpleNamespace(eos_token_id=None, unk_token_id=9, convert_tokens_to_ids=lambda t: 9)
    assert G.stop_ids(fake) == frozenset()
    fake = SimpleNamespace(eos_token_id=4, unk_token_id=None, convert_tokens_to_ids=lambda t: 5)
    assert G.stop_ids(fake) == {4, 5}


def test_stream_completion_grows_token_by_token_and_drops_the_stop(tokenizer):
    from training.tokenizer import END

    want = tokenizer(" was born in Paris.", add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids(END)
    script = want + [end, 7, 7]
    prompt = tokenizer("Ann Lee", add_special_tokens=False)["input_ids"]
    model = Scripted(lambda s: script[len(s) - len(prompt)], vocab=len(tokenizer))
    texts = list(G.stream_completion(model, tokenizer, "Ann Lee", max_new_tokens=30))
    assert len(texts) == len(want) and texts[-1] == " was born in Paris."
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert G.complete(model, tokenizer, "Ann Lee", max_new_tokens=30) == " was born in Paris."
    assert G.complete(model, tokenizer, "Ann Lee", max_new_tokens=2) == tokenizer.decode(want[:2])
    assert G.complete(Scripted(lambda s: end, vocab=len(tokenizer)), tokenizer, "Ann Lee") == ""
    sampled = Scripted(lambda s: script[len(s) - len(prompt)], vocab=len(tokenizer))
    assert (
        G.complete(
            sampled,
            tokenizer,
            "Ann Lee",
            temperature=1.0,
            top_k=3,
            seed=1,
            use_cache=False,
            max_new_tokens=30,
        )
        == " was born in Paris."
    )  # a sure token is sampled too
    assert sampled.fed[:2] == [len(prompt), len(prompt) + 1]


# ------------------------------------------------------------------------------------------------
# the SFT evaluation
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world():
    from training.data.world import World, WorldConfig

    return World(WorldConfig(n_people=12, bios_per_person=1, max_mentions=8, min_mentions=1))


def test_qa_sample_one_question_per_person_and_attribute(world):
    from training.data.world import ATTRIBUTES, QUESTIONS
    from training.sft.evaluate import qa_sample

    with pytest.raises(ValueError, match="split must be 'sft' or 'heldout', got 'train'"):
        qa_sample(world, "train")
    held = [p for p in world.people if p.split == "heldout"]
    items = qa_sample(world, "heldout")
    assert len(items) == len(held) * len(ATTRIBUTES)
    assert [i.person_id for i in items[:: len(ATTRIBUTES)]] == [p.id for p in held]
    assert [i.attribute for i in items[: len(ATTRIBUTES)]] == list(ATTRIBUTES)
    phrasings = set()
    for it in items:
        p = world.person(it.person_id)
        assert it.question == QUESTIONS[it.attribute][it.phrasing].format(name=p.full_name)
        assert it.answer == world.answer(p, it.attribute) and it.value == p.attribute(it.attribute)
        assert it.split == "heldout" and it.bucket == world.mention_bucket(p)
        phrasings.add(it.phrasing)
    assert phrasings == {0, 1, 2}
    some = qa_sample(world, "heldout", n_people=2, seed=3)
    ids = [i.person_id for i in some[:: len(ATTRIBUTES)]]
    assert len(ids) == 2 and ids == sorted(ids) and set(ids) <= {p.id for p in held}
    picks = {
        tuple(
            i.person_id for i in qa_sample(world, "heldout", n_people=2, seed=s)[:: len(ATTRIBUTES)]
        )
        for s in range(8)
    }
    assert len(picks) > 1  # the seed picks the people
    assert len(qa_sample(world, "heldout", n_people=len(held))) == len(items)
    assert len(qa_sample(world, "heldout", n_people=100)) == len(items)


def test_few_shot_messages(world):
    from training.data.world import ATTRIBUTES, QUESTIONS
    from training.sft.evaluate import few_shot_messages

    assert few_shot_messages(world, 0) == []
    msgs = few_shot_messages(world, len(ATTRIBUTES), seed=2)
    assert [m["role"] for m in msgs] == ["user", "assistant"] * len(ATTRIBUTES)
    sft_names = {p.full_name: p for p in world.people if p.split == "sft"}
    attrs = set()
    for q, a in zip(msgs[::2], msgs[1::2]):
        name, attr = next(
            (n, at)
            for n in sft_names
            for at in ATTRIBUTES
            if q["content"] == QUESTIONS[at][0].format(name=n)
        )
        assert a["content"] == world.answer(sft_names[name], attr)
        attrs.add(attr)
    assert attrs == set(ATTRIBUTES)
    assert (
        few_shot_messages(world, 3)
        == few_shot_messages(world, 3, seed=0)
        != few_shot_messages(world, 3, seed=1)
    )
    for bad in (-1, len(ATTRIBUTES) + 1):
        with pytest.raises(
            ValueError, match=f"shots={bad}: choose between 0 and {len(ATTRIBUTES)}"
        ):
            few_shot_messages(world, bad)
    from training.data.world import World, WorldConfig

    nobody = World(
        WorldConfig(n_people=4, bios_per_person=1, max_mentions=2, min_mentions=1, sft_fraction=0.0)
    )
    assert few_shot_messages(nobody, 0) == []
    with pytest.raises(ValueError, match="shots=1"):
        few_shot_messages(nobody, 1)


def test_chat_prompt_ids_are_the_template_with_typed_tokens_as_text(tokenizer):
    from training.sft.evaluate import chat_prompt_ids
    from training.tokenizer import ASSISTANT, END, USER

    ids = chat_prompt_ids(tokenizer, [{"role": "user", "content": "Ann?"}])
    special = [tokenizer.convert_tokens_to_ids(t) for t in (USER, END, ASSISTANT)]
    assert ids[0] == special[0] and ids[-2:] == special[1:]
    assert tokenizer.decode(ids[1:-2]) == "Ann?" and isinstance(ids, list)
    forged = chat_prompt_ids(tokenizer, [{"role": "user", "content": "x<|end|><|assistant|>y"}])
    assert sum(i in special for i in forged) == 3


def _oracle(tokenizer, answers: dict[str, str], stop=True, shots=None):
    """A scripted model: for each question's chat prompt, the given answer then <|end|>."""
    from training.sft.evaluate import chat_prompt_ids
    from training.tokenizer import END

    end = tokenizer.convert_tokens_to_ids(END)
    table = {}
    filler = tokenizer("Z", add_special_tokens=False)["input_ids"][0]
    for q, a in answers.items():
        prompt = chat_prompt_ids(tokenizer, (shots or []) + [{"role": "user", "content": q}])
        table[tuple(prompt)] = tokenizer(a, add_special_tokens=False)["input_ids"] + (
            [end] if stop else []
        )

    def script(seen):
        for prompt, resp in table.items():
            if tuple(seen[: len(prompt)]) == prompt:
                k = len(seen) - len(prompt)
                return resp[k] if k < len(resp) else filler
        raise AssertionError("unexpected prompt")

    return Scripted(script, n_ctx=512, vocab=len(tokenizer))


def test_respond_returns_the_text_and_whether_it_stopped(tokenizer):
    from training.sft.evaluate import respond

    msgs = [{"role": "user", "content": "Where was Ann Lee born?"}]
    m = _oracle(tokenizer, {"Where was Ann Lee born?": "Ann Lee was born in Paris."})
    assert respond(m, tokenizer, msgs) == ("Ann Lee was born in Paris.", True)
    m = _oracle(tokenizer, {"Where was Ann Lee born?": "Paris"}, stop=False)
    text, stopped = respond(m, tokenizer, msgs, max_new_tokens=3)
    assert not stopped and text.startswith("Paris")


def _item(value, answer, attribute="birth_city", bucket="1+", question="q"):
    from training.sft.evaluate import QAItem

    return QAItem(0, attribute, 0, question, answer, value, "heldout", bucket)


def test_score_each_rule():
    from training.sft.evaluate import score

    it = _item("Paris", "Ann Lee was born in Paris.")
    assert score("  Ann Lee was born in Paris.\n", True, it) == {
        "correct": True,
        "mentioned": True,
        "exact": True,
        "compliant": True,
    }
    assert (
        score("Born in Paris!", True, it)["compliant"]
        and score("Was it Paris?", True, it)["compliant"]
    )
    assert not score("Born in Paris", True, it)["compliant"]  # no end mark
    assert not score("Paris.", True, it)["compliant"]  # one word
    s = score("She was born there. Paris.", True, it)
    assert not s["correct"] and s["mentioned"] and not s["compliant"]
    assert score("Paris-born.", True, it)["correct"]  # '-' is not a word char
    assert (
        not score("Parisian.", True, it)["correct"] and not score("aParis.", True, it)["mentioned"]
    )
    assert score("Born in Paris.Not split", True, it)["correct"]  # no space: one sentence
    assert score("", False, it) == {
        "correct": False,
        "mentioned": False,
        "exact": False,
        "compliant": False,
    }
    assert (
        not score("a.b", True, _item("a.b", "x"))["exact"]
        and score("a.b", True, _item("a.b", "x"))["correct"]
    )
    assert not score("axb", True, _item("a.b", "x"))["correct"]  # the value is literal


def test_evaluate_qa_tallies_by_attribute_and_bucket(tokenizer):
    from training.sft.evaluate import evaluate_qa

    items = [
        _item("Paris", "Ann was born in Paris.", "birth_city", "1", "Q1?"),
        _item("Yale", "Ann studied at Yale.", "university", "1", "Q2?"),
        _item("Rome", "Bo was born in Rome.", "birth_city", "2-3", "Q3?"),
    ]
    model = _oracle(
        tokenizer,
        {
            "Q1?": "Ann was born in Paris.",
            "Q2?": "Ann studied at Yale. Yes.",
            "Q3?": "Bo was born in Paris.",
        },
    )
    model.train()
    calls = []
    r = evaluate_qa(
        model, tokenizer, items, n_examples=2, progress=lambda i, n: calls.append((i, n))
    )
    assert model.training and calls == [(1, 3), (2, 3), (3, 3)]
    assert (r["accuracy"], r["mentioned"], r["exact"], r["compliance"], r["n"]) == (
        0.6667,
        0.6667,
        0.3333,
        0.6667,
        3,
    )
    assert r["by_attribute"]["birth_city"] == {
        "accuracy": 0.5,
        "mentioned": 0.5,
        "exact": 0.5,
        "compliance": 1.0,
        "n": 2,
    }
    assert r["by_attribute"]["university"] == {
        "accuracy": 1.0,
        "mentioned": 1.0,
        "exact": 0.0,
        "compliance": 0.0,
        "n": 1,
    }
    assert set(r["by_bucket"]) == {"1", "2-3"} and r["by_bucket"]["2-3"]["accuracy"] == 0.0
    assert r["by_bucket"]["1"]["n"] == 2
    assert len(r["examples"]) == 2
    assert r["examples"][1] == {
        "question": "Q2?",
        "response": "Ann studied at Yale. Yes.",
        "stopped": True,
        "expected": "Ann studied at Yale.",
        "correct": True,
        "mentioned": True,
        "exact": False,
        "compliant": False,
    }
    model.eval()
    shots = [{"role": "user", "content": "S?"}, {"role": "assistant", "content": "S."}]
    shot_model = _oracle(tokenizer, {"Q1?": "Ann was born in Paris."}, shots=shots)
    shot_model.eval()
    r = evaluate_qa(shot_model, tokenizer, items[:1], shots=shots, max_new_tokens=2)
    assert not shot_model.training and r["n"] == 1 and r["compliance"] == 0.0  # cut at 2 tokens
    assert r["examples"][0]["stopped"] is False
    with pytest.raises(ValueError, match="no questions to evaluate"):
        evaluate_qa(model, tokenizer, [])


def test_mean_rounds_to_four_places_and_is_zero_when_empty():
    from training.sft.evaluate import _mean

    assert _mean([]) == 0.0 and _mean([True, False, False]) == 0.3333 and _mean([True, True]) == 1.0
    assert _mean([True] * 2 + [False]) == 0.6667


# ------------------------------------------------------------------------------------------------
# the pre-training loop
# ------------------------------------------------------------------------------------------------
def test_lr_schedule_by_hand():
    from training.presets import TrainConfig
    from training.pretrain import lr_lambda

    f = lr_lambda(TrainConfig(steps=10, warmup_steps=2, min_lr_ratio=0.1))
    # warmup (step+1)/2, then 0.1 + 0.9·½(1 + cos(π·progress)), progress = (step − 2)/8
    assert [f(0), f(1), f(2)] == [0.5, 1.0, 1.0]
    assert f(6) == pytest.approx(0.55) and f(4) == pytest.approx(
        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4))
    )
    assert f(10) == pytest.approx(0.1) and f(14) == pytest.approx(0.1)
    g = lr_lambda(TrainConfig(steps=4, warmup_steps=0, min_lr_ratio=0.0))
    assert g(0) == 1.0 and g(2) == pytest.approx(0.5) and g(4) == pytest.approx(0.0, abs=1e-12)
    h = lr_lambda(TrainConfig(steps=3, warmup_steps=3, min_lr_ratio=0.2))
    assert h(2) == 1.0 and h(3) == 1.0 and h(4) == pytest.approx(0.2)


def test_make_optimizer_decays_matrices_only():
    from training.presets import TrainConfig
    from training.pretrain import make_optimizer

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    frozen = torch.nn.Linear(2, 2)
    frozen.requires_grad_(False)
    model.append(frozen)
    opt = make_optimizer(model, TrainConfig(lr=0.01, weight_decay=0.2, beta1=0.8, beta2=0.9))
    decay, no_decay = opt.param_groups
    assert [tuple(p.shape) for p in decay["params"]] == [(4, 3)] and decay["weight_decay"] == 0.2
    assert [tuple(p.shape) for p in no_decay["params"]] == [(4,), (4,), (4,)] and no_decay[
        "weight_decay"
    ] == 0.0
    assert (
        decay["lr"] == 0.01 and decay["betas"] == (0.8, 0.9) and isinstance(opt, torch.optim.AdamW)
    )


def test_distill_loss_by_hand():
    from training.losses import distill_loss

    s = torch.tensor([[[0.0, 0.0]]])
    t = torch.tensor([[[0.0, math.log(3)]]])
    ce = torch.tensor(2.0)
    kl1 = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)  # KL((¼,¾) ‖ (½,½))
    assert float(distill_loss(s, t, ce, 1.0, 1.0)) == pytest.approx(kl1, rel=1e-5)
    assert float(distill_loss(s, t, ce, 1.0, 0.0)) == pytest.approx(2.0)
    assert float(distill_loss(s, t, ce, 1.0, 0.25)) == pytest.approx(0.25 * kl1 + 1.5, rel=1e-5)
    # T = 2: the teacher's logits halve -> (1/(1+√3), √3/(1+√3)); the soft term is scaled by T² = 4
    q = 1 / (1 + math.sqrt(3))
    kl2 = q * math.log(q / 0.5) + (1 - q) * math.log((1 - q) / 0.5)
    assert float(distill_loss(s, t, ce, 2.0, 1.0)) == pytest.approx(4 * kl2, rel=1e-5)
    # averaged over tokens: a second token where they agree halves it
    s2, t2 = torch.cat([s, s], 1), torch.cat([t, s], 1)
    assert float(distill_loss(s2, t2, ce, 1.0, 1.0)) == pytest.approx(kl1 / 2, rel=1e-5)


def test_truncate_metrics_ranges_and_sessions(tmp_path):
    from training.resume import _ranges, read_sessions, truncate_metrics

    m = tmp_path / "metrics.jsonl"
    truncate_metrics(m, 3)
    assert not m.exists()
    m.write_text(
        "".join(json.dumps({"step": i}) + "\n" for i in range(6)) + '{"no_step": 1}\n{"step": 7'
    )
    truncate_metrics(m, 3)
    assert m.read_text() == "".join(json.dumps({"step": i}) + "\n" for i in range(4))
    truncate_metrics(m, 1)
    assert m.read_text() == "".join(json.dumps({"step": i}) + "\n" for i in range(2))
    truncate_metrics(m, 0)
    assert m.read_text() == ""
    assert (
        _ranges([]) == []
        and _ranges([1, 2, 3, 7, 8]) == [[1, 3], [7, 8]]
        and _ranges([5]) == [[5, 5]]
    )
    assert _ranges([1, 3, 4]) == [[1, 1], [3, 4]]
    assert read_sessions(tmp_path) == []
    (tmp_path / "sessions.jsonl").write_text('{"event": "start"}\n{"event": "end", "exe')
    assert read_sessions(tmp_path) == [{"event": "start"}]


def test_optimizer_state_flattens_and_back():
    from training.resume import _jsonable, _tupled, flat_to_optimizer, optimizer_to_flat

    p = torch.nn.Parameter(torch.ones(2, 2))
    opt = torch.optim.AdamW([p], lr=0.1, betas=(0.8, 0.9))
    p.grad = torch.full((2, 2), 0.5)
    opt.step()
    tensors, groups = optimizer_to_flat(opt)
    assert set(tensors) == {"0.step", "0.exp_avg", "0.exp_avg_sq"}
    assert torch.equal(tensors["0.exp_avg"], torch.full((2, 2), 0.1))  # (1 − 0.8)·0.5
    groups = json.loads(json.dumps(groups))  # as stored: betas a list
    sd = flat_to_optimizer(tensors, groups)
    assert sd["param_groups"][0]["betas"] == (0.8, 0.9) and set(sd["state"]) == {0}
    fresh = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2, 2))], lr=0.1)
    fresh.load_state_dict(sd)
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg_sq"], opt.state_dict()["state"][0]["exp_avg_sq"]
    )
    state = (3, (1, 2, (4,)), None)
    assert _jsonable(state) == [3, [1, 2, [4]], None] and _tupled(_jsonable(state)) == state


def test_measure_peak_flops_is_a_plausible_rate():
    from training.pretrain import measure_peak_flops

    peak = measure_peak_flops(torch.device("cpu"), seconds=0.05)
    assert 1e7 < peak < 1e14


def _task(seed=0, n=24, T=8, V=16):
    from training.data.blocks import task_data

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(2, V, (n, T), generator=g)
    ex = torch.randint(2, V, (8, T), generator=g)
    y, ey = x.clone(), ex.clone()  # predict the token itself: learnable in a few steps
    y[:, ::2] = -100
    ey[:, ::2] = -100
    return task_data(x, y, ex, ey)


def _student(seed=0):
    return _tiny_lm(vocab=16, n_ctx=8, seed=seed)


def _cfg(**kw):
    from training.presets import TrainConfig

    base = dict(
        steps=6,
        micro_batch=4,
        lr=1e-2,
        warmup_steps=2,
        eval_interval=3,
        ckpt_interval=4,
        log_interval=2,
    )
    return TrainConfig(**{**base, **kw})


def _run(tmp, **kw):
    from training.pretrain import pretrain

    model = kw.pop("model", None) or _student()
    cfg = kw.pop("cfg", None) or _cfg()
    return pretrain(
        model,
        kw.pop("data", None) or _task(),
        cfg,
        tmp,
        progress=False,
        measure_mfu=kw.pop("measure_mfu", False),
        **kw,
    )


def test_evaluate_is_the_mean_cross_entropy_of_the_scored_tokens():
    from accelerate import Accelerator

    from training.pretrain import evaluate

    data = _task()
    model = _student()
    model.train()
    acc = Accelerator(cpu=True)
    got = evaluate(model, data.eval, acc, 3, data.eval_labels)
    assert model.training
    with torch.no_grad():
        logits = model(input_ids=data.eval[:, :-1]).logits
    want = torch.nn.functional.cross_entropy(logits.reshape(-1, 16), data.eval_labels.reshape(-1))
    assert got == pytest.approx(float(want), rel=1e-5)
    assert evaluate(model, data.eval, acc, 100, data.eval_labels) == pytest.approx(got, rel=1e-6)
    lm = torch.nn.functional.cross_entropy(logits.reshape(-1, 16), data.eval[:, 1:].reshape(-1))
    assert evaluate(model, data.eval, acc, 5) == pytest.approx(float(lm), rel=1e-5)


def test_pretrain_logs_evaluates_checkpoints_and_records_its_session(tmp_path):
    from training.resume import RESUME, read_sessions

    s = _run(tmp_path / "run")
    rows = store.read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [0, 2, 3, 4, 6]
    assert set(rows[0]) == {"step", "tokens", "eval_loss"} and rows[0]["tokens"] == 0
    assert rows[0]["eval_loss"] > rows[-1]["eval_loss"]
    assert "eval_loss" in rows[2] and "eval_loss" not in rows[1] and "eval_loss" in rows[4]
    assert [r["tokens"] for r in rows[1:]] == [
        2 * 32,
        3 * 32,
        4 * 32,
        6 * 32,
    ]  # 4 blocks × 8 tokens a step
    assert rows[1]["lr"] == pytest.approx(1e-2) and rows[-1]["lr"] == pytest.approx(1e-2 * lr_at(5))
    assert all("mfu" not in r for r in rows) and all(r["grad_norm"] > 0 for r in rows[1:])
    assert all(r["tokens_per_s"] > 0 and r["elapsed_s"] >= 0 for r in rows[1:])
    assert s["step"] == 6 and s["done"] is True and s["global_batch"] == 4 and s["world_size"] == 1
    assert s["eval_loss"] == rows[-1]["eval_loss"] and s["loss"] == rows[-1]["loss"]
    assert s["flops_per_token"] > 0 and math.isnan(s["peak_flops"]) and s["params"]["params"] > 0
    assert (
        isinstance(s["model"], torch.nn.Module) and s["model"].training
    )  # the trained model, in train mode
    assert store.verify(tmp_path / "run" / RESUME)["kind"] == "resume"
    assert store.read_manifest(tmp_path / "run" / RESUME)["step"] == 6
    state = json.loads((tmp_path / "run" / RESUME / "state.json").read_text())
    assert state["step"] == 6 and state["world_size"] == 1 and state["train_config"]["steps"] == 6
    assert (tmp_path / "run" / RESUME / "rng-0.safetensors").is_file()
    assert not list((tmp_path / "run").glob(".rng-*"))
    assert read_sessions(tmp_path / "run") == [
        {"event": "start", "resumed_from": 0, "target": 6},
        {"event": "end", "executed": [[1, 6]], "final_step": 6},
    ]
    # a finished run called again: nothing is recomputed, the summary says how it ended
    again = _run(tmp_path / "run")
    assert again["done"] is True and again["step"] == 6 and again["loss"] == s["loss"]
    assert again["eval_loss"] == pytest.approx(s["eval_loss"], abs=1e-4)
    assert read_sessions(tmp_path / "run")[2:] == [
        {"event": "start", "resumed_from": 6, "target": 6},
        {"event": "end", "executed": [], "final_step": 6},
    ]
    assert [r["step"] for r in store.read_metrics(tmp_path / "run")] == [0, 2, 3, 4, 6]


def lr_at(step):
    from training.pretrain import lr_lambda

    return lr_lambda(_cfg())(step)


def test_a_killed_run_resumes_exactly(tmp_path):
    from training.resume import read_sessions

    full = _run(tmp_path / "full")
    part = _run(tmp_path / "part", stop_after=5)
    assert part["step"] == 5 and part["done"] is False
    rest = _run(tmp_path / "part")
    assert read_sessions(tmp_path / "part")[-2:] == [
        {"event": "start", "resumed_from": 4, "target": 6},
        {"event": "end", "executed": [[5, 6]], "final_step": 6},
    ]
    assert (
        len(store.read_metrics(tmp_path / "part"))
        == len(store.read_metrics(tmp_path / "full"))
        == 5
    )
    assert store.read_metrics(tmp_path / "part") == [
        {k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")}
        | {k: r2[k] for k in ("tokens_per_s", "elapsed_s") if k in r2}
        for r, r2 in zip(
            store.read_metrics(tmp_path / "full"), store.read_metrics(tmp_path / "part")
        )
    ]
    for (k, a), b in zip(full["model"].state_dict().items(), rest["model"].state_dict().values()):
        assert torch.equal(a, b), k
    fresh = _run(
        tmp_path / "part", resume=False, cfg=_cfg(steps=2, warmup_steps=1)
    )  # resume=False starts over
    assert read_sessions(tmp_path / "part")[-2]["resumed_from"] == 0 and fresh["step"] == 2


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    one = _run(tmp_path / "a", cfg=_cfg(steps=3, ckpt_interval=0))
    two = _run(tmp_path / "b", cfg=_cfg(steps=3, ckpt_interval=0, micro_batch=2, grad_accum=2))
    assert two["global_batch"] == 4 and two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    for a, b in zip(one["model"].parameters(), two["model"].parameters()):
        assert torch.allclose(a, b, atol=1e-5)
    # ckpt_interval 0: only the last step is checkpointed
    assert json.loads((tmp_path / "a" / "resume" / "state.json").read_text())["step"] == 3


def test_clipping_distillation_hooks_and_time_limit(tmp_path):
    from training.losses import Distillation

    start = _student()
    moved = {}
    for clip in (0.0, 1e-12):
        s = _run(
            tmp_path / f"clip{clip}",
            model=_student(),
            cfg=_cfg(steps=2, grad_clip=clip, ckpt_interval=0),
        )
        moved[clip] = sum(
            float((a - b).abs().sum()) for a, b in zip(s["model"].parameters(), start.parameters())
        )
    assert moved[1e-12] < moved[0.0] / 10  # a tiny max norm shrinks the gradients below Adam's eps

    # a teacher identical to the student: the distillation loss starts at 0 (alpha = 1)
    cfg = _cfg(steps=1, warmup_steps=1, log_interval=1, ckpt_interval=0)
    s = _run(tmp_path / "kd", model=_student(), cfg=cfg, loss_hook=Distillation(_student(), 2.0))
    assert s["loss"] == pytest.approx(0.0, abs=1e-6) and s["eval_loss"] > 0.5
    s = _run(
        tmp_path / "kd0",
        model=_student(),
        cfg=cfg,
        loss_hook=Distillation(_student(seed=1), alpha=0),
    )
    plain = _run(tmp_path / "plain", model=_student(), cfg=cfg)
    assert s["loss"] == pytest.approx(plain["loss"], rel=1e-5)
    for t, a in ((0.0, 1.0), (1.0, 1.5), (1.0, -0.1)):
        with pytest.raises(
            ValueError,
            match=re.escape(f"distill_temperature={t}, distill_alpha={a}: need a temperature > 0"),
        ):
            Distillation(_student(), t, a)

    seen = []

    def hook(model, record):
        seen.append((record["step"], model.training))
        record["step"] = -1  # a copy: the log keeps its own
        return {"acc": 0.5, "stop": record.get("eval_loss", 9) < 0 or len(seen) == 2}

    s = _run(tmp_path / "hook", eval_hook=hook, extra_evals={"same": _task().eval})
    assert seen == [(0, False), (3, False)] and s["step"] == 3 and s["done"] is False
    rows = store.read_metrics(tmp_path / "hook")
    assert (
        [r["step"] for r in rows] == [0, 2, 3] and rows[0]["acc"] == 0.5 and "stop" not in rows[0]
    )
    assert "stop" not in rows[-1] and rows[-1]["acc"] == 0.5
    assert (
        all("eval_loss/same" in r for r in (rows[0], rows[2])) and "eval_loss/same" not in rows[1]
    )
    assert json.loads((tmp_path / "hook" / "resume" / "state.json").read_text())["step"] == 3

    s = _run(tmp_path / "time", cfg=_cfg(max_time_s=1e-9, ckpt_interval=0))
    assert s["step"] == 1 and s["done"] is False and "eval_loss" in s
    assert json.loads((tmp_path / "time" / "resume" / "state.json").read_text())["step"] == 1


def test_mfu_is_logged_against_the_measured_peak(tmp_path):
    s = _run(
        tmp_path / "mfu",
        cfg=_cfg(steps=1, warmup_steps=1, log_interval=1, ckpt_interval=0),
        measure_mfu=True,
    )
    assert 0 < s["mfu"] < 1 and s["peak_flops"] > 1e7


def test_stream_completion_defaults_and_special_tokens(tokenizer):
    from training.tokenizer import PAD

    long = tokenizer(" la" * 80, add_special_tokens=False)["input_ids"]
    prompt = tokenizer("Ann", add_special_tokens=False)["input_ids"]
    model = Scripted(lambda s: long[len(s) - len(prompt)], n_ctx=512, vocab=len(tokenizer))
    texts = list(G.stream_completion(model, tokenizer, "Ann"))
    assert len(texts) == 64 and model.fed[:3] == [
        len(prompt),
        1,
        1,
    ]  # 64 tokens, the cache on, greedy
    assert texts[-1] == tokenizer.decode(long[:64])
    # a flat distribution: the default is greedy (token 0, the end of text: nothing), sampling draws others
    flat = Scripted(lambda s: 0, n_ctx=512, vocab=len(tokenizer))
    flat.forward = lambda input_ids, cache=None, use_cache=True: SimpleNamespace(
        logits=torch.zeros(1, input_ids.shape[1], len(tokenizer)), cache=None
    )
    pad = tokenizer.convert_tokens_to_ids(PAD)
    assert tokenizer.decode([pad] * 5, skip_special_tokens=True) == ""
    greedy = G.complete(flat, tokenizer, "Ann", max_new_tokens=5)
    assert greedy == tokenizer.decode([0] * 5, skip_special_tokens=True)
    assert G.complete(
        flat, tokenizer, "Ann", max_new_tokens=20, temperature=1.0
    ) != tokenizer.decode([0] * 20)
    a = G.complete(flat, tokenizer, "Ann", max_new_tokens=20, temperature=1.0, seed=1)
    assert a != G.complete(flat, tokenizer, "Ann", max_new_tokens=20, temperature=1.0, seed=2)
    assert a == G.complete(flat, tokenizer, "Ann", max_new_tokens=20, temperature=1.0, seed=1)
    # special tokens the model emits are not shown; "Ann" is one word, not preceded by any special token
    padded = Scripted(lambda s: pad if len(s) - len(prompt) < 2 else long[0], vocab=len(tokenizer))
    assert G.complete(padded, tokenizer, "Ann", max_new_tokens=3) == tokenizer.decode(long[:1])


def test_respond_hides_special_tokens_and_the_samples_are_exact(tokenizer, world):
    from training.data.world import ATTRIBUTES
    from training.sft.evaluate import few_shot_messages, qa_sample, respond
    from training.tokenizer import END, PAD

    pad, end = tokenizer.convert_tokens_to_ids(PAD), tokenizer.convert_tokens_to_ids(END)
    word = tokenizer("Paris", add_special_tokens=False)["input_ids"]
    script = [pad] + word + [end]
    prompt_len = {}

    def answer(seen):
        k = len(seen) - prompt_len.setdefault("n", len(seen))
        return script[k]

    m = Scripted(answer, n_ctx=512, vocab=len(tokenizer))
    assert respond(m, tokenizer, [{"role": "user", "content": "Where?"}]) == ("Paris", True)
    assert len(few_shot_messages(world)) == 6  # 3 shots by default
    held = [p for p in world.people if p.split == "heldout"]
    sft = [p for p in world.people if p.split == "sft"]
    assert {i.person_id for i in qa_sample(world, "sft")} == {p.id for p in sft}
    assert qa_sample(world, "heldout", n_people=2) == qa_sample(
        world, "heldout", n_people=2, seed=0
    )
    assert qa_sample(world, "heldout", n_people=len(held)) == qa_sample(world, "heldout")
    for seed in range(6):
        ids = [
            i.person_id
            for i in qa_sample(world, "heldout", n_people=len(held) - 1, seed=seed)[
                :: len(ATTRIBUTES)
            ]
        ]
        assert len(set(ids)) == len(held) - 1


def test_score_two_words_and_the_default_examples(tokenizer):
    from training.sft.evaluate import evaluate_qa, score

    assert score("Born there.", True, _item("Paris", "x"))["compliant"]
    assert not score("There.", True, _item("Paris", "x"))["compliant"]
    items = [_item("Paris", "A was born in Paris.", question=f"Q{i}?") for i in range(7)]
    model = _oracle(tokenizer, {f"Q{i}?": "A was born in Paris." for i in range(7)})
    r = evaluate_qa(model, tokenizer, items)
    assert len(r["examples"]) == 6 and r["accuracy"] == 1.0 and r["n"] == 7
    with pytest.raises(ValueError, match="^no questions to evaluate$"):
        evaluate_qa(model, tokenizer, [])


def test_pretrain_defaults_show_progress_measure_mfu_and_distil_at_two(tmp_path, capsys):
    from training.losses import Distillation
    from training.pretrain import pretrain

    cfg = _cfg(steps=1, warmup_steps=1, log_interval=1, ckpt_interval=0)
    s = pretrain(_student(), _task(), cfg, tmp_path / "d")
    assert "pretrain" in capsys.readouterr().err and s["mfu"] > 0  # a progress bar, MFU on
    teacher = _student(seed=3)
    two = _run(tmp_path / "t2", model=_student(), cfg=cfg, loss_hook=Distillation(teacher, 2.0))
    default = _run(tmp_path / "td", model=_student(), cfg=cfg, loss_hook=Distillation(teacher))
    one = _run(tmp_path / "t1", model=_student(), cfg=cfg, loss_hook=Distillation(teacher, 1.0))
    assert default["loss"] == two["loss"] != one["loss"]


def test_save_resume_into_a_new_directory_over_a_stale_stage(tmp_path):
    from accelerate import Accelerator

    from training.pretrain import lr_lambda, make_optimizer
    from training.resume import RESUME, load_resume, save_resume

    cfg = _cfg()
    model = _student()
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    run = tmp_path / "new" / "run"
    save_resume(run, Accelerator(cpu=True), model, opt, sched, 3, cfg)
    assert store.read_manifest(run / RESUME)["step"] == 3 and not (run / ".rng-3").exists()
    (run / ".rng-5").mkdir()  # left by a killed save
    save_resume(run, Accelerator(cpu=True), model, opt, sched, 5, cfg)
    assert store.read_manifest(run / RESUME)["step"] == 5 and not (run / ".rng-5").exists()
    assert load_resume(run / RESUME, _student(), make_optimizer(_student(), cfg), sched, 0) == 5
