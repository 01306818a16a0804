"""Real pipeline-parallel steps under torchrun (gloo on CPU): every forward/backward is recorded,
in the order the schedule prescribes, with the pipeline's dependencies, beside the analytic one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared import pipeline

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
def test_measured_pipeline_matches_its_schedule(schedule, tmp_path):
    out = tmp_path / "pp.json"
    m = 4
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.parallel.pipeline_run", "--schedule", schedule, "--microbatches", str(m),
           "--width", "128", "--batch", "32", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    ev = r["events"]
    assert len(ev) == 2 * 2 * m
    by = {(e["kind"], e["microbatch"], e["stage"]): e for e in ev}
    for mb in range(m):
        assert by[("F", mb, 1)]["start"] >= by[("F", mb, 0)]["end"]      # activations flow forward
        assert by[("B", mb, 0)]["start"] >= by[("B", mb, 1)]["end"]      # gradients flow back
    for s in range(2):  # each rank ran exactly the schedule's op order
        mine = sorted((e for e in ev if e["stage"] == s), key=lambda e: e["start"])
        want = [(k, i) for k, i, _ in pipeline.device_orders(schedule, 2, m)[s]]
        assert [(e["kind"], e["microbatch"]) for e in mine] == want
    assert r["formula_bubble"] == pytest.approx(pipeline.bubble_fraction(schedule, 2, m))
    assert 0 < r["measured_bubble"] < 1 and len(r["simulated"]) == len(ev)


def test_tensor_parallel_mlp_and_fsdp_bytes_match_the_memory_model(tmp_path):
    from shared import memory
    out = tmp_path / "shard.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.parallel.shard_runs", "--width", "128", "--tokens", "256", "--blocks", "2",
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    for tp in r["tensor_parallel"]:  # column- then row-parallel MLP == the unsplit MLP
        assert tp["max_abs_diff"] < 1e-4 and tp["allreduce_s"] > 0
    n = r["fsdp"][0]["n_params"]
    want = memory.model_state_bytes(n, 3, 2, optimizer_bytes=8, param_bytes=4, grad_bytes=4)
    for rank in r["fsdp"]:  # FSDP2 shards every state exactly 1/N (measured from the local shards)
        assert rank["params_bytes"] == want["params"] == r["unsharded_bytes"]["params"] / 2
        assert rank["grads_bytes"] == want["grads"]
        assert rank["optimizer_bytes"] == want["optimizer"]
