"""Lightning helpers of a training run: its throughput meter, the saved state it resumes from,
plain progress lines for logs, and Lightning's own logging kept quiet."""

from __future__ import annotations

import itertools
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint

from cnnablate.atomic import atomic_path
from cnnablate.config import ExperimentConfig

WARMUP_BLOCKS = 3
RESUME_FILE = "resume.ckpt"


def quiet_lightning() -> None:
    """Lightning's start-up banner (GPU available, tips) is noise in a summary-first CLI."""
    import pytorch_lightning  # noqa: F401  (its import sets its logger to INFO; undo after)

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def quiet() -> Iterator[None]:
    """No Lightning banners or advice while inside."""
    quiet_lightning()
    names = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


class ThroughputMeter(pl.Callback):
    """Training samples per second in steady state.

    Times each block from the end of the previous one (or the epoch's start) to its own end, so
    validation is left out; the first `WARMUP_BLOCKS` blocks of the run are not counted. On a GPU
    each block's end is a CUDA event, read once when the epoch's blocks are done (before its
    validation): no host synchronisation per block.
    """

    def __init__(self, warmup_blocks: int = WARMUP_BLOCKS) -> None:
        self.warmup_blocks = warmup_blocks
        self.blocks_seen = 0
        self.samples = 0
        self.seconds = 0.0
        self.all_samples = 0
        self.all_seconds = 0.0
        self.eval_seconds = 0.0  # the validations during training, timed apart
        self._marks: list[Any] = []  # the epoch's start and each block's end
        self._block_samples: list[int] = []
        self._eval_start: float | None = None

    def _now(self, module: pl.LightningModule) -> float:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)
        return time.perf_counter()

    def _mark(self, module: pl.LightningModule) -> Any:
        if module.device.type != "cuda":
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._marks, self._block_samples = [self._mark(module)], []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._marks.append(self._mark(module))
        self._block_samples.append(batch[1].numel())

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._count_blocks()

    def _count_blocks(self) -> None:
        """Add the epoch's blocks (one wait on a GPU, for its last event)."""
        if not self._block_samples:
            return
        for elapsed, samples in zip(_gaps(self._marks), self._block_samples, strict=True):
            self.blocks_seen += 1
            self.all_samples += samples
            self.all_seconds += elapsed
            if self.blocks_seen > self.warmup_blocks:
                self.samples += samples
                self.seconds += elapsed
        self._marks, self._block_samples = self._marks[-1:], []

    def on_validation_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._count_blocks()  # the epoch's training ends where its validation starts
        self._eval_start = self._now(module)

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self._eval_start is not None:
            self.eval_seconds += self._now(module) - self._eval_start
        self._eval_start = None

    @property
    def samples_per_s(self) -> float | None:
        samples, seconds = (
            (self.samples, self.seconds)
            if self.seconds
            else (
                self.all_samples,
                self.all_seconds,
            )
        )
        return samples / seconds if seconds > 0 else None

    def state_dict(self) -> dict[str, Any]:
        keys = ("blocks_seen", "samples", "seconds", "all_samples", "all_seconds", "eval_seconds")
        return {key: getattr(self, key) for key in keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def _gaps(marks: list[Any]) -> list[float]:
    """Seconds between consecutive marks: perf_counter floats, or CUDA events."""
    if marks and isinstance(marks[0], float):
        return [b - a for a, b in itertools.pairwise(marks)]
    marks[-1].synchronize()
    return [a.elapsed_time(b) / 1000.0 for a, b in itertools.pairwise(marks)]


class ResumeCheckpoint(Checkpoint):
    """Saves the whole training state at an epoch end, atomically, for an exact resume.

    It saves at the first epoch end after `every_updates` SGD updates or `every_s` seconds
    since the last save, and, when a `deadline` (a `time.time()`) would fall inside the next
    epoch, saves and stops the run (`interrupted`). A Lightning checkpoint holds the weights, the
    optimiser and schedule, the loops' counters and the callbacks' state; the module and the
    DataModule add the update counter, histories, random streams and data position. Being a
    `Checkpoint`, it runs after the best-weights checkpoint, whose state it then includes.
    """

    def __init__(
        self,
        path: Path,
        every_updates: int | None,
        every_s: float | None,
        deadline: float | None,
        meta: dict[str, Any],
    ) -> None:
        self.path, self.every_updates, self.every_s = path, every_updates, every_s
        self.deadline, self.meta = deadline, meta
        self.interrupted = False
        self._saved_at: tuple[int, float] | None = None
        self._epoch_started = time.time()

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._saved_at = (module.updates, time.time())

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._epoch_started = time.time()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.should_stop or trainer.current_epoch + 1 >= trainer.max_epochs:
            return  # the run ends here: nothing to resume
        now = time.time()
        if self.deadline is not None and now + 1.5 * (now - self._epoch_started) > self.deadline:
            self.save(trainer, module)
            self.interrupted = trainer.should_stop = True
        elif self._due(module.updates, now):
            self.save(trainer, module)

    def _due(self, updates: int, now: float) -> bool:
        last_updates, last_time = self._saved_at or (0, now)
        by_updates = self.every_updates is not None and updates - last_updates >= self.every_updates
        return by_updates or (self.every_s is not None and now - last_time >= self.every_s)

    def on_save_checkpoint(self, trainer, module, checkpoint: dict[str, Any]) -> None:
        checkpoint["resume_meta"] = self.meta

    def save(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        with atomic_path(self.path) as tmp:
            trainer.save_checkpoint(tmp, weights_only=False)
        self._saved_at = (module.updates, time.time())


def resume_meta(
    config: ExperimentConfig,
    seeds: list[int],
    step_cap: int | None,
    copy_configs: list[ExperimentConfig] | None = None,
) -> dict:
    """What a saved state must match to be resumed: the same run, not just the same folder. How
    packed layers run is not part of it: the same state resumes under any of them. A pack across
    cells (`copy_configs` not all `config`) also holds each copy's config."""

    def dump(config: ExperimentConfig) -> dict:
        return config.model_dump(exclude={"train": {"packed_layers"}})

    meta = {"config": dump(config), "seeds": list(seeds), "step_cap": step_cap}
    if any(copy != config for copy in copy_configs or []):
        meta["configs"] = [dump(copy) for copy in copy_configs]
    return meta


def same_run(saved: dict[str, Any] | None, meta: dict[str, Any]) -> bool:
    """Whether a saved state's meta is this run's. Its config is read as today's (fields added
    since take their defaults, which are the old behaviour), so that a state saved by an earlier
    version still resumes."""
    if not isinstance(saved, dict) or "config" not in saved:
        return False
    try:
        config = ExperimentConfig.model_validate(saved["config"])
        copies = [ExperimentConfig.model_validate(c) for c in saved.get("configs") or []]
    except ValueError:
        return False
    seeds, step_cap = saved.get("seeds"), saved.get("step_cap")
    return resume_meta(config, list(seeds or []), step_cap, copies) == meta


def resumable_state(path: Path, meta: dict[str, Any]) -> Path | None:
    """`path` if it holds a saved state of this very run, else None (a fresh start)."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a torn or foreign file: start afresh, it will be overwritten
        return None
    return path if same_run(saved.get("resume_meta"), meta) else None


class PlainProgress(pl.Callback):
    """One line per evaluation (at most every `every_s` seconds) when stderr is not a terminal."""

    def __init__(self, label: str, total_steps: int, every_s: float = 15.0) -> None:
        self.label, self.total_steps, self.every_s = label, total_steps, every_s
        self._last_print = time.perf_counter()

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        now = time.perf_counter()
        if now - self._last_print < self.every_s or not module.history:
            return
        self._last_print = now
        row = module.history[-1]
        accuracies = " ".join(
            f"{key} {row[key]:.4f}" for key in ("train_acc", "val_acc", "test_acc") if row.get(key)
        )
        print(
            f"{self.label}: epoch {row['epoch']} step {row['step']}/{self.total_steps} "
            f"{accuracies}",
            file=sys.stderr,
            flush=True,
        )
