"""A live multi-process run from the Parallelism Visualizer's page: seconds from the click's
handler starting to its timeline/figures being ready (target: <= 30 s for 2 ranks on 2 cores).

Calls the app's `live_run` handler in-process (as gradio does: torchrun start, the run, the JSON
read back, the plotly figures built) for every kind of run, `--repeats` times each, 2 processes,
the page's default 4 micro-batches for pipelines.

    python benchmarks/live_parallel.py             # 3 runs of each of the 5 kinds (~2 min)
    python benchmarks/live_parallel.py --quick     # 1 run of each
"""

from __future__ import annotations

import argparse
import time

from common import OtherLoad, load_app, median, wait_quiet, write

TARGET_S = 30.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats = 1
    app = load_app("parallelism")
    waited = wait_quiet()
    out = {}
    for kind in app.LIVE_KINDS:
        secs, loads = [], []
        for _ in range(args.repeats):
            with OtherLoad() as load:
                t0 = time.perf_counter()
                for _ in app.live_run(kind, 2, 4):  # a generator: the page's updates
                    pass
                secs.append(round(time.perf_counter() - t0, 2))
            loads.append(round(load.cores, 2))
        out[kind] = {"median_s": median(secs), "samples_s": secs, "other_cores": loads}
        print(f"{kind}: median {out[kind]['median_s']} s {secs}", flush=True)
    write(
        "live_parallel",
        {
            "target_s": TARGET_S,
            "ranks": 2,
            "runs": out,
            "waited_for_quiet_s": round(waited, 1),
            "all_within_target": all(v["median_s"] <= TARGET_S for v in out.values()),
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
