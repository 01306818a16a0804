"""Real distributed runs under torchrun (gloo on CPU), checked against the single-process math and
the analytic models, plus the launcher's limits and cleanup. Each torchrun start costs seconds, so
most checks read one `python -m training parallel --preset tiny` build (DDP, TP, FSDP on 2 ranks,
GPipe and 1F1B on 2 and 4 ranks, activations) made once for the module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from shared import memory, pipeline
from training.parallel import launch
from training.parallel.build import RESULTS
from training.parallel.results import ParallelResults, PipelineRun, pipeline_run, read_results

ROOT = Path(__file__).resolve().parent.parent


def mlp_params(blocks: int, width: int) -> int:
    return blocks * (width * 4 * width + 4 * width + 4 * width * width + width)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, ParallelResults]:
    """`python -m training parallel --preset tiny --out DIR`, end to end (its speed is measured in
    benchmarks/; the timeout here is only a guard against a hang)."""
    out = tmp_path_factory.mktemp("parallel") / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "training", "parallel", "--preset", "tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = read_results(out)
    assert results, "read_results could not read back the build"
    return out, results


def test_tiny_build_writes_hashed_results_that_read_back(tiny, tmp_path):
    out, r = tiny  # read back through the schema: every field present and typed
    assert r.rebuild == "python -m training parallel --preset tiny" and r.preset == "tiny"
    assert r.machine.cpus == os.cpu_count() and r.machine.torch and r.seconds > 0
    assert r.ddp.machine.ranks == r.tensor_parallel.machine.ranks == r.fsdp.machine.ranks == 2
    assert all(x.command.startswith("torchrun --nproc_per_node") for x in (r.ddp, *r.pipeline))
    assert json.loads((out / "manifest.json").read_text())["files"].keys() == {RESULTS}
    # a tampered or missing result reads as "none", never as wrong numbers
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in out.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / RESULTS).write_text((bad / RESULTS).read_text().replace('"ranks": 2', '"ranks": 3', 1))
    assert read_results(bad) is None
    assert read_results(tmp_path / "missing") is None


def test_ddp_gradients_equal_one_process_on_the_global_batch(tiny):
    d = tiny[1].ddp
    assert d.ranks == 2 and d.max_abs_grad_diff < 1e-5
    assert all(r.max_abs_grad_diff < 1e-5 for r in d.per_rank)  # on every rank
    assert d.grad_bytes == 4 * mlp_params(d.blocks, d.width)
    assert d.ring_bytes_per_rank == pytest.approx(2 * (2 - 1) / 2 * d.grad_bytes)
    assert d.compute_s > 0 and d.step_s > 0 and d.allreduce_s > 0


def test_tensor_parallel_mlp_equals_the_unsplit_mlp(tiny):
    t = tiny[1].tensor_parallel
    assert t.ranks == 2 and t.max_abs_diff < 1e-4
    assert t.allreduce_bytes == 4 * t.tokens * t.width and t.allreduce_s > 0 and t.compute_s > 0


def test_fsdp_shards_are_exactly_the_zero3_prediction_and_allgathers_are_timed(tiny):
    f = tiny[1].fsdp
    n = f.n_params
    assert n == mlp_params(f.blocks, f.width)
    want = memory.model_state_bytes(n, 3, 2, optimizer_bytes=8, param_bytes=4, grad_bytes=4)
    p = f.predicted_per_rank
    assert (p.params, p.grads, p.optimizer, p.total) == pytest.approx(
        (want.params, want.grads, want.optimizer, want.total)
    )
    for rank in f.per_rank:  # FSDP2 shards every state exactly 1/N (counted from the local shards)
        assert rank.params_bytes == want.params == f.unsharded_bytes.params / 2
        assert rank.grads_bytes == want.grads
        assert rank.optimizer_bytes == want.optimizer
        assert rank.allgather_s > 0 and rank.step_s > 0
        assert len(rank.allgather_block_s) == f.blocks and all(
            s > 0 for s in rank.allgather_block_s
        )
    assert f.allgather_bytes == 4 * n


def check_pipeline_run(r: PipelineRun) -> None:
    """Every rank ran exactly its schedule's op order, and activations/gradients flowed in order."""
    p, m, schedule = r.stages, r.microbatches, r.schedule
    ev = r.events
    assert len(ev) == 2 * p * m and len(r.simulated) == len(ev)
    by = {(e.kind, e.microbatch, e.stage): e for e in ev}
    for mb in range(m):
        for s in range(p - 1):
            assert by[("F", mb, s + 1)].start >= by[("F", mb, s)].end  # activations flow forward
            assert by[("B", mb, s)].start >= by[("B", mb, s + 1)].end  # gradients flow back
    for s in range(p):
        mine = sorted((e for e in ev if e.stage == s), key=lambda e: e.start)
        want = [(k, i) for k, i, _ in pipeline.device_orders(schedule, p, m)[s]]
        assert [(e.kind, e.microbatch) for e in mine] == want
    assert r.formula_bubble == pytest.approx(pipeline.bubble_fraction(schedule, p, m))
    assert 0 < r.measured_bubble < 1 and r.t_forward_mean > 0 and r.t_backward_mean > 0


def test_pipeline_runs_follow_their_schedules_on_2_and_4_ranks(tiny):
    runs = tiny[1].pipeline
    assert {(r.schedule, r.stages) for r in runs} == {
        (s, p) for s in ("gpipe", "1f1b") for p in (2, 4)
    }
    for r in runs:
        check_pipeline_run(r)
        assert r.oversubscribed == (r.stages > os.cpu_count())


def test_pipeline_on_3_ranks():
    out = launch.run(
        "pipeline",
        3,
        120,
        allow_oversubscribe=True,
        schedule="1f1b",
        width=32,
        blocks=6,
        batch=12,
        microbatches=3,
    )
    r = pipeline_run(out)  # a launch's dict in the bundled runs' schema
    assert r.stages == 3 and r.schedule == "1f1b" and out["machine"]["ranks"] == 3
    check_pipeline_run(r)


def test_activations_match_korthikanti_up_to_cpu_dropout_masks(tiny):
    """Measured = Korthikanti's count with this backend's dropout-mask and LayerNorm-statistic bytes,
    exactly; on CPU (2-byte masks) that is 1.06–1.2 × the paper's 34sbh + 5as²b. Full recompute
    keeps exactly the layer input, 2sbh."""
    acts = tiny[1].activations
    assert {a.recompute for a in acts} == {"none", "full"}
    for a in acts:
        s, b, h, heads = a.seq, a.batch, a.hidden, a.heads
        assert a.predicted_bytes == memory.activation_bytes_per_layer(
            s, b, h, heads, recompute=a.recompute
        )
        assert a.measured_bytes == a.explained_bytes
        if a.recompute == "full":
            assert a.measured_bytes == a.predicted_bytes == 2 * s * b * h
            continue
        # bf16 on CPU
        assert a.dropout_mask_bytes_per_element == 2 and a.layernorm_stat_bytes_per_token == 4
        assert a.measured_bytes == 36 * s * b * h + 6 * heads * s * s * b + 8 * s * b
        assert 36 / 34 - 1e-9 <= a.ratio < 1.2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: launch.run("zero_bubble", 2), "unknown kind"),
        (lambda: launch.run("ddp", 1), "ranks must be"),
        (
            lambda: launch.run("ddp", (os.cpu_count() or 1) + 1),
            f"this machine has {os.cpu_count()} CPU core",
        ),
        (
            lambda: launch.run(
                "pipeline", max(os.cpu_count() or 1, 4) + 1, allow_oversubscribe=True
            ),
            "ranks must be",
        ),
        (lambda: launch.run("ddp", True), "ranks must be"),
        (lambda: launch.run("ddp", 2, width=4), "width must be"),
        (lambda: launch.run("ddp", 2, width=4096), "width must be"),
        (lambda: launch.run("ddp", 2, width="wide"), "width must be"),
        (lambda: launch.run("pipeline", 2, microbatches=0), "microbatches must be"),
        (lambda: launch.run("pipeline", 2, microbatches=65), "microbatches must be"),
        (lambda: launch.run("pipeline", 2, blocks=5), "do not split evenly"),
        (lambda: launch.run("pipeline", 2, blocks=49), "blocks must be"),
        (lambda: launch.run("pipeline", 2, batch=30, microbatches=4), "micro-batches"),
        (lambda: launch.run("pipeline", 2, schedule="zb"), "schedule must be"),
        (lambda: launch.run("ddp", 2, batch=15), "split evenly across 2 ranks"),
        (lambda: launch.run("ddp", 2, microbatches=2), "takes no option"),
        (lambda: launch.run("ddp", 2, timeout_s=0), "timeout_s"),
        (lambda: launch.live_run("fsdp", 2, width=9), "must divide by the 2 ranks"),
    ],
)
def test_launcher_rejects_bad_input_with_one_line(call, message, monkeypatch):
    started = []
    monkeypatch.setattr(
        launch.subprocess,
        "Popen",
        lambda *a, **k: (
            started.append(a) or pytest.fail(f"a process was started for bad input: {a}")
        ),
    )
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)
    assert started == [] and not launch._live_lock.locked()  # refused before anything starts


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8])
def test_oversubscription_only_when_asked(cores, monkeypatch):
    """Whatever this machine has: the core count is set, so both outcomes are checked everywhere."""
    monkeypatch.setattr(launch, "cpu_count", lambda: cores)
    assert launch.validate("pipeline", 4, allow_oversubscribe=True)  # the bundled build's 4 ranks
    if cores >= 4:
        assert launch.validate("pipeline", 4)
    else:
        with pytest.raises(ValueError, match=f"this machine has {cores} CPU core"):
            launch.validate("pipeline", 4)
    with pytest.raises(ValueError, match="ranks must be"):  # never more than the cap, asked or not
        launch.validate(
            "pipeline", max(cores, launch.MAX_OVERSUBSCRIBED_RANKS) + 1, allow_oversubscribe=True
        )


def test_live_runs_go_one_at_a_time_and_back_to_back(monkeypatch):
    """The first run holds the lock (gated: it starts its real torchrun only once the second request
    was refused), so the refusal is certain, not a race against how fast the first run is."""
    results, errors = [], []
    holding, go = threading.Event(), threading.Event()
    real_run = launch.run

    def gated_run(*a, **k):  # called by live_run with the lock held
        holding.set()
        assert go.wait(120), "the test never released the first run"
        return real_run(*a, **k)

    monkeypatch.setattr(launch, "run", gated_run)

    def first():
        try:
            last = list(launch.live_run("tensor_parallel", 2))[-1]
            results.append(last.data if last.kind == "done" else last)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    try:
        assert holding.wait(60), "the first live run never started"
        assert launch._live_lock.locked()
        with pytest.raises(ValueError, match="a run is already in progress"):
            launch.live_run("ddp", 2)
    finally:
        go.set()
        t.join(timeout=300)  # a hang guard: the run itself is bounded by LIVE_TIME_LIMIT_S
    assert not t.is_alive() and not errors, errors
    assert results[0].kind == "tensor_parallel" and results[0].run.max_abs_diff < 1e-4
    assert not launch._live_lock.locked()
    second = list(launch.live_run("tensor_parallel", 2))  # the lock is free: no port left taken
    assert [e.kind for e in second] == ["progress", "done"], second[-1]
    assert second[0].label == "launching 2 processes" and second[-1].data.run.max_abs_diff < 1e-4


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rfind(")") + 2] == "Z"
    except OSError:
        return False


def test_a_timeout_stops_torchrun_and_every_rank():
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("lab-parallel-*"))
    # a minute of work, cut at 8 s: the run says it was stopped by the timeout (how fast it is
    # stopped is not timed here; that every process is gone is checked below)
    with pytest.raises(launch.RunError, match="took longer than 8 s and was stopped") as e:
        launch.run("tensor_parallel", 2, 8, width=1024, tokens=8192, repeats=20)
    assert "\n" not in str(e.value)
    pids = list(launch.last_pids)
    assert len(pids) >= 3, pids  # torchrun and both ranks were running
    assert all(_gone(p) for p in pids), [p for p in pids if not _gone(p)]
    with pytest.raises(ProcessLookupError):  # torchrun's process group is gone too
        os.killpg(pids[0], 0)
    assert set(tmp.glob("lab-parallel-*")) == before  # temp files removed


def test_closing_a_live_run_stops_torchrun_and_every_rank():
    """The page went away: its live run's processes are stopped, not left to their time limit."""
    events = launch.live_run("tensor_parallel", 2, width=1024, tokens=8192, repeats=20)
    first = next(events)
    assert first.kind == "progress"
    deadline = time.perf_counter() + 60  # a hang guard: wait until torchrun has started its ranks

    def ranks_started() -> bool:
        pids = list(launch.last_pids)
        kids = Path(f"/proc/{pids[0]}/task/{pids[0]}/children") if pids else None
        return bool(kids and kids.is_file() and kids.read_text().split())

    while not ranks_started() and time.perf_counter() < deadline:
        time.sleep(0.05)
    events.close()
    assert events.finished.wait(30), "the live run did not end after its events were closed"
    assert list(events) == []
    pids = list(launch.last_pids)
    assert len(pids) >= 3, pids  # torchrun and both ranks were running
    assert all(_gone(p) for p in pids), [p for p in pids if not _gone(p)]
    assert not launch._live_lock.locked()


def test_cli_rejects_an_unknown_preset_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "training", "parallel", "--preset", "huge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "--preset" in proc.stderr
    )


def test_a_failed_run_is_reported_by_its_reason_not_torchruns_banner():
    """torchrun ends a failure report with a rule of '='; the one line shown is the rank's own
    error line, else its exception, else the last line with words (seen once in a full run: a DDP
    launch failed and the message said only '=====')."""
    from training.parallel.launch import _error_line

    torchrun_report = (
        'starting\nTraceback (most recent call last):\n  File "x.py", line 3, in <module>\n'
        "[rank1]: RuntimeError: Connection reset by peer\n"
        "E1201 torch/distributed/elastic/multiprocessing/api.py: failed (exitcode: 1)\n"
        "====================\ntraining.parallel.data_parallel.run FAILED\n--------------------\n"
        "Failures:\n  <NO_OTHER_FAILURES>\n====================\n"
    )
    assert _error_line(torchrun_report) == "[rank1]: RuntimeError: Connection reset by peer"
    assert (
        _error_line("warming up\nerror: needs at least 2 ranks\nValueError: x\n")
        == "needs at least 2 ranks"
    )
    assert _error_line("some output\n=====\n-----\n") == "some output"
    wrapped = (  # torchrun's own exception comes last; the rank's reason is above it
        "[rank2]: ValueError: microbatches must divide the batch\n"
        "Traceback (most recent call last):\n"
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n=====\n"
    )
    assert _error_line(wrapped) == "[rank2]: ValueError: microbatches must divide the batch"
    killed = (  # a rank killed by a signal leaves no exception of its own
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:\n"
        "  exitcode  : -11 (pid: 4242)\n  traceback : Signal 11 (SIGSEGV) received by PID 4242\n"
        "=====\n"
    )
    assert _error_line(killed) == "traceback : Signal 11 (SIGSEGV) received by PID 4242"
    assert _error_line("\n \n") == "no output"
