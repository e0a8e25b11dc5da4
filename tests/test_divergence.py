"""Divergence flags: read at once on the CPU, when landed (or at the epoch's end) on a GPU."""

from __future__ import annotations

import torch

from cnnablate.divergence import DivergenceWatch


class InFlight:
    """An event whose copy lands when the test says so."""

    def __init__(self) -> None:
        self.landed = False
        self.waited = False

    def query(self) -> bool:
        return self.landed

    def synchronize(self) -> None:
        self.waited = True
        self.landed = True


def test_on_the_cpu_a_block_is_read_at_once_and_the_first_bad_step_kept():
    watch = DivergenceWatch(3)
    watch.note(torch.tensor([True, False, True]), 50)
    assert watch.diverged == [None, 50, None] and not watch.all_diverged
    watch.note(torch.tensor([False, False, False]), 100)
    assert watch.diverged == [100, 50, 100] and watch.all_diverged


def test_flags_in_flight_are_read_in_order_once_landed_without_waiting():
    watch = DivergenceWatch(2)
    first, second = InFlight(), InFlight()
    watch.queue(first, torch.tensor([False, True]), 50)
    watch.queue(second, torch.tensor([False, False]), 100)
    assert watch.diverged == [None, None]  # nothing has landed: nothing read, nobody waited
    second.landed = True
    watch.read(wait=False)
    assert watch.diverged == [None, None]  # the block before it has not landed: order kept
    first.landed = True
    watch.read(wait=False)
    assert watch.diverged == [50, 100] and not first.waited


def test_the_epoch_end_waits_for_every_block():
    watch = DivergenceWatch(1)
    event = InFlight()
    watch.queue(event, torch.tensor([False]), 7)
    watch.read(wait=True)
    assert event.waited and watch.diverged == [7]
