"""Floating-point operations of one training step, counted by PyTorch's own `FlopCounterMode`.

Only the operations that `torch.utils.flop_counter` knows are counted: matrix products and
convolutions (forward and backward). Element-wise work (activations, pooling, the loss, bias
gradients) is left out: it is small next to them in the networks of the lecture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from cnnablate.data import TensorDataModule
    from cnnablate.module import Classifier

Loss = Callable[[Tensor, Tensor], Tensor]


def training_flops_per_sample(net: nn.Module, loss_fn: Loss, x: Tensor, y: Tensor) -> float:
    """FLOPs of one forward and backward pass of `net` on the batch `(x, y)`, per sample.

    The backward pass computes the gradients of the trainable parameters (and of `x` only when
    `x` requires them), as a training step does. The parameters' `.grad`, the buffers (batch
    norm's running statistics, which a training-mode forward updates) and the random number
    generators are left as they were, so counting changes nothing about training.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    leaves = [*params, x] if x.requires_grad else params
    # backward() rather than autograd.grad(): FlopCounterMode's module hooks reject the latter
    # when a leaf such as `x` is asked for; the gradients it leaves behind are put back after.
    saved = [leaf.grad for leaf in leaves]
    buffers = [(buffer, buffer.clone()) for buffer in net.buffers()]
    with _same_random_state(x.device), FlopCounterMode(display=False) as counter:
        for leaf in leaves:
            leaf.grad = None
        loss_fn(net(x), y).backward(inputs=leaves)
    for leaf, grad in zip(leaves, saved, strict=True):
        leaf.grad = grad
    with torch.no_grad():
        for buffer, value in buffers:
            buffer.copy_(value)
    return counter.get_total_flops() / len(x)


def _same_random_state(device: torch.device):
    # Dropout draws random numbers; forking keeps a seeded run's stream untouched.
    cuda = [device] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=cuda)


def flops_figures(module: Classifier, datamodule: TensorDataModule, rate: float | None) -> dict:
    """Training FLOPs per sample of one network (one counted step), and the FLOP/s achieved
    (all copies of a packed module together)."""
    x, y = datamodule.sample_batch()
    net = module.net.unpack(0) if module.packed else module.net
    net.train()
    per_sample = training_flops_per_sample(net, module.loss_fn, x, y)
    return {
        "train_flops_per_sample": per_sample,
        "achieved_flops_per_s": per_sample * rate if rate else None,
    }
