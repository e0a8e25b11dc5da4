"""Several independent copies of one network, trained as one (`torch.func`: stacked, vmapped).

Each copy keeps its own weights and initialisation, and its own buffers (batch norm's running
statistics), which its training-mode forwards update as a lone network's would; its dropout masks
differ from the other copies' but are drawn from one shared random stream
(`vmap(randomness="different")`). One kernel launch serves all of them, which is what makes many
small networks fast on a GPU.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from cnnablate.models.network import weight_names


class StackedBuffers(nn.Module):
    """The copies' buffers stacked along a new first dim, held as buffers of this module (named
    by position), so that they move with `.to()` and are saved in the state dict."""

    def __init__(self, tensors: list[Tensor]) -> None:
        super().__init__()
        for index, tensor in enumerate(tensors):
            self.register_buffer(str(index), tensor)

    def tensors(self) -> list[Tensor]:
        return list(self.buffers(recurse=False))


class PackedNetwork(nn.Module):
    """`len(nets)` networks of one architecture; parameters and buffers stacked along a new first
    dim.

    `forward(x)` takes per-copy inputs `(copies, batch, ...)`, or with `shared=True` one input
    `(batch, ...)` for all copies; it returns `(copies, batch, outputs)`.
    """

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        params, buffers = stack_module_state(nets)
        self.names = list(params)
        self.buffer_names = list(buffers)
        self.weight_names = weight_names(nets[0])
        self.stacked = nn.ParameterList(
            nn.Parameter(params[n].detach().clone()) for n in self.names
        )
        self.stacked_buffers = StackedBuffers([buffers[n].clone() for n in self.buffer_names])
        # A list keeps the meta-device template out of the module tree (no parameters of its own).
        self._template = [copy.deepcopy(nets[0]).to("meta")]
        self.copies = len(nets)

    def _state(self) -> dict[str, Tensor]:
        """Every tensor of the template, stacked: parameters, then buffers."""
        state = dict(zip(self.names, self.stacked, strict=True))
        buffers = self.stacked_buffers.tensors()
        state.update(zip(self.buffer_names, buffers, strict=True))
        return state

    def _call(self, state: dict[str, Tensor], x: Tensor) -> Tensor:
        # A training-mode forward updates the buffers in place: under vmap, each copy's own slice.
        return functional_call(self._template[0], state, (x,))

    def forward(self, x: Tensor, shared: bool = False) -> Tensor:
        self._template[0].train(self.training)
        call = vmap(self._call, in_dims=(0, None if shared else 0), randomness="different")
        return call(self._state(), x)

    def weights(self) -> list[Tensor]:
        """The stacked weights that L2 penalises, by the same rule as a lone network's."""
        return [p for n, p in zip(self.names, self.stacked, strict=True) if n in self.weight_names]

    def unpack(self, index: int) -> nn.Module:
        """Copy `index` as an ordinary network: its weights and its buffers."""
        net = copy.deepcopy(self._template[0]).to_empty(device=self.stacked[0].device)
        net.load_state_dict({n: t[index].detach() for n, t in self._state().items()})
        return net.train(self.training)


def pack_failure(nets: list[nn.Module], input_shape: tuple[int, ...]) -> str | None:
    """Why copies of these networks cannot train packed (a forward and backward of copies of
    them through `PackedNetwork` fails), or None."""
    try:
        packed = PackedNetwork([copy.deepcopy(net) for net in nets])
        packed(torch.zeros(len(nets), 2, *input_shape)).sum().backward()  # per-copy inputs
    except Exception as error:
        lines = str(error).strip().splitlines()
        return f"{type(error).__name__}: {lines[0] if lines else ''}"
    return None
