"""Mini-batches drawn from tensors that already live on the training device.

No per-sample Python and no worker processes: each epoch shuffles an index vector on the device
and gathers whole blocks of mini-batches with one indexing operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

Transform = Callable[[Tensor, torch.Generator], Tensor]


def to_float(x: Tensor) -> Tensor:
    """uint8 images become floats in [0, 1]; float signals pass through."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


class TrainBlocks:
    """An epoch of training data as blocks of `steps_per_block` mini-batches of `batch_size`.

    Each yielded item is `(xs, ys)` with shapes `(k, batch, ...)` and `(k, batch)`: the
    LightningModule makes one SGD update per mini-batch, in order. The data order of epoch `e`
    depends only on `(seed, e)`. A last, smaller mini-batch (when the batch size does not divide
    the set) comes alone as a block of one. `max_updates` caps the total over all epochs.

    With several seeds (`seed` a list, for networks trained together), each seed has its own
    order, the same as it would have alone, and items gain a leading seed dimension:
    `(seeds, k, batch, ...)`.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        steps_per_block: int,
        shuffle: bool,
        seed: int | list[int],
        max_updates: int | None = None,
        transform: Transform | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = min(batch_size, len(x))
        self.steps_per_block = steps_per_block
        self.shuffle = shuffle
        self.seeds = list(seed) if isinstance(seed, list | tuple) else [seed]
        self.packed = isinstance(seed, list | tuple)
        self.max_updates = max_updates
        self.transform = transform
        self.epoch = 0
        self.updates_issued = 0

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def _updates_this_epoch(self) -> int:
        if self.max_updates is None:
            return self.batches_per_epoch
        return max(0, min(self.batches_per_epoch, self.max_updates - self.updates_issued))

    def _block_sizes(self) -> list[int]:
        updates = self._updates_this_epoch()
        full = min(updates, len(self.x) // self.batch_size)
        sizes = [self.steps_per_block] * (full // self.steps_per_block)
        if full % self.steps_per_block:
            sizes.append(full % self.steps_per_block)
        return sizes + [1] * (updates - full)

    def __len__(self) -> int:
        return len(self._block_sizes())

    def _order(self, generator: torch.Generator) -> Tensor:
        n, device = len(self.x), self.x.device
        if not self.shuffle:
            return torch.arange(n, device=device)
        return torch.randperm(n, generator=generator, device=device)

    def _generator(self, seed: int) -> torch.Generator:
        generator = torch.Generator(device=self.x.device)
        generator.manual_seed(seed * 100_003 + self.epoch)
        return generator

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        generators = [self._generator(seed) for seed in self.seeds]
        orders = torch.stack([self._order(g) for g in generators])  # (seeds, n)
        sizes = self._block_sizes()
        self.epoch += 1
        self.updates_issued += sum(sizes)
        start = 0
        for size in sizes:
            batch = min(self.batch_size, len(self.x) - start)
            index = orders[:, start : start + size * batch].view(len(self.seeds), size, batch)
            start += size * batch
            xs = to_float(self.x[index])
            if self.transform is not None:
                xs = self.transform(xs.flatten(0, 2), generators[0]).view_as(xs)
            ys = self.y[index]
            yield (xs, ys) if self.packed else (xs[0], ys[0])


class EvalBatches:
    """A split in fixed order, in batches of `batch_size`, for evaluation."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(self.x), self.batch_size):
            stop = start + self.batch_size
            yield to_float(self.x[start:stop]), self.y[start:stop]
