"""Space bundles (`python -m training spaces build`): each holds what its app imports and reads —
checked against facts found independently of training/deploy/ (a regex over the bundled code,
what the apps' code says they read) — cards and requirements the Hub accepts, byte-identical
rebuilds, and every bundle (each app and the suite) served ALONE from a directory outside the repo,
called through gradio_client and opened in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests import browser_util
from tests.conftest import _serve
from training import deploy, store
from training.deploy import card as deploy_card

ROOT = Path(__file__).resolve().parent.parent
BUNDLES = deploy.app_names() + ["suite"]
CALL_TIMEOUT_S = 180
GENERATED = {"app.py", "README.md", "requirements.txt", ".gitattributes"}

# What each app reads, from reading its code (not from the bundler); a new app adds its line here.
READS = {
    # the sweep's results.json and, for the live micro-run, the sweep's own tokenizer; no base
    # model; the data-mixture lab's results.json
    "scaling_explorer": {"sweep", "mixture"},
    # the bundled LoRA adapters only load on top of the base they were trained on (DPO's on top of
    # the base with SFT's merged)
    "sft_transformation": {"base", "sft", "dpo"},
    # the real runs' results only
    "parallelism": {"parallel"},
    # two labs' results; a live stability run packs the world corpus with the base model's
    # tokenizer (training.data.blocks.bundled_world)
    "training_at_scale": {"stability", "inference", "base"},
    # results.json and the recall probe's MQAR models, both in checkpoints/architectures
    "architectures": {"architectures"},
}
READS["suite"] = set().union(*READS.values(), {"base"})  # + the suite's own "Base model" page
# One action per bundle beyond first paint: (api_name, args, a check of the result); optional.
ACTIONS = {
    "scaling_explorer": (
        "/optimal",
        (math.log10(5.76e23),),
        lambda out: any(str(r[0]).startswith("our lab fit") for r in _rows(out[0])),
    ),
    "sft_transformation": (
        "/compare",
        ("Hello", ["sft"], 4, 0.0),
        lambda out: bool(out[1].strip()),
    ),
    "parallelism": (
        "/zero",
        (7.5, 64, 2, 2, 12, 100),
        lambda out: [r[1] for r in _rows(out[2])] == ["120.00", "31.41", "16.64", "1.88"],
    ),
    "architectures": ("/probe", ("A=3, B=11, C=5 ? B", 0), lambda out: len(_rows(out[0])) == 3),
    "training_at_scale": (  # GPT-3's model states (2.8 TB) on 32 GB V100s
        "/scale",
        (math.log10(175e9), math.log10(300e9), "V100", 21.3, 1.5, 1024),
        lambda out: ["GPUs needed just to hold them (ZeRO-3 / FSDP)", "≥ 88"] in _rows(out[0]),
    ),
    "suite": ("/complete", ("He was born in", 4, 0.0, 0, 0), lambda out: bool(out.strip())),
}
MISSING_DATA = ("build them with", "no base checkpoint", "build one with", "could not be loaded")


def _rows(table):
    return table["data"] if isinstance(table, dict) else table


def _model_repo(name: str) -> str:
    """Where checkpoint `name` lives on the Hub: its published repo pinned in checkpoints/hub.json,
    else store.KNOWN's default repo id."""
    pins = ROOT / "checkpoints" / "hub.json"
    pinned = json.loads(pins.read_text()).get(name) if pins.is_file() else None
    return pinned["repo"] if pinned else store.KNOWN[name][2]


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _front(bundle: Path) -> dict:
    text = (bundle / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Every bundle, built once into a directory outside the repo."""
    out = tmp_path_factory.mktemp("spaces") / "all"
    reports = deploy.build_all(out)
    assert [r.name for r in reports] == BUNDLES
    return out


# ---------------------------------------------------------------- what is in each bundle
_FROM = re.compile(r"^\s*from\s+(\.*)([\w.]*)\s+import\s+(\([^)]*\)|[^\n#]+)", re.MULTILINE)
_IMPORT = re.compile(r"^\s*import\s+([\w., ]+)", re.MULTILINE)


def _needed_files(py: Path, rel: str) -> set[str]:
    """Repo files a bundled .py file imports, by regex (independent of deploy's AST walk)."""
    text = py.read_text()
    package = (
        rel.rsplit("/", 1)[0].replace("/", ".")
        if "/" in rel and rel.split("/")[0] in deploy.PACKAGES
        else ""
    )
    targets = [
        m.split(" as ")[0].strip() for line in _IMPORT.findall(text) for m in line.split(",")
    ]
    for dots, module, names in _FROM.findall(text):
        if dots:
            module = ".".join(
                package.split(".")[: len(package.split(".")) - len(dots) + 1]
                + ([module] if module else [])
            )
        targets.append(module)
        targets += [
            f"{module}.{n.split(' as ')[0].strip()}"
            for n in names.strip("()").replace("\n", " ").split(",")
            if n.strip()
        ]
    need = set()
    for target in targets:
        parts = target.split(".")
        if parts[0] not in deploy.PACKAGES:
            continue
        for i in range(1, len(parts) + 1):
            stem = "/".join(parts[:i])
            need |= {f for f in (f"{stem}.py", f"{stem}/__init__.py") if (ROOT / f).is_file()}
    return need


def test_bundles_hold_what_the_code_imports(built):
    for name in BUNDLES:
        b = built / name
        files = set(_hashes(b))
        for rel in [f for f in files if f.endswith(".py")]:
            missing = _needed_files(b / rel, rel) - files
            assert not missing, f"{name}: {rel} imports {sorted(missing)}, not in the bundle"
        for rel in [
            f for f in files if f.split("/")[0] in deploy.PACKAGES
        ]:  # copied bytes, not rewritten
            assert (b / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
        assert "training/cli.py" not in files
        assert not any(f.startswith(("training/deploy", "training/hub")) for f in files), name
        assert not any(f.startswith("tests/") for f in files)
    scaling = set(_hashes(built / "scaling_explorer"))
    assert {
        "shared/scaling.py",
        "training/sweep/__init__.py",
        "training/sweep/results.py",
    } <= scaling
    assert not any(f.startswith(("training/sft/", "training/parallel/")) for f in scaling)
    sft = set(_hashes(built / "sft_transformation"))
    assert {
        "training/sft/lab.py",
        "training/sft/train.py",
    } <= sft and not any(f.startswith("training/sweep/") for f in sft)
    # started as `python -m training.parallel.<kind>.run` by the launcher: a string, not an import
    runs = {
        f"training/parallel/{d.name}/run.py"
        for d in (ROOT / "training/parallel").iterdir()
        if (d / "run.py").is_file()
    }
    assert len(runs) == 4 and runs <= set(_hashes(built / "parallelism"))


def test_bundles_hold_the_checkpoints_the_code_reads(built):
    for name in BUNDLES:
        b = built / name
        bundled = (
            {p.name for p in (b / "checkpoints").iterdir()}
            if (b / "checkpoints").is_dir()
            else set()
        )
        assert bundled == {store.KNOWN[n][1] for n in READS[name]}, name
        for (
            sub
        ) in bundled:  # each with its manifest, every hash intact, the same bytes as the repo's
            manifest = store.verify(b / "checkpoints" / sub)
            for rel in [store.MANIFEST, *manifest["files"]]:
                assert (b / "checkpoints" / sub / rel).read_bytes() == (
                    store.BUNDLED_DIR / sub / rel
                ).read_bytes()
        for py in b.glob("**/app.py"):  # every literal the app files name is bundled
            for lit in re.findall(r"(?:read_results|resolve)\(\s*\"(\w+)\"", py.read_text()):
                assert store.KNOWN[lit][1] in bundled, f"{name}: {py.name} reads {lit!r}"
        assert _front(b)["models"] == sorted(_model_repo(n) for n in READS[name])
    suite = set(_hashes(built / "suite"))
    for name in deploy.app_names():
        app = set(_hashes(built / name)) - GENERATED
        assert app <= suite, f"the suite misses {sorted(app - suite)} of {name}"
        assert (built / "suite" / "spaces" / name / "app.py").read_bytes() == (
            ROOT / "spaces" / name / "app.py"
        ).read_bytes()


# ---------------------------------------------------------------- cards, requirements, rebuilds
def test_cards_are_validated_before_anything_is_written(built, tmp_path, monkeypatch):
    gradio = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("gradio==")
    )
    for name in BUNDLES:
        card = _front(built / name)
        assert (
            card["sdk"] == "gradio"
            and card["sdk_version"] == gradio
            and card["app_file"] == "app.py"
        )
        assert (
            len(card["short_description"]) <= 60 and card["suggested_hardware"] and card["license"]
        )
        assert isinstance(card["python_version"], str) and card["tags"] and card["title"]
    for name in ("parallelism", "training_at_scale"):  # each app's own text, the fifth too
        body = (ROOT / f"spaces/{name}/README.md").read_text().split("---\n", 2)[2]
        assert (built / f"{name}/README.md").read_text().endswith(body), name
    assert _front(built / "training_at_scale")["title"] == "Training at Scale"

    good = deploy.make_card("scaling_explorer", ["sweep"])
    for key, value, word in (
        ("short_description", "x" * 61, "short_description"),
        ("sdk_version", "5.0.0", "sdk_version"),
        ("suggested_hardware", "a-laptop", "suggested_hardware"),
    ):
        with pytest.raises(ValueError) as e:
            deploy.validate_card({**good, key: value}, "scaling_explorer")
        assert word in str(e.value) and "\n" not in str(e.value), str(e.value)
    deploy.validate_card({**good, "short_description": "x" * 60}, "scaling_explorer")

    monkeypatch.setattr(
        deploy_card, "source_card", lambda name: {**good, "short_description": "y" * 61}
    )
    out = tmp_path / "never"
    with pytest.raises(ValueError, match="short_description: 61 characters"):
        deploy.build("scaling_explorer", out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_requirements_pin_cpu_torch_and_lfs_tracks_binaries(built):
    repo = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in BUNDLES:
        lines = [
            x
            for x in (built / name / "requirements.txt").read_text().splitlines()
            if x and not x.startswith("#")
        ]
        assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
        assert [x for x in lines if x.startswith("torch")] == [f"torch=={repo['torch']}+cpu"]
        pinned = dict(x.split("==") for x in lines if "==" in x)
        assert pinned["gradio"] == _front(built / name)["sdk_version"]
        assert {k: v for k, v in pinned.items() if k != "torch"} == {
            k: v for k, v in repo.items() if k != "torch"
        }
        attrs = (built / name / ".gitattributes").read_text()
        assert "*.safetensors filter=lfs diff=lfs merge=lfs -text" in attrs.splitlines()
        patterns = [x.split()[0] for x in attrs.splitlines() if "filter=lfs" in x]
        for p in (built / name).rglob("*"):
            if p.is_file() and b"\0" in p.read_bytes()[:8192]:  # a binary file goes through LFS
                assert any(p.match(pat) for pat in patterns), p


def test_rebuilds_are_byte_identical_and_out_is_checked(built, tmp_path, capsys):
    from training.cli import main

    before = _hashes(built)
    deploy.build_all(built)  # over the previous build: allowed, and the same bytes
    assert _hashes(built) == before
    one = tmp_path / "one"
    deploy.build("sft_transformation", one)
    assert _hashes(one) == {
        k.split("/", 1)[1]: v for k, v in before.items() if k.startswith("sft_transformation/")
    }

    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    for argv, word in (
        (["spaces", "build", "nope", "--out", str(tmp_path / "x")], "unknown app 'nope'"),
        (["spaces", "build", "suite"], "--out"),
        (["spaces", "build", "suite", "--out", str(stray)], "not a Space bundle"),
        (["spaces", "build", "all", "--out", str(one)], "not a Space bundle"),
        (
            ["spaces", "build", "suite", "--out", str(ROOT / "training" / "x")],
            "inside the lab's sources",
        ),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert word in err and err.count("\n") == 1, err
    assert (stray / "notes.txt").read_text() == "mine" and not (tmp_path / "x").exists()
    assert main(["spaces", "build", "scaling_explorer", "--out", str(tmp_path / "s")]) == 0
    report = capsys.readouterr().out
    assert "scaling_explorer" in report and "checkpoints" in report and "bytes" in report


# ---------------------------------------------------------------- every bundle runs alone
def _alone_env(tmp: Path) -> dict[str, str | None]:
    """The environment of a fresh machine (over this one's): no PYTHONPATH, no LAB_* overrides, no Hub."""
    return {
        "PYTHONPATH": None,
        **{k: None for k in os.environ if k.startswith("LAB_")},
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp / "hf"),
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
    }


ISOLATION = """
import importlib, importlib.util, pathlib, sys
here = pathlib.Path.cwd().resolve()
import training, shared
assert pathlib.Path(training.__file__).resolve().is_relative_to(here), training.__file__
for gone in ("training.deploy", "tests", "tests.conftest"):
    try:
        importlib.import_module(gone)
    except ImportError:
        continue
    raise SystemExit(f"{gone} is importable from the bundle")
for py in sorted(p for top in ("shared", "training", "tabs") for p in here.glob(f"{top}/**/*.py")):
    name = ".".join(py.relative_to(here).with_suffix("").parts).removesuffix(".__init__")
    spec = importlib.util.find_spec(name)
    assert spec and pathlib.Path(spec.origin).resolve() == py.resolve(), name
print("isolated")
"""


@contextmanager
def _serve_alone(bundle: Path, tmp: Path):
    """`python -E -s -B app.py` in the bundle (the script's directory on sys.path, as on a Space;
    -E/-s: no PYTHONPATH, no user site; -B: no .pyc written into the bundle) on a free port;
    yields (its URL, its log)."""
    log = tmp / "app.log"
    server = _serve(_alone_env(tmp), log, cwd=bundle, python_flags=("-E", "-s", "-B"))
    url, _ = next(server)
    try:
        yield url, log
    finally:
        server.close()


def _first_paint(url: str, client) -> dict[str, object]:
    """Every endpoint the page runs on load (and what those loads chain to), called with the
    page's defaults; {api_name: output}."""
    with urllib.request.urlopen(url + "config", timeout=10) as r:
        deps = json.load(r)["dependencies"]
    on_load = {d["id"] for d in deps if any(t[1] == "load" for t in d["targets"])}
    on_load |= {d["id"] for d in deps if d.get("trigger_after") in on_load}
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    outputs = {}
    for d in deps:
        ep = api.get(f"/{d['api_name']}")
        if d["id"] not in on_load or ep is None:
            continue
        args = [
            p["parameter_default"] if p["parameter_has_default"] else p["example_input"]
            for p in ep["parameters"]
        ]
        outputs[d["api_name"]] = client.submit(*args, api_name=f"/{d['api_name']}").result(
            timeout=CALL_TIMEOUT_S
        )
    return outputs


def _wait_for_first_paint(page) -> None:
    """Until the page's load events are done (every status tracker hidden again) and its plots have
    stopped appearing (plotly draws a moment later), so late console errors are caught too."""
    page.wait_for_function(
        "() => { const t = document.querySelectorAll('[data-testid=status-tracker]');"
        " return t.length > 0 && [...t].every(e => e.classList.contains('hide')); }"
    )
    count, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 1.5:
        page.wait_for_timeout(250)
        now = page.locator(".js-plotly-plot").count()
        if now != count:
            count, stable_since = now, time.monotonic()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for every bundle (None where there is none outside CI)."""
    if not Path(browser_util.CHROMIUM).exists() and not os.environ.get("CI"):
        yield None
        return
    with browser_util.chromium_page(tmp_path_factory.mktemp("chromium-deploy")) as page:
        yield page


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_runs_alone(name, built, browser, tmp_path):
    from gradio_client import Client

    bundle = built / name
    iso = subprocess.run(
        [sys.executable, "-E", "-s", "-B", "-c", ISOLATION],
        cwd=bundle,
        env={k: v for k, v in {**os.environ, **_alone_env(tmp_path)}.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert iso.returncode == 0 and "isolated" in iso.stdout, iso.stderr[-2000:]

    with _serve_alone(bundle, tmp_path) as (url, log):
        client = Client(url, verbose=False)
        painted = _first_paint(url, client)
        assert painted, f"{name}: no endpoint runs on load"
        text = json.dumps(painted, default=str).lower()
        assert not [w for w in MISSING_DATA if w in text], f"{name}: first paint lacks bundled data"
        if name in ACTIONS:
            api_name, args, check = ACTIONS[name]
            try:
                out = client.submit(*args, api_name=api_name).result(timeout=CALL_TIMEOUT_S)
            except Exception as e:  # noqa: BLE001 - the server's log says why
                pytest.fail(f"{name} {api_name}: {e}\n{log.read_text()[-3000:]}")
            assert check(out), f"{name} {api_name}: {str(out)[:500]}"
        if browser is not None:
            # the page is shared by the bundles: leave the last one (its server is gone, and its
            # broken event stream would be reported here) before counting this one's errors
            browser.goto("about:blank")
            browser.console_errors.clear()
            try:
                browser.goto(url, wait_until="domcontentloaded")
                _wait_for_first_paint(browser)
                assert browser.locator(".toast-body.error").count() == 0, browser.locator(
                    ".toast-body"
                ).all_inner_texts()
                browser_util.screenshot(browser, f"deploy-{name}.png")
                assert browser.console_errors == [], "\n".join(browser.console_errors)
                assert "could not be loaded" not in browser.content()
            finally:
                browser.goto("about:blank")  # before this server stops
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
