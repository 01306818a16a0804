"""One way to open the suite in headless Chromium (Debian's /usr/bin/chromium driven by the pip
playwright package), collecting console errors; used by every browser test."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
TIMEOUT_MS = 90_000


@contextmanager
def chromium_page(profile_dir: Path):
    """A fresh page with `page.console_errors` collecting console errors and page errors.
    Without Chromium: skip locally, fail under CI (tests/run.sh installs it)."""
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} not found (bash tests/run.sh installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.console_errors = []
            page.on(
                "console",
                lambda m: m.type == "error" and page.console_errors.append(f"console: {m.text}"),
            )
            page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {e}"))
            yield page
        finally:
            context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
