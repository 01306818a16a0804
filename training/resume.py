"""What lets a pretraining run stop anywhere and continue exactly: the resume checkpoint
(model, optimizer, scheduler and RNG as safetensors + JSON, written atomically, never pickled),
and the run's two logs — metrics.jsonl (one line per logged step, trimmed back to the checkpoint
on resume, so the curve is one clean trajectory) and sessions.jsonl (what each call resumed from
and which steps it really executed: the proof that a resumed run repeats no step).
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, load_model, save_file, save_model
from tqdm.auto import tqdm

from . import store
from .presets import TrainConfig

RESUME = "resume"
SESSIONS = "sessions.jsonl"  # one "start" and one "end" line per pretrain() call: what it resumed, what it ran


class RunLog:
    """metrics.jsonl (one JSON line per logged step), sessions.jsonl (what each call ran) and the
    progress bar, written by the main process only."""

    def __init__(self, run_dir: Path, main: bool, step: int, target: int, progress: bool = False):
        self.main, self.executed = main, []  # the step numbers this call really computes
        self.bar = tqdm(
            total=target, initial=step, desc="pretrain", disable=not (progress and main)
        )
        if not main:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        truncate_metrics(run_dir / store.METRICS, step)
        self.metrics = open(run_dir / store.METRICS, "a")
        self.sessions = open(run_dir / SESSIONS, "a")
        # where this call starts: a resumed run must not execute any step <= this one
        self._session({"event": "start", "resumed_from": step, "target": target})

    def _session(self, event: dict) -> None:
        self.sessions.write(json.dumps(event) + "\n")
        self.sessions.flush()

    def write(self, record: dict) -> None:
        if self.main:
            self.metrics.write(json.dumps(record) + "\n")
            self.metrics.flush()

    def step_done(self, record: dict, keep: bool) -> None:
        """A step was executed: count it, log its record if `keep`, move the bar."""
        self.executed.append(record["step"])
        if keep:
            self.write(record)
        self.bar.update(1)
        self.bar.set_postfix(
            loss=f"{record['loss']:.3f}", eval=f"{record.get('eval_loss', math.nan):.3f}"
        )

    def close(self, step: int) -> None:
        self.bar.close()
        if self.main:
            self.metrics.close()
            self._session({"event": "end", "executed": _ranges(self.executed), "final_step": step})
            self.sessions.close()


def _ranges(steps: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7, 8] -> [[1, 3], [7, 8]]: a session's executed steps, compactly."""
    out: list[list[int]] = []
    for s in steps:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def read_sessions(run_dir: Path) -> list[dict]:
    """The start/end records of every pretrain() call on `run_dir`, oldest first (a killed call
    has a start and no end)."""
    path = Path(run_dir) / SESSIONS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            pass
    return out


def truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop logged steps after the checkpoint so the curve is one clean trajectory.
    A restart with no checkpoint (step 0) keeps nothing: the loop logs its step-0 eval again."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if step > 0 and json.loads(line)["step"] <= step:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):  # a line cut short by the kill
            pass
    path.write_text("".join(line + "\n" for line in keep))


def save_resume(
    run_dir: Path,
    accelerator: Accelerator,
    model,
    optimizer,
    scheduler,
    step: int,
    cfg: TrainConfig,
) -> None:
    """Atomically replace run_dir/resume with everything needed to continue exactly, as
    safetensors + JSON (no pickle). Each rank stages its own RNG state first."""
    stage = run_dir / f".rng-{step}"
    stage.mkdir(parents=True, exist_ok=True)
    save_file(
        {"torch": torch.get_rng_state()}, stage / f"rng-{accelerator.process_index}.safetensors"
    )
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:

        def fill(tmp: Path) -> dict:
            save_model(accelerator.unwrap_model(model), str(tmp / "model.safetensors"))
            tensors, groups = optimizer_to_flat(optimizer)
            save_file(tensors, tmp / "optimizer.safetensors")
            for f in stage.iterdir():
                shutil.move(str(f), tmp / f.name)
            state = {
                "step": step,
                "optimizer_groups": groups,
                "scheduler": scheduler.state_dict(),
                "python_random": _jsonable(random.getstate()),
                "world_size": accelerator.num_processes,
                "train_config": cfg.__dict__,
            }
            (tmp / "state.json").write_text(json.dumps(state))
            return {"kind": "resume", "step": step}

        store.write_atomic(run_dir / RESUME, fill)
        shutil.rmtree(stage, ignore_errors=True)
    accelerator.wait_for_everyone()


def load_resume(path: Path, model, optimizer, scheduler, rank: int) -> int:
    """Restore model, optimizer, scheduler and RNG from run_dir/resume; return the step."""
    store.verify(path)
    state = json.loads((path / "state.json").read_text())
    load_model(model, str(path / "model.safetensors"))
    optimizer.load_state_dict(
        flat_to_optimizer(load_file(path / "optimizer.safetensors"), state["optimizer_groups"])
    )
    scheduler.load_state_dict(state["scheduler"])
    rng_file = path / f"rng-{rank}.safetensors"
    if rng_file.is_file():
        torch.set_rng_state(load_file(rng_file)["torch"])
    random.setstate(_tupled(state["python_random"]))
    return int(state["step"])


def optimizer_to_flat(optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = optimizer.state_dict()
    tensors = {
        f"{pid}.{k}": (v if torch.is_tensor(v) else torch.tensor(v)).contiguous()
        for pid, st in sd["state"].items()
        for k, v in st.items()
    }
    return tensors, sd["param_groups"]


def flat_to_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    for g in groups:
        g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def _jsonable(x):
    return [_jsonable(i) for i in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(i) for i in x) if isinstance(x, list) else x
