"""Server-side time of the Scaling Laws Explorer's analytic endpoints (target: median <= 50 ms).

Calls each handler of `spaces/scaling_explorer/app.py` in-process exactly as gradio does (inputs
in, figures/tables out, plotly figures built), `--repeats` times after one warm-up call.

    python benchmarks/scaling_endpoints.py             # 30 calls per endpoint
    python benchmarks/scaling_endpoints.py --quick     # 5 calls
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import time

from common import ROOT, OtherLoad, median, wait_quiet, write

TARGET_MS = 50.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats = 5
    spec = importlib.util.spec_from_file_location("scaling_app", ROOT / "spaces" / "scaling_explorer" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    calls = {
        "laws": (app.laws, ("chinchilla", math.log10(70e9), math.log10(1.4e12))),
        "laws (our lab fit)": (app.laws, ("our lab fit", 6.0, 8.0)),
        "optimal": (app.optimal, (math.log10(5.76e23),)),
        "returns": (app.returns, ("chinchilla", 9.0, 10.3, 8)),
        "cost": (app.cost, (math.log10(175e9), math.log10(300e9), "V100", 30, 2.0, 1024)),
    }
    waited = wait_quiet()
    out = {}
    with OtherLoad() as load:
        for name, (fn, a) in calls.items():
            fn(*a)  # warm-up: imports, first plotly figure
            ms = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fn(*a)
                ms.append(1000 * (time.perf_counter() - t0))
            out[name] = {"median_ms": round(median(ms), 2), "min_ms": round(min(ms), 2),
                         "max_ms": round(max(ms), 2), "samples_ms": [round(x, 2) for x in ms]}
            print(f"{name}: median {out[name]['median_ms']} ms", flush=True)
    write("scaling_endpoints", {"target_ms": TARGET_MS, "endpoints": out, "waited_for_quiet_s": round(waited, 1),
                                "other_cores": round(load.cores, 2),
                                "all_within_target": all(v["median_ms"] <= TARGET_MS for v in out.values())},
          quick=args.quick)


if __name__ == "__main__":
    main()
