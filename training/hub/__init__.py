"""Publishing to the Hugging Face Hub: the one place that uploads (Space bundles and checkpoints).

`python -m training spaces publish APP|suite|all --owner NAME [--private] [--dry-run]` builds each
Space bundle (`training.deploy`) and pushes it to `{owner}/{SPACE_SLUGS[app]}` in one commit.
`python -m training checkpoints publish NAME --owner NAME [--private] [--dry-run]` verifies a bundled
checkpoint's sha256 manifest, pushes it with a generated model card to `{owner}/{repo name in
store.KNOWN}` in one commit, and pins the resulting commit in `store.HUB_PINS` (checkpoints/hub.json),
the revision `store.resolve()` downloads when no checkpoint is bundled.

Why one commit: a Space rebuilds on every commit, and a pinned revision must name one complete,
verified checkpoint, never half of one. A dry run builds and prints the plan locally: no token, no
network. Every failure is one line and exit status 2. No torch here.

Read top to bottom: `names` (repo names, the owner check), `card` (a checkpoint's model card),
`plans` (what one commit would upload), `client` (the token, the commit, one-line errors), then
`commands` (the two CLI commands).
"""

from .client import NO_TOKEN
from .commands import cli, publish_checkpoint, publish_spaces
from .names import SPACE_SLUGS, HubError, check_owner, git_version, model_repo_id, space_repo_id
from .plans import plan_checkpoint, plan_space

__all__ = [
    "NO_TOKEN",
    "SPACE_SLUGS",
    "HubError",
    "check_owner",
    "cli",
    "git_version",
    "model_repo_id",
    "plan_checkpoint",
    "plan_space",
    "publish_checkpoint",
    "publish_spaces",
    "space_repo_id",
]
