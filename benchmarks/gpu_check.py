"""One short check of the lab on a GPU (under 8 minutes on one H100/H200), through the project's own CLI:

(a) pre-training with the `gpu` preset (12 layers, d 768, context 512, micro-batch 64, bf16 autocast,
    torch.compile) for a few hundred steps: `python -m training build-base --preset gpu --steps N`;
    tokens/s and MFU against the GPU's bf16 dense peak (spec sheet), beside the loop's own `mfu`
    field (which divides by a matmul peak it measures: see `training/pretrain.py`);
(b) TRL SFTTrainer + PEFT LoRA (bf16 on a GPU) on that model: `python -m training sft --preset gpu`;
(c) generation with and without the KV cache on the GPU: `benchmarks/generation.py --device cuda`.

Data: by default the `cpu` preset's world corpus (69k biographies, written to <run-dir>/corpus.jsonl
and passed as --data; SFT: its 5,625 clean conversations), since generating the `gpu` world (1.5M
biographies) and training its tokenizer takes minutes of CPU; `--world gpu` uses the preset's own
world (slower). Writes benchmarks/results/gpu_check.json; without a CUDA GPU it stops at once with
one line. Run it as `bash benchmarks/gpu_check.sh`.

    bash benchmarks/gpu_check.sh                    # 300 pre-training steps, 200 SFT steps
    bash benchmarks/gpu_check.sh --steps 500 --world gpu
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, ROOT, write

# bf16 dense tensor-core peak (no sparsity), FLOP/s, from NVIDIA's data sheets; the first match wins
BF16_PEAK = (
    ("H200", 989.4e12),
    ("H100 PCIe", 756.5e12),
    ("H100 NVL", 835.5e12),
    ("H100", 989.4e12),
    ("A100", 312e12),
)
BUDGET_S = 8 * 60
TIMEOUTS = {"pretrain": 330, "sft": 200, "generation": 150}  # seconds per step (a hang guard)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="benchmarks/gpu_check.sh", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--steps", type=int, default=300, help="pre-training steps (default 300)")
    ap.add_argument("--sft-steps", type=int, default=200, help="SFT steps (default 200)")
    ap.add_argument(
        "--world",
        choices=("cpu", "gpu"),
        default="cpu",
        help="whose world corpus to train on: the cpu preset's (default, seconds to write) or the gpu preset's",
    )
    ap.add_argument(
        "--run-dir",
        type=Path,
        default=ROOT / "runs" / "gpu-check",
        help="working directory, emptied first (default: runs/gpu-check)",
    )
    ap.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="bf16 dense peak of this GPU in TFLOP/s (default: from the device name: H100/H200 989)",
    )
    args = ap.parse_args(argv)
    if args.steps < 20 or args.sft_steps < 5:
        ap.error("--steps must be at least 20 and --sft-steps at least 5")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        ap.error("--peak-tflops must be positive")
    return args


def gpu_or_exit() -> dict:
    """The GPU's facts, or one line on stderr and exit status 2 when there is none."""
    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); run it on an H100/H200",
            file=sys.stderr,
        )
        raise SystemExit(2)
    p = torch.cuda.get_device_properties(0)
    return {
        "name": torch.cuda.get_device_name(0),
        "count": torch.cuda.device_count(),
        "memory_gib": round(p.total_memory / 2**30, 1),
        "capability": f"{p.major}.{p.minor}",
        "bf16": torch.cuda.is_bf16_supported(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


def bf16_peak(name: str, override_tflops: float | None) -> tuple[float | None, str]:
    if override_tflops:
        return override_tflops * 1e12, "--peak-tflops"
    for key, peak in BF16_PEAK:
        if key.lower() in name.lower():
            return peak, f"NVIDIA data sheet ({key}, bf16 dense)"
    return None, f"unknown GPU {name!r}: pass --peak-tflops"


def run(step: str, cmd: list[str], log: Path) -> dict:
    """Run one CLI command (stdout and stderr to `log`); its wall time, exit status, last JSON line."""
    t0 = time.perf_counter()
    print(f"[gpu_check] {step}: {' '.join(cmd)}", flush=True)
    with open(log, "w") as f:
        try:
            rc = subprocess.run(
                cmd,
                cwd=ROOT,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUTS[step],
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    text = log.read_text(errors="replace")
    out = None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                out = json.loads(line)
                break
            except ValueError:
                continue
    res = {
        "command": " ".join(cmd),
        "seconds": round(time.perf_counter() - t0, 1),
        "ok": rc == 0,
        "exit": rc,
        "log": str(log.relative_to(ROOT)) if log.is_relative_to(ROOT) else str(log),
    }
    if rc != 0:
        res["log_tail"] = text[-2000:]
    print(
        f"[gpu_check] {step}: {'ok' if rc == 0 else f'FAILED ({rc})'} in {res['seconds']} s",
        flush=True,
    )
    return res | {"result": out}


def write_world_data(work: Path) -> tuple[Path, Path]:
    """The cpu preset's world: biographies as {"text"} lines, its SFT conversations as {"messages"}."""
    from training.data.world import World
    from training.presets import get_preset
    from training.sft.data import conversations

    world = World(get_preset("cpu").world)
    corpus, sft = work / "corpus.jsonl", work / "sft.jsonl"
    corpus.write_text(
        "".join(json.dumps({"text": r["text"]}) + "\n" for r in world.pretrain_texts())
    )
    sft.write_text(
        "".join(json.dumps({"messages": m}) + "\n" for m in conversations(world, "sft")["messages"])
    )
    return corpus, sft


def pretrain_summary(metrics: Path, result: dict | None, peak: float | None) -> dict:
    """Steady-state throughput from the loop's metrics.jsonl: the median over the second half of the
    steps (the first include torch.compile), and MFU = tokens/s · FLOPs/token / bf16 peak."""
    rows = (
        [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        if metrics.is_file()
        else []
    )
    steps = [r for r in rows if "tokens_per_s" in r]
    late = steps[len(steps) // 2 :]
    tps = statistics.median(r["tokens_per_s"] for r in late) if late else None
    loop_mfu = (
        statistics.median(r["mfu"] for r in late if "mfu" in r)
        if any("mfu" in r for r in late)
        else None
    )
    fpt = (result or {}).get("flops_per_token")
    out = {
        "steps_logged": len(steps),
        "steady_steps": len(late),
        "tokens_per_s_median": tps and round(tps, 1),
        "first_step_s": round(steps[0]["elapsed_s"], 1) if steps else None,
        "flops_per_token": fpt,
        "loop_mfu_median": loop_mfu,
        "final_loss": steps[-1]["loss"] if steps else None,
        "eval_loss": next((r["eval_loss"] for r in reversed(rows) if "eval_loss" in r), None),
    }
    if tps and fpt:
        out["model_tflops_per_s"] = round(tps * fpt / 1e12, 1)
        if peak:
            out["mfu_vs_bf16_peak"] = round(tps * fpt / peak, 4)
        if (
            loop_mfu
        ):  # what the loop divided by: its own bf16 matmul measurement (8192², best window)
            out["loop_measured_peak_tflops"] = round(tps * fpt / loop_mfu / 1e12, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = gpu_or_exit()
    peak, peak_source = bf16_peak(device["name"], args.peak_tflops)
    t_start = time.perf_counter()
    work = args.run_dir.resolve()
    if work.exists():
        shutil.rmtree(work)  # ours: a fresh run, never a resumed one
    work.mkdir(parents=True)
    py = sys.executable
    result: dict = {
        "device": device,
        "bf16_peak_flops": peak,
        "bf16_peak_source": peak_source,
        "settings": {"steps": args.steps, "sft_steps": args.sft_steps, "world": args.world},
    }
    data_args, sft_data = [], []
    if args.world == "cpu":
        corpus, sft = write_world_data(work)
        data_args, sft_data = ["--data", str(corpus)], ["--data", str(sft)]

    base_dir = work / "base"
    pre = run(
        "pretrain",
        [
            py,
            "-m",
            "training",
            "build-base",
            "--preset",
            "gpu",
            "--steps",
            str(args.steps),
            "--run-dir",
            str(base_dir),
            "--out",
            str(base_dir / "checkpoint"),
            "--no-resume",
            "--quiet",
            *data_args,
        ],
        work / "pretrain.log",
    )
    pre["summary"] = pretrain_summary(base_dir / "metrics.jsonl", pre["result"], peak)
    result["pretrain"] = pre
    ckpt = base_dir / "checkpoint"

    if pre["ok"]:
        sft = run(
            "sft",
            [
                py,
                "-m",
                "training",
                "sft",
                "--preset",
                "gpu",
                "--base",
                str(ckpt),
                "--out",
                str(work / "sft"),
                "--steps",
                str(args.sft_steps),
                *sft_data,
            ],
            work / "sft.log",
        )
        r = sft.get("result") or {}
        manifest = work / "sft" / "manifest.json"
        if r.get("seconds") and manifest.is_file():
            settings = json.loads(manifest.read_text()).get("settings", {})
            batch = settings.get("batch_size", 0)
            sft["summary"] = {
                "steps_done": r.get("steps_done"),
                "train_seconds": r["seconds"],
                "conversations_per_s": round(r.get("steps_done", 0) * batch / r["seconds"], 1),
                "final_loss": r.get("final_loss"),
                "settings": settings,
                "bf16": device["bf16"] if settings.get("bf16") is None else settings["bf16"],
            }
        result["sft"] = sft

        gen = run(
            "generation",
            [
                py,
                "benchmarks/generation.py",
                "--device",
                "cuda",
                "--checkpoint",
                str(ckpt),
                "--repeats",
                "3",
                "--max-wait",
                "20",
            ],
            work / "generation.log",
        )
        gen_json = RESULTS / "generation_cuda.json"
        if gen["ok"] and gen_json.is_file():
            g = json.loads(gen_json.read_text())
            gen["summary"] = {
                "model": g.get("model"),
                "all_identical": g.get("all_identical"),
                "lengths": [
                    {k: row[k] for k in ("prompt_tokens", "new_tokens", "speedup", "identical_ids")}
                    | {
                        "cached_tokens_per_s": row["cached_tokens_per_s"]["median"],
                        "uncached_tokens_per_s": row["uncached_tokens_per_s"]["median"],
                    }
                    for row in g.get("lengths", [])
                ],
            }
        result["generation"] = gen

    total = round(time.perf_counter() - t_start, 1)
    steps = [result.get(k) for k in ("pretrain", "sft", "generation")]
    result.update(
        total_seconds=total,
        target={"seconds_max": BUDGET_S},
        met=all(s is not None and s["ok"] for s in steps) and total <= BUDGET_S,
    )
    write("gpu_check", result)
    s = pre.get("summary", {})
    print(
        f"[gpu_check] {device['name']}: pre-training {s.get('tokens_per_s_median')} tokens/s, MFU "
        f"{s.get('mfu_vs_bf16_peak')} of the bf16 peak; {total} s in all; "
        f"{'all ok' if result['met'] else 'NOT all ok (see the JSON)'}",
        flush=True,
    )
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
