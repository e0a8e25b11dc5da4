"""The few building blocks the lecture's networks need, beyond torch.nn's own."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cnnablate.config import Activation, ConvLayerConfig
from cnnablate.models.activations import activation
from cnnablate.models.norms import norm_layer


class NielsenDropout(nn.Module):
    """Dropout as in Nielsen's network3: drop inputs with probability p in training without
    rescaling, and scale by (1 - p) in evaluation. Same function in expectation as nn.Dropout,
    but the learning dynamics (and so the lecture's learning rates) match the book's."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return x * (torch.rand_like(x) >= self.p)
        return x * (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dropout(p: float, style: str) -> nn.Module:
    return NielsenDropout(p) if style == "nielsen" else nn.Dropout(p)


def pooling(dims: int, layer: ConvLayerConfig) -> nn.Module | None:
    stride = layer.pool_stride or layer.pool_size
    if layer.pool == "max":
        return (nn.MaxPool1d, nn.MaxPool2d)[dims - 1](layer.pool_size, stride)
    if layer.pool == "mean":
        return (nn.AvgPool1d, nn.AvgPool2d)[dims - 1](layer.pool_size, stride)
    return None


class ConvBlock(nn.Sequential):
    """[dropout] → conv → [norm] → activation and pooling, in the order the config asks for."""

    def __init__(
        self,
        dims: int,
        in_channels: int,
        layer: ConvLayerConfig,
        default_activation: Activation,
        dropout_style: str,
    ) -> None:
        conv_cls = (nn.Conv1d, nn.Conv2d)[dims - 1]
        conv = conv_cls(
            in_channels,
            layer.channels,
            layer.kernel,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
        )
        act = activation(layer.activation or default_activation)
        pool = pooling(dims, layer)
        modules: list[nn.Module] = [dropout(layer.dropout, dropout_style)] if layer.dropout else []
        modules.append(conv)
        norm = norm_layer(layer.norm, layer.channels, dims)
        if norm is not None:
            modules.append(norm)
        if pool is None:
            modules.append(act)
        elif layer.activation_after_pool:
            modules += [pool, act]
        else:
            modules += [act, pool]
        super().__init__(*modules)
        self.pool_area = layer.pool_size**dims if pool is not None else 1

    @property
    def conv(self) -> nn.Module:
        return next(m for m in self if isinstance(m, nn.Conv1d | nn.Conv2d))
