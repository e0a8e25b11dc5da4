"""Which trials are which network: every finished trial of every results folder, with its config,
the preset it matches (budget and evaluation aside) and its budget note."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cnnablate.presets import PRESETS
from cnnablate.report.sources import ResultsSource

Config = dict[str, Any]


def comparable(config: Config) -> Config:
    """What makes two runs the same network and training, budget and evaluation aside."""
    data = {k: v for k, v in config["data"].items() if k != "eval_batch_size"}
    return {
        "data": data,
        "model": config["model"],
        "loss": config["loss"],
        "optim": config["optim"],
    }


def preset_of(config: Config | None, fingerprints: dict[str, Config]) -> str | None:
    if config is None:
        return None
    mine = comparable(config)
    return next((name for name, print_ in fingerprints.items() if print_ == mine), None)


@dataclass
class Trials:
    """Every finished trial of every source, with its config, matched preset and budget note."""

    frame: pd.DataFrame
    configs: list[Config | None]
    sources: list[ResultsSource]

    @classmethod
    def gather(cls, sources: list[ResultsSource], notes: dict[str, pd.Series]) -> Trials:
        fingerprints = {name: comparable(p.config.model_dump()) for name, p in PRESETS.items()}
        frames, configs = [], []
        for index, source in enumerate(sources):
            frame = source.finished.copy()
            frame["source"] = source.name
            frame["source_index"] = index
            frame["budget"] = notes[source.name].to_numpy() if len(frame) else []
            frame["matched_preset"] = [preset_of(c, fingerprints) for c in source.finished_configs]
            frames.append(frame)
            configs.extend(source.finished_configs)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return cls(frame, configs, sources)

    def of_preset(self, preset: str) -> pd.DataFrame:
        """The preset's trials at its full budget where there are any, else its short ones (a
        one-epoch CPU run is not pooled with the full runs of the same network)."""
        if self.frame.empty:
            return self.frame
        rows = self.frame[self.frame["matched_preset"] == preset]
        full = rows[rows["budget"] == ""]
        return full if not full.empty else rows
