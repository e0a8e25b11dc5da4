"""How a training run is carried out (not what it trains: that is the config). Kept apart from
train.py so that naming the options imports neither torch nor Lightning."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from cnnablate.loggers import LogTarget

Progress = Literal["bar", "lines", "off"]


@dataclass(frozen=True)
class TrainOptions:
    """`accelerator`: auto, cpu or gpu. `data_dir`: where the data sets are (None: the default).
    `preset`: the preset's name, recorded in the result. `callbacks`: more Lightning callbacks.
    `progress`: Lightning's bar, a line per evaluation, or nothing (None: the bar on a terminal,
    lines otherwise). `step_cap` caps the budget in SGD updates (smoke runs); the result records
    it. `checkpoint` keeps each seed's best weights as `best.ckpt` in its folder. `deadline` (a
    `time.time()`): stop at the last epoch end before it, saved, and raise `Interrupted`.
    `label` names the run in progress lines (None: the preset's name). `pack_fallback`: why
    seeds asked to train packed train one at a time (recorded in the result). `loggers`:
    experiment loggers (`loggers.LOGGERS`), one run per seed, written where `log_to` says (None:
    each seed's folder, the preset as experiment)."""

    accelerator: str = "auto"
    data_dir: Path | None = None
    preset: str | None = None
    callbacks: Sequence[pl.Callback] = ()
    progress: Progress | None = None
    step_cap: int | None = None
    checkpoint: bool = False
    deadline: float | None = None
    label: str | None = None
    pack_fallback: str | None = None  # why these seeds train one at a time, not packed
    loggers: Sequence[str] = ()
    log_to: LogTarget | None = None

    def shown_progress(self) -> Progress:
        if self.progress is not None:
            return self.progress
        return "bar" if sys.stderr.isatty() else "lines"

    def run_label(self) -> str:
        return self.label or self.preset or "run"
