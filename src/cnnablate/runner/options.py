"""How a run of a spec is carried out on this machine (not what it runs: that is the spec)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnablate.train_options import Progress

# No trial is started this close to the deadline: it could not reach its first epoch end (its
# first saved state) before being stopped, and would only lose its work.
CLAIM_MARGIN_S = 60.0


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    storage_url: str
    workers: int = 1
    step_cap: int | None = None
    accelerator: str | None = None  # None: the spec's
    data_dir: Path | None = None
    progress: Progress = "lines"  # how this process shows the matrix's progress
    deadline: float | None = None  # time.time() by which trials stop, their state saved
    loggers: tuple[str, ...] = ()  # experiment loggers beside the spec's (loggers.LOGGERS)

    def out_of_time(self, need_s: float = 0.0) -> bool:
        return self.deadline is not None and time.time() + need_s >= self.deadline
