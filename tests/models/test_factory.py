"""Your own network by import path (`model.factory`, `model.kwargs`): built, checked, trained
through the same path as a preset, refused in one line when it is wrong."""

from __future__ import annotations

import json

import pytest
import torch

from cnnablate.cli import main
from cnnablate.config import apply_overrides
from cnnablate.errors import UserError
from cnnablate.models import build_network, count_params
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, train_seeds

MNIST1D = (1, 40)


def factory_config(factory: str, **kwargs):
    overrides = [f"model.factory=nets:{factory}", "train.max_steps=40", "data.num_samples=600"]
    overrides += [f"model.kwargs.{key}={value}" for key, value in kwargs.items()]
    return apply_overrides(get_preset("udl-cnn").config, overrides)


def test_the_factory_gets_the_input_shape_classes_and_kwargs(outside_code):
    config = factory_config("wide_cnn", width=8, depth=3)
    net = build_network(config.model, MNIST1D, 10)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [8, 8, 8]
    assert net(torch.zeros(5, *MNIST1D)).shape == (5, 10)


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        ("one_class_too_many", "to (2, 11); expected logits (2, 10)"),
        ("not_a_module", "returned 'str', not a torch.nn.Module"),
        ("raises", "raised RuntimeError: out of ideas"),
        ("fails_on_the_input", "fails on inputs of shape (2, 1, 40)"),
        ("NOT_CALLABLE", "not callable"),
        ("nowhere", "'nets' has no 'nowhere'"),
    ],
)
def test_a_bad_factory_is_one_line_naming_the_key(outside_code, factory, says):
    config = factory_config(factory)
    with pytest.raises(UserError) as caught:
        build_network(config.model, MNIST1D, 10)
    message = str(caught.value)
    assert message.startswith(f"model.factory 'nets:{factory}'") and says in message
    assert "\n" not in message


def test_a_module_that_does_not_import_names_the_key():
    config = apply_overrides(get_preset("udl-cnn").config, ["model.factory=no_such_pkg.nets:x"])
    with pytest.raises(UserError, match=r"model.factory 'no_such_pkg.nets:x': cannot import"):
        build_network(config.model, MNIST1D, 10)


def test_it_trains_like_a_preset_and_records_what_it_is(outside_code, tmp_path):
    config = factory_config("wide_cnn", width=8)
    options = TrainOptions(progress="off", preset=None)
    (result,) = train_seeds(config, [0], [tmp_path / "seed0"], options)
    assert result["status"] == "ok" and result["steps"] == 40
    assert result["params"] == count_params(build_network(config.model, MNIST1D, 10))
    assert result["train_flops_per_sample"] > 0 and result["train_samples_per_s"] > 0
    assert result["config"]["model"]["factory"] == "nets:wide_cnn"
    assert json.loads((tmp_path / "seed0" / "result.json").read_text())["test_acc"] > 0


def test_seeds_pack_when_torch_func_allows_it(outside_code, tmp_path):
    config = factory_config("wide_cnn", width=8)
    dirs = [tmp_path / "s0", tmp_path / "s1"]
    results = train_seeds(config, [0, 1], dirs, TrainOptions(progress="off"))
    assert [r["pack_size"] for r in results] == [2, 2]
    assert [r["pack_fallback"] for r in results] == [None, None]
    (alone,) = train_seeds(config, [1], [tmp_path / "alone"], TrainOptions(progress="off"))
    assert results[1]["test_acc"] == pytest.approx(alone["test_acc"], abs=0.01)


def test_else_one_seed_at_a_time_with_the_reason_recorded(outside_code, tmp_path):
    config = factory_config("gated")
    dirs = [tmp_path / "s0", tmp_path / "s1"]
    results = train_seeds(config, [0, 1], dirs, TrainOptions(progress="off"))
    assert [r["pack_size"] for r in results] == [1, 1]
    assert [r["seed"] for r in results] == [0, 1]
    assert all("torch.func cannot vmap" in r["pack_fallback"] for r in results)
    assert all(r["status"] == "ok" for r in results)


def test_train_with_a_factory_does_not_stand_for_the_preset(outside_code, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "udl-cnn", "--set", "model.factory=nets:mlp", "--max-steps", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    assert json.loads((out / "result.json").read_text())["preset"] is None


def test_cli_bad_factory_exits_2_with_one_line_and_trains_nothing(outside_code, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "udl-cnn", "--set", "model.factory=nets:raises", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.factory 'nets:raises' raised" in err
    assert not out.exists()
