"""The Optuna view on in-memory studies: best trials first, history, importances that need
two completed trials."""

from __future__ import annotations

import optuna
import pandas as pd

from cnnablate.report import optuna_study


def study_with(values: list[float], direction: str = "maximize") -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, sampler=optuna.samplers.RandomSampler(0))
    for value in values:
        trial = study.ask()
        trial.suggest_float("lr", 0.001, 0.1, log=True)
        trial.suggest_int("width", 2, 8)
        study.tell(trial, value)
    return study


def finished(study: optuna.Study) -> pd.DataFrame:
    numbers = [t.number for t in study.trials]
    return pd.DataFrame(
        {"trial": numbers, "test_acc": [0.5] * len(numbers), "budget": [""] * len(numbers)}
    )


def test_best_trials_follow_the_direction():
    for direction, expected in (("maximize", [0.9, 0.7, 0.3]), ("minimize", [0.3, 0.7, 0.9])):
        study = study_with([0.7, 0.9, 0.3], direction)
        best = optuna_study.best_trials(study, finished(study))
        assert list(best["objective"]) == expected
        assert {"lr", "width", "test_acc", "budget"} <= set(best.columns)


def test_history_keeps_the_best_so_far():
    history = optuna_study.history(study_with([0.5, 0.4, 0.8, 0.6]))
    assert list(history["best"]) == [0.5, 0.5, 0.8, 0.8]


def test_importances_need_two_completed_trials():
    table, problem = optuna_study.importances(study_with([0.5]))
    assert table.empty and "2 completed trials" in problem
    table, problem = optuna_study.importances(study_with([0.5, 0.6, 0.9, 0.2, 0.4]))
    assert problem is None
    assert set(table["parameter"]) == {"lr", "width"}
    assert abs(table["importance"].sum() - 1) < 1e-6
