"""Server-side time of the analytic endpoints of the Scaling Laws Explorer, the Parallelism
Visualizer and the RNN / SSM / Transformer app (target: median <= 50 ms each).

Calls each handler of `spaces/<app>/app.py` in-process exactly as gradio does (inputs in,
figures/tables out, plotly figures built), `--repeats` times after one warm-up call. The
pipeline view is timed at its default and at its largest setting (16 devices x 64 micro-batches).

    python benchmarks/analytic_endpoints.py             # 30 calls per endpoint
    python benchmarks/analytic_endpoints.py --quick     # 5 calls
"""

from __future__ import annotations

import argparse
import math
import time

from common import OtherLoad, load_app, median, wait_quiet, write

TARGET_MS = 50.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats = 5
    app, par, arch = (
        load_app("scaling_explorer"),
        load_app("parallelism"),
        load_app("architectures"),
    )
    shape = par.preset_shape("Llama 2 7B")
    plan = [8, 2, 2, 1, True, 1, 8, "1f1b", "selective", 2, 2, 12, 2, False, 80]
    calls = {
        "scaling: laws": (app.laws, ("chinchilla", math.log10(70e9), math.log10(1.4e12))),
        "scaling: laws (our lab fit)": (app.laws, ("our lab fit", 6.0, 8.0)),
        "scaling: optimal": (app.optimal, (math.log10(5.76e23),)),
        "scaling: returns": (app.returns, ("chinchilla", 9.0, 10.3, 8)),
        "scaling: cost": (app.cost, (math.log10(175e9), math.log10(300e9), "V100", 30, 2.0, 1024)),
        "scaling: long-tail slider (bundled sweep)": (app.long_tail, (2,)),
        "parallelism: memory": (par.memory_breakdown, (*shape, *plan)),
        "parallelism: zero": (par.zero, (7.5, 64, 2, 2, 12, 100)),
        "parallelism: tensor": (par.tensor, ("GPT-3 175B", 8, False, 1, "none", 450)),
        "parallelism: pipeline (4 x 8, 1F1B)": (par.pipeline_view, ("1f1b", 4, 8, 2, 2.0, 100)),
        "parallelism: pipeline (16 x 64, interleaved v=2)": (
            par.pipeline_view,
            ("interleaved", 16, 64, 2, 2.0, 100),
        ),
        "parallelism: scale": (  # the key of earlier results; the tab now lives in Training at Scale
            load_app("training_at_scale").scale,
            (math.log10(175e9), math.log10(300e9), "H100", 40, 2.5, 1024),
        ),
        "architectures: state vs KV table": (arch.state_table, (arch.STATE_CONTEXTS, 2)),
        "architectures: recurrence three ways (T = 256)": (arch.recurrence_view, (256, 16, False)),
        "architectures: recurrence three ways (T = 4096)": (
            arch.recurrence_view,
            (4096, 16, False),
        ),
        "architectures: MQAR charts (bundled)": (
            arch.mqar_view,
            (str(max(x.width for x in arch._results().mqar.runs)),),
        ),
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
            out[name] = {
                "median_ms": round(median(ms), 2),
                "min_ms": round(min(ms), 2),
                "max_ms": round(max(ms), 2),
                "samples_ms": [round(x, 2) for x in ms],
            }
            print(f"{name}: median {out[name]['median_ms']} ms", flush=True)
    write(
        "analytic_endpoints",
        {
            "target_ms": TARGET_MS,
            "endpoints": out,
            "waited_for_quiet_s": round(waited, 1),
            "other_cores": round(load.cores, 2),
            "all_within_target": all(v["median_ms"] <= TARGET_MS for v in out.values()),
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
