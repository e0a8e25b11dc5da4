"""cnnablate from Python: run, train and report return tables, quietly."""

from __future__ import annotations

import pandas as pd
import pytest

import cnnablate
from cnnablate.errors import UserError

SPEC = {
    "name": "from-python",
    "base": {"preset": "udl-cnn", "set": {"data.num_samples": 600}},
    "factors": {"model.activation": ["relu", "tanh"]},
    "seeds": [0, 1],
    "budget": {"max_steps": 20},
}


def test_run_a_spec_given_as_a_dict_returns_the_results_table(tmp_path, capfd):
    table = cnnablate.run(SPEC, out=tmp_path / "results")
    assert isinstance(table, pd.DataFrame) and len(table) == 4
    assert sorted(table["param.model.activation"]) == ["relu", "relu", "tanh", "tanh"]
    assert (table["steps"] == 20).all() and table["test_acc"].between(0, 1).all()
    out, err = capfd.readouterr()
    assert out == "" and "GPU available" not in err and "💡" not in err
    again = cnnablate.run(SPEC, out=tmp_path / "results")  # resumes: all done, nothing trained
    assert again["trial"].tolist() == table["trial"].tolist()
    report = cnnablate.report(tmp_path / "results", out=tmp_path / "report")
    assert set(report["results"]) == {"from-python"} and len(report) == 2
    assert report.attrs["report"].endswith("index.html")


def test_run_with_a_step_cap_is_marked_as_such(tmp_path):
    table = cnnablate.run(SPEC, out=tmp_path / "capped", max_steps=8)
    assert (table["steps"] == 8).all() and (table["step_cap"] == 8).all()


def test_train_a_preset_with_overrides_one_row_per_seed(tmp_path, capfd):
    table = cnnablate.train(
        "udl-cnn",
        overrides={"model.activation": "tanh", "data.num_samples": 600},
        seeds=[0, 1],
        max_steps=15,
        out=tmp_path,
    )
    assert table["seed"].tolist() == [0, 1] and (table["steps"] == 15).all()
    assert table["preset"].tolist() == ["udl-cnn", "udl-cnn"]
    assert (tmp_path / "seed1" / "result.json").is_file()
    out, err = capfd.readouterr()
    assert out == "" and "GPU available" not in err


def test_train_a_config_dict(tmp_path):
    config = {"model": {"hidden": [8]}, "train": {"max_steps": 10}, "data": {"num_samples": 600}}
    table = cnnablate.train(config=config, out=tmp_path)
    assert table.loc[0, "params"] == 40 * 8 + 8 + 8 * 10 + 10
    assert pd.isna(table.loc[0, "preset"])


def test_bad_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown preset 'nope'"):
        cnnablate.train("nope", out=tmp_path)
    with pytest.raises(UserError, match="give a preset or a config"):
        cnnablate.train(out=tmp_path)
    with pytest.raises(UserError, match="spec: missing key 'name'"):
        cnnablate.run({"factors": {}}, out=tmp_path)


def test_run_from_python_logs_where_tensorboard_and_mlflow_read_it_back(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = {**SPEC, "factors": {"model.activation": ["relu"]}, "seeds": [0]}
    spec["base"] = {
        "preset": "udl-cnn",
        "set": {"data.num_samples": 600, "train.eval_every_epochs": 1},
    }
    out = tmp_path / "results"
    table = cnnablate.run(spec, out=out, loggers=["tensorboard", "mlflow"])
    (row,) = table.to_dict("records")
    name = row["dir"].rsplit("/", 1)[-1]
    events = EventAccumulator(str(out / "tensorboard" / name))
    events.Reload()
    assert events.Scalars("final/test_acc")[0].value == pytest.approx(row["test_acc"])
    assert [e.step for e in events.Scalars("test_acc")] == [5, 10, 15, 20]  # 5 batches an epoch
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    [run] = client.search_runs([client.get_experiment_by_name("from-python").experiment_id])
    assert run.info.run_name == name and run.data.metrics["final/test_acc"] == row["test_acc"]
    with pytest.raises(UserError, match="loggers: .*nope"):
        cnnablate.run(spec, out=tmp_path / "other", loggers=["nope"])
