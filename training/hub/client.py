"""Talking to the Hub: the token, one commit per plan, quiet logging, and one line per failure."""

from __future__ import annotations

import re
import sys
from typing import Callable

from .. import store
from .names import HubError
from .plans import Plan

NO_TOKEN = "no Hugging Face token: set HF_TOKEN or run `hf auth login`"


def token() -> str:
    """HF_TOKEN or the token saved by `hf auth login`; a missing one is a HubError."""
    # huggingface_hub only when publishing or downloading: the apps run offline
    from huggingface_hub import get_token

    try:
        tok = get_token()
    except Exception as e:  # an OIDC exchange or a token refresh can fail on its own
        raise HubError(f"no usable Hugging Face token ({type(e).__name__}: {_first(e)})") from None
    if not tok:
        raise HubError(NO_TOKEN)
    return tok


def _first(e: BaseException) -> str:
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:200]


# By class name anywhere in the error's MRO, so a client change (httpx, httpx2, requests) needs no new
# import here: httpx's TransportError covers connect/read/write errors and timeouts; requests has
# ConnectionError and Timeout; huggingface_hub's OfflineModeIsEnabled is a ConnectionError.
_NETWORK = {"TransportError", "ConnectionError", "Timeout"}


def explain(e: BaseException, repo_id: str, *, pins: bool = False) -> str:
    """One line for any failure talking to the Hub."""
    names = {c.__name__ for c in type(e).__mro__}
    if isinstance(e, (ConnectionError, TimeoutError)) or names & _NETWORK:
        return (
            f"the Hugging Face Hub could not be reached ({type(e).__name__}: {_first(e)}); check the "
            f"network or HF_ENDPOINT and retry. {repo_id}: nothing was committed"
            + (", nothing pinned" if pins else "")
        )
    status = getattr(getattr(e, "response", None), "status_code", None)
    if status == 401:
        return f"the Hub refused the token (401) for {repo_id}: set a valid HF_TOKEN or run `hf auth login`"
    if status == 403:
        return f"the token may not write to {repo_id} (403): use a token with write access to its owner"
    return f"publishing {repo_id} failed ({type(e).__name__}{f' {status}' if status else ''}: {_first(e)})"


def publish(plan: Plan, api, message: str, description: str = ""):
    """Create the repo if needed and push the plan as ONE commit (stale remote files deleted, so the
    repo equals the plan); return the CommitInfo. Failures become a one-line HubError."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    try:
        api.create_repo(
            plan.repo_id,
            repo_type=plan.repo_type,
            private=plan.private,
            exist_ok=True,
            **({"space_sdk": "gradio"} if plan.repo_type == "space" else {}),
        )
        keep = {u.path for u in plan.uploads} | {".gitattributes"}
        remote = api.list_repo_files(plan.repo_id, repo_type=plan.repo_type)
        ops = [
            CommitOperationAdd(
                path_in_repo=u.path, path_or_fileobj=u.data if u.data is not None else str(u.source)
            )
            for u in plan.uploads
        ]
        ops += [CommitOperationDelete(path_in_repo=f) for f in sorted(remote) if f not in keep]
        return api.create_commit(
            plan.repo_id,
            ops,
            commit_message=message,
            commit_description=description,
            repo_type=plan.repo_type,
        )
    except HubError:
        raise
    except Exception as e:  # network, HTTP status, auth: one line, never a traceback
        raise HubError(explain(e, plan.repo_id, pins=bool(plan.pin))) from None


def _make_api(tok: str):
    from huggingface_hub import HfApi

    return HfApi(token=tok)


class _quiet_hub:
    """huggingface_hub logs retries and warnings to stderr; the CLI reports in its own lines."""

    def __enter__(self):
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
        from huggingface_hub.utils import logging as hf_logging

        self._level, self._bars = hf_logging.get_verbosity(), are_progress_bars_disabled()
        hf_logging.set_verbosity_error()
        disable_progress_bars()
        return self

    def __exit__(self, *exc):
        from huggingface_hub.utils import enable_progress_bars
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity(self._level)
        if not self._bars:
            enable_progress_bars()
        return False


def _one_line(fn: Callable[..., int], *a, **kw) -> int:
    try:
        return fn(*a, **kw)
    except (HubError, store.CheckpointError, ValueError, OSError) as e:
        print(f"error: {_first(e)}", file=sys.stderr)
        return 2


def _oid(info) -> str:
    oid = getattr(info, "oid", None)
    if not isinstance(oid, str) or not re.fullmatch(r"[0-9a-f]{40}", oid):
        raise HubError(f"the Hub returned no commit hash ({oid!r}); nothing pinned")
    return oid
