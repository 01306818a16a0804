"""The Parallelism Visualizer's tabs, one module each, composed by spaces/parallelism/app.py:
`memory`, `zero` (data parallel & ZeRO), `tensor`, `pipeline`, `real_runs` (the cost, stability
and inference tabs are the Training at Scale app's: tabs/training_at_scale/). What the tabs share
is here: the checked number input, gigabytes and the papers they cite."""

from __future__ import annotations

from shared import ui

GB = 1e9
ZERO_URL = "https://arxiv.org/abs/1910.02054"
KORTHIKANTI_URL = "https://arxiv.org/abs/2205.05198"
MEGATRON_URL = "https://arxiv.org/abs/1909.08053"
NARAYANAN_URL = "https://arxiv.org/abs/2104.04473"
PLAYBOOK = "Hugging Face, The Ultra-Scale Playbook (2025)"
PLAYBOOK_URL = "https://huggingface.co/spaces/nanotron/ultrascale-playbook"

num = ui.checked_number  # a finite number in [lo, hi], or a one-line error


def gb(x: float) -> str:
    return f"{x / GB:,.2f}"
