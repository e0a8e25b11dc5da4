"""Dropout with a rate per copy of a pack (`pack_keys.py`): copies whose dropout layers sit in the
same places but drop with different probabilities.

The rate is a buffer of the layer, so that packing stacks it like any other buffer and each
copy's forward under `vmap` sees its own (`models/packed.py`). Masks are drawn as
`rand >= rate`, from the pack's one random stream, as every packed copy's are. A copy taken out
of the pack for its checkpoint gets the ordinary layer back (`lone_layers`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cnnablate.models.layers import NielsenDropout

DROPOUT_LAYERS = (nn.Dropout, NielsenDropout)


class CopyDropout(nn.Module):
    """`nn.Dropout` (inverted) or `NielsenDropout` with its rate in a buffer (in double, so that
    the copy's layer out of the pack has the config's rate to the digit)."""

    def __init__(self, p: float, nielsen: bool) -> None:
        super().__init__()
        self.nielsen = nielsen
        self.register_buffer("rate", torch.tensor(float(p), dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        rate = self.rate.to(x.dtype)
        if not self.training:
            return x * (1.0 - rate) if self.nielsen else x
        kept = x * (torch.rand_like(x) >= rate)
        return kept if self.nielsen else kept / (1.0 - rate)

    def lone(self) -> nn.Module:
        p = float(self.rate)
        return (NielsenDropout(p) if self.nielsen else nn.Dropout(p)).train(self.training)


def dropout_rates(net: nn.Module) -> list[float]:
    return [float(m.p) for m in net.modules() if isinstance(m, DROPOUT_LAYERS)]


def _replace(net: nn.Module, swap) -> nn.Module:
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            replaced = swap(child)
            if replaced is not child:
                setattr(module, name, replaced)
    return net


def per_copy_dropout(nets: list[nn.Module]) -> list[nn.Module]:
    """The networks of a pack, their dropout layers rate buffers where the rates differ between
    them (else unchanged: the layers of a pack of seeds stay torch's)."""
    if len({tuple(dropout_rates(net)) for net in nets}) <= 1:
        return nets

    def swap(layer: nn.Module) -> nn.Module:
        if isinstance(layer, DROPOUT_LAYERS):
            return CopyDropout(layer.p, isinstance(layer, NielsenDropout))
        return layer

    return [_replace(net, swap) for net in nets]


def lone_layers(net: nn.Module) -> nn.Module:
    """`net` with its `CopyDropout` layers back as the ordinary ones, at their rates."""
    return _replace(net, lambda layer: layer.lone() if isinstance(layer, CopyDropout) else layer)
