"""A bundle's requirements.txt and its README.md card (from the app's own card, validated)."""

from __future__ import annotations

import re
from pathlib import Path

from shared.apps import app_names

from .. import store
from .sources import ROOT, SPACES, SUITE

REQUIREMENTS = ROOT / "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MAX_SHORT_DESCRIPTION = 60  # the Hub refuses a longer short_description
REQUIRED = (
    "title",
    "sdk",
    "sdk_version",
    "python_version",
    "app_file",
    "short_description",
    "license",
    "tags",
    "suggested_hardware",
    "models",
)
CARD_ORDER = (
    "title",
    "emoji",
    "colorFrom",
    "colorTo",
    "sdk",
    "sdk_version",
    "python_version",
    "app_file",
    "pinned",
    "license",
    "short_description",
    "suggested_hardware",
    "models",
    "tags",
)
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
# The suite has no folder of its own (spaces/<name>/ would make it an app); its card starts here.
# cpu-upgrade: it holds the Parallelism app, whose live multi-process runs want more than 2 cores.
SUITE_CARD = {
    "title": "LLM Training & Scaling Lab",
    "emoji": "🧪",
    "colorFrom": "indigo",
    "colorTo": "pink",
    "sdk": "gradio",
    "python_version": "3.11",
    "app_file": "app.py",
    "pinned": False,
    "license": "apache-2.0",
    "suggested_hardware": "cpu-upgrade",
    "short_description": "How LLMs are trained and scaled, on real runs and models.",
    "tags": [
        "education",
        "scaling-laws",
        "supervised-fine-tuning",
        "distributed-training",
        "mamba",
    ],
}


def requirement_pins() -> dict[str, str]:
    """{package: version} from the repo's requirements.txt (the versions tested together)."""
    found = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pkg, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{REQUIREMENTS}: {line!r} is not pinned with ==")
            found[pkg.strip().lower()] = version.strip()
    return found


def requirements_text(name: str) -> str:
    """The CPU build of torch from PyTorch's index (a plain pin pulls the multi-GB CUDA build), then
    every other pin of the lab (all of them: they are tested together, and gradio = sdk_version)."""
    versions = requirement_pins()
    torch = versions.pop("torch")
    torch = torch if "+" in torch else f"{torch}+cpu"
    header = f"# The {name} Space, written by `python -m training spaces build {name}` from the lab's requirements.txt."
    return (
        "\n".join(
            [
                header,
                f"--extra-index-url {TORCH_CPU_INDEX}",
                f"torch=={torch}",
                *(f"{pkg}=={v}" for pkg, v in sorted(versions.items())),
            ]
        )
        + "\n"
    )


def _split_card(path: Path) -> tuple[dict, str]:
    """(YAML front matter, body) of a card."""
    # yaml only when a card is read or written
    import yaml

    text = path.read_text()
    m = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    if not m:
        raise ValueError(f"{path}: no YAML front matter (a card starts with a line '---')")
    try:
        front = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        raise ValueError(
            f"{path}: the front matter is not valid YAML ({getattr(e, 'problem', e)}"
            + (f" at line {where.line + 2})" if where else ")")
        ) from None
    if not isinstance(front, dict):
        raise ValueError(f"{path}: the front matter is not a mapping")
    return front, m.group(2)


def source_card(name: str) -> dict:
    """The card data the app's folder keeps (spaces/<name>/README.md), or the suite's defaults."""
    if name == SUITE:
        return {**SUITE_CARD, "sdk_version": requirement_pins().get("gradio")}
    return _split_card(SPACES / name / "README.md")[0]


def card_body(name: str) -> str:
    """The card's text: the app's own; for the suite, the root README's opening and one line per app."""
    if name != SUITE:
        return _split_card(SPACES / name / "README.md")[1]
    intro = (ROOT / "README.md").read_text().split("\n## ", 1)[0].strip()
    apps = [
        f"- **{c.get('title', n)}**: {c.get('short_description', '')}"
        for n, c in ((n, source_card(n)) for n in app_names())
    ]
    return (
        f'\n{intro}\n\nA "Base model" page (the bundled checkpoint every app builds on: its training '
        "curve, what it knows, and text completion), then one tab per app:\n\n"
        + "\n".join(apps)
        + "\n"
    )


def make_card(name: str, checkpoints: list[str]) -> dict:
    """The source card plus `models` (the Hub repos of the bundled checkpoints), validated."""
    card = {**source_card(name), "models": sorted(model_repo(c) for c in checkpoints)}
    validate_card(card, name)
    return {
        k: card[k]
        for k in sorted(card, key=lambda k: (CARD_ORDER.index(k) if k in CARD_ORDER else 99, k))
    }


def model_repo(name: str) -> str:
    """The Hub model repo of checkpoint `name`: the one it was published to and pinned
    (store.hub_source reads checkpoints/hub.json) or, unpinned, store.KNOWN's default repo id."""
    hub_source = getattr(store, "hub_source", None)  # the pins arrive with Hub publishing
    return hub_source(name)[0] if hub_source else store.KNOWN[name][2]


def validate_card(card: dict, name: str) -> None:
    """Refuse a card the Hub would refuse or that disagrees with the pins; one line naming the field."""

    def bad(key: str, why: str) -> ValueError:
        return ValueError(f"{name} card: {key}: {why}")

    for key in REQUIRED:
        if card.get(key) in (None, "", []) and key != "models":
            raise bad(key, "missing")
    for key in (
        "title",
        "sdk_version",
        "python_version",
        "short_description",
        "license",
        "suggested_hardware",
    ):
        if not isinstance(card[key], str):
            raise bad(key, f"must be a string (got {card[key]!r}; quote it in the YAML)")
    if card["sdk"] != "gradio":
        raise bad("sdk", f"must be gradio (got {card['sdk']!r})")
    gradio = requirement_pins().get("gradio")
    if card["sdk_version"] != gradio:
        raise bad(
            "sdk_version",
            f"{card['sdk_version']} differs from the pinned gradio=={gradio} in requirements.txt",
        )
    if not re.fullmatch(r"3\.\d+(\.\d+)?", card["python_version"]):
        raise bad(
            "python_version", f'{card["python_version"]!r} is not a Python 3 version such as "3.11"'
        )
    if card["app_file"] != "app.py":
        raise bad("app_file", f"must be app.py (got {card['app_file']!r})")
    if len(card["short_description"]) > MAX_SHORT_DESCRIPTION:
        raise bad(
            "short_description",
            f"{len(card['short_description'])} characters; the Hub accepts at most "
            f"{MAX_SHORT_DESCRIPTION}",
        )
    from huggingface_hub import SpaceHardware

    if card["suggested_hardware"] not in {h.value for h in SpaceHardware}:
        raise bad(
            "suggested_hardware", f"{card['suggested_hardware']!r} is not a Space hardware flavor"
        )
    for key in ("tags", "models"):
        if not isinstance(card[key], list) or not all(isinstance(t, str) and t for t in card[key]):
            raise bad(key, "must be a list of strings")
    if any(not re.fullmatch(r"[\w.-]+/[\w.-]+", m) for m in card["models"]):
        raise bad("models", f"{card['models']} are not all Hub repo ids (owner/name)")
    for key in ("colorFrom", "colorTo"):
        if key in card and card[key] not in COLORS:
            raise bad(key, f"{card[key]!r} is not one of {', '.join(COLORS)}")


def render_card(card: dict, body: str) -> str:
    import yaml

    front = yaml.safe_dump(
        card, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )
    return f"---\n{front}---\n{body}"
