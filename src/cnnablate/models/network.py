"""One builder for every network of the lecture: a conv stack, then fully connected layers.

With no conv layers it is an MLP. Inputs are `(batch, channels, *spatial)`; 1-D or 2-D
convolutions follow from the input shape. The output is the pre-activation `z` of the last
layer: the loss decides whether softmax or sigmoid turns it into output activations.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnablate.config import ModelConfig
from cnnablate.models.init import initialise
from cnnablate.models.layers import ConvBlock, activation, dropout


def conv_stack(config: ModelConfig, input_shape: tuple[int, ...]) -> nn.Sequential:
    dims = len(input_shape) - 1
    if config.conv and dims not in (1, 2):
        raise ValueError(f"conv layers need 1-D or 2-D inputs, got shape {input_shape}")
    blocks, channels = [], input_shape[0]
    for layer in config.conv:
        blocks.append(ConvBlock(dims, channels, layer, config.activation, config.dropout_style))
        channels = layer.channels
    return nn.Sequential(*blocks)


def output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of one sample's output, by a forward of a zero input in the module's mode (its
    dropout draws from the random stream, so the layers built after it are initialised as they
    always were), but with the layers that keep buffers (batch norm's running statistics) in
    evaluation mode: in training mode they would update them, and refuse a single value."""
    stateful = [
        m for m in module.modules() if m.training and next(m.buffers(False), None) is not None
    ]
    for layer in stateful:
        layer.eval()
    with torch.no_grad():
        shape = tuple(module(torch.zeros(1, *input_shape)).shape[1:])
    for layer in stateful:
        layer.train()
    return shape


def fully_connected(config: ModelConfig, in_features: int, num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    widths = [*config.hidden, num_classes]
    for i, width in enumerate(widths):
        if config.dropout:
            layers.append(dropout(config.dropout, config.dropout_style))
        layers.append(nn.Linear(in_features, width))
        if i < len(widths) - 1:
            layers.append(activation(config.activation))
        in_features = width
    return nn.Sequential(*layers)


def build_network(
    config: ModelConfig, input_shape: tuple[int, ...], num_classes: int = 10
) -> nn.Module:
    """The network of `config`: the user's factory's (`model.factory`), else the builder's."""
    if config.factory is not None:
        from cnnablate.models.factory import build_from_factory

        return build_from_factory(config, input_shape, num_classes)
    features = conv_stack(config, input_shape)
    feature_shape = output_shape(features, input_shape)
    if min(feature_shape) < 1:
        raise ValueError(f"the conv layers shrink the input {input_shape} to {feature_shape}")
    head = fully_connected(config, math.prod(feature_shape), num_classes)
    net = nn.Sequential(features, nn.Flatten(), head)
    initialise(net, config.init)
    return net


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


def weight_names(net: nn.Module) -> set[str]:
    """The one rule for what Nielsen's L2 penalises: the `weight` of conv and linear layers (not
    their biases, nor the weight of any other layer, e.g. batch norm's scale)."""
    return {
        f"{name}.weight" if name else "weight"
        for name, module in net.named_modules()
        if isinstance(module, WEIGHTED)
    }


def weight_parameters(net: nn.Module) -> list[nn.Parameter]:
    names = weight_names(net)
    return [p for n, p in net.named_parameters() if n in names]
