"""The publishing commands: `spaces publish` and `checkpoints publish`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .. import store
from .client import _make_api, _oid, _one_line, _quiet_hub, publish, token
from .names import HubError, check_owner, git_version, space_repo_id
from .plans import _mb, plan_checkpoint, plan_space

# --- spaces publish ---------------------------------------------------------------------------


def _deploy():
    # the Space bundler only for `spaces publish`
    from .. import deploy

    return deploy


def publish_spaces(args, *, api=None) -> int:
    """`spaces publish APP|suite|all --owner NAME [--private] [--dry-run]`: build each bundle in a
    temp dir, then (unless dry run) one commit per Space. Exit 0, or 2 with one line."""
    return _one_line(_publish_spaces, args, api)


def _publish_spaces(args, api) -> int:
    owner = check_owner(getattr(args, "owner", None))
    dry = bool(getattr(args, "dry_run", False))
    private = bool(getattr(args, "private", False))
    deploy = _deploy()
    names = list(dict.fromkeys([*deploy.app_names(), "suite"]))
    app = args.app
    if app != "all" and app not in names:
        raise HubError(f"unknown app {app!r} (known: {', '.join(names)}, or all)")
    for n in names if app == "all" else [app]:
        space_repo_id(owner, n)  # every name has its Space before anything is built
    tok = None if dry else token()  # no token: one line before any work
    with tempfile.TemporaryDirectory(prefix="lab-spaces-") as tmp:
        reports = (
            deploy.build_all(Path(tmp)) if app == "all" else [deploy.build(app, Path(tmp) / app)]
        )
        plans = [
            plan_space(Path(r.out), owner, r.name, private=private, card=getattr(r, "card", None))
            for r in reports
        ]
        if dry:
            for plan in plans:
                print(plan.describe())
            print(
                f"dry run: {len(plans)} Space(s), {_mb(sum(p.total for p in plans))}; nothing uploaded, "
                "no network used"
            )
            return 0
        version = git_version()
        api = api or _make_api(tok)
        with _quiet_hub():
            for plan in plans:
                info = publish(
                    plan,
                    api,
                    f"Publish {plan.label} from llm-training-lab {version}",
                    f"{len(plan.uploads)} files, {_mb(plan.total)}; built by "
                    f"`python -m training spaces publish {plan.label.split()[-1]}`.",
                )
                print(
                    f"{plan.repo_id}: {len(plan.uploads)} files ({_mb(plan.total)}) committed as "
                    f"{_oid(info)} -> {plan.url}"
                )
    return 0


# --- checkpoints publish ----------------------------------------------------------------------


def publish_checkpoint(
    name: str,
    owner: str | None,
    *,
    private: bool = False,
    dry_run: bool = False,
    api=None,
    pins: Path | None = None,
) -> int:
    """`checkpoints publish NAME --owner NAME`: verify, upload in one commit, pin the commit."""
    return _one_line(_publish_checkpoint, name, owner, private, dry_run, api, pins)


def _publish_checkpoint(name, owner, private, dry_run, api, pins) -> int:
    owner = check_owner(owner)
    plan = plan_checkpoint(name, owner, private=private, pins=pins)  # verifies every sha256 first
    if dry_run:
        print(plan.describe())
        print("dry run: nothing uploaded, nothing pinned, no network used")
        return 0
    tok = token()
    api = api or _make_api(tok)
    version = git_version()
    digest = store.manifest_digest(plan.manifest or {})
    with _quiet_hub():
        info = publish(
            plan,
            api,
            f"Publish checkpoint {name} (files {digest[:12]}) from llm-training-lab {version}",
            f"{len(plan.uploads)} files, {_mb(plan.total)}; rebuild with "
            f"`{store.BUILD_COMMANDS[name]}`; manifest code version "
            f"{(plan.manifest or {}).get('code_version', 'unknown')}.",
        )
    oid = _oid(info)
    where = store.write_pin(name, plan.repo_id, oid, plan.manifest or {}, path=pins, code=version)
    print(
        f"{plan.repo_id}: {len(plan.uploads)} files ({_mb(plan.total)}) committed as {oid} -> {plan.url}"
    )
    print(f"pinned {name!r} to {plan.repo_id}@{oid} in {where}")
    return 0


def cli(args) -> int:
    """`python -m training checkpoints publish NAME --owner NAME [--private] [--dry-run]`."""
    if args.action != "publish":
        print(f"error: unknown action {args.action!r}", file=sys.stderr)
        return 2
    return publish_checkpoint(args.name, args.owner, private=args.private, dry_run=args.dry_run)
