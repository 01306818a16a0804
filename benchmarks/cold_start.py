"""Suite cold start: seconds from launching `python app.py` to the first HTTP 200 on `/`, to the
first completed action and to the first tab's first paint, and how long a first click takes —
as shipped (the first clicks' process, `shared/warm_process.py`, and the background warm-up), with
the warm-up thread only (LAB_WARM_PROCESS=0) and with neither (LAB_WARM_UP=0), launches
alternating so all see the same machine.

Each launch is a fresh process on a free port (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME), with
LAB_BASE_CHECKPOINT pointing at the base checkpoint, stopped once its measurement is done. The
moment `/` answers 200, a `gradio_client` connects and does one of two things:

- action: a greedy `/complete` of a few tokens of the page's first example prompt — what a user
  who clicks Generate at once waits for (client connection included) — then the same again (warm);
- click: the same `/complete`, sent `--think` seconds after the 200 (a user who reads the page and
  types first); timed from its own submit to its result;
- paint: the first tab's three `demo.load` events (/curve, /model_card, /knowledge) at once, as
  the browser fires them — what the background warm-up could slow down; then, the moment they are
  done, the same `/complete` (a student who clicks at first paint: issue 16's target).

One untimed launch first warms the OS file cache (recorded apart), so the samples measure the
process (imports, building every app's page, starting the server, loading the model), not the disk.

    python benchmarks/cold_start.py               # 5 rounds of 9 launches (~8 min)
    python benchmarks/cold_start.py --quick       # 1 round, no warm-up launch
    python benchmarks/cold_start.py --checkpoint runs/x/checkpoint
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import BASE_CHECKPOINT, OtherLoad, median, serve_suite, wait_quiet, write

TARGET_S = 8.0  # process start -> first HTTP 200
TARGET_ACTION_AFTER_S = 1.5  # first HTTP 200 -> first completed action
TARGET_AFTER_PAINT_S = 1.5  # first paint -> a click sent then, completed (issue 16.6)
ACTION_TOKENS = 4
THINK_S = 10.0  # a "click" comes this long after the 200
PAINT = ("/curve", "/model_card", "/knowledge")  # the first tab's load events (no inputs)
KINDS = ("action", "click", "paint")
FALLBACK_PROMPT = "He was born in"
MODES = {
    "warm-up": {},  # as shipped: the first clicks' process and the warm-up thread
    "thread only": {"LAB_WARM_PROCESS": "0"},
    "no warm-up": {"LAB_WARM_UP": "0"},
}


def action_prompt(ckpt: Path | None) -> str:
    """The page's first example prompt (from the manifest), as a user would click it."""
    try:
        examples = json.loads((Path(ckpt) / "manifest.json").read_text()).get("examples") or []
        return (
            str(examples[0]["prompt"])
            if examples and isinstance(examples[0], dict)
            else FALLBACK_PROMPT
        )
    except (OSError, TypeError, ValueError, KeyError):
        return FALLBACK_PROMPT


def launch_once(env: dict, timeout: float, kind: str, prompt: str, think: float = THINK_S) -> dict:
    """Start app.py (common.serve_suite); once / answers 200 connect a gradio_client and do `kind`
    (see KINDS); stop it. Times are seconds after the process started, except `click_s`."""
    from gradio_client import Client

    try:
        with serve_suite(env, timeout) as server:
            at_200 = time.perf_counter()  # server.startup_s after the process started

            def since_start() -> float:
                return server.startup_s + time.perf_counter() - at_200

            client = Client(server.url, verbose=False)
            out = {"ok": True, "seconds": server.startup_s, "client_connected_s": since_start()}
            if kind == "action":
                args = (prompt, ACTION_TOKENS, 0.0, 0, 0)
                out["completion"] = client.submit(*args, api_name="/complete").result(
                    timeout=timeout
                )
                out["done_s"] = since_start()
                t = time.perf_counter()
                client.submit(*args, api_name="/complete").result(timeout=timeout)
                out["second_action_s"] = time.perf_counter() - t
            elif kind == "click":
                time.sleep(max(0.0, think - (time.perf_counter() - at_200)))
                t = time.perf_counter()
                out["completion"] = client.submit(
                    prompt, ACTION_TOKENS, 0.0, 0, 0, api_name="/complete"
                ).result(timeout=timeout)
                out["click_s"] = time.perf_counter() - t
                out["done_s"] = since_start()
            else:
                jobs = [client.submit(api_name=name) for name in PAINT]
                with ThreadPoolExecutor(len(jobs)) as pool:
                    list(pool.map(lambda j: j.result(timeout=timeout), jobs))
                out["done_s"] = since_start()
                out["completion"] = client.submit(
                    prompt, ACTION_TOKENS, 0.0, 0, 0, api_name="/complete"
                ).result(timeout=timeout)
                out["action_after_paint_s"] = since_start() - out["done_s"]
            out["done_after_200_s"] = out["done_s"] - server.startup_s
            with urllib.request.urlopen(server.url, timeout=10) as r:
                out["bytes"] = len(r.read())
            return out
    except Exception as e:  # noqa: BLE001 - exited / no 200 (the message ends with the log's tail) / a call failed
        first, _, tail = str(e).partition("\n")
        return {"ok": False, "error": f"{type(e).__name__}: {first}", "log_tail": tail[-2000:]}


def stats(xs: list[float]) -> dict:
    return {
        "median": median(xs),
        "samples": xs,
        "min": min(xs, default=None),
        "max": max(xs, default=None),
    }


def summary(runs: list[dict]) -> dict:
    """Per mode: HTTP 200 of every launch; first action and first paint, after start and after the 200."""
    out = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode and r["ok"]]
        act = [r for r in mine if r["kind"] == "action"]
        click = [r for r in mine if r["kind"] == "click"]
        paint = [r for r in mine if r["kind"] == "paint"]
        out[mode] = {
            "http_200_s": stats([r["seconds"] for r in mine]),
            "first_action_s": stats([r["done_s"] for r in act]),
            "first_action_after_200_s": stats([r["done_after_200_s"] for r in act]),
            "client_connected_after_200_s": stats(
                [r["client_connected_s"] - r["seconds"] for r in act]
            ),
            "second_action_s": stats([r["second_action_s"] for r in act]),
            "first_click_s": stats([r["click_s"] for r in click]),
            "first_paint_after_200_s": stats([r["done_after_200_s"] for r in paint]),
            "action_after_paint_s": stats([r["action_after_paint_s"] for r in paint]),
            "completions": sorted({r["completion"] for r in act + click + paint}),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one round, no warm-up launch")
    ap.add_argument("-n", "--repeats", type=int, default=5, help="rounds (each: 6 launches)")
    ap.add_argument(
        "--think", type=float, default=THINK_S, help="seconds after the 200 at which a click comes"
    )
    ap.add_argument("--warmup", type=int, default=1, help="untimed launches first (file cache)")
    ap.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint dir for LAB_BASE_CHECKPOINT (default: checkpoints/base)",
    )
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.warmup = 1, 0

    ckpt = args.checkpoint or (
        BASE_CHECKPOINT if (BASE_CHECKPOINT / "manifest.json").is_file() else None
    )
    env = {k: v for k, v in os.environ.items() if k != "LAB_WARM_UP"}
    if ckpt is not None:
        env["LAB_BASE_CHECKPOINT"] = str(Path(ckpt).resolve())
    prompt = action_prompt(ckpt) if ckpt else FALLBACK_PROMPT

    waited = wait_quiet()
    warm = [launch_once(env, args.timeout, "action", prompt) for _ in range(args.warmup)]
    runs: list[dict] = []
    plan = [(m, k) for m in MODES for k in KINDS]
    for i in range(args.repeats):
        for mode, kind in (
            plan if i % 2 == 0 else plan[::-1]
        ):  # alternate: drift hits both modes alike
            with OtherLoad() as load:
                r = launch_once({**env, **MODES[mode]}, args.timeout, kind, prompt, args.think)
            r.update(mode=mode, kind=kind, round=i + 1, other_processes_cores=round(load.cores, 3))
            runs.append(r)
            print(
                f"round {i + 1}/{args.repeats}, {mode}, {kind}: "
                + (
                    f"HTTP 200 {r['seconds']:.2f} s, {kind} done {r['done_s']:.2f} s (+{r['done_after_200_s']:.2f} s)"
                    + (f", the click itself {r['click_s']:.2f} s" if kind == "click" else "")
                    if r["ok"]
                    else r["error"]
                ),
                flush=True,
            )
            if not r["ok"]:
                print(r.get("log_tail", ""))
                break
        if runs and not runs[-1]["ok"]:
            break
    ok = bool(runs) and all(r["ok"] for r in runs) and len(runs) == len(plan) * args.repeats
    by_mode = summary(runs)
    shipped = by_mode["warm-up"]
    med, med_after = shipped["http_200_s"]["median"], shipped["first_action_after_200_s"]["median"]
    med_paint = shipped["action_after_paint_s"]["median"]
    result = {
        "checkpoint": str(ckpt) if ckpt else None,
        "what": "seconds from subprocess start of `python app.py` to the first HTTP 200 on /; then, as soon as / "
        f"answered, either a greedy /complete of {ACTION_TOKENS} tokens by gradio_client (first action, client "
        "connection included) or the first tab's load events /curve, /model_card, /knowledge at once "
        "(first paint); or that /complete sent `think_s` after the 200 (first click: its own latency); with the "
        "first clicks' process and the background warm-up (shipped), the warm-up thread only "
        "(LAB_WARM_PROCESS=0) and neither (LAB_WARM_UP=0); in paint launches, /complete sent the moment the "
        "paint events were done (action_after_paint_s)",
        "think_s": args.think,
        "action": {"api_name": "/complete", "prompt": prompt, "max_new_tokens": ACTION_TOKENS},
        "paint": list(PAINT),
        "seconds": shipped[
            "http_200_s"
        ],  # the headline, as before: process start -> first HTTP 200
        "modes": by_mode,
        "runs": runs,
        "warmup_samples": [{k: r.get(k) for k in ("seconds", "done_s")} for r in warm],
        "page_bytes": runs[0].get("bytes") if runs else None,
        "failures": [r for r in runs if not r["ok"]],
        "machine_busy": {
            "waited_for_quiet_s": round(waited, 1),
            "other_processes_cores_per_launch": [r["other_processes_cores"] for r in runs],
        },
        "target": {
            "seconds_max": TARGET_S,
            "first_action_after_200_s_max": TARGET_ACTION_AFTER_S,
            "action_after_paint_s_max": TARGET_AFTER_PAINT_S,
        },
        "met": ok and med is not None and med <= TARGET_S,
        "met_first_action": ok and med_after is not None and med_after <= TARGET_ACTION_AFTER_S,
        "met_after_paint": ok and med_paint is not None and med_paint <= TARGET_AFTER_PAINT_S,
    }
    if ok:
        for mode, s in by_mode.items():
            print(
                f"{mode}: HTTP 200 median {s['http_200_s']['median']:.2f} s; first action "
                f"{s['first_action_s']['median']:.2f} s (+{s['first_action_after_200_s']['median']:.2f} s after "
                f"the 200); first paint +{s['first_paint_after_200_s']['median']:.2f} s after the 200, a click "
                f"then done {s['action_after_paint_s']['median']:.2f} s after it; a first "
                f"click {args.think:g} s after the 200 takes {s['first_click_s']['median']:.2f} s"
            )
        print(
            f"targets: HTTP 200 <= {TARGET_S:.0f} s {'met' if result['met'] else 'NOT met'}; first action <= "
            f"{TARGET_ACTION_AFTER_S} s after the 200 {'met' if result['met_first_action'] else 'NOT met'}; "
            f"a click at first paint <= {TARGET_AFTER_PAINT_S} s "
            f"{'met' if result['met_after_paint'] else 'NOT met'}"
        )
    write("cold_start", result, quick=args.quick)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
