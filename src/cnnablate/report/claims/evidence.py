"""What every claim is measured on (`Evidence`: the trials at hand, where the test data lives and
the trained network the probes share) and the shape of a probe of trained networks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import pandas as pd

from cnnablate.report.claims.outcome import Part
from cnnablate.report.claims.trials import Trials
from cnnablate.report.modes import is_grid
from cnnablate.report.sources import ResultsSource
from cnnablate.report.trained import TrainedModel, best_checkpointed, has_conv, load_model

PROBE_SPEC = "any spec with a conv network and checkpoint: true, e.g. ablations/mnist1d-quick.yaml"


@dataclass
class Evidence:
    """What one report's claims are measured on; the probed network is chosen once for all."""

    trials: Trials
    data_dir: Path | None

    @property
    def grids(self) -> list[ResultsSource]:
        """The sources whose factor levels can be compared pair by pair."""
        return [source for source in self.trials.sources if is_grid(source)]

    @cached_property
    def probe_model(self) -> TrainedModel | None:
        """The most accurate checkpointed trial with conv layers, over all sources."""
        best: tuple[float, ResultsSource, dict] | None = None
        for source in self.trials.sources:
            conv = pd.Series([c is not None and has_conv(c) for c in source.finished_configs])
            row = best_checkpointed(source, conv.to_numpy()) if conv.any() else None
            if row is not None and (best is None or row["test_acc"] > best[0]):
                best = (row["test_acc"], source, row)
        return load_model(best[1], best[2]) if best else None


class Probe(Protocol):
    """A measurement of trained networks behind a claim, on its topics."""

    @property
    def topics(self) -> tuple[str, ...]: ...

    @property
    def lecture(self) -> str:
        """The lecture's number for what it measures, or ''."""
        ...

    def parts(self, evidence: Evidence, claim: int) -> list[Part]: ...
