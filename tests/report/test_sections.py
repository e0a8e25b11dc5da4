"""Labels of trials in a grid report, from the factor columns of the results table."""

import pandas as pd

from cnnablate.report.sections import trial_labels


def test_a_preset_factor_labels_each_trial_by_its_level():
    # results.parquet has the factor `param.preset` and the trial's own `preset` column.
    trials = pd.DataFrame(
        {
            "param.preset": ["udl-cnn", "udl-fc", "udl-mlp"],
            "preset": ["udl-cnn", "udl-fc", "udl-mlp"],
            "test_acc": [0.86, 0.58, 0.62],
        },
        index=[4, 7, 9],  # a filtered table keeps its original index
    )
    assert trial_labels(trials, ["param.preset"]) == ["udl-cnn", "udl-fc", "udl-mlp"]


def test_several_factors_name_each_level():
    trials = pd.DataFrame({"param.model.activation": ["relu"], "param.architecture": ["cnn"]})
    labels = trial_labels(trials, ["param.architecture", "param.model.activation"])
    assert labels == ["architecture=cnn, activation=relu"]
