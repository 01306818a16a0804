"""The Hub repo names this lab publishes to, the owner check, and the project's git version."""

from __future__ import annotations

import re
import subprocess

from shared import course

from .. import store

# The Space repo name of each app: one mapping, used by `spaces publish` and the README's links.
# (the apps' names are the session's, `shared.course`: its course page's embed snippets use them)
SPACE_SLUGS: dict[str, str] = {
    **{s.key: s.space for s in course.SESSION if s.app},
    "suite": course.SUITE_SPACE,
}
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")


class HubError(RuntimeError):
    """Publishing failed or was refused; the message is one line saying what to do."""


def check_owner(owner: str | None) -> str:
    """A Hub user/organisation name: letters, digits, '-', '_', '.', at most 96, no '--' or '..',
    not starting or ending with '-' or '.'."""
    if not owner:
        raise HubError(
            "--owner is required to publish: the Hub user or organisation that owns the repos"
        )
    if len(owner) > 96 or not _OWNER.fullmatch(owner) or "--" in owner or ".." in owner:
        shown = owner if len(owner) <= 40 else owner[:40] + "…"
        raise HubError(
            f"--owner {shown!r}: not a Hub name (letters, digits, '-', '_', '.'; at most 96; "
            "no leading/trailing '-' or '.', no '--' or '..')"
        )
    return owner


def space_repo_id(owner: str, app: str) -> str:
    if app not in SPACE_SLUGS:
        raise HubError(
            f"no Space name for app {app!r} (known: {', '.join(SPACE_SLUGS)}); add it to "
            "training.hub.SPACE_SLUGS"
        )
    return f"{check_owner(owner)}/{SPACE_SLUGS[app]}"


def model_repo_id(owner: str, name: str) -> str:
    if name not in store.KNOWN:
        raise HubError(f"unknown checkpoint {name!r} (known: {', '.join(store.KNOWN)})")
    return f"{check_owner(owner)}/{store.KNOWN[name][2].split('/', 1)[1]}"


def git_version() -> str:
    """This project's git commit (full hash), with ' (dirty)' when the working tree has changes."""

    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=store.REPO_ROOT, capture_output=True, text=True, timeout=20
        ).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        if not head:
            return "unknown (not a git checkout)"
        return head + (" (dirty)" if git("status", "--porcelain") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git failed)"
