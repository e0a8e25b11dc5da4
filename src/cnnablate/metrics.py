"""Exact evaluation metrics: integer counts and float64 sums, not float32 ratios."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


class EvalTotals(Metric):
    """Exact evaluation totals of one copy on one split: the summed loss (float64), the correct
    predictions and the samples (integers). Accuracy is `correct / samples` in Python floats, not
    a float32 ratio; a NaN loss in any batch makes the split's loss NaN."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("loss_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("correct", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("samples", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, mean_loss: Tensor, logits: Tensor, y: Tensor) -> None:
        self.loss_sum += mean_loss.detach().to(torch.float64) * len(y)
        self.correct += (logits.argmax(-1) == y).sum()
        self.samples += len(y)

    def compute(self) -> tuple[float, float]:
        """(mean loss, accuracy); NaN for both without samples."""
        samples = int(self.samples.item())
        if samples == 0:
            return math.nan, math.nan
        return self.loss_sum.item() / samples, int(self.correct.item()) / samples
