"""The lecture's claims 6–8 measured on a trained network with `cnnablate.probes`.

- Equivariance: the first convolution (its trained kernels, applied at stride 1) on test inputs
  shifted by one position, against its output shifted by one.
- Invariance: the relative change of the first block's output under a one-position shift, with
  that block's convolution and activation followed by max pooling, mean pooling, plain stride-2
  subsampling, or nothing.
- Receptive fields: measured by the input gradient of one central unit after each block, against
  the formula r ← r + (k − 1)·jump, jump ← jump·stride (conv, then pooling).
- Parameter counts: C_i·C_o·K^d + C_o per conv layer against the layer's tensors.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from cnnablate.models.activations import activation_types
from cnnablate.models.layers import ConvBlock
from cnnablate.probes import equivariance_error, receptive_field, shift_change

CONV_TYPES = (nn.Conv1d, nn.Conv2d)
MAX_POOLS = (nn.MaxPool1d, nn.MaxPool2d)
AVG_POOLS = (nn.AvgPool1d, nn.AvgPool2d)
PROBE_INPUTS = 500


def conv_blocks(net: nn.Module) -> list[ConvBlock]:
    return [m for m in net.modules() if isinstance(m, ConvBlock)]


def _dims(conv: nn.Module) -> int:
    return 1 if isinstance(conv, nn.Conv1d) else 2


def stride_one(conv: nn.Module) -> nn.Module:
    """The same convolution (weights, kernel, dilation, padding) evaluated at every position."""
    copy_ = copy.deepcopy(conv)
    copy_.stride = (1,) * _dims(conv)
    return copy_


def equivariance(net: nn.Module, x: Tensor) -> dict[str, float]:
    """Max |conv(shift x) − shift(conv x)|, absolute and relative to max |conv x|."""
    conv = stride_one(conv_blocks(net)[0].conv)
    x = x[:PROBE_INPUTS]
    error = equivariance_error(conv, x, by=1)
    with torch.no_grad():
        scale = conv(x).abs().max().item()
    return {"max_abs_error": error, "relative_error": error / scale if scale else math.nan}


def _activation(block: ConvBlock) -> nn.Module:
    return next((m for m in block if isinstance(m, activation_types())), nn.Identity())


class Subsample(nn.Module):
    """Keep every second position along each spatial axis (a stride-2 layer without pooling)."""

    def forward(self, x: Tensor) -> Tensor:
        return x[..., ::2] if x.dim() == 3 else x[..., ::2, ::2]


def pooling_variants(block: ConvBlock) -> dict[str, nn.Module]:
    conv, act = stride_one(block.conv), _activation(block)
    pools = (nn.MaxPool1d, nn.AvgPool1d) if _dims(conv) == 1 else (nn.MaxPool2d, nn.AvgPool2d)
    return {
        "max pool 2": nn.Sequential(conv, act, pools[0](2, 2)),
        "mean pool 2": nn.Sequential(conv, act, pools[1](2, 2)),
        "stride 2, no pool": nn.Sequential(conv, act, Subsample()),
        "no pooling": nn.Sequential(conv, act),
    }


def shift_invariance(net: nn.Module, x: Tensor) -> dict[str, float]:
    """Relative output change under a one-position shift, per pooling of the first block."""
    block = conv_blocks(net)[0]
    return {
        name: shift_change(layer.eval(), x[:PROBE_INPUTS], by=1)
        for name, layer in pooling_variants(block).items()
    }


@torch.no_grad()
def prediction_stability(net: nn.Module, x: Tensor) -> float:
    """Fraction of inputs whose predicted class survives a one-position shift (last axis)."""
    from cnnablate.probes import shift

    x = x[:PROBE_INPUTS]
    return (net(x).argmax(-1) == net(shift(x, 1)).argmax(-1)).float().mean().item()


def _linear_support(stack: nn.Module) -> nn.Module:
    """A copy whose gradient support is the receptive field: activations become identities
    (saturating ones would underflow) and max pools mean pools (a max routes the gradient to
    one input of each window)."""
    probe = copy.deepcopy(stack).eval()
    for module in probe.modules():
        for name, child in module.named_children():
            if isinstance(child, activation_types()):
                setattr(module, name, nn.Identity())
            elif isinstance(child, MAX_POOLS):
                avg = nn.AvgPool1d if isinstance(child, nn.MaxPool1d) else nn.AvgPool2d
                setattr(module, name, avg(child.kernel_size, child.stride))
    return probe


def _first(value: Any) -> int:
    return value[0] if isinstance(value, tuple) else value


def receptive_field_formula(blocks: list[ConvBlock]) -> list[int]:
    size, jump, sizes = 1, 1, []
    for block in blocks:
        conv = block.conv
        size += (_first(conv.kernel_size) - 1) * _first(conv.dilation) * jump
        jump *= _first(conv.stride)
        for pool in (m for m in block if isinstance(m, MAX_POOLS + AVG_POOLS)):
            size += (_first(pool.kernel_size) - 1) * jump
            jump *= _first(pool.stride)
        sizes.append(size)
    return sizes


def receptive_fields(net: nn.Module, input_shape: tuple[int, ...]) -> list[dict[str, Any]]:
    """Per depth: the measured receptive field (along the last axis) and the formula's."""
    blocks = conv_blocks(net)
    formula = receptive_field_formula(blocks)
    width = input_shape[-1]
    rows = []
    for depth in range(1, len(blocks) + 1):
        stack = _linear_support(nn.Sequential(*blocks[:depth]))
        with torch.no_grad():
            out_width = stack(torch.zeros(1, *input_shape)).shape[-1]
        measured = receptive_field(stack, input_shape, position=out_width // 2)
        rows.append(
            {
                "depth": depth,
                "layer": _layer_label(blocks[depth - 1]),
                "measured": measured,
                "formula": min(formula[depth - 1], width),
            }
        )
    return rows


def _layer_label(block: ConvBlock) -> str:
    conv = block.conv
    pools = [m for m in block if isinstance(m, MAX_POOLS + AVG_POOLS)]
    pooling = "".join(f", pool {_first(m.kernel_size)}" for m in pools)
    return f"kernel {_first(conv.kernel_size)}, stride {_first(conv.stride)}{pooling}"


def conv_parameter_counts(net: nn.Module) -> list[dict[str, Any]]:
    """Per conv layer: C_i·C_o·K^d + C_o against the numbers of its weight and bias entries."""
    rows = []
    for index, block in enumerate(conv_blocks(net)):
        conv = block.conv
        kernel = math.prod(conv.kernel_size)
        formula = conv.in_channels * conv.out_channels * kernel + conv.out_channels
        actual = sum(p.numel() for p in conv.parameters())
        rows.append(
            {
                "layer": index + 1,
                "C_i": conv.in_channels,
                "C_o": conv.out_channels,
                "K": "×".join(str(k) for k in conv.kernel_size),
                "formula": formula,
                "actual": actual,
            }
        )
    return rows
