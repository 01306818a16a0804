#!/usr/bin/env bash
# One short GPU check of the lab (under 8 minutes on one H100/H200), through the project's CLI:
#   (a) `gpu` preset pre-training for a few hundred steps: tokens/s, MFU against the bf16 dense peak
#   (b) TRL SFTTrainer + PEFT LoRA in bf16 on that model
#   (c) generation with and without the KV cache on the GPU
# -> benchmarks/results/gpu_check.json (details: benchmarks/gpu_check.py --help). Without a CUDA GPU
# it stops at once with one line (exit status 2).
#
#   bash benchmarks/gpu_check.sh                  # 300 pre-training steps, 200 SFT steps
#   bash benchmarks/gpu_check.sh --steps 500      # options go to benchmarks/gpu_check.py
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
