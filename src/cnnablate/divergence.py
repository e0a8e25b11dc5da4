"""When each copy's loss stopped being finite, without a host synchronisation per block on a GPU.

On the CPU the flags of a block are read at once (no cost), so a run stops at the end of the
block in which its loss went bad. On CUDA they are copied to pinned memory without blocking and
read when the copy has landed (an event says so, a block or two later), or at the epoch's end:
the step recorded is still the block's, only the stop may come a block or two later.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import torch
from torch import Tensor


class Ready(Protocol):
    def query(self) -> bool: ...
    def synchronize(self) -> None: ...


class Landed:
    """The event of a copy that is already on the host (the CPU path)."""

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        pass


class DivergenceWatch:
    """Per copy, the update count at the end of the block whose loss was first not finite."""

    def __init__(self, copies: int) -> None:
        self.diverged: list[int | None] = [None] * copies
        self._pending: deque[tuple[Ready, Tensor, int]] = deque()

    def note(self, finite: Tensor, step: int) -> None:
        """The block that ended at update `step` had these per-copy finite flags."""
        if finite.device.type == "cuda":
            host = torch.empty(finite.shape, dtype=torch.bool, pin_memory=True)
            host.copy_(finite, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self.queue(event, host, step)
        else:
            self.queue(Landed(), finite, step)

    def queue(self, ready: Ready, flags: Tensor, step: int) -> None:
        """Flags on their way to the host (`ready` says when they have landed); those landed
        are taken in at once."""
        self._pending.append((ready, flags, step))
        self.read(wait=False)

    def read(self, wait: bool) -> None:
        """Take in the flags that have landed (all of them, waiting, with `wait`)."""
        while self._pending:
            ready, flags, step = self._pending[0]
            if not ready.query():
                if not wait:
                    return
                ready.synchronize()
            self._pending.popleft()
            for copy, ok in enumerate(flags.tolist()):
                if not ok and self.diverged[copy] is None:
                    self.diverged[copy] = step

    @property
    def all_diverged(self) -> bool:
        return all(step is not None for step in self.diverged)
