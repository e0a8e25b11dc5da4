"""`best.ckpt`: a Lightning checkpoint of one network at its best evaluation, trained alone or
packed with other seeds, and the files earlier versions wrote."""

import json

import pytest
import pytorch_lightning as pl
import torch

from cnnablate.cli import main
from cnnablate.data import build_datamodule
from cnnablate.data.batches import to_float
from cnnablate.module import Classifier, load_trained
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, train, train_seeds
from tests.test_train import tiny

SEEDS = [0, 1]


def small_mlp():
    """48 updates of the UDL MLP, 6 an epoch, each epoch validated: 8 chances for a best."""
    overrides = ["data.num_samples=1000", "data.val_size=200", "optim.lr=0.5"]
    return tiny("udl-mlp", steps=48, overrides=overrides)


class UnpackedAtEachValidation(pl.Callback):
    """Each copy's plain network as it was at every validation of the run."""

    def __init__(self) -> None:
        self.nets: list[list[torch.nn.Module]] = []

    def on_validation_end(self, trainer: pl.Trainer, module: Classifier) -> None:
        self.nets.append([module.net.unpack(copy).eval() for copy in range(module.copies)])


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("packed")
    seen = UnpackedAtEachValidation()
    dirs = [out / f"seed{seed}" for seed in SEEDS]
    options = TrainOptions(progress="off", checkpoint=True, callbacks=[seen])
    results = train_seeds(small_mlp(), SEEDS, dirs, options)
    return results, dirs, seen


def inputs() -> torch.Tensor:
    return torch.randn(8, 1, 40, generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def test_a_packed_seeds_best_ckpt_loads_as_its_network_at_its_best_epoch(packed_run):
    results, dirs, seen = packed_run
    x = inputs()
    for copy, (result, out_dir) in enumerate(zip(results, dirs, strict=True)):
        loaded = Classifier.load_from_checkpoint(out_dir / "best.ckpt").eval()
        assert loaded.copies == 1 and not loaded.packed and loaded.config == small_mlp()
        at_best = seen.nets[result["best_epoch"] - 1][copy]
        torch.testing.assert_close(loaded(x), at_best(x), atol=1e-5, rtol=0)
        if result["best_epoch"] < result["epochs"]:  # the best, not merely the last, weights
            assert not torch.allclose(loaded(x), seen.nets[-1][copy](x), atol=1e-5)


@torch.no_grad()
def test_a_packed_seeds_best_ckpt_equals_the_seed_trained_alone(packed_run, tmp_path):
    results, dirs, _ = packed_run
    x = inputs()
    for seed, result, out_dir in zip(SEEDS, results, dirs, strict=True):
        options = TrainOptions(checkpoint=True)
        alone = train(small_mlp(), seed=seed, out_dir=tmp_path / str(seed), options=options)
        assert alone["best_epoch"] == result["best_epoch"]
        lone = Classifier.load_from_checkpoint(tmp_path / str(seed) / "best.ckpt").eval()
        packed = Classifier.load_from_checkpoint(out_dir / "best.ckpt").eval()
        torch.testing.assert_close(packed(x), lone(x), atol=1e-5, rtol=0)
        saved = torch.load(out_dir / "best.ckpt", map_location="cpu", weights_only=False)
        assert saved["epoch"] + 1 == result["best_epoch"]
        assert saved["best_weights"] == {
            "monitor": "val_acc",
            "score": result["best_val_acc"],
            "seed": seed,
        }


@torch.no_grad()
def test_load_trained_reads_new_and_old_checkpoints(packed_run, tmp_path):
    _, dirs, _ = packed_run
    new = load_trained(dirs[1] / "best.ckpt")
    assert not new.training and new.copies == 1
    # As earlier versions saved a packed seed: no Lightning version, final weights.
    old = {
        "hyper_parameters": dict(new.hparams),
        "state_dict": new.state_dict(),
        "weights": "final",
    }
    torch.save(old, tmp_path / "old.ckpt")
    x = inputs()
    torch.testing.assert_close(load_trained(tmp_path / "old.ckpt")(x), new(x), atol=0, rtol=0)


@torch.no_grad()
def test_train_with_a_step_cap_between_evaluations_keeps_the_final_weights(tmp_path, capsys):
    """udl-cnn evaluates every 25 epochs: 120 updates (3 epochs) end before Lightning validates
    once; the final evaluation, made after training, is the best and only one."""
    args = ["train", "udl-cnn", "--max-steps", "120", "--checkpoint", "--out", str(tmp_path)]
    assert main(args) == 0
    assert f"best weights: {tmp_path / 'best.ckpt'} (epoch 3, step 120" in capsys.readouterr().out
    result = json.loads((tmp_path / "result.json").read_text())
    model = Classifier.load_from_checkpoint(tmp_path / "best.ckpt").eval()
    data = build_datamodule(get_preset("udl-cnn").config.data, 0)
    data.prepare()
    test = data.splits["test"]
    accuracy = (model(to_float(test.x)).argmax(-1) == test.y).float().mean().item()
    assert accuracy == pytest.approx(result["test_acc"], abs=1e-6)


def test_train_says_why_a_run_kept_no_weights(tmp_path, capsys):
    args = ["train", "udl-fc", "--max-steps", "200", "--set", "optim.lr=1e6", "--checkpoint"]
    assert main([*args, "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"no {tmp_path / 'best.ckpt'}: the run diverged at step" in out
    assert not (tmp_path / "best.ckpt").exists()
