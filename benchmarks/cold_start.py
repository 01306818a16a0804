"""Suite cold start: seconds from launching `python app.py` to the first HTTP 200 on `/`.

Each launch is a fresh process on a free port (GRADIO_SERVER_PORT / GRADIO_SERVER_NAME), with
LAB_BASE_CHECKPOINT pointing at the base checkpoint; it is killed as soon as `/` answers. One
untimed launch first warms the OS file cache (it is recorded apart), so the samples measure the
process start (imports, building every app's page, starting the server), not the disk.

    python benchmarks/cold_start.py               # 5 launches (~1 min)
    python benchmarks/cold_start.py --quick       # 1 launch, no warm-up
    python benchmarks/cold_start.py --checkpoint runs/x/checkpoint
"""
from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from pathlib import Path

from common import BASE_CHECKPOINT, OtherLoad, median, serve_suite, wait_quiet, write

TARGET_S = 8.0


def launch_once(env: dict, timeout: float) -> dict:
    """Start app.py (common.serve_suite), time it to the first 200 on /, stop it; the timing."""
    try:
        with serve_suite(env, timeout) as server:
            with urllib.request.urlopen(server.url, timeout=10) as r:
                body = r.read()
            return {"ok": True, "seconds": server.startup_s, "bytes": len(body)}
    except RuntimeError as e:   # exited, or no 200 within `timeout`: the message ends with the log's tail
        first, _, tail = str(e).partition("\n")
        return {"ok": False, "error": first, "log_tail": tail[-2000:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one launch, no warm-up launch")
    ap.add_argument("-n", "--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed launches first (file cache)")
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="checkpoint dir for LAB_BASE_CHECKPOINT (default: checkpoints/base)")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.warmup = 1, 0

    ckpt = args.checkpoint or (BASE_CHECKPOINT if (BASE_CHECKPOINT / "manifest.json").is_file() else None)
    env = dict(os.environ)
    if ckpt is not None:
        env["LAB_BASE_CHECKPOINT"] = str(Path(ckpt).resolve())

    waited = wait_quiet()
    warm = [launch_once(env, args.timeout) for _ in range(args.warmup)]
    runs = []
    for i in range(args.repeats):
        with OtherLoad() as load:
            runs.append(launch_once(env, args.timeout))
        r = runs[-1]
        r["other_processes_cores"] = round(load.cores, 3)
        print(f"launch {i + 1}/{args.repeats}: " + (f"{r['seconds']:.2f} s" if r["ok"] else r["error"]), flush=True)
        if not r["ok"]:
            print(r.get("log_tail", ""))
            break
    samples = [r["seconds"] for r in runs if r["ok"]]
    ok = bool(samples) and len(samples) == len(runs) == args.repeats
    med = median(samples)
    result = {
        "checkpoint": str(ckpt) if ckpt else None,
        "what": "seconds from subprocess start of `python app.py` to the first HTTP 200 on /",
        "seconds": {"median": med, "samples": samples, "min": min(samples, default=None),
                    "max": max(samples, default=None)},
        "warmup_samples": [r.get("seconds") for r in warm],
        "page_bytes": runs[0].get("bytes") if runs else None,
        "failures": [r for r in runs if not r["ok"]],
        "machine_busy": {"waited_for_quiet_s": round(waited, 1),
                         "other_processes_cores_per_launch": [r["other_processes_cores"] for r in runs]},
        "target": {"seconds_max": TARGET_S},
        "met": ok and med <= TARGET_S,
    }
    if ok:
        print(f"cold start median {med:.2f} s over {len(samples)} launches "
              f"(target <= {TARGET_S:.0f} s: {'met' if result['met'] else 'NOT met'})")
    write("cold_start", result, quick=args.quick)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
