"""A block of SGD updates captured once as a CUDA graph and replayed, with an eager fallback.

A mini-batch of 10 on a GPU is launch-bound: forward, backward and optimiser step are about a
hundred small kernels whose launch costs more than their arithmetic. Captured as one CUDA graph,
a whole block of updates (`steps_per_block` of them) is one launch.

The updates are the eager ones, in the same order: the first updates run eagerly (on a side
stream, as capture requires, so that optimiser state and library handles exist), capture records
kernels without running them, and every later block copies its data into the graph's static
inputs and replays. A block of another shape (the short last block of an epoch) or a changed
learning rate (a schedule) gets its own capture; a failed capture, or a device without CUDA,
runs eagerly for good and says why.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.optim import Optimizer

# (xs, ys) -> (losses (steps, copies), logits (steps, copies, batch, classes)), updating in place
BlockUpdates = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
WARMUP_UPDATES = 3


class GraphedBlocks:
    def __init__(self, updates: BlockUpdates, optimizer: Optimizer, enabled: bool) -> None:
        self.updates, self.optimizer = updates, optimizer
        self.eager_updates = 0
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, tuple[Tensor, ...]]] = {}
        self.fallback: str | None = None if enabled else "disabled (train.cuda_graph=false)"
        self._side_stream: torch.cuda.Stream | None = None

    @property
    def path(self) -> str:
        return "cuda-graph" if self.graphs else "eager"

    def __call__(self, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        if self.fallback is None and xs.device.type != "cuda":
            self.fallback = f"not a CUDA device ({xs.device.type})"
        if self.fallback is not None:
            return self.updates(xs, ys)
        if self.eager_updates < WARMUP_UPDATES:
            return self._warm_up(xs, ys)
        key = self._key(xs, ys)
        if key not in self.graphs:
            self._drop_stale_graphs(key)
            if not self._capture(key, xs, ys):
                return self.updates(xs, ys)
        return self._replay(key, xs, ys)

    def _key(self, xs: Tensor, ys: Tensor) -> tuple:
        # A learning rate held in a tensor (a value per packed copy, `models/packed_optim.py`)
        # is read in place by the captured kernels: a new value needs no new capture.
        groups = self.optimizer.param_groups
        learning_rates = tuple(float(g["lr"]) for g in groups if not isinstance(g["lr"], Tensor))
        return tuple(xs.shape), tuple(ys.shape), xs.dtype, learning_rates

    def _warm_up(self, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        if self._side_stream is None:
            self._side_stream = torch.cuda.Stream(device=xs.device)
        self._side_stream.wait_stream(torch.cuda.current_stream(xs.device))
        with torch.cuda.stream(self._side_stream):
            outputs = self.updates(xs, ys)
        torch.cuda.current_stream(xs.device).wait_stream(self._side_stream)
        self.eager_updates += ys.shape[1]
        return outputs

    def _drop_stale_graphs(self, key: tuple) -> None:
        """Graphs captured at another learning rate will not be replayed again."""
        self.graphs = {k: v for k, v in self.graphs.items() if k[3] == key[3]}

    def _capture(self, key: tuple, xs: Tensor, ys: Tensor) -> bool:
        static_xs, static_ys = xs.clone(), ys.clone()
        # Gradients set to None so that backward allocates them from the graph's private pool.
        self.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: the runner's heartbeat thread may touch the process meanwhile.
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                losses, logits = self.updates(static_xs, static_ys)
        except RuntimeError as error:
            self.optimizer.zero_grad(set_to_none=True)
            self.fallback = f"CUDA graph capture failed: {' '.join(str(error).split())}"[:300]
            self.graphs.clear()
            return False
        self.graphs[key] = graph, (static_xs, static_ys, losses, logits)
        return True

    def _replay(self, key: tuple, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        graph, (static_xs, static_ys, losses, logits) = self.graphs[key]
        static_xs.copy_(xs)
        static_ys.copy_(ys)
        graph.replay()
        return losses.clone(), logits.clone()
