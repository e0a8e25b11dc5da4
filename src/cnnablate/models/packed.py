"""Several independent copies of one network, trained as one (`torch.func`: stacked, vmapped).

Each copy keeps its own weights and initialisation; its dropout masks differ from the other
copies' but are drawn from one shared random stream (`vmap(randomness="different")`). One kernel
launch serves all of them, which is what makes many small networks fast on a GPU.
"""

from __future__ import annotations

import copy

from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from cnnablate.models.network import weight_names


class PackedNetwork(nn.Module):
    """`len(nets)` networks of one architecture; parameters stacked along a new first dim.

    `forward(x)` takes per-copy inputs `(copies, batch, ...)`, or with `shared=True` one input
    `(batch, ...)` for all copies; it returns `(copies, batch, outputs)`.
    """

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        params, _ = stack_module_state(nets)
        self.names = list(params)
        self.weight_names = weight_names(nets[0])
        self.stacked = nn.ParameterList(
            nn.Parameter(params[n].detach().clone()) for n in self.names
        )
        # A list keeps the meta-device template out of the module tree (no parameters of its own).
        self._template = [copy.deepcopy(nets[0]).to("meta")]
        self.copies = len(nets)

    def _call(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self._template[0], params, (x,))

    def forward(self, x: Tensor, shared: bool = False) -> Tensor:
        self._template[0].train(self.training)
        params = dict(zip(self.names, self.stacked, strict=True))
        call = vmap(self._call, in_dims=(0, None if shared else 0), randomness="different")
        return call(params, x)

    def weights(self) -> list[Tensor]:
        """The stacked weights that L2 penalises, by the same rule as a lone network's."""
        return [p for n, p in zip(self.names, self.stacked, strict=True) if n in self.weight_names]

    def unpack(self, index: int) -> nn.Module:
        """Copy `index` as an ordinary network."""
        net = copy.deepcopy(self._template[0]).to_empty(device=self.stacked[0].device)
        net.load_state_dict(
            {n: p[index].detach() for n, p in zip(self.names, self.stacked, strict=True)}
        )
        return net
