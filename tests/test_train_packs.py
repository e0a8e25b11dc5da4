"""Packs across cells (`train.train_pack`, `pack_keys.py`): copies of different configs of one pack
key trained as one module give each copy the weights and results of its lone run, within the
tolerance of `test_train.test_packed_seeds_match_separate_runs` (losses rel 1e-4 / abs 1e-5,
accuracies abs 2e-3; weights the same rel 1e-4 / abs 1e-5).

Packed and lone runs round differently (packed kernels), by about 1e-7; a ReLU or max that flips
on such a difference can grow it past the tolerance, packed seeds alike (udl-cnn, seed 1, 40
updates: 2.6e-5; bce at lr 0.3, seed 8: 1.7e-3), so the runs here use seeds that do not."""

import csv
import json
import time

import pytest
import pytorch_lightning as pl
import torch

from cnnablate.callbacks import RESUME_FILE
from cnnablate.config import apply_overrides, with_budget
from cnnablate.errors import Interrupted
from cnnablate.module import load_trained
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, train, train_pack

LOSS_TOLERANCE = {"rel": 1e-4, "abs": 1e-5}
ACC_TOLERANCE = 2e-3
WEIGHT_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


class FinalWeights(pl.Callback):
    """Each copy's weights when training ends, as a lone network's state dict."""

    def __init__(self) -> None:
        self.copies: list[dict[str, torch.Tensor]] = []

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        copies = range(module.copies)
        nets = [module.net.unpack(i) for i in copies] if module.packed else [module.net]
        self.copies = [{k: v.detach().clone() for k, v in net.state_dict().items()} for net in nets]


def tiny(steps: int, overrides=()):
    # The UDL CNN, conv layers only; 40 updates an epoch, so that schedules act between epochs.
    config = get_preset("udl-cnn").config
    config = apply_overrides(config, ["train.eval_every_epochs=1", "model.hidden=[]", *overrides])
    return with_budget(config, max_steps=steps)


def packed_runs(configs, seeds, tmp_path):
    """(config, seed, folder) runs, folders p0, p1, ..."""
    pairs = zip(configs, seeds, strict=True)
    return [(config, seed, tmp_path / f"p{i}") for i, (config, seed) in enumerate(pairs)]


def options(callback: pl.Callback | None = None, **more) -> TrainOptions:
    return TrainOptions(progress="off", callbacks=[callback] if callback else [], **more)


def assert_like_lone(runs, packed, tmp_path):
    """Each copy's result, history and final weights as its lone run's."""
    for (config, seed, folder), together, weights in zip(runs, *packed, strict=True):
        lone_weights = FinalWeights()
        alone = train(config, seed, tmp_path / f"lone-{folder.name}", options(lone_weights))
        assert together["pack_size"] == len(runs) and alone["pack_size"] == 1
        assert together["config"] == config.model_dump() == alone["config"]
        assert together["pack_key"] == alone["pack_key"]
        assert together["pack_id"] == runs[0][2].name and alone["pack_id"] is None
        for key in ("test_loss", "train_loss"):
            assert together[key] == pytest.approx(alone[key], **LOSS_TOLERANCE)
        for key in ("test_acc", "train_acc"):
            assert together[key] == pytest.approx(alone[key], abs=ACC_TOLERANCE)
        rows = list(csv.DictReader((folder / "metrics.csv").open()))
        lone_rows = list(csv.DictReader((tmp_path / f"lone-{folder.name}" / "metrics.csv").open()))
        assert [r["step"] for r in rows] == [r["step"] for r in lone_rows]
        for a, b in zip(rows, lone_rows, strict=True):
            assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)
        assert list(weights) == list(lone_weights.copies[0])
        for name, tensor in weights.items():
            torch.testing.assert_close(tensor, lone_weights.copies[0][name], **WEIGHT_TOLERANCE)


def test_copies_with_their_own_lr_l2_momentum_decay_and_schedule_train_as_alone(tmp_path):
    """Three cells of one pack key (lr, L2, momentum, weight decay, schedule and seed their own),
    120 updates (3 epochs): each copy's weights, losses and accuracies are its lone run's."""
    configs = [
        tiny(120, ["optim.lr=0.05"]),
        tiny(120, ["optim.lr=0.1", "optim.l2=2.0", "optim.momentum=0.9", "optim.schedule=cosine"]),
        tiny(
            120,
            [
                "optim.lr=0.2",
                "optim.weight_decay=0.01",
                "optim.schedule=step",
                "optim.step_every_epochs=1",
                "optim.step_gamma=0.5",
            ],
        ),
    ]
    runs = packed_runs(configs, [3, 5, 8], tmp_path)
    weights = FinalWeights()
    packed = train_pack(runs, options(weights))
    assert len(weights.copies) == 3
    assert_like_lone(runs, (packed, weights.copies), tmp_path)
    stored = json.loads((tmp_path / "p1" / "result.json").read_text())
    assert stored["config"]["optim"]["schedule"] == "cosine" and stored["pack_id"] == "p0"
    assert len({r["test_loss"] for r in packed}) == 3


def test_copies_with_their_own_loss_train_as_alone(tmp_path):
    """Cells that differ in the cost (and the learning rate that suits it): grouped by loss
    (`test_copy_settings.py` checks copies of one loss apart in the pack)."""
    configs = [
        tiny(40, ["loss=mse", "optim.lr=0.5"]),
        tiny(40, ["loss=ce"]),
        tiny(40, ["loss=bce", "optim.lr=0.3"]),
    ]
    runs = packed_runs(configs, [3, 5, 3], tmp_path)
    weights = FinalWeights()
    packed = train_pack(runs, options(weights))
    assert_like_lone(runs, (packed, weights.copies), tmp_path)


def test_copies_with_their_own_dropout_rate_keep_it_in_training_and_checkpoints(tmp_path):
    """Head dropout 0.2 and 0.6 in one pack: each copy's checkpoint loads as a lone network of
    its own config, whose evaluation is the copy's, and the rates are the copies' own."""
    configs = [tiny(40, ["model.hidden=[30]", f"model.dropout={p}"]) for p in (0.2, 0.6)]
    runs = [(config, 0, tmp_path / f"p{i}") for i, config in enumerate(configs)]
    packed = train_pack(runs, options(checkpoint=True))
    assert [r["status"] for r in packed] == ["ok", "ok"]
    x = torch.randn(20, 1, 40, generator=torch.Generator().manual_seed(0))
    for (config, _, folder), result in zip(runs, packed, strict=True):
        lone = load_trained(folder / "best.ckpt")
        assert lone.config == config and lone.copies == 1
        dropout = [m for m in lone.net.modules() if isinstance(m, torch.nn.Dropout)]
        assert [m.p for m in dropout] == [config.model.dropout] * 2  # before each layer
        assert result["config"]["model"]["dropout"] == config.model.dropout
        assert torch.isfinite(lone(x)).all()


def test_configs_that_may_not_pack_are_refused(tmp_path):
    runs = [(tiny(40), 0, tmp_path / "a"), (tiny(40, ["data.batch_size=50"]), 0, tmp_path / "b")]
    with pytest.raises(ValueError, match="differ in data.batch_size"):
        train_pack(runs, options())
    assert not (tmp_path / "a").exists()


def test_a_pack_cut_off_resumes_with_each_copys_optimiser_state_and_schedule(tmp_path):
    """Stopped by its time limit after its first epoch and started again, a pack with momentum
    and schedules of its own ends as the pack trained in one go."""
    configs = [
        tiny(120, ["optim.lr=0.1", "optim.momentum=0.9", "optim.schedule=cosine"]),
        tiny(120, ["optim.lr=0.05", "optim.schedule=step", "optim.step_every_epochs=1"]),
    ]
    whole = train_pack(packed_runs(configs, [3, 5], tmp_path / "whole"), options())
    runs = packed_runs(configs, [3, 5], tmp_path / "cut")
    with pytest.raises(Interrupted):
        train_pack(runs, options(deadline=time.time()))
    assert (runs[0][2] / RESUME_FILE).exists()
    resumed = train_pack(runs, options())
    for a, b in zip(whole, resumed, strict=True):
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-6)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
    for copy in ("p0", "p1"):
        rows = list(csv.DictReader((tmp_path / "whole" / copy / "metrics.csv").open()))
        again = list(csv.DictReader((tmp_path / "cut" / copy / "metrics.csv").open()))
        assert [r["step"] for r in rows] == [r["step"] for r in again] == ["40", "80", "120"]
        for a, b in zip(rows, again, strict=True):
            assert float(a["test_acc"]) == pytest.approx(float(b["test_acc"]), abs=1e-9)
            assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-6)
