"""The three costs of the lecture, each a function of the last layer's pre-activation `z`.

All are averaged over the mini-batch and summed over the outputs, as in Nielsen's code, so
that his learning rates mean the same here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from cnnablate.config import LossName

Loss = Callable[[Tensor, Tensor], Tensor]


def one_hot(y: Tensor, num_classes: int, like: Tensor) -> Tensor:
    return F.one_hot(y, num_classes).to(like.dtype)


def cross_entropy(z: Tensor, y: Tensor) -> Tensor:
    """Softmax outputs, log-likelihood cost: -mean log softmax(z)[y]."""
    return F.cross_entropy(z, y)


def binary_cross_entropy(z: Tensor, y: Tensor) -> Tensor:
    """Sigmoid outputs, cross-entropy per output against one-hot targets (Nielsen ch. 3)."""
    target = one_hot(y, z.shape[-1], z)
    return F.binary_cross_entropy_with_logits(z, target, reduction="none").sum(-1).mean()


def quadratic(z: Tensor, y: Tensor) -> Tensor:
    """Sigmoid outputs, quadratic cost 0.5 * ||sigmoid(z) - one_hot(y)||^2 (Nielsen ch. 1)."""
    target = one_hot(y, z.shape[-1], z)
    return 0.5 * (z.sigmoid() - target).square().sum(-1).mean()


LOSSES: dict[str, Loss] = {"ce": cross_entropy, "bce": binary_cross_entropy, "mse": quadratic}


def get_loss(name: LossName) -> Loss:
    return LOSSES[name]
