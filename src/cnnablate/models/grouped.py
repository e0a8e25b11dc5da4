"""Packed copies whose layers run as explicit batched kernels, instead of `vmap`'s batching rules.

`GroupedNetwork` is a `PackedNetwork` (the same stacked parameters and buffers, state dict,
`weights()` and `unpack()`, so checkpoints, saved training states and L2 do not change) with its
own forward: the template's layers in order, on the activations of all copies at once, in one of
two layouts (`grouped_ops.py` has the kernels):

- copies, `(copies, batch, ...)`: the inputs as they come, and fully connected layers (one
  `baddbmm`, the bias its added input);
- channels, `(batch, copies·channels, ...)`: the copies' channels side by side, for convolutions
  (one convolution with `groups=copies` and the bias in it, or `unfold` + `baddbmm`), pooling and
  batch norm (over copies·channels channels: each channel's statistics are its own, so these are
  the copies' own statistics, and the running ones are views of the stacked buffers).

Elementwise layers (activations, dropout) take either layout, so no copy's data meets another's.
A network with any other layer runs through `vmap` (`unsupported` says which layer). Dropout masks
come from the same shared stream as under `vmap`, but are drawn in another order.

`train.packed_layers` picks the kind: `vmap`, `grouped` (grouped convolutions), `unfold`
(convolutions as batched matrix products); `auto` the one measured fastest for the device and the
network's kind of convolution (`AUTO_LAYERS`, by `scripts/gpu_bench.py`), or the kind
`$CNNABLATE_PACKED_LAYERS` names. Fully connected layers are batched products under both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cnnablate.errors import UserError
from cnnablate.models import grouped_ops as ops
from cnnablate.models.activations import activation_types
from cnnablate.models.layers import NielsenDropout
from cnnablate.models.packed import PackedNetwork

LAYER_KINDS = ("vmap", "grouped", "unfold")
AUTO_ENV = "CNNABLATE_PACKED_LAYERS"  # a kind that `auto` means instead of the table below
# What `auto` runs: device type -> the dims of the network's convolutions (0: none) -> kind,
# the fastest measured by scripts/gpu_bench.py. On the CPU (bench/packs/, 2-core AMD EPYC, one
# thread), µs per update against vmap's over 2, 4, 8 copies: nielsen-conv2-relu grouped 0.95,
# unfold 1.09; udl-cnn unfold 0.69, grouped 0.95; nielsen-shallow (an MLP) grouped 0.82. A
# device not here runs vmap (on CUDA the campaign's measured path, until a GPU has measured the
# others: the device call's microbenchmark).
AUTO_LAYERS: dict[str, dict[int, str]] = {"cpu": {0: "grouped", 1: "unfold", 2: "grouped"}}

CONVS = (nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)


def resolve_layers(kind: str, device: torch.device, conv_dims: int) -> str:
    """The kind of packed layers that runs on `device`: `kind`, or for `auto` the one that
    `$CNNABLATE_PACKED_LAYERS` names, else the measured one."""
    if kind != "auto":
        return kind
    chosen = os.environ.get(AUTO_ENV, "").strip()
    if chosen and chosen not in LAYER_KINDS:
        raise UserError(f"{AUTO_ENV}={chosen!r}; allowed: {', '.join(LAYER_KINDS)}")
    return chosen or AUTO_LAYERS.get(device.type, {}).get(conv_dims, "vmap")


def leaves(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The layers a plain (nested) `nn.Sequential` runs, in order, with their dotted names."""
    if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        found = []
        for name, child in module.named_children():
            found += leaves(child, f"{prefix}{name}.")
        return found
    return [(prefix.rstrip("."), module)]


def stateless(layer: nn.Module) -> bool:
    return next(layer.parameters(), None) is None and next(layer.buffers(), None) is None


def elementwise(layer: nn.Module) -> bool:
    kinds = (nn.Identity, nn.Dropout, NielsenDropout, *activation_types())
    return isinstance(layer, kinds) and stateless(layer)


def layer_failure(layer: nn.Module) -> str | None:
    """Why `layer` cannot run on the packed layouts, or None."""
    if isinstance(layer, CONVS):
        return None if layer.padding_mode == "zeros" else f"padding_mode={layer.padding_mode}"
    if isinstance(layer, NORMS):
        return "momentum=None" if layer.momentum is None else None
    if isinstance(layer, nn.Flatten):
        return None if (layer.start_dim, layer.end_dim) == (1, -1) else "flatten of other dims"
    if isinstance(layer, POOLS):
        return "return_indices=True" if getattr(layer, "return_indices", False) else None
    if isinstance(layer, nn.Linear) or elementwise(layer):
        return None
    return "not a layer the packed kernels know"


def unsupported(template: nn.Module) -> str | None:
    """The first layer of `template` that the packed kernels cannot run, and why; or None."""
    for name, layer in leaves(template):
        reason = layer_failure(layer)
        if reason is not None:
            return f"{type(layer).__name__} at '{name}': {reason}"
    return None


def conv_dims(template: nn.Module) -> int:
    """1 or 2 for a network of 1-D or 2-D convolutions, 0 for one without any."""
    return max((len(m.kernel_size) for m in template.modules() if isinstance(m, CONVS)), default=0)


@dataclass
class Flow:
    """The activations of all copies, in the copies or the channels layout."""

    x: Tensor
    copies: int
    channels: bool = False

    def as_channels(self) -> Tensor:
        """`(batch, copies·C, ...)`: from `(copies, batch, C, ...)` (C = 1 for a vector)."""
        if not self.channels:
            x = self.x if self.x.dim() > 2 else self.x.unsqueeze(-1)
            self.x, self.channels = x.transpose(0, 1).flatten(1, 2), True
        return self.x

    def as_copies(self) -> Tensor:
        if self.channels:
            batch, rest = self.x.shape[0], self.x.shape[2:]
            self.x = self.x.reshape(batch, self.copies, -1, *rest).transpose(0, 1)
            self.channels = False
        return self.x

    def flatten(self) -> None:
        """nn.Flatten of each copy's samples: `(copies, batch, features)`."""
        if self.channels:
            self.x = self.x.reshape(self.x.shape[0], self.copies, -1).transpose(0, 1)
            self.channels = False
        else:
            self.x = self.x.flatten(2)

    def set(self, x: Tensor, channels: bool) -> None:
        self.x, self.channels = x, channels


class GroupedNetwork(PackedNetwork):
    """`len(nets)` networks of one architecture, packed; see the module's docstring."""

    def __init__(self, nets: list[nn.Module], layers: str = "auto") -> None:
        super().__init__(nets)
        if layers not in ("auto", *LAYER_KINDS):
            raise ValueError(f"packed layers '{layers}'; allowed: auto, {', '.join(LAYER_KINDS)}")
        self.layers = layers
        self.unsupported = unsupported(self._template[0])
        self.conv_dims = conv_dims(self._template[0])
        # Each layer with the names of its stacked tensors: (layer, [(own name, stacked name)]).
        self._plan = [
            (layer, [(key, f"{name}.{key}" if name else key) for key in _own_tensor_names(layer)])
            for name, layer in leaves(self._template[0])
        ]
        self.layers_path = "vmap"  # what the last forward ran

    def path_for(self, device: torch.device) -> str:
        kind = resolve_layers(self.layers, device, self.conv_dims)
        return "vmap" if self.unsupported is not None else kind

    def forward(self, x: Tensor, shared: bool = False) -> Tensor:
        self.layers_path = self.path_for(x.device)
        if self.layers_path == "vmap":
            return super().forward(x, shared)
        self._template[0].train(self.training)  # for dropout
        state = self._state()
        flow = Flow(x.expand(self.copies, *x.shape) if shared else x, self.copies)
        for layer, names in self._plan:
            self._run(layer, flow, {key: state[stacked] for key, stacked in names})
        return flow.as_copies()

    def _run(self, layer: nn.Module, flow: Flow, tensors: dict[str, Tensor]) -> None:
        """`layer` of every copy at once, on the layout it needs."""
        if isinstance(layer, CONVS):
            conv = ops.unfold_conv if self.layers_path == "unfold" else ops.grouped_conv
            flow.set(conv(flow.as_channels(), layer, tensors, flow.copies), channels=True)
        elif isinstance(layer, nn.Linear):
            flow.set(ops.linear(flow.as_copies(), tensors), channels=False)
        elif isinstance(layer, NORMS):
            x = flow.as_channels()
            flow.set(ops.batch_norm(x, layer, tensors, self.training), channels=True)
        elif isinstance(layer, POOLS):
            flow.set(layer(flow.as_channels()), channels=True)
        elif isinstance(layer, nn.Flatten):
            flow.flatten()
        else:  # elementwise: either layout
            flow.set(layer(flow.x), channels=flow.channels)


def _own_tensor_names(layer: nn.Module) -> list[str]:
    named = [*layer.named_parameters(recurse=False), *layer.named_buffers(recurse=False)]
    return [name for name, _ in named]


def pack_networks(nets: list[nn.Module], layers: str = "auto") -> PackedNetwork:
    """The copies packed: by `vmap` (`PackedNetwork`) or with packed layers where they run."""
    return PackedNetwork(nets) if layers == "vmap" else GroupedNetwork(nets, layers)
