"""Hub publishing (`training.hub`) and the pinned Hub fallback of the resolver, all offline.

The real upload path runs against a fake HfApi that keeps every committed file, so a fake
`snapshot_download` can serve exactly what was published; the one real-network path exercised is a
refused connection (HF_ENDPOINT pointing at a closed local port)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
import yaml
from huggingface_hub import CommitInfo

from training import hub, store
from training.hub import card as hub_card
from training.hub import commands as hub_commands

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "checkpoints" / "hub.json"
OID = "0123456789abcdef" * 2 + "01234567"  # 40 hex


def cli(
    *args: str, env: dict | None = None, home: Path | None = None
) -> subprocess.CompletedProcess:
    """`python -m training ...` with no token anywhere (unless `env` gives one) and the Hub endpoint
    at a closed local port: nothing can leave this machine."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN",
            "HF_TOKEN_PATH",
            "HF_OIDC_RESOURCE",
            "HF_HUB_OFFLINE",
        }
    }
    if home is not None:
        clean["HF_HOME"] = str(home)
    clean["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on return: connecting is refused


def pins_state() -> str | None:
    return PINS.read_text() if PINS.exists() else None


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a name or open a connection fails the test; no HfApi may be built."""

    def refuse(*a, **k):
        raise AssertionError(f"network used: {a[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(hub_commands, "_make_api", refuse)
    monkeypatch.setattr(hub_commands, "token", refuse)


class FakeHub:
    """Stands in for HfApi: records every call, keeps every commit's files under `root/<oid>/`."""

    def __init__(
        self,
        root: Path,
        remote: list[str] | None = None,
        fail: Exception | None = None,
        fail_on: str = "create_repo",
    ):
        self.root, self.remote, self.fail, self.fail_on = root, list(remote or []), fail, fail_on
        self.calls: list[tuple[str, tuple, dict]] = []
        self.commits = 0

    def _call(self, name, *a, **k):
        self.calls.append((name, a, k))
        if self.fail is not None and name == self.fail_on:
            raise self.fail

    def create_repo(self, repo_id, **k):
        self._call("create_repo", repo_id, **k)

    def list_repo_files(self, repo_id, **k):
        self._call("list_repo_files", repo_id, **k)
        return list(self.remote)

    def create_commit(self, repo_id, operations, **k):
        self._call("create_commit", repo_id, list(operations), **k)
        self.commits += 1
        oid = f"{self.commits:040x}" if self.commits > 1 else OID
        snap = self.root / oid
        for op in operations:
            if type(op).__name__ == "CommitOperationAdd":
                data = op.path_or_fileobj
                target = snap / op.path_in_repo
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data if isinstance(data, bytes) else Path(data).read_bytes())
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{oid}",
            commit_message=k["commit_message"],
            commit_description=k.get("commit_description") or "",
            oid=oid,
        )

    def named(self, name):
        return [c for c in self.calls if c[0] == name]


def manifest_files(folder: Path) -> dict[str, int]:
    m = store.read_manifest(folder)
    return {
        **{rel: (folder / rel).stat().st_size for rel in m["files"]},
        store.MANIFEST: (folder / store.MANIFEST).stat().st_size,
    }


# --- names ------------------------------------------------------------------------------------


def test_owner_rules_and_one_slug_per_app():
    for ok in ("alice", "Alice-Lab", "a.b_c-1", "x" * 96, "a"):
        assert hub.check_owner(ok) == ok
    for bad in (
        "",
        None,
        "x" * 97,
        "has space",
        "-lead",
        "trail-",
        ".dot",
        "a--b",
        "a..b",
        "a/b",
        "ünï",
    ):
        with pytest.raises(hub.HubError, match="owner"):
            hub.check_owner(bad)
    apps = sorted(p.parent.name for p in (ROOT / "spaces").glob("*/app.py"))
    assert sorted(hub.SPACE_SLUGS) == sorted([*apps, "suite"]), (
        "every app (and the suite) has exactly one Space"
    )
    assert len(set(hub.SPACE_SLUGS.values())) == len(hub.SPACE_SLUGS)
    assert hub.space_repo_id("alice", "scaling_explorer") == "alice/llm-lab-scaling-explorer"
    assert hub.model_repo_id("alice", "base") == "alice/world-base-cpu"
    from huggingface_hub.utils import validate_repo_id

    for app in hub.SPACE_SLUGS:
        validate_repo_id(hub.space_repo_id("x" * 96, app))
    for name in store.KNOWN:
        validate_repo_id(hub.model_repo_id("x" * 96, name))


def test_bad_owner_is_one_line():
    before = pins_state()
    r = cli("checkpoints", "publish", "base", "--owner", "bad owner!", "--dry-run")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(
        "error: --owner 'bad owner!': not a Hub name"
    ), r.stderr
    assert pins_state() == before


# --- checkpoints publish: the plan ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(store.KNOWN))
def test_checkpoint_dry_run_plan(name, no_network, capsys, tmp_path):
    folder = store.BUNDLED_DIR / store.KNOWN[name][1]
    # every known checkpoint ships in the repo: a missing one is a failure, not a skip
    assert (folder / store.MANIFEST).is_file(), f"{name} is not bundled: {folder}"
    pins = tmp_path / "hub.json"
    assert hub.publish_checkpoint(name, "alice", dry_run=True, pins=pins) == 0
    out = capsys.readouterr().out
    assert not pins.exists()
    plan = hub.plan_checkpoint(name, "alice", pins=pins)
    manifest = store.read_manifest(folder)
    expected = manifest_files(folder)
    assert (
        plan.repo_id == f"alice/{store.KNOWN[name][2].split('/')[1]}" and plan.repo_type == "model"
    )
    assert {u.path: u.size for u in plan.uploads} == {
        **expected,
        "README.md": len(plan.card.encode()),
    }
    assert plan.total == sum(expected.values()) + len(plan.card.encode())
    assert sorted(u.path for u in plan.lfs) == sorted(
        p for p in expected if p.endswith(".safetensors")
    )
    for u in plan.uploads:  # every file, its exact size, [LFS] where it is
        assert f"{u.size:>12,}  {u.path}{'  [LFS]' if u.lfs else ''}\n" in out
    assert f"alice/{store.KNOWN[name][2].split('/')[1]}" in out and "public" in out
    assert f'hub.json ["{name}"]' in out and "nothing uploaded" in out
    # the card: valid front matter, the rebuild command, every measured figure of the manifest
    front = yaml.safe_load(plan.card.split("---")[1])
    assert (
        front["license"] == "apache-2.0"
        and "datasets" not in front
        and "llm-training-lab" in front["tags"]
    )
    assert front.get("library_name") == {"base": "transformers", "sft": "peft", "dpo": "peft"}.get(
        name
    )
    assert store.BUILD_COMMANDS[name] in plan.card and plan.card in out.replace("\n    ", "\n")
    figures = manifest.get("metrics") or manifest.get("headline")
    for key, value in hub_card._flatten(figures) if figures else []:
        assert f"| {key} | {json.dumps(value)} |" in plan.card
    if not figures:
        assert "The measurements are in `results.json`" in plan.card
    if name == "base":
        for figure in (
            "| heldout_loss | 0.43817 |",
            "| born_in_accuracy | 0.998 |",
            "| params | 3639552 |",
        ):
            assert figure in plan.card
        assert '"n_layer": 4' in plan.card  # the preset's config
    if name == "sft":
        assert (
            "| heldout_accuracy.SFT | 0.83 |" in plan.card
            and "| heldout_compliance.SFT | 0.9983 |" in plan.card
        )


def test_checkpoint_dry_run_cli_needs_no_token(tmp_path):
    before = pins_state()
    r = cli(
        "checkpoints", "publish", "sft", "--owner", "alice", "--private", "--dry-run", home=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "model repo alice/world-sft-cpu (checkpoint sft): private" in r.stdout
    assert (
        f"{(store.BUNDLED_DIR / 'sft' / 'adapter_model.safetensors').stat().st_size:>12,}  "
        "adapter_model.safetensors  [LFS]" in r.stdout
    )
    assert "LFS (predicted): 1 files" in r.stdout and "| heldout_accuracy.SFT | 0.83 |" in r.stdout
    assert pins_state() == before


def test_tampered_checkpoint_refuses_to_publish(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "checkpoints"
    shutil.copytree(store.BUNDLED_DIR / "sft", bundle / "sft")
    monkeypatch.setattr(store, "BUNDLED_DIR", bundle)
    weights = bundle / "sft" / "adapter_model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-3] ^= 0x01
    weights.write_bytes(bytes(raw))
    fake, pins = FakeHub(tmp_path / "hub"), tmp_path / "hub.json"
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    for dry in (True, False):
        assert hub.publish_checkpoint("sft", "alice", dry_run=dry, api=fake, pins=pins) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1
        assert "adapter_model.safetensors: sha256 mismatch" in err and "refusing to publish" in err
    assert fake.calls == [] and not pins.exists()
    shutil.copy(store.REPO_ROOT / "checkpoints" / "sft" / "adapter_model.safetensors", weights)
    (bundle / "sft" / "tokenizer.json").unlink()
    assert hub.publish_checkpoint("sft", "alice", api=fake, pins=pins) == 2
    assert "tokenizer.json: missing" in capsys.readouterr().err and fake.calls == []


# --- checkpoints publish: the upload, the pin, and the resolver reading it --------------------


def fake_snapshot_download(served: Path, calls: list):
    """huggingface_hub.snapshot_download over the FakeHub's commits: `served/<revision>/`."""
    import fnmatch

    def snapshot_download(repo_id, revision=None, allow_patterns=None, **k):
        calls.append((repo_id, revision))
        src = served / str(revision)
        if not src.is_dir():
            raise httpx2.ConnectError("[Errno -2] Name or service not known")
        out = served.parent / "hf-cache" / repo_id.replace("/", "--") / str(revision)
        shutil.rmtree(out, ignore_errors=True)
        for f in src.rglob("*"):
            rel = f.relative_to(src).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns or ["*"]):
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, out / rel)
        return str(out)

    return snapshot_download


def test_publish_one_commit_pins_it_and_the_resolver_fetches_exactly_that(
    tmp_path, monkeypatch, capsys
):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", "hf_test")
    pins = tmp_path / "hub.json"
    fake = FakeHub(
        tmp_path / "hub", remote=[".gitattributes", "README.md", "model-00004-of-00004.safetensors"]
    )
    folder = store.BUNDLED_DIR / "base"
    assert hub.publish_checkpoint("base", "alice", api=fake, pins=pins) == 0
    out = capsys.readouterr().out
    assert f"committed as {OID}" in out and f"pinned 'base' to alice/world-base-cpu@{OID}" in out

    ((_, (repo,), kw),) = fake.named("create_repo")
    assert repo == "alice/world-base-cpu" and kw == {
        "repo_type": "model",
        "private": False,
        "exist_ok": True,
    }
    ((_, (repo, ops), kw),) = fake.named("create_commit")  # ONE commit
    assert repo == "alice/world-base-cpu" and kw["repo_type"] == "model"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert head and head in kw["commit_message"]
    adds = {
        op.path_in_repo: op.path_or_fileobj
        for op in ops
        if type(op).__name__ == "CommitOperationAdd"
    }
    deletes = [op.path_in_repo for op in ops if type(op).__name__ == "CommitOperationDelete"]
    assert deletes == [
        "model-00004-of-00004.safetensors"
    ]  # a stale shard goes; .gitattributes stays
    assert set(adds) == {*manifest_files(folder), "README.md"}
    for rel, data in adds.items():
        if rel != "README.md":
            assert data == (folder / rel).read_bytes(), (
                rel
            )  # the verified bytes are the uploaded bytes
    assert "| heldout_loss | 0.43817 |" in adds["README.md"].decode()

    pin = json.loads(pins.read_text())
    assert (
        set(pin) == {"base"}
        and pin["base"]["repo"] == "alice/world-base-cpu"
        and pin["base"]["revision"] == OID
    )
    assert pin["base"]["manifest_sha256"] == store.manifest_digest(store.read_manifest(folder))
    assert not list(tmp_path.glob(".hub.json.tmp-*"))  # written atomically, nothing left over

    # the resolver, with no bundled checkpoint: the pinned repo at the pinned commit, verified
    calls: list = []
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", fake_snapshot_download(tmp_path / "hub", calls)
    )
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "empty")
    monkeypatch.setattr(store, "HUB_PINS", pins)
    monkeypatch.delenv("LAB_BASE_CHECKPOINT", raising=False)
    got = store.resolve("base")
    assert calls == [("alice/world-base-cpu", OID)]
    assert store.verify(got)["metrics"]["heldout_loss"] == 0.43817
    assert not (got / "README.md").exists()  # only what the manifest's patterns allow

    # what comes from the Hub is checked before it is returned: a changed weight ...
    shard = tmp_path / "hub" / OID / "model-00002-of-00003.safetensors"
    raw = bytearray(shard.read_bytes())
    raw[100] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(
        store.CheckpointError,
        match=r"alice/world-base-cpu@0123456789ab \(pinned in .*\) failed "
        r"its check: .*model-00002-of-00003\.safetensors: sha256 mismatch",
    ):
        store.resolve("base")
    # ... and a self-consistent checkpoint that is not the one pinned (other files, matching manifest)
    shard.write_bytes((folder / shard.name).read_bytes())
    mf = tmp_path / "hub" / OID / store.MANIFEST
    m = json.loads(mf.read_text())
    (tmp_path / "hub" / OID / "extra.txt").write_text("x")
    m["files"]["extra.txt"] = store.sha256_file(tmp_path / "hub" / OID / "extra.txt")
    mf.write_text(json.dumps(m))
    with pytest.raises(store.CheckpointError, match="other files than were published and pinned"):
        store.resolve("base")


def test_resolver_without_a_pin_says_so(tmp_path, monkeypatch):
    import huggingface_hub

    calls: list = []
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", fake_snapshot_download(tmp_path / "hub", calls)
    )
    monkeypatch.setattr(store, "BUNDLED_DIR", tmp_path / "empty")
    monkeypatch.setattr(store, "HUB_PINS", tmp_path / "hub.json")
    monkeypatch.delenv("LAB_SFT_CHECKPOINT", raising=False)
    with pytest.raises(
        store.CheckpointError
    ) as e:  # no pin: the default repo at main, and it says so
        store.resolve("sft")
    assert calls == [(store.KNOWN["sft"][2], "main")]
    msg = str(e.value)
    assert "\n" not in msg and "could not be fetched (ConnectError)" in msg
    assert (
        f"{store.KNOWN['sft'][2]}@main (no revision pinned in" in msg
        and "checkpoints publish sft" in msg
    )
    # a pin must be an exact commit: a branch name is refused before anything is fetched
    (tmp_path / "hub.json").write_text(
        json.dumps({"sft": {"repo": "alice/world-sft-cpu", "revision": "main"}})
    )
    with pytest.raises(store.CheckpointError, match="revision 'main' is not a 40-hex commit"):
        store.resolve("sft")
    (tmp_path / "hub.json").write_text("{not json")
    with pytest.raises(store.CheckpointError, match="unreadable Hub pin file"):
        store.resolve("sft")
    assert len(calls) == 1
    # a pinned but unreachable repo: one line naming the pin
    (tmp_path / "hub.json").write_text(
        json.dumps({"sft": {"repo": "alice/world-sft-cpu", "revision": OID}})
    )
    with pytest.raises(
        store.CheckpointError,
        match=rf"alice/world-sft-cpu@{OID[:12]} \(pinned in .*could not be "
        r"fetched \(ConnectError\); offline\?",
    ):
        store.resolve("sft")
    assert calls[-1] == ("alice/world-sft-cpu", OID)
    with pytest.raises(store.CheckpointError, match="no 'sft' checkpoint: set LAB_SFT_CHECKPOINT"):
        store.resolve("sft", allow_hub=False)  # apps that never go to the Hub: unchanged


# --- failures: no token, no network -----------------------------------------------------------

PUBLISH = [("checkpoints", "publish", "base"), ("spaces", "publish", "all")]


@pytest.mark.parametrize("command", PUBLISH)
def test_missing_token_is_one_line_and_uploads_nothing(command, tmp_path):
    before = pins_state()
    r = cli(*command, "--owner", "alice", home=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: no Hugging Face token: set HF_TOKEN or run `hf auth login`\n"
    assert pins_state() == before


@pytest.mark.parametrize(
    "error, fail_on",
    [
        (httpx2.ConnectError("[Errno -2] Name or service not known"), "create_repo"),
        (httpx2.ReadTimeout("The read operation timed out"), "create_commit"),
        (ConnectionError("Connection reset by peer"), "list_repo_files"),
    ],
)
def test_network_failure_is_one_line_and_pins_nothing(
    error, fail_on, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    fake, pins = FakeHub(tmp_path / "hub", fail=error, fail_on=fail_on), tmp_path / "hub.json"
    assert hub.publish_checkpoint("sft", "alice", api=fake, pins=pins) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(
        f"error: the Hugging Face Hub could not be reached ({type(error).__name__}"
    )
    assert "alice/world-sft-cpu: nothing was committed, nothing pinned" in err
    assert not pins.exists() and not (tmp_path / "hub").exists()


@pytest.mark.parametrize(
    "command, repo",
    [
        (("checkpoints", "publish", "sft"), "alice/world-sft-cpu"),
        (("spaces", "publish", "scaling_explorer"), "alice/llm-lab-scaling-explorer"),
    ],
)
def test_refused_connection_through_the_real_client(command, repo, tmp_path):
    """The real HfApi (no fake): the endpoint is a closed local port, so the connection is refused."""
    before = pins_state()
    r = cli(*command, "--owner", "alice", env={"HF_TOKEN": "hf_test"}, home=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: the Hugging Face Hub could not be reached (ConnectError"), (
        r.stderr
    )
    assert f"{repo}: nothing was committed" in r.stderr
    assert pins_state() == before


@pytest.fixture
def local_hub():
    """A local HTTP server standing where the Hub would be, answering every request with one status."""
    import http.server
    import threading

    state = {"status": 401, "paths": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            state["paths"].append((self.command, self.path))
            body = json.dumps({"error": f"status {state['status']} from the stand-in Hub"}).encode()
            self.send_response(state["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = _answer

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "status, words",
    [
        (401, "the Hub refused the token (401) for alice/world-sft-cpu"),
        (403, "the token may not write to alice/world-sft-cpu (403)"),
        (400, "publishing alice/world-sft-cpu failed ("),
    ],
)
def test_http_errors_through_the_real_client_are_one_line(
    status, words, local_hub, tmp_path, monkeypatch, capsys
):
    from huggingface_hub import HfApi

    url, state = local_hub
    state["status"] = status
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    pins = tmp_path / "hub.json"
    assert (
        hub.publish_checkpoint("sft", "alice", api=HfApi(token="hf_test", endpoint=url), pins=pins)
        == 2
    )
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and words in err, err
    assert state["paths"][0] == ("POST", "/api/repos/create") and not pins.exists()


# --- spaces publish -------------------------------------------------------------------------

APPS = ["architectures", "parallelism", "scaling_explorer", "sft_transformation"]


def stand_in_deploy(src: Path, built: list):
    """The interface of training.deploy (build / build_all / app_names) over a stand-in bundle:
    app.py, README.md card, requirements, shared/, a real bundled checkpoint, .gitattributes and
    one large file, plus a __pycache__ that must not be uploaded."""
    (src / "shared").mkdir(parents=True)
    (src / "app.py").write_text("import gradio as gr\n")
    (src / "README.md").write_text("---\ntitle: T\nsdk: gradio\napp_file: app.py\n---\n")
    (src / "requirements.txt").write_text("gradio\n")
    (src / "shared" / "ui.py").write_text("X = 1\n")
    (src / ".gitattributes").write_text(
        "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
        "*.bigtxt filter=lfs diff=lfs merge=lfs -text\n"
    )
    (src / "data.bigtxt").write_text("a" * 1000)
    (src / "blob.dat").write_bytes(b"\x00\x01" * 10)  # binary: the Hub takes it through LFS
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00")
    shutil.copytree(store.BUNDLED_DIR / "sft", src / "checkpoints" / "sft")

    def build(name, out):
        built.append(name)
        shutil.copytree(src, out)
        return SimpleNamespace(name=name, out=Path(out), files={}, card={"title": name})

    def build_all(out):
        return [build(n, Path(out) / n) for n in [*APPS, "suite"]]

    return SimpleNamespace(build=build, build_all=build_all, app_names=lambda: list(APPS))


def test_space_dry_run_plans_every_file(tmp_path, monkeypatch, no_network, capsys):
    built: list = []
    monkeypatch.setattr(
        hub_commands, "_deploy", lambda: stand_in_deploy(tmp_path / "bundle", built)
    )
    args = argparse.Namespace(app="all", owner="alice", private=True, dry_run=True)
    assert hub.publish_spaces(args) == 0
    out = capsys.readouterr().out
    assert built == [*APPS, "suite"]
    src = tmp_path / "bundle"
    on_disk = {
        p.relative_to(src).as_posix(): p.stat().st_size
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    plan = hub.plan_space(src, "alice", "suite", private=True)
    assert {u.path: u.size for u in plan.uploads} == on_disk and plan.total == sum(on_disk.values())
    assert sorted(u.path for u in plan.lfs) == [
        "blob.dat",
        "checkpoints/sft/adapter_model.safetensors",
        "data.bigtxt",
    ]
    assert plan.skipped == ["__pycache__/app.cpython-311.pyc"]
    for app in [*APPS, "suite"]:
        assert f"Space alice/{hub.SPACE_SLUGS[app]} (app {app}): private" in out
    for rel, size in on_disk.items():
        assert out.count(f"{size:>12,}  {rel}") == 5
    assert out.count(f"{plan.total:>12,}  total: {len(on_disk)} files") == 5
    assert "LFS (predicted): 3 files" in out and "nothing uploaded, no network used" in out


def test_space_publish_one_commit_each(tmp_path, monkeypatch, capsys):
    built: list = []
    monkeypatch.setattr(
        hub_commands, "_deploy", lambda: stand_in_deploy(tmp_path / "bundle", built)
    )
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    fake = FakeHub(tmp_path / "hub", remote=["old.py", ".gitattributes"])
    assert (
        hub.publish_spaces(
            argparse.Namespace(app="parallelism", owner="alice", private=False, dry_run=False),
            api=fake,
        )
        == 0
    )
    assert built == ["parallelism"]
    ((_, (repo,), kw),) = fake.named("create_repo")
    assert repo == "alice/llm-lab-parallelism"
    assert kw == {"repo_type": "space", "private": False, "exist_ok": True, "space_sdk": "gradio"}
    ((_, (repo, ops), kw),) = fake.named("create_commit")
    assert kw["repo_type"] == "space" and "llm-training-lab" in kw["commit_message"]
    assert kw["commit_message"].endswith(
        hub.git_version()
    )  # the project's commit, "(dirty)" if it is
    assert [op.path_in_repo for op in ops if type(op).__name__ == "CommitOperationDelete"] == [
        "old.py"
    ]
    snap = tmp_path / "hub" / OID
    src = tmp_path / "bundle"
    assert sorted(p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file()) == sorted(
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert "alice/llm-lab-parallelism: " in capsys.readouterr().out


def test_space_publish_refusals_are_one_line(tmp_path, monkeypatch, capsys):
    built: list = []
    deploy = stand_in_deploy(tmp_path / "bundle", built)
    monkeypatch.setattr(hub_commands, "_deploy", lambda: deploy)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    fake = FakeHub(tmp_path / "hub")
    cases = [
        (argparse.Namespace(app="all", owner="alice", private=False, dry_run=False), hub.NO_TOKEN),
        (
            argparse.Namespace(app="all", owner="a--b", private=False, dry_run=True),
            "--owner 'a--b'",
        ),
        (
            argparse.Namespace(app="all", owner=None, private=False, dry_run=True),
            "--owner is required",
        ),
        (
            argparse.Namespace(app="nope", owner="alice", private=False, dry_run=True),
            "unknown app 'nope'",
        ),
    ]
    for args, words in cases:
        assert hub.publish_spaces(args, api=fake) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and words in err, err
    assert built == [] and fake.calls == []  # refused before building or uploading
    # a bundle whose checkpoint fails its manifest is never uploaded
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    stand_in_deploy(tmp_path / "b2", [])
    (tmp_path / "b2" / "checkpoints" / "sft" / "results.json").write_text("{}")
    with pytest.raises(store.CheckpointError, match="results.json: sha256 mismatch"):
        hub.plan_space(tmp_path / "b2", "alice", "suite")


def test_real_bundles_dry_run(tmp_path):
    from training import deploy

    assert set(deploy.app_names()) | {"suite"} <= set(hub.SPACE_SLUGS), "a Space slug for every app"
    r = cli("spaces", "publish", "all", "--owner", "alice", "--dry-run", home=tmp_path)
    assert r.returncode == 0, r.stderr
    for slug in hub.SPACE_SLUGS.values():
        assert f"Space alice/{slug} " in r.stdout
    assert "no network used" in r.stdout
