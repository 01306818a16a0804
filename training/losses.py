"""Loss hooks for `training.pretrain.pretrain`: the loop's loss line is next-token cross-entropy;
a hook `(logits, inputs, ce) -> loss` turns it into another objective on the same logits, and
nothing else changes (data order, schedule, logging) — so two runs that differ in their hook
differ in their targets alone.

`Distillation` is the one hook the lab uses (Hinton et al. 2015, arXiv 1503.02531): the student
matches a frozen teacher's softened next-token distributions.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
import torch.nn.functional as F


class LossHook(Protocol):
    def __call__(
        self, logits: torch.Tensor, inputs: torch.Tensor, ce: torch.Tensor
    ) -> torch.Tensor:
        """The loss to minimise, from the model's `logits` on `inputs` and their cross-entropy."""


def distill_loss(
    logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    ce: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015, arXiv 1503.02531):
    alpha·T²·KL(teacher_T ‖ student_T) + (1−alpha)·CE, both distributions softened by temperature T,
    KL averaged over tokens. T² keeps the soft term's gradients the size of the hard term's."""
    s = F.log_softmax(logits.float().reshape(-1, logits.size(-1)) / temperature, dim=-1)
    t = F.log_softmax(
        teacher_logits.float().reshape(-1, teacher_logits.size(-1)) / temperature, dim=-1
    )
    kl = F.kl_div(s, t, log_target=True, reduction="batchmean")
    return alpha * temperature**2 * kl + (1 - alpha) * ce


class Distillation:
    """A loss hook: `distill_loss` against `teacher` (a frozen LM with the student's vocabulary),
    weight `alpha` on the soft term at `temperature`. The logged training loss is then this
    objective; held-out evaluation stays plain cross-entropy."""

    def __init__(self, teacher: Any, temperature: float = 2.0, alpha: float = 1.0):
        if not (temperature > 0 and 0 <= alpha <= 1):
            raise ValueError(
                f"distill_temperature={temperature}, distill_alpha={alpha}: "
                "need a temperature > 0 and an alpha in [0, 1]"
            )
        self.teacher, self.temperature, self.alpha = teacher, temperature, alpha
        self._device: torch.device | None = None

    def __call__(
        self, logits: torch.Tensor, inputs: torch.Tensor, ce: torch.Tensor
    ) -> torch.Tensor:
        if self._device != logits.device:  # frozen: on the student's device, in eval mode
            self.teacher = self.teacher.to(logits.device).eval()
            self._device = logits.device
        with torch.no_grad():
            teacher_logits = self.teacher(input_ids=inputs).logits
        return distill_loss(logits, teacher_logits, ce, self.temperature, self.alpha)
