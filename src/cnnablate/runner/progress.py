"""How far a matrix has got: cells done of total with an ETA.

On a terminal it is a tqdm bar on the top line, with Lightning's per-trial bar below it; in a log
(stderr not a terminal) it is plain lines, one per trial started and finished. With several
workers on a terminal the parent process owns the bar and reads the storage; workers stay quiet.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState
from tqdm import tqdm

if TYPE_CHECKING:  # the trial's own progress modes; the matrix's are the same three
    from cnnablate.train_options import Progress
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} cells [{elapsed}{postfix}]"


def eta_text(walls: list[float], remaining: int, workers: int) -> str:
    """Remaining time as 'ETA 3m02s' from the mean wall time of finished trials; '' if unknown."""
    if not walls or remaining <= 0:
        return ""
    seconds = sum(walls) / len(walls) * remaining / max(1, workers)
    return f"ETA {int(seconds // 60)}m{int(seconds % 60):02d}s"


def trial_outcome(trial: FrozenTrial) -> str:
    if trial.state == TrialState.COMPLETE:
        return trial.user_attrs.get("result", {}).get("status", "ok")
    if trial.state == TrialState.PRUNED:
        return "pruned"
    failure = trial.user_attrs.get("failure", "")
    return "duplicate" if failure.startswith("duplicate") else "failed"


def trial_label(trial: FrozenTrial | optuna.Trial) -> str:
    """The trial once and its cell once: 'trial 3 (architecture=mlp, model.activation=relu,
    seed 1)' in a grid, 'trial 19' in an Optuna study (its parameters are sampled)."""
    cell = trial.user_attrs.get("cell")
    if not cell:
        return f"trial {trial.number}"
    levels = json.loads(cell)
    seed = levels.pop("seed", None)
    named = [f"{key}={value}" for key, value in levels.items()]
    named += [] if seed is None else [f"seed {seed}"]
    return f"trial {trial.number} ({', '.join(named)})"


class MatrixProgress:
    """Cells done of `total` for the matrix `name`, shown as `mode` says."""

    def __init__(
        self,
        name: str,
        total: int,
        workers: int,
        mode: Progress,
        file: IO[str] | None = None,
        counts: Callable[[FrozenTrial], bool] | None = None,
    ) -> None:
        self.name, self.total, self.workers, self.mode = name, total, workers, mode
        # what is done: the plan's rule (at the run's budget), else any finished trial
        self.counts = counts or (lambda trial: trial.state in FINISHED)
        self.file = file or sys.stderr
        self.done, self.running, self.eta = 0, 0, ""
        self._reported: set[int] = set()
        self._bar: tqdm | None = None
        if mode == "bar":
            self._bar = tqdm(
                total=total,
                desc=name,
                position=0,
                leave=True,
                file=self.file,
                bar_format=BAR_FORMAT,
                dynamic_ncols=True,
            )

    def start(self, study: optuna.Study) -> None:
        """Count what the storage already holds; trials that ended before now are not reported."""
        self.refresh(study)

    def refresh(self, study: optuna.Study) -> list[FrozenTrial]:
        """Re-read the counts from the storage; returns trials that ended since the last call."""
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if self.counts(t)]
        self.done, self.running = len(done), sum(t.state == TrialState.RUNNING for t in trials)
        walls = [w for t in done if (w := t.user_attrs.get("result", {}).get("wall_s"))]
        self.eta = eta_text(walls, self.total - self.done, self.workers)
        ended = [t for t in trials if t.state.is_finished() and t.number not in self._reported]
        self._reported.update(t.number for t in ended)
        if self._bar is not None:
            self._bar.n = min(self.done, self.total)
            postfix = ", ".join(filter(None, [f"{self.running} running", self.eta]))
            self._bar.set_postfix_str(postfix)
        return ended

    def summary(self) -> str:
        eta = f", {self.eta}" if self.eta else ""
        return f"[{self.name}] {self.done}/{self.total} done, {self.running} running{eta}"

    def say(self, line: str) -> None:
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(line, file=self.file)
        else:
            print(line, file=self.file, flush=True)

    def starting(self, study: optuna.Study, labels: str) -> None:
        self.refresh(study)
        if self.mode == "lines":
            self.say(f"{self.summary()}; starting {labels}")

    def ended(self, trial: FrozenTrial | optuna.Trial, outcome: str) -> None:
        self.say(f"[{self.name}] {trial_label(trial)}: {outcome}")

    def report_ended(self, study: optuna.Study) -> None:
        """Refresh, and say how each trial that ended since the last call ended (any worker's)."""
        for trial in self.refresh(study):
            self.ended(trial, trial_outcome(trial))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
