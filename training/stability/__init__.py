"""`python -m training stability`: the Stability lab — the course's claim that large models are
prone to instability (gradient explosion, loss spikes, precision issues) and that careful init,
gradient clipping, warmup/decay and mixed precision with loss scaling tame it, shown in real runs
of the project's own model (the cpu preset's 4-layer llama, 3.6M parameters) on the world corpus.

One run is the project's loop (`make_optimizer`: AdamW; `lr_lambda`: linear warmup then the run's
schedule, cosine decay to lr/10 by default; `batch_indices`: the seeded data order) with every
step instrumented:

    loss           the training loss of the step's batch
    grad_norm      global L2 norm of the *unscaled* gradients, before clipping
    update_norm    ‖θ_after − θ_before‖ over all parameters; update_ratio = update_norm / ‖θ_before‖
    zero_frac      share of gradient elements exactly 0 in the non-embedding weight matrices
    head_zero_frac the same in the tied embedding / output-head matrix (see below)
    n_inf, n_nan   non-finite gradient elements (after unscaling)
    loss_scale     the GradScaler's scale this step used (null without one); skipped: it skipped the step
    lr             the learning rate this step used

A NaN/inf loss is a result: the step is recorded, `diverged_at` set and the run stops. JSON has
no inf/NaN, so a non-finite float is stored as the string "inf", "-inf" or "nan" (loss,
grad_norm, update_norm, update_ratio); update_norm/update_ratio are null on the diverged step,
which takes no update.

Precision, honestly: "bf16" and "fp16" are CPU autocast (fp32 master weights, the optimizer in
fp32, matmuls in 16 bits, softmax/norms/loss in fp32 — as on a GPU); "fp16-scaled" adds
`torch.amp.GradScaler("cpu")`, which starts at 2^16. One thing differs from a GPU, measured:
  * This CPU has no fp16 matrix units: PyTorch's fp16 matmul kernel runs ~25x slower than fp32
    (a 1024-token step 5 s instead of 0.2 s). During fp16 runs a dispatch mode (`half_gemm()`) runs
    each fp16 matmul as a GPU tensor core does — fp16 operands, fp32 accumulation, result rounded
    to fp16 — so overflow (>65504 -> inf) and underflow (<6e-8 -> 0) happen exactly where they
    would; it agrees with the native kernel to 1 fp16 ulp on 0.1-0.4% of elements and has the
    same zeros (checked in tests/test_stability.py).

Where fp16 underflow shows in a model this small: its weight gradients are large (rms 1e-5..5e-3
per element) next to fp16's smallest subnormal 6e-8, so few vanish; what vanishes is the output
softmax's gradient for the many tokens the model has learned to rule out, (p_token / tokens in
the batch) < 6e-8, and the small attention (q/k) gradients. The output head is tied to the
embedding, so every row of that matrix gets a softmax gradient: in fp32, bf16 and fp16 +
GradScaler its zero share is 0 on every step, and without scaling it is the clearest sign of
underflow (`head_zero_frac`). Underflow grows with the tokens per batch (each token's gradient is
divided by it) and with model size — real LLM batches are ~1000x ours.

The grid (`GRID`; cpu preset: 8 sequences x 128 tokens per step, 150 steps, seed 0; final losses
are the mean of the last 10 steps; every curve is in checkpoints/stability/results.json):
  baseline          lr 2e-3, warmup 20, clip 1.0, fp32. Loss 7.70 -> 3.51 (mean of the last 10
                    steps); grad norm median 1.17 (so clip 1.0 acts on 133 of 150 steps), max 3.48
                    at step 1; update ratio <= 0.017.
  no-warmup         the first AdamW step moves the weights by 6.2% of their norm (0.3% warmed up),
                    and at this lr the model absorbs it: 3.34, better than the baseline (seed 1:
                    3.45 vs 3.88). Warmup is insurance for high learning rates, not free.
  no-clipping       3.95 vs 3.51 (seed 1: 4.33 vs 3.88), max grad norm 6.0. The update size barely
                    changes (max ratio 0.014 vs 0.017: AdamW divides by the running gradient RMS);
                    clipping bounds what each batch puts into those running moments.
  lr-x10            2e-2 with warmup + clip: 4.56, update ratio up to 0.091 (5x the baseline).
  lr-x10-no-warmup  the first step moves every weight by ±0.02, its own init scale (update ratio
                    0.62): the loss spikes to 9.60 at step 6, above the untrained 7.70; ends 4.85.
  lr-x10-bare       no warmup, no clip: spike to 9.21, grad norm up to 21.7, the worst fp32 run
                    (5.14). It never turns NaN in fp32: RMSNorm keeps the activations bounded.
  init-x10          std 0.2: the loss starts at 12.6 (uniform guessing is ln 2048 = 7.62), grad norm
                    14 and above 10 for ~25 steps; AdamW's ±lr steps are small next to the big
                    weights (update ratio <= 0.003), so it ends at 4.51.
  fp16              no loss scaling: 0.43% of weight-matrix gradients exactly 0 on average (every
                    step > 0, peak 6.0% at step 19) and the output head's up to 48% (step 23) — in
                    the phase (steps ~17-32) where the model has learned which tokens are rare. Ends 3.57: at this
                    size the lost gradients cost little.
  fp16-scaled       the same run with the GradScaler: no zero on any step, scale 2^16 throughout, no
                    step skipped; 3.48.
  bf16              fp32's exponent range: no zeros, no scaling; 3.46.
  fp16-overflow     init x100 in fp16 (+ GradScaler): activations pass 65504 in the first forward,
                    the loss is NaN at step 1 (diverged_at = 1, all 3.6M gradients NaN, the step
                    skipped). Loss scaling protects gradients, not the forward pass.
Build: 375 s on 2 shared cores (31-56 s a run; fp16 runs are the slow ones). A default live run
(150 steps, fresh process, data loaded first): 48.7 s.

The LR-decay runs (`SCHEDULE_RUNS`; cpu preset: 300 steps each, the baseline's warmup 20, peak
lr 2e-3, clip 1.0, fp32, seed 0 — the same batches in the same order): constant, cosine, linear
and warmup-stable-decay (training/schedules.py; WSD holds the peak, then decays linearly to lr/10
in the last 20% of the steps). Each is evaluated on 128 held-out blocks after its last step;
`decay_table` gives every run's final loss, held-out loss, the drop over the last 20% of the
steps (mean training loss of the 10 steps before WSD's decay starts minus the final 10's) and
each against constant. Until WSD's decay starts its records are constant's, bit for bit.
Measured (training loss, mean of the last 10 steps / held-out loss after step 300; 241 = WSD's
last step at the peak):
  constant  2.308 / 2.419   (2.542 over steps 232-241, so 0.234 lower by the end)
  cosine    2.491 / 2.621   (+0.183 / +0.202 vs constant: decaying from step 21 slows a model
  linear    2.394 / 2.548    still learning fast; +0.086 / +0.129)
  wsd       2.217 / 2.333   (2.542 over steps 232-241, 0.325 lower by the end; -0.091 / -0.086
                            vs constant: the drop decay buys)
The four runs: 80-137 s each (468 s in all) on a shared 2-core machine with OMP_NUM_THREADS=1.

Devices: a run trains on a CUDA GPU when there is one (`pick_device`; autocast on CUDA, native
fp16/bf16 kernels, `half_gemm` only on the CPU), else on the CPU, computing exactly what it did
before (the model is seeded on the CPU, then moved). The cpu plan is pinned to the CPU, so the
bundled records rebuild the same anywhere. `--preset gpu` (one H100/H200, CUDA required) runs the
four LR-decay runs only, at the gpu preset's world and model, 3,000 steps of 16,384 tokens in
bf16 (grid.py's docstring gives the plan and why the CPU teaching grid is left out).

The package: `settings` (Settings, Shape), `loop` (one instrumented run, precision, device),
`grid` (GRID, SCHEDULE_RUNS, PLANS and the build), `results` (StabilityResults, the schema of
results.json; each run's summary and curves; torch-free), `live` (the app's live run).
`from training import stability` gives them all.
"""

from __future__ import annotations

from .. import store
from ..schedules import SCHEDULES, WSD_DECAY_FRACTION
from .grid import GRID, PLANS, SCHEDULE_RUNS, GridRun, Plan, build, plan_settings, schedule_settings
from .live import _live_lock, live_run
from .loop import half_gemm, heldout_loss, make_model, pick_device, precision_context, run
from .results import (
    FINAL_LOSS_STEPS,
    Batch,
    Curves,
    DecayRow,
    Machine,
    ModelSize,
    NonFinite,
    Record,
    RunSummary,
    StabilityResults,
    StabilityRun,
    choose_runs,
    curves,
    decay_table,
    describe,
    finite,
    headline,
    json_number,
    outcome,
    read_results,
    records_of,
    smoothed,
    summarize,
    summary,
    wsd_decay_from,
)
from .settings import (
    BUILD_MAX_STEPS,
    LIVE_MAX_STEPS,
    LIVE_TIME_LIMIT_S,
    MIN_LR_RATIO,
    PRECISIONS,
    RECORD_VERSION,
    STABLE_LR,
    Settings,
    Shape,
    cpu_shape,
)

RESULTS = store.RESULTS

__all__ = [
    "BUILD_MAX_STEPS",
    "Batch",
    "Curves",
    "DecayRow",
    "FINAL_LOSS_STEPS",
    "GRID",
    "GridRun",
    "LIVE_MAX_STEPS",
    "LIVE_TIME_LIMIT_S",
    "MIN_LR_RATIO",
    "Machine",
    "ModelSize",
    "NonFinite",
    "PLANS",
    "PRECISIONS",
    "Plan",
    "RECORD_VERSION",
    "RESULTS",
    "Record",
    "RunSummary",
    "SCHEDULES",
    "SCHEDULE_RUNS",
    "STABLE_LR",
    "Settings",
    "Shape",
    "StabilityResults",
    "StabilityRun",
    "WSD_DECAY_FRACTION",
    "_live_lock",
    "build",
    "choose_runs",
    "cpu_shape",
    "curves",
    "decay_table",
    "describe",
    "finite",
    "half_gemm",
    "heldout_loss",
    "headline",
    "json_number",
    "live_run",
    "make_model",
    "outcome",
    "pick_device",
    "plan_settings",
    "precision_context",
    "read_results",
    "records_of",
    "run",
    "schedule_settings",
    "smoothed",
    "summarize",
    "summary",
    "wsd_decay_from",
]
