"""The registry of normalisation layers: a new one is one entry here (and its name in
`config.BUILTIN_NORMS`), and a conv layer's `norm` may name it.

An entry makes the layer for a convolution's output, `(channels, dims)` -> module, or None for no
layer. The network puts it right after the convolution. Its parameters are left at their own
initialisation by every scheme (`init.py`) and are not decayed by Nielsen's L2 (the rule in
`network.weight_names`); its buffers (batch norm's running statistics) travel with packed copies.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

NormFactory = Callable[[int, int], nn.Module | None]


def no_norm(channels: int, dims: int) -> None:
    return None


def batch_norm(channels: int, dims: int) -> nn.Module:
    return (nn.BatchNorm1d, nn.BatchNorm2d)[dims - 1](channels)


NORMS: dict[str, NormFactory] = {
    "none": no_norm,
    "batch": batch_norm,
}


def norm_layer(name: str, channels: int, dims: int) -> nn.Module | None:
    return NORMS[name](channels, dims)
