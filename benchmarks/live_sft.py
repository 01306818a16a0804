"""Live SFT, as the app runs it: does a bounded LoRA run on the CPU visibly change the model?

Runs `training.sft.lab.live_sft` (the code behind the app's Live SFT tab) with the page's default
settings on the bundled base, `--repeats` times, and records wall-clock seconds (training alone
and the whole request incl. both evaluations), steps done, and format compliance / accuracy on
the same 24 held-out questions before and after.

    python benchmarks/live_sft.py               # 3 runs at the page's defaults (~4 min)
    python benchmarks/live_sft.py --quick       # 1 run of 30 steps
"""

from __future__ import annotations

import argparse
import time

from common import OtherLoad, median, wait_quiet, write


def lab_default_steps() -> int:
    from training.sft.lab import LiveRequest

    return LiveRequest().steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=lab_default_steps(), help="default: the page's")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.steps = 1, 30
    from training.sft import lab

    waited = wait_quiet()
    req = lab.LiveRequest(steps=args.steps)
    samples = []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        with OtherLoad() as load:
            done = None
            for ev in lab.live_sft(req):
                if ev.kind == "error":
                    raise SystemExit(f"live SFT failed: {ev.text}")
                if ev.kind == "done":
                    done = ev.data
        total = time.perf_counter() - t0
        s = {
            "request_s": round(total, 2),
            "train_s": done.seconds,
            "steps_done": done.steps_done,
            "stopped_early": done.stopped_early,
            "other_cores": round(load.cores, 2),
            **{
                f"{k}_before": getattr(done.before, k)
                for k in ("compliance", "accuracy", "mentioned")
            },
            **{
                f"{k}_after": getattr(done.after, k)
                for k in ("compliance", "accuracy", "mentioned")
            },
            "n_questions": done.after.n,
        }
        samples.append(s)
        print(f"run {i + 1}: {s}", flush=True)
    keys = (
        "request_s",
        "train_s",
        "compliance_before",
        "compliance_after",
        "accuracy_before",
        "accuracy_after",
    )
    write(
        "live_sft",
        {
            "settings": vars(req),
            "waited_for_quiet_s": round(waited, 1),
            "samples": samples,
            "median": {k: median([s[k] for s in samples]) for k in keys},
            "time_limit_s": lab.LIVE_TIME_LIMIT_S,
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
