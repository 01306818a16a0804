"""2. int8 dynamic and int4 weight-only quantization and 3. magnitude pruning of the base model:
what each costs in held-out loss and "born in" accuracy, and (int8, int4) what it saves in bytes
and time."""

from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .kv_cache import time_decode
from .plan import Plan, check_sparsities, quiet_waiter
from .results import int4_name

if TYPE_CHECKING:
    from .lab import Lab


# --- 2. quantization ----------------------------------------------------------------------------


@contextmanager
def _quiet_deprecations():
    """torch.ao.quantization warns that it is deprecated (torchao is its successor); say it once
    in the docstring, not on every call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated.*")
        warnings.filterwarnings(
            "ignore", message=r".*quantized tensor creation functions.*deprecated.*"
        )
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\..*")
        yield


def quantize_int8(model, *, head: bool = False):
    """A copy of `model` with dynamic int8 Linear layers (int8 weights, one scale per output
    channel; activations quantized per batch on the fly). `head=False` keeps the output head, tied to
    the input embedding, in fp32 — quantizing it stores a second, int8 copy of that matrix."""
    # torch only when measuring: the app reads this package's results without it
    import torch

    emb = model.get_input_embeddings().weight
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and (head or m.weight is not emb)
    }
    with _quiet_deprecations():
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            copy.deepcopy(model), {n: per_channel_dynamic_qconfig for n in names}, dtype=torch.qint8
        ).eval()


def quantize_int4(model, group_size: int):
    """A copy of `model` whose block Linears are int4 weight-only, `group_size` weights per fp16
    scale and 4-bit zero point (`training.inference.int4`); embedding and tied head stay fp32."""
    from .int4 import quantize_int4 as q4  # imports torch: the app never loads it

    return q4(model, group_size)


def weight_bytes(model) -> int:
    """Bytes of the weights as stored: every distinct parameter at its dtype, plus each dynamic
    int8 Linear's packed weight (int8 values, its per-channel scales and zero points as the
    quantized tensor holds them) and bias, plus each int4 Linear's packed codes, scales and zero
    points (`storage_bytes`). Buffers of other modules (rotary frequencies) are not weights."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    for m in model.modules():
        if hasattr(m, "storage_bytes"):  # int4.Int4Linear
            total += m.storage_bytes()
        if isinstance(m, QLinear):
            w, b = m.weight(), m.bias()
            total += w.numel() * w.element_size()
            if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                total += sum(
                    t.numel() * t.element_size()
                    for t in (w.q_per_channel_scales(), w.q_per_channel_zero_points())
                )
            else:
                total += 16  # one float64 scale and one int64 zero point
            total += b.numel() * b.element_size() if b is not None else 0
    return total


def compare_logits(reference, model, blocks, batch_size: int = 8) -> tuple[float, float]:
    """(share of positions where the argmax token agrees, max |logit difference|) on `blocks`."""
    import torch

    agree = total = 0
    worst = 0.0
    with torch.inference_mode():
        for i in range(0, len(blocks), batch_size):
            x = blocks[i : i + batch_size, :-1]
            a, b = reference(input_ids=x).logits.float(), model(input_ids=x).logits.float()
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            total += a.shape[0] * a.shape[1]
            worst = max(worst, float((a - b).abs().max()))
    return agree / total, worst


def quantization_section(model, lab: "Lab", plan: Plan) -> list[dict]:
    """fp32, int8 and int4 (each group size) timed side by side, then each one's bytes, loss,
    accuracy and agreement with fp32."""
    variants = {
        "fp32": model,
        "int8 (blocks)": quantize_int8(model, head=False),
        "int8 (blocks + head)": quantize_int8(model, head=True),
        **{int4_name(g): quantize_int4(model, g) for g in plan.int4_groups},
    }
    waited = quiet_waiter(plan.quiet_wait_s)()
    ms, _, cores = time_decode(
        {k: (m, True) for k, m in variants.items()},
        lab.prompt[: plan.latency_context],
        plan.new_tokens,
        plan.repeats,
    )
    rows = []
    for name, m in variants.items():
        agree, worst = compare_logits(model, m, lab.logit_blocks)
        rows.append(
            {
                "name": name,
                "weight_bytes": weight_bytes(m),
                "ms_per_token": round(ms[name], 4),
                "heldout_loss": lab.loss(m),
                "accuracy": lab.accuracy(m),
                "top1_agreement": round(agree, 5),
                "max_abs_logit_diff": round(worst, 5),
                "other_cores": cores,
                "context": plan.latency_context,
                "waited_for_quiet_s": round(waited, 1),
            }
        )
    return rows


def int4_section(model, plan: Plan) -> dict:
    """The int4 format: bytes by the formula beside the real tensors' bytes, per group size."""
    from .int4 import int4_format  # imports torch: the app never loads it

    return int4_format(model, plan.int4_groups)


# --- 3. pruning ----------------------------------------------------------------------------------


def prune_global(model, sparsity: float):
    """A copy of `model` with the smallest-|w| share `sparsity` of all block Linear weights set to
    zero, ranked globally (torch.nn.utils.prune L1Unstructured), made permanent; the tied
    embedding/output matrix is left whole. Returns (pruned model, weights considered)."""
    import torch
    from torch.nn.utils import prune

    check_sparsities([sparsity])
    pruned = copy.deepcopy(model)
    emb = pruned.get_input_embeddings().weight
    targets = [
        (m, "weight")
        for m in pruned.modules()
        if isinstance(m, torch.nn.Linear) and m.weight is not emb
    ]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(sparsity))
    for m, name in targets:
        prune.remove(m, name)
    return pruned.eval(), sum(m.weight.numel() for m, _ in targets)


def zero_weights(model) -> int:
    """Exact zeros among the block Linear weights (what `prune_global` ranks)."""
    import torch

    emb = model.get_input_embeddings().weight
    return sum(
        int((m.weight == 0).sum())
        for m in model.modules()
        if isinstance(m, torch.nn.Linear) and m.weight is not emb
    )


def pruning_section(model, lab: "Lab", plan: Plan) -> list[dict]:
    rows = []
    for s in check_sparsities(plan.sparsities):
        pruned, n = prune_global(model, s)
        rows.append(
            {
                "sparsity": s,
                "heldout_loss": lab.loss(pruned),
                "accuracy": lab.accuracy(pruned),
                "pruned_weights": n,
                "zeroed": zero_weights(pruned),
            }
        )
    return rows
