"""What each copy of a packed `Classifier` keeps its own (`pack_keys.py`): its cost, its L2
coefficient, its optimiser's settings and its schedule.

Copies are grouped by loss, each group's cost one vmapped call. Where the copies' optimiser
settings differ, one packed optimiser (`models/packed_optim.py`) steps them all with a value per
copy, and each copy's schedule sets its learning rate at the start of every epoch, from the epoch
alone (so a resumed run needs no scheduler state). Where they agree, the module keeps the lone
run's `torch.optim` optimiser and scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from cnnablate.config import ExperimentConfig
from cnnablate.losses import get_loss
from cnnablate.models.packed_optim import PackedOptimiser, packed_optimiser, set_learning_rates
from cnnablate.optimisers import l2_coefficient


class CopySettings(nn.Module):
    """The per-copy settings of a pack of `configs` (one per copy, equal `pack_keys.pack_key`)."""

    def __init__(self, configs: Sequence[ExperimentConfig], num_train: int) -> None:
        super().__init__()
        self.configs = list(configs)
        self.loss_fns = [get_loss(config.loss) for config in self.configs]
        self.l2 = [l2_coefficient(config, num_train) for config in self.configs]
        names = list(dict.fromkeys(config.loss for config in self.configs))
        members = [[i for i, c in enumerate(self.configs) if c.loss == name] for name in names]
        self.group_losses = [get_loss(name) for name in names]
        # Indices on the module's device (buffers, not saved): gathers, no host copies.
        for index, copies in enumerate(members):
            self.register_buffer(f"group{index}", torch.tensor(copies), persistent=False)
        order = torch.tensor([copy for copies in members for copy in copies]).argsort()
        self.register_buffer("order", order, persistent=False)

    @property
    def own_optimiser(self) -> bool:
        """Whether the copies' optimiser settings differ: a packed optimiser then steps them."""
        return any(config.optim != self.configs[0].optim for config in self.configs)

    def l2_penalty(self, weights: list[Tensor]) -> Tensor:
        """Nielsen's L2 term of stacked `weights` `(copies, ...)`, each copy at its coefficient."""
        l2 = torch.tensor(self.l2, device=weights[0].device)
        return 0.5 * sum((l2 * w.square().flatten(1).sum(1)).sum() for w in weights)

    def losses(self, z: Tensor, y: Tensor) -> Tensor:
        """Each copy's cost `(copies,)` of logits `(copies, batch, classes)`, labels
        `(copies, batch)`."""
        if len(self.group_losses) == 1:
            return torch.func.vmap(self.group_losses[0])(z, y)
        parts = []
        for index, loss in enumerate(self.group_losses):
            copies = getattr(self, f"group{index}")
            z_group, y_group = z.index_select(0, copies), y.index_select(0, copies)
            parts.append(torch.func.vmap(loss)(z_group, y_group))
        return torch.cat(parts).index_select(0, self.order)

    def optimiser(self, weights: list[Tensor], others: list[Tensor]) -> Optimizer:
        """The packed optimiser: each copy's learning rate and momentum; on the weights its
        weight decay plus its L2 coefficient, on the other parameters its weight decay alone
        (the rule of `Classifier.parameter_groups`)."""
        like = (weights or others)[0]
        optims = [config.optim for config in self.configs]

        def values(numbers: list[float]) -> Tensor:
            return torch.tensor(numbers, dtype=like.dtype, device=like.device)

        decays = [o.weight_decay for o in optims]
        weight_decays = [d + l2 for d, l2 in zip(decays, self.l2, strict=True)]
        groups = [
            {"params": weights, "weight_decay": values(weight_decays)},
            {"params": others, "weight_decay": values(decays)},
        ]
        lr, momentum = values([o.lr for o in optims]), values([o.momentum for o in optims])
        return packed_optimiser(optims[0].name, groups, lr, momentum)

    def start_epoch(self, optimizer: Optimizer, epoch: int, max_epochs: int) -> None:
        """Each copy's learning rate for `epoch` (from 0) under its own schedule."""
        if isinstance(optimizer, PackedOptimiser):
            set_learning_rates(optimizer, [c.optim for c in self.configs], epoch, max_epochs)
