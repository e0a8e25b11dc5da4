"""Extending the suite as a researcher would: a new data set is its module and one registry line;
a new factor level (here an activation) is one registry line and the spec that names it. Each
is run end to end (config, runner, results table, report) with nothing else changed. A new
normalisation layer or optimiser is one registry entry too: a config naming it validates, and
networks (lone and packed) build and train with it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnablate.config import apply_overrides, with_budget
from cnnablate.data import DATAMODULES, Split, TensorDataModule, fetch_dataset
from cnnablate.errors import UserError
from cnnablate.models.activations import ACTIVATIONS
from cnnablate.models.norms import NORMS
from cnnablate.module import Classifier
from cnnablate.optimisers import OPTIMISERS
from cnnablate.presets import get_preset
from cnnablate.report import build_report
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.results import read_results
from cnnablate.runner.spec import parse_spec
from cnnablate.runner.storage import default_storage_url
from cnnablate.train import TrainOptions, train, train_seeds


# --- file 1 of a new data set: its module ----------------------------------------------------
class ToyDataModule(TensorDataModule):
    """Signals of 12 samples whose label says whether they sum above zero."""

    name = "toy"
    input_shape = (1, 12)
    generated = True

    @classmethod
    def train_size(cls, config) -> int:
        return 200

    def load_splits(self) -> dict[str, Split]:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(300, 1, 12, generator=generator)
        y = (x.sum(dim=(1, 2)) > 0).long()
        return {"train": Split(x[:200], y[:200]), "test": Split(x[200:], y[200:])}


SPEC = """
name: toy-{name}
base:
  preset: udl-mlp
  set:
    data.name: {data}
    data.batch_size: 20
    model.hidden: [8]
    train.eval_every_epochs: 1
factors:
  model.activation: {levels}
seeds: [0]
budget: {{max_steps: 20}}
mode: grid
"""


def run_and_report(tmp_path: Path, name: str, data: str, levels: list[str]):
    spec = parse_spec(textwrap.dedent(SPEC.format(name=name, data=data, levels=levels)))
    out = tmp_path / "results"
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    report = build_report([out], tmp_path / "report")
    return read_results(out), (report / "index.md").read_text()


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(DATAMODULES, "toy", ToyDataModule)  # file 2: the registry line


def test_a_new_data_set_runs_end_to_end(toy_registered, tmp_path):
    lines: list[str] = []
    assert fetch_dataset("toy", tmp_path / "data", log=lines.append) == tmp_path / "data"
    assert "nothing to fetch" in lines[0]
    table, report = run_and_report(tmp_path, "data", "toy", ["relu", "tanh"])
    assert len(table) == 2 and set(table["state"]) == {"COMPLETE"}
    assert (
        table["test_acc"].between(0, 1).all()
        and (table["params"] == 12 * 8 + 8 + 8 * 10 + 10).all()
    )
    assert "toy-data" in report and "relu" in report


def test_an_unregistered_data_set_is_refused_by_name(tmp_path):
    with pytest.raises(Exception, match="not a data set; allowed: mnist1d"):
        parse_spec(textwrap.dedent(SPEC.format(name="x", data="toy", levels=["relu"])))


def test_a_new_activation_is_one_registry_line_and_the_spec(monkeypatch, tmp_path):
    monkeypatch.setitem(ACTIVATIONS, "softsign", nn.Softsign)  # the registry line
    table, report = run_and_report(tmp_path, "factor", "mnist1d", ["relu", "softsign"])
    assert sorted(table["param.model.activation"]) == ["relu", "softsign"]
    assert set(table["state"]) == {"COMPLETE"} and "softsign" in report


# --- a new normalisation layer and a new optimiser: one registry entry each ---------------------
def group_norm(channels: int, dims: int) -> nn.Module:
    return nn.GroupNorm(1, channels)


def rmsprop(groups, optim, capturable: bool) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(groups, lr=optim.lr, momentum=optim.momentum)


NEW_NAMES = ["model.conv.0.norm=group", "model.conv.1.norm=group", "optim.name=rmsprop"]


def test_a_new_norm_and_optimiser_are_refused_until_registered():
    with pytest.raises(UserError, match="not a normalisation layer; allowed: none, batch$"):
        apply_overrides(get_preset("udl-cnn").config, NEW_NAMES[:1])
    with pytest.raises(UserError, match="not an optimiser; allowed: sgd, adam$"):
        apply_overrides(get_preset("udl-cnn").config, NEW_NAMES[2:])


def test_a_new_norm_and_optimiser_are_one_registry_entry_each(monkeypatch, tmp_path):
    monkeypatch.setitem(NORMS, "group", group_norm)  # the registry entries
    monkeypatch.setitem(OPTIMISERS, "rmsprop", rmsprop)
    config = apply_overrides(get_preset("udl-cnn").config, [*NEW_NAMES, "optim.lr=0.001"])
    config = with_budget(config, max_steps=20)
    assert [layer.norm for layer in config.model.conv] == ["group", "group", "none"]
    module = Classifier(config, (1, 40), num_train=4000, seeds=[0, 1])
    assert type(module.configure_optimizers()) is torch.optim.RMSprop
    assert isinstance(module.net.unpack(0)[0][0][1], nn.GroupNorm)
    quiet = TrainOptions(progress="off")
    alone = train(config, seed=0, out_dir=tmp_path / "alone", options=quiet)
    packed = train_seeds(config, [0, 1], [tmp_path / "p0", tmp_path / "p1"], quiet)
    params = 2_050 + 2 * (2 * 15)  # udl-cnn and two group norms' scale and shift
    assert alone["status"] == "ok" and alone["params"] == packed[0]["params"] == params
    assert packed[0]["test_loss"] == pytest.approx(alone["test_loss"], rel=1e-4, abs=1e-5)
    with pytest.raises(UserError, match="allowed: none, batch, group$"):
        apply_overrides(config, ["model.conv.0.norm=layer"])
