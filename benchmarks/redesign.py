"""The redesign (issue 17), before and after, measured side by side: the suite's cold start
(process start -> first HTTP 200, then the first tab's three load events), the analytic
endpoints' latency through the HTTP API, and the structure figures of `code_figures.py` — for the
code at a `--before` commit (extracted with `git archive` into a temp folder, its bundled
checkpoints included) and for this working tree, launches alternating so both see the same machine.

    python benchmarks/redesign.py --before 48ec1f2          # 5 rounds (~6 min)
    python benchmarks/redesign.py --before 48ec1f2 --quick  # 1 round
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, OtherLoad, median, serve_suite, wait_quiet, write
from load import ANALYTIC, endpoint_args  # the load test's analytic views, at their defaults

PAINT = ("/curve", "/model_card", "/knowledge")  # the first tab's load events


def launch(root: Path, calls: int, timeout: float) -> dict:
    """One suite process from `root`: seconds to the first 200, the first paint after it, and the
    median latency of each analytic call (after one untimed call each)."""
    from gradio_client import Client

    with serve_suite({"LAB_WARM_UP": "0"}, timeout, root=root) as server:
        t0 = time.perf_counter()
        client = Client(server.url, verbose=False)
        jobs = [client.submit(api_name=name) for name in PAINT]
        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(lambda j: j.result(timeout=timeout), jobs))
        out = {"http_200_s": server.startup_s, "paint_after_200_s": time.perf_counter() - t0}
        endpoint = endpoint_args(client)
        for name in ANALYTIC:
            args = endpoint[name]
            client.predict(*args, api_name=name)
            times = []
            for _ in range(calls):
                t = time.perf_counter()
                client.predict(*args, api_name=name)
                times.append(time.perf_counter() - t)
            out[f"{name} ms"] = round(1e3 * median(times), 1)
        return out


def _figures(root: Path) -> dict:
    """code_figures.py (this version) run on the tree at `root`."""
    script = root / "benchmarks" / "_code_figures_now.py"
    script.write_bytes((ROOT / "benchmarks" / "code_figures.py").read_bytes())
    try:
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=True
        )
    finally:
        script.unlink()
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the commit before the redesign")
    ap.add_argument("-n", "--repeats", type=int, default=5, help="rounds (each: one launch each)")
    ap.add_argument("--calls", type=int, default=10, help="timed calls per endpoint per launch")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    if args.quick:
        args.repeats = 1
    with tempfile.TemporaryDirectory(prefix="redesign-before-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        trees = {"before": old, "after": ROOT}
        waited = wait_quiet()
        samples: dict[str, list[dict]] = {k: [] for k in trees}
        with OtherLoad() as load:
            for i in range(args.repeats + 1):  # round 0 warms the file cache (not recorded)
                for label, root in trees.items():
                    got = launch(root, args.calls, args.timeout)
                    if i:
                        samples[label].append(got)
                    print(f"round {i} {label}: {got}", flush=True)
        figures = {label: _figures(root) for label, root in trees.items()}
    summary = {
        label: {k: median([s[k] for s in rows]) for k in rows[0]} for label, rows in samples.items()
    }
    write(
        "redesign",
        {
            "before_commit": args.before,
            "median": summary,
            "ratio_after_over_before": {
                k: round(summary["after"][k] / summary["before"][k], 3) for k in summary["after"]
            },
            "samples": samples,
            "structure": figures,
            "quiet_wait_s": waited,
            "other_cores": round(load.cores, 2),
            "command": " ".join(["python", "benchmarks/redesign.py", *sys.argv[1:]]),
        },
    )
    print(summary)


if __name__ == "__main__":
    main()
