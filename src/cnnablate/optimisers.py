"""The registry of optimisers: a new one is one entry here (and its name in
`config.BUILTIN_OPTIMISERS`), and `optim.name` may name it.

An entry builds the optimiser from the module's parameter groups, the config's `optim` section
and whether it must be capturable (stepped inside a CUDA graph, `graphed.py`). Each group carries
its own `weight_decay` (`Classifier.parameter_groups`): Nielsen's L2 on the weights, plain weight
decay on all. An optimiser that adds `weight_decay * w` to the gradient, as SGD, Adam and RMSprop
do, makes that the gradient of the L2 penalty; a decoupled one (AdamW) would not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import Optimizer

# (parameter groups, the config's `optim` section (an OptimConfig), capturable) -> optimiser
OptimiserBuilder = Callable[[list[dict[str, Any]], Any, bool], Optimizer]


def sgd(groups: list[dict[str, Any]], optim: Any, capturable: bool) -> Optimizer:
    return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum)


def adam(groups: list[dict[str, Any]], optim: Any, capturable: bool) -> Optimizer:
    # Adam keeps its step count on the device only when capturable, as capture needs.
    return torch.optim.Adam(groups, lr=optim.lr, capturable=capturable)


OPTIMISERS: dict[str, OptimiserBuilder] = {
    "sgd": sgd,
    "adam": adam,
}


def l2_coefficient(config: Any, num_train: int) -> float:
    """Nielsen's λ divided by the number of training mini-batches (network3) or examples."""
    optim = config.optim
    if optim.l2 == 0:
        return 0.0
    if optim.l2_scale == "examples":
        return optim.l2 / num_train
    return optim.l2 / math.ceil(num_train / config.data.batch_size)


def build_optimiser(
    groups: list[dict[str, Any]], optim: Any, capturable: bool = False
) -> Optimizer:
    return OPTIMISERS[optim.name](groups, optim, capturable)
