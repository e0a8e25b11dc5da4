"""The pruning callback: reports the monitored metric each validation and stops a pruned trial."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from cnnablate.config import apply_overrides, with_budget
from cnnablate.presets import get_preset
from cnnablate.runner.pruning import OptunaPruning
from cnnablate.train import TrainOptions, train

OVERRIDES = ["data.num_samples=600", "data.val_size=100", "model.hidden=[16]"]


def tiny_config():
    config = apply_overrides(
        get_preset("udl-mlp").config, [*OVERRIDES, "train.eval_every_epochs=1"]
    )
    return with_budget(config, max_steps=30)


def trial_of(pruner: optuna.pruners.BasePruner) -> optuna.trial.Trial:
    return optuna.create_study(direction="maximize", pruner=pruner).ask()


def test_reports_every_epoch_and_trains_to_the_end_unpruned(tmp_path):
    trial = trial_of(optuna.pruners.NopPruner())
    options = TrainOptions(progress="off", callbacks=[OptunaPruning(trial, "val_acc")])
    result = train(tiny_config(), out_dir=tmp_path, options=options)
    frozen = trial.study.trials[0]
    val_accs = pd.read_csv(tmp_path / "metrics.csv")["val_acc"].tolist()
    assert sorted(frozen.intermediate_values) == list(range(result["epochs"]))
    reported = [frozen.intermediate_values[epoch] for epoch in range(result["epochs"])]
    assert reported == pytest.approx(val_accs, rel=1e-6)


def test_a_pruned_trial_stops_at_its_first_validation(tmp_path):
    trial = trial_of(optuna.pruners.ThresholdPruner(lower=2.0))  # accuracy < 2: always pruned
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 0: val_acc"):
        options = TrainOptions(progress="off", callbacks=[OptunaPruning(trial, "val_acc")])
        train(tiny_config(), out_dir=tmp_path, options=options)
    assert list(trial.study.trials[0].intermediate_values) == [0]
