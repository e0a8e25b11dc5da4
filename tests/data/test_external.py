"""Your own data by import path (`data.module`, `data.kwargs`): any LightningDataModule, read
into memory for the block path or streamed through its own loaders; refused in one line when
it cannot serve."""

from __future__ import annotations

import pytest

from cnnablate.config import ExperimentConfig, apply_overrides
from cnnablate.data import batches_per_epoch, build_datamodule, data_shape
from cnnablate.data.external import ExternalDataModule, StreamingDataModule
from cnnablate.errors import UserError
from cnnablate.train import TrainOptions, train_seeds

BLOBS = ["data.module=blobs:Blobs", "model.hidden=[16]", "optim.lr=0.1", "train.max_epochs=null"]


def blobs_config(*overrides: str) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(), [*BLOBS, "train.max_steps=30", *overrides])


def test_shape_and_classes_are_read_from_the_data(outside_code):
    config = blobs_config("data.kwargs.classes=4")
    assert data_shape(config.data) == ((2, 8), 4)
    assert config.data.name == "blobs:Blobs"


@pytest.mark.parametrize(
    ("in_memory", "kind"), [(True, ExternalDataModule), (False, StreamingDataModule)]
)
def test_in_memory_or_streamed_as_asked(outside_code, in_memory, kind):
    config = blobs_config(f"data.in_memory={str(in_memory).lower()}")
    assert isinstance(build_datamodule(config.data), kind)


def test_small_data_are_read_into_memory_by_default(outside_code):
    assert isinstance(build_datamodule(blobs_config().data), ExternalDataModule)


def test_the_block_path_trains_on_it_with_packed_seeds(outside_code, tmp_path):
    config = blobs_config("data.kwargs.n=600")
    dirs = [tmp_path / "s0", tmp_path / "s1"]
    results = train_seeds(config, [0, 1], dirs, TrainOptions(progress="off"))
    assert [r["pack_size"] for r in results] == [2, 2]
    assert all(r["steps"] == 30 for r in results)
    # three well separated blobs: far above chance (1/3) after 30 updates
    assert all(r["test_acc"] > 0.6 for r in results)
    assert all(r["best_val_acc"] is not None for r in results)


def test_streamed_data_train_one_seed_at_a_time_through_its_loaders(outside_code, tmp_path):
    config = blobs_config("data.in_memory=false")
    dirs = [tmp_path / "s0", tmp_path / "s1"]
    results = train_seeds(config, [0, 1], dirs, TrainOptions(progress="off"))
    assert [r["pack_size"] for r in results] == [1, 1]
    assert all("streams through its own DataLoaders" in r["pack_fallback"] for r in results)
    assert all(r["steps"] == 30 and r["status"] == "ok" for r in results)
    assert all(r["test_acc"] > 0.6 for r in results)


def test_an_epoch_budget_of_streamed_data_counts_its_loaders_batches(outside_code, tmp_path):
    # 180 training samples in batches of 25 (its loader's): 8 updates per epoch
    config = blobs_config("data.in_memory=false", "train.max_steps=null", "train.max_epochs=2")
    assert batches_per_epoch(config.data) == 8
    (result,) = train_seeds(config, [0], [tmp_path / "s0"], TrainOptions(progress="off"))
    assert result["steps"] == 16 and result["epochs"] == 2


def test_without_a_val_loader_the_test_split_stands_alone(outside_code, tmp_path):
    config = blobs_config("data.kwargs.with_val=false")
    (result,) = train_seeds(config, [0], [tmp_path / "s0"], TrainOptions(progress="off"))
    assert result["best_val_acc"] is None and result["test_acc"] > 0.5


@pytest.mark.parametrize(
    ("module", "says"),
    [
        ("blobs:NoTest", "defines no test_dataloader"),
        ("blobs:BrokenSetup", "preparing it raised OSError: disk not found"),
        ("blobs:NotADataModule", "made 'NotADataModule', not a LightningDataModule"),
        ("blobs:Nowhere", "'blobs' has no 'Nowhere'"),
        ("no_such_pkg.data:Blobs", "cannot import 'no_such_pkg.data'"),
    ],
)
def test_a_bad_data_module_is_one_line_naming_the_key(outside_code, module, says):
    config = apply_overrides(ExperimentConfig(), [f"data.module={module}"])
    with pytest.raises(UserError) as caught:
        data_shape(config.data)
    message = str(caught.value)
    assert message.startswith(f"data.module '{module}'") and says in message
    assert "\n" not in message


def test_kwargs_it_does_not_take_are_one_line(outside_code):
    config = blobs_config("data.kwargs.colour=blue")
    with pytest.raises(UserError, match=r"data.module 'blobs:Blobs' raised TypeError"):
        data_shape(config.data)


def test_kwargs_without_a_module_are_refused():
    with pytest.raises(UserError, match="data.kwargs go with data.module"):
        apply_overrides(ExperimentConfig(), ["data.kwargs.n=3"])
