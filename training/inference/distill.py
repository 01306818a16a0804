"""4. Distillation: a small student trained on the base model's softened next-token distributions
against the same student trained on the data alone (same init, steps, data order and seed)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import store
from .plan import Plan

if TYPE_CHECKING:
    from .lab import Lab


def student_spec(plan: Plan, vocab_size: int):
    # presets and the training stack only when a student is built (the app imports this package)
    from ..presets import get_preset

    base = get_preset(plan.world).model
    n_layer, d_model, n_head = plan.student
    return replace(base, n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=vocab_size)


def student_config(plan: Plan):
    from ..presets import get_preset

    return replace(
        get_preset(plan.world).train,
        steps=plan.steps,
        micro_batch=plan.micro_batch,
        grad_accum=1,
        lr=plan.lr,
        warmup_steps=max(1, plan.steps // 10),
        eval_interval=plan.eval_interval,
        ckpt_interval=plan.eval_interval,
        max_time_s=0.0,
    )


def distillation_section(model, lab: "Lab", plan: Plan, run_dir: Path, progress: bool) -> dict:
    from ..losses import Distillation
    from ..models import build_model, param_counts
    from ..pretrain import pretrain

    tok = lab.data.tokenizer
    spec, cfg = student_spec(plan, len(tok)), student_config(plan)
    data = replace(lab.data, eval=lab.eval_blocks)
    curves, final, n_student = {}, {}, 0
    for name, teacher in (("distilled", model), ("data only", None)):
        student = build_model(spec, seed=cfg.seed, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id)
        n_student = param_counts(student)["params"]
        d = run_dir / name.replace(" ", "-")
        s = pretrain(
            student,
            data,
            cfg,
            d,
            progress=progress,
            loss_hook=teacher and Distillation(teacher, plan.temperature, plan.alpha),
        )
        evals = {
            m["step"]: m for m in store.read_metrics(d) if "eval_loss" in m
        }  # a restart re-logs step 0
        curves[name] = [
            {"step": m["step"], "tokens": m["tokens"], "eval_loss": m["eval_loss"]}
            for m in evals.values()
        ]
        final[name] = {"heldout_loss": s["eval_loss"], "accuracy": lab.accuracy(s["model"].eval())}
    return {
        "student": {"n_layer": spec.n_layer, "d_model": spec.d_model, "params": n_student},
        "teacher_params": param_counts(model)["params"],
        "teacher_heldout_loss": lab.loss(model),
        "steps": plan.steps,
        "tokens_per_step": plan.micro_batch * spec.n_ctx,
        "temperature": plan.temperature,
        "alpha": plan.alpha,
        "lr": plan.lr,
        "seed": cfg.seed,
        "curves": curves,
        "final": final,
    }
