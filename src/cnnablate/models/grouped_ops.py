"""The kernels of packed layers (`grouped.py`): each computes one layer of all copies at once from
the copies' stacked tensors (`copies` first), by name as in the layer (`weight`, `bias`,
`running_mean`, ...), as the lone layer would for each copy.

Convolutions and batch norm take the channels layout `(batch, copies·C, ...)`, fully connected
layers the copies layout `(copies, batch, ..., features)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def grouped_conv(x: Tensor, layer: nn.Module, tensors: dict[str, Tensor], copies: int) -> Tensor:
    """One convolution with `groups = copies · layer.groups`, the copies' filters stacked along
    the output channels and their biases in it."""
    weight, bias = tensors["weight"], tensors.get("bias")
    weight = weight.reshape(-1, *weight.shape[2:])
    bias = None if bias is None else bias.reshape(-1)
    conv = F.conv1d if isinstance(layer, nn.Conv1d) else F.conv2d
    groups = layer.groups * copies
    return conv(x, weight, bias, layer.stride, layer.padding, layer.dilation, groups)


def _as_2d(values: tuple[int, ...], one_d: bool, fill: int) -> tuple[int, int]:
    return (fill, values[0]) if one_d else (values[0], values[1])


def unfold_conv(x: Tensor, layer: nn.Module, tensors: dict[str, Tensor], copies: int) -> Tensor:
    """The convolution as one batched matrix product per copy: the patches (`unfold`) times the
    copy's filters, its bias the product's added input (`baddbmm`). 1-D convolutions run as 2-D
    ones of height 1. Grouped or string-padded convolutions run as `grouped_conv`."""
    if layer.groups != 1 or isinstance(layer.padding, str):
        return grouped_conv(x, layer, tensors, copies)
    one_d = x.dim() == 3
    images = x.unsqueeze(2) if one_d else x
    kernel = _as_2d(layer.kernel_size, one_d, 1)
    stride = _as_2d(layer.stride, one_d, 1)
    padding = _as_2d(layer.padding, one_d, 0)
    dilation = _as_2d(layer.dilation, one_d, 1)
    batch, _, height, width = images.shape
    cols = F.unfold(images, kernel, dilation, padding, stride)  # (batch, copies·C·k·k, L)
    places = cols.shape[-1]
    cols = (
        cols.view(batch, copies, -1, places).permute(1, 2, 0, 3).reshape(copies, -1, batch * places)
    )
    weight, bias = tensors["weight"], tensors.get("bias")
    weight = weight.reshape(copies, layer.out_channels, -1)
    if bias is None:
        out = torch.bmm(weight, cols)
    else:
        out = torch.baddbmm(bias.unsqueeze(-1), weight, cols)  # (copies, O, batch·L)
    size = [
        (extent + 2 * pad - dil * (k - 1) - 1) // step + 1
        for extent, pad, dil, k, step in zip(
            (height, width), padding, dilation, kernel, stride, strict=True
        )
    ]
    out = out.view(copies, layer.out_channels, batch, places).permute(2, 0, 1, 3)
    out = out.reshape(batch, copies * layer.out_channels, *size)
    return out.squeeze(2) if one_d else out


def linear(x: Tensor, tensors: dict[str, Tensor]) -> Tensor:
    """`x @ W.T + b` of each copy as one `baddbmm`, the bias its added input."""
    weight, bias = tensors["weight"], tensors.get("bias")  # (copies, O, F), (copies, O)
    rows = x.reshape(x.shape[0], -1, x.shape[-1])
    if bias is None:
        out = torch.bmm(rows, weight.transpose(1, 2))
    else:
        out = torch.baddbmm(bias.unsqueeze(1), rows, weight.transpose(1, 2))
    return out.view(*x.shape[:-1], out.shape[-1])


def _flat(tensor: Tensor | None) -> Tensor | None:
    # A view: batch norm's running statistics update the stacked buffers in place.
    return None if tensor is None else tensor.view(-1)


def batch_norm(x: Tensor, layer: nn.Module, tensors: dict[str, Tensor], training: bool) -> Tensor:
    """Batch norm over copies·C channels: each channel's statistics are its own, so these are the
    copies' own. As `nn.BatchNorm*d.forward` does, with the copies' buffers and affine terms."""
    mean, var = tensors.get("running_mean"), tensors.get("running_var")
    count = tensors.get("num_batches_tracked")
    if training and layer.track_running_stats and count is not None:
        count.add_(1)
    batch_stats = training or (mean is None and var is None)
    running = not training or layer.track_running_stats
    return F.batch_norm(
        x,
        _flat(mean) if running else None,
        _flat(var) if running else None,
        _flat(tensors.get("weight")),
        _flat(tensors.get("bias")),
        batch_stats,
        layer.momentum,
        layer.eps,
    )
