"""Each seed's loggers end as its training ended, and a run resumed after its time limit goes on
in the same logger runs without logging a row twice (real trainer, MLflow and TensorBoard read
back by their own readers)."""

from __future__ import annotations

import csv
import time

import optuna
import pytest
import pytorch_lightning as pl

from cnnablate.config import apply_overrides, with_budget
from cnnablate.errors import Interrupted
from cnnablate.presets import get_preset
from cnnablate.seed_logging import stop_status
from cnnablate.train import TrainOptions, train

SMALL = ["data.num_samples=600", "data.val_size=100", "model.hidden=[16]"]


def small_config(steps: int = 12):
    config = apply_overrides(get_preset("udl-mlp").config, ["train.eval_every_epochs=1", *SMALL])
    return with_budget(config, max_steps=steps)


def mlflow_runs(folder):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("udl-mlp")
    return client, client.search_runs([experiment.experiment_id])


def test_how_a_run_stopped_decides_how_its_logger_runs_end():
    assert stop_status(Interrupted("time limit")) == "killed"
    assert stop_status(KeyboardInterrupt()) == "killed"
    assert stop_status(optuna.TrialPruned()) == "killed"
    assert stop_status(RuntimeError("boom")) == "failed"


class FailAtFirstEpochEnd(pl.Callback):
    def on_train_epoch_end(self, trainer, module):
        raise RuntimeError("boom")


def test_a_failed_training_fails_its_logger_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    options = TrainOptions(
        preset="udl-mlp", progress="off", loggers=("mlflow",), callbacks=[FailAtFirstEpochEnd()]
    )
    with pytest.raises(RuntimeError, match="boom"):
        train(small_config(), seed=0, out_dir=tmp_path / "run", options=options)
    _, [run] = mlflow_runs(tmp_path / "run")
    assert run.info.status == "FAILED"


def test_a_resumed_run_goes_on_in_the_same_logger_runs(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "run"
    logged = TrainOptions(preset="udl-mlp", progress="off", loggers=("mlflow", "tensorboard"))
    cut_off = TrainOptions(**{**logged.__dict__, "deadline": time.time()})
    with pytest.raises(Interrupted):  # stops at its first epoch end, its state saved
        train(small_config(), seed=0, out_dir=out, options=cut_off)
    _, [run] = mlflow_runs(out)
    assert run.info.status == "KILLED"

    result = train(small_config(), seed=0, out_dir=out, options=logged)
    steps = [int(row["step"]) for row in csv.DictReader((out / "metrics.csv").open())]
    assert steps == [4, 8, 12]
    client, [resumed] = mlflow_runs(out)
    assert resumed.info.run_id == run.info.run_id and resumed.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_acc")] == steps
    assert resumed.data.metrics["final/test_acc"] == result["test_acc"]
    events = EventAccumulator(str(out / "tensorboard" / "run"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_acc")] == steps
