"""The one training clock of the speed checks: samples per second in steady state, read at the
ends of training steps.

It imports torch and Lightning only: an A/B copies this file next to its worker script, so that
both trees are timed by this very clock, whatever their own code holds (`perf/workers.py`).
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch


def synchronize(device: torch.device | None) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); nothing on the CPU."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


class SteadyClock(pl.Callback):
    """Training samples per second after a warm-up.

    A step is what a training loop hands over at once: a Lightning training step (a block of
    updates for `cnnablate.train`, one update for a stock LightningModule) or, ticked by hand
    with `tick`, one update of a plain loop. Each step is timed from the end of the step before,
    or from the start of its epoch or the last `resume()`, to its own end: what happens between
    epochs (validation, checkpoints) or while paused is left out, the rest counts (a new epoch's
    shuffle falls inside its first step). Counted are the steps that start once `warmup_samples`
    are trained and before `total_samples` are (None: no end). On CUDA the clock waits for the
    queued work each time it reads the time, so that a step ends where the GPU stands.
    """

    def __init__(
        self,
        warmup_samples: int,
        total_samples: int | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.warmup_samples, self.total_samples = warmup_samples, total_samples
        self.device = device  # None: the Lightning module's, once training starts
        self.samples = 0  # trained so far, counted or not
        self.steps: list[tuple[int, float]] = []  # (samples, seconds) of each counted step
        self.timed: tuple[int, float] = (0, 0.0)  # every timed step, warm-up included
        self._began: float | None = None

    def now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def resume(self) -> None:
        """The next step is timed from now: after a pause, or as an epoch starts."""
        self._began = self.now()

    def tick(self, samples: int) -> None:
        """A step of `samples` has just ended."""
        ended = self.now()
        if self._began is not None:
            seconds = ended - self._began
            self.timed = (self.timed[0] + samples, self.timed[1] + seconds)
            if self._counts():
                self.steps.append((samples, seconds))
        self.samples += samples
        self._began = ended

    def _counts(self) -> bool:
        ended_warmup = self.samples >= self.warmup_samples
        return ended_warmup and (self.total_samples is None or self.samples < self.total_samples)

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.device = self.device or module.device
        self.resume()

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.resume()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        self.tick(batch[1].numel())

    @property
    def samples_per_s(self) -> float | None:
        """In steady state; for a run that ended within its warm-up, over all its timed steps
        (a rough figure); None when no step was timed."""
        if not self.steps:
            samples, seconds = self.timed
        else:
            samples, seconds = sum(n for n, _ in self.steps), sum(s for _, s in self.steps)
        return samples / seconds if seconds > 0 else None

    def steady_samples_per_s(self) -> float:
        """In steady state, over the whole window asked for; a RuntimeError if the run ended
        within the warm-up or short of `total_samples`."""
        short = self.total_samples is not None and self.samples < self.total_samples
        rate = self.samples_per_s
        if short or not self.steps or rate is None:
            raise RuntimeError(
                f"the run ended at {self.samples} samples, within the warm-up of "
                f"{self.warmup_samples} or short of its {self.total_samples}"
            )
        return rate

    def seconds_per_sample_by_step(self) -> list[float]:
        return [seconds / samples for samples, seconds in self.steps]

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "steps": list(self.steps), "timed": self.timed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.samples = state["samples"]
        self.steps = [tuple(step) for step in state["steps"]]
        self.timed = tuple(state["timed"])
