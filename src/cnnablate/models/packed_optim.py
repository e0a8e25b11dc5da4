"""Optimisers over stacked parameters `(copies, ...)` with hyperparameters of their own per copy.

The copies of a pack (`pack_keys.py`) may differ in learning rate, momentum, weight decay and
Nielsen's L2: here each is a tensor `(copies,)`, viewed as `(copies, 1, ...)` to broadcast along
a parameter's copy dim, so that one update (one set of kernels, `torch._foreach_*` where it can)
serves every copy. The arithmetic is `torch.optim`'s (SGD: decay added to the gradient, then
momentum; Adam: bias-corrected moments), so each copy takes the steps it would take alone.

Nothing reads a value back to the host while stepping: the steps can be captured in a CUDA graph
(`graphed.py`). A schedule changes the learning-rate tensor in place between epochs
(`set_learning_rates`), so that a captured graph reads the new values without a new capture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

# Adam's fixed settings, as `torch.optim.Adam`'s defaults (the registry's `adam` uses them).
BETAS, EPS = (0.9, 0.999), 1e-8


def per_copy(values: Tensor, like: Tensor) -> Tensor:
    """`values` `(copies,)` viewed to broadcast along the first dim of `like` `(copies, ...)`."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class PackedOptimiser(Optimizer):
    """Parameter groups hold per-copy tensors (`lr`, `weight_decay`, ...); the tensors stay the
    same objects for good (a loaded state is copied into them), as a captured graph needs."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        kept = [{k: v for k, v in g.items() if isinstance(v, Tensor)} for g in self.param_groups]
        super().load_state_dict(state_dict)
        for group, tensors in zip(self.param_groups, kept, strict=True):
            for key, tensor in tensors.items():
                tensor.copy_(group[key])
                group[key] = tensor

    def _with_grads(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor]]:
        params = [p for p in group["params"] if p.grad is not None]
        return params, [p.grad for p in params]


class PackedSGD(PackedOptimiser):
    """`torch.optim.SGD` (no dampening, no Nesterov) with `lr`, `momentum` and each group's
    `weight_decay` given per copy."""

    def __init__(self, groups: list[dict[str, Any]], lr: Tensor, momentum: Tensor) -> None:
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": torch.zeros_like(lr)}
        super().__init__(groups, defaults)
        # Read once here (the values are fixed): copies without them skip no work, but a pack
        # where no copy uses momentum or decay does none.
        self.uses_momentum = bool(momentum.any())
        self.decays = [bool(g["weight_decay"].any()) for g in self.param_groups]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:
        for group, decays in zip(self.param_groups, self.decays, strict=True):
            params, grads = self._with_grads(group)
            if not params:
                continue
            if decays:
                views = [per_copy(group["weight_decay"], p) for p in params]
                grads = torch._foreach_addcmul(grads, params, views)
            if self.uses_momentum:
                buffers = [self._momentum_buffer(p) for p in params]
                torch._foreach_mul_(buffers, [per_copy(group["momentum"], p) for p in params])
                torch._foreach_add_(buffers, grads)  # a first step: 0 * 0 + g, as torch's
                grads = buffers
            lrs = [per_copy(group["lr"], p) for p in params]
            torch._foreach_addcmul_(params, grads, lrs, value=-1.0)

    def _momentum_buffer(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(param)
        return state["momentum_buffer"]


class PackedAdam(PackedOptimiser):
    """`torch.optim.Adam` (betas 0.9, 0.999, eps 1e-8) with `lr` and each group's
    `weight_decay` given per copy; the step count a tensor on the device, as when capturable."""

    def __init__(self, groups: list[dict[str, Any]], lr: Tensor) -> None:
        super().__init__(groups, {"lr": lr, "weight_decay": torch.zeros_like(lr)})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:
        beta1, beta2 = BETAS
        for group in self.param_groups:
            params, grads = self._with_grads(group)
            for param, grad in zip(params, grads, strict=True):
                state = self._state(param)
                # "steps", not "step": torch would leave a loaded "step" on the CPU.
                state["steps"].add_(1)
                grad = grad.addcmul(param, per_copy(group["weight_decay"], param))
                state["exp_avg"].lerp_(grad, 1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                # In double, as torch's (1 - 0.999 in float32 keeps 4 digits); on the device.
                steps = state["steps"].double()
                correction1 = (1 - torch.pow(beta1, steps)).to(param.dtype)
                correction2 = (1 - torch.pow(beta2, steps)).sqrt().to(param.dtype)
                denominator = (state["exp_avg_sq"].sqrt() / correction2).add_(EPS)
                step_size = per_copy(group["lr"], param) / correction1
                param.sub_(state["exp_avg"] / denominator * step_size)

    def _state(self, param: Tensor) -> dict[str, Tensor]:
        state = self.state[param]
        if not state:
            state["steps"] = torch.zeros((), dtype=param.dtype, device=param.device)
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        return state


def packed_optimiser(
    name: str, groups: list[dict[str, Any]], lr: Tensor, momentum: Tensor
) -> PackedOptimiser:
    """The packed form of the registry's optimiser `name` (`pack_keys.PACKED_OPTIMISERS`)."""
    if name == "sgd":
        return PackedSGD(groups, lr, momentum)
    if name == "adam":
        return PackedAdam(groups, lr)
    raise ValueError(f"optimiser {name!r} has no packed form")


def schedule_factor(optim: Any, epoch: int, max_epochs: int) -> float:
    """The learning rate of epoch `epoch` (from 0) over the initial one, as `torch.optim`'s
    schedulers stepped once per epoch give it (`module.Classifier.configure_optimizers`):
    cosine annealing to 0 over `max_epochs`, or a step decay."""
    if optim.schedule == "cosine":
        return (1 + math.cos(math.pi * epoch / max(1, max_epochs))) / 2
    if optim.schedule == "step":
        return optim.step_gamma ** (epoch // optim.step_every_epochs)
    return 1.0


def set_learning_rates(
    optimizer: PackedOptimiser, optims: Sequence[Any], epoch: int, max_epochs: int
) -> None:
    """Each copy's learning rate for `epoch` under its own schedule, written in place."""
    rates = [o.lr * schedule_factor(o, epoch, max_epochs) for o in optims]
    lr = optimizer.param_groups[0]["lr"]  # one tensor, shared by every group
    lr.copy_(torch.tensor(rates, dtype=lr.dtype))
