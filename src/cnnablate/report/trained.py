"""Trained models kept as `best.ckpt`: which one is best, its test split and its predictions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cnnablate.config import DataConfig
from cnnablate.data import Split, build_datamodule, datamodule_class
from cnnablate.data.batches import to_float
from cnnablate.errors import UserError
from cnnablate.module import Classifier, load_trained
from cnnablate.report.sources import ResultsSource

BATCH = 1000


@dataclass
class TrainedModel:
    source: ResultsSource
    row: dict
    checkpoint: Path
    model: Classifier

    @property
    def label(self) -> str:
        return f"{self.source.name} trial {self.row['trial']} (seed {self.row.get('seed')})"


def best_checkpointed(source: ResultsSource, where: pd.Series | None = None) -> dict | None:
    """The finished trial with the highest test accuracy that kept a `best.ckpt`."""
    trials = source.finished if where is None else source.finished[where]
    for row in trials.sort_values("test_acc", ascending=False).to_dict("records"):
        if source.checkpoint(row) is not None:
            return row
    return None


def load_model(source: ResultsSource, row: dict) -> TrainedModel:
    checkpoint = source.checkpoint(row)
    return TrainedModel(source, row, checkpoint, load_trained(checkpoint))


def has_conv(config: dict) -> bool:
    """A builder network with conv layers (a user's `model.factory` network is not probed)."""
    return not config["model"].get("factory") and bool(config["model"]["conv"])


@lru_cache(maxsize=4)
def _cached_test_split(data_json: str, data_dir: str | None) -> Split:
    config = DataConfig.model_validate(json.loads(data_json))
    datamodule = build_datamodule(config, 0, Path(data_dir) if data_dir else None)
    datamodule.setup()
    return datamodule.splits["test"]


def load_test_split(data: DataConfig, data_dir: Path | None) -> Split:
    """The test split a model was evaluated on (the seed only orders training data)."""
    stand_in = datamodule_class(data.name).test_stand_in
    if stand_in is not None:  # the same test split, cheaper to build
        data = data.model_copy(update={"name": stand_in})
    try:
        return _cached_test_split(data.model_dump_json(), str(data_dir) if data_dir else None)
    except FileNotFoundError as error:
        raise UserError(f"{data.name}: data not found ({error})") from None


def load_test_inputs(
    trained: TrainedModel, data_dir: Path | None
) -> tuple[torch.Tensor, np.ndarray]:
    """Test inputs as floats (uint8 images scaled to [0, 1]) and labels, for `trained`."""
    split = load_test_split(trained.model.config.data, data_dir)
    return to_float(split.x.clone()), split.y.numpy()


@torch.no_grad()
def predict(model: Classifier, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return torch.cat([model(x[i : i + BATCH]).argmax(-1) for i in range(0, len(x), BATCH)]).numpy()


def majority_vote(predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Per sample, the class most models predict; ties go to the lowest class, as
    `np.argmax(np.bincount(...))` in Nielsen's ensemble does."""
    counts = np.zeros((predictions.shape[1], num_classes), dtype=int)
    for votes in predictions:
        counts[np.arange(len(votes)), votes] += 1
    return counts.argmax(axis=1)
