"""Measurements on networks that test the lecture's claims 6 and 7 (equivariance, invariance,
receptive fields). Each takes a module and inputs and returns a number."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def shift(x: Tensor, by: int, dim: int = -1) -> Tensor:
    """Shift along `dim` by `by` positions with zero fill (no wrap-around)."""
    out = torch.zeros_like(x)
    n = x.shape[dim]
    if abs(by) >= n:
        return out
    src = x.narrow(dim, max(0, -by), n - abs(by))
    out.narrow(dim, max(0, by), n - abs(by)).copy_(src)
    return out


@torch.no_grad()
def equivariance_error(
    layer: nn.Module, x: Tensor, by: int = 1, margin: int | None = None
) -> float:
    """max |layer(shift(x)) - shift(layer(x))| away from the borders (stride-1 layers).

    Zero (to float precision) for a convolution: shifting the input shifts the output.
    """
    margin = margin if margin is not None else abs(by) + 8
    a = layer(shift(x, by))
    b = shift(layer(x), by)
    inner = slice(margin, a.shape[-1] - margin)
    return (a[..., inner] - b[..., inner]).abs().max().item()


@torch.no_grad()
def shift_change(layer: nn.Module, x: Tensor, by: int = 1) -> float:
    """Mean relative change of the output when the input moves by `by` pixels (last dim)."""
    a, b = layer(x), layer(shift(x, by))
    return ((a - b).norm() / a.norm().clamp_min(1e-12)).item()


def receptive_field(stack: nn.Module, input_shape: tuple[int, ...], position: int) -> int:
    """Number of input positions (last dim) that influence output unit `position` of channel 0,
    measured by the input gradient with all weights set to one (so nothing cancels)."""
    probe = _positive_copy(stack)
    x = torch.ones(1, *input_shape, requires_grad=True)
    y = probe(x)
    index = (0, 0, *([y.shape[-2] // 2] if y.dim() == 4 else []), position)
    y[index].backward()
    grad = x.grad.abs().sum(dim=tuple(range(x.dim() - 1)))
    return int((grad > 0).sum().item())


def _positive_copy(stack: nn.Module) -> nn.Module:
    import copy

    probe = copy.deepcopy(stack)
    with torch.no_grad():
        for p in probe.parameters():
            p.fill_(1.0)
    return probe
