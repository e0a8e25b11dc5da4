"""Weight initialisation schemes of the lecture's sources."""

from __future__ import annotations

import math

from torch import nn

from cnnablate.config import InitScheme
from cnnablate.models.layers import ConvBlock


def _fan_out_nielsen(module: nn.Module, block: ConvBlock | None) -> float:
    """network3: n_out = out features, or maps * k^d / pool area for a ConvPool layer."""
    if isinstance(module, nn.Linear):
        return module.out_features
    kernel_area = math.prod(module.kernel_size)
    return module.out_channels * kernel_area / (block.pool_area if block else 1)


def _weighted_layers(net: nn.Module) -> list[tuple[nn.Module, ConvBlock | None]]:
    layers = []
    for block in net.modules():
        if isinstance(block, ConvBlock):
            layers.append((block.conv, block))
    layers += [(m, None) for m in net.modules() if isinstance(m, nn.Linear)]
    return layers


def initialise(net: nn.Module, scheme: InitScheme) -> None:
    """Re-initialise `net` in place.

    - `default`: PyTorch's own (Kaiming-uniform with a=sqrt(5)).
    - `kaiming`: He-uniform weights, zero biases (UDL's notebooks).
    - `nielsen`: network3 (ch. 6): weights N(0, 1/n_out), biases N(0, 1), output layer zero.
    - `nielsen-ch1`: network.py (ch. 1): weights and biases N(0, 1).
    - `nielsen-ch3`: network2.py (ch. 3): weights N(0, 1/n_in), biases N(0, 1).

    Only conv and linear layers are touched: normalisation layers (`norms.py`) keep their own
    initialisation (batch norm: scale 1, shift 0) under every scheme.
    """
    if scheme == "default":
        return
    layers = _weighted_layers(net)
    output_layer = layers[-1][0]
    for module, block in layers:
        if scheme == "kaiming":
            nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
            continue
        nn.init.normal_(module.bias, 0.0, 1.0)
        if scheme == "nielsen-ch1":
            nn.init.normal_(module.weight, 0.0, 1.0)
        elif scheme == "nielsen-ch3":
            nn.init.normal_(module.weight, 0.0, 1.0 / math.sqrt(module.weight[0].numel()))
        elif module is output_layer:
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        else:
            nn.init.normal_(module.weight, 0.0, math.sqrt(1.0 / _fan_out_nielsen(module, block)))
