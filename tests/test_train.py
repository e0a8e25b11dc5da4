"""End-to-end runs of the real Lightning trainer on MNIST-1D (generated, no download)."""

import csv
import json
import math
import subprocess

import pytest
import pytorch_lightning as pl
import torch

from cnnablate.config import apply_overrides, with_budget
from cnnablate.machine import git_commit
from cnnablate.module import load_trained
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, best_validation, train

QUIET = TrainOptions(progress="off")
TIMING_KEYS = {
    "train_samples_per_s",
    "eval_samples_per_s",
    "achieved_flops_per_s",
    "wall_s",
    "eval_s",
    "pid",
}


def tiny(name="udl-cnn", steps=120, overrides=()):
    config = apply_overrides(get_preset(name).config, ["train.eval_every_epochs=1", *overrides])
    return with_budget(config, max_steps=steps)


def test_result_json_and_metrics_csv(tmp_path):
    options = TrainOptions(preset="udl-cnn", progress="off")
    result = train(tiny(), seed=1, out_dir=tmp_path, options=options)
    stored = json.loads((tmp_path / "result.json").read_text())
    assert stored["test_acc"] == result["test_acc"]
    for key in [
        "preset",
        "config",
        "seed",
        "params",
        "test_acc",
        "test_acc_at_best_val",
        "best_val_acc",
        "best_epoch",
        "train_acc",
        "train_samples_per_s",
        "train_flops_per_sample",
        "achieved_flops_per_s",
        "eval_samples_per_s",
        "wall_s",
        "steps",
        "device",
        "versions",
        "commit",
        "status",
    ]:
        assert key in stored
    assert stored["status"] == "ok" and stored["steps"] == 120 and stored["params"] == 2050
    assert stored["versions"]["torch"] and stored["versions"]["pytorch_lightning"]
    assert stored["train_samples_per_s"] > 0
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # 120 steps of 40 per epoch
    assert [int(r["step"]) for r in rows] == [40, 80, 120]
    assert float(rows[-1]["test_acc"]) == pytest.approx(result["test_acc"])


def test_same_seed_same_metrics_on_cpu(tmp_path):
    a = train(tiny(overrides=["model.dropout=0.2"]), seed=3, out_dir=tmp_path / "a", options=QUIET)
    b = train(tiny(overrides=["model.dropout=0.2"]), seed=3, out_dir=tmp_path / "b", options=QUIET)
    c = train(tiny(overrides=["model.dropout=0.2"]), seed=4, out_dir=tmp_path / "c", options=QUIET)
    strip = lambda r: {k: v for k, v in r.items() if k not in TIMING_KEYS}
    assert strip(a) == strip(b)
    assert (tmp_path / "a" / "metrics.csv").read_text() == (
        tmp_path / "b" / "metrics.csv"
    ).read_text()
    assert strip(a) != strip(c)


def test_validation_split_gives_test_accuracy_at_best_validation(tmp_path):
    config = tiny(steps=140, overrides=["data.val_size=500"])  # 3500 train: 35 steps an epoch
    result = train(config, seed=0, out_dir=tmp_path, options=QUIET)
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    best = max(rows, key=lambda r: float(r["val_acc"]))
    assert result["best_val_acc"] == pytest.approx(float(best["val_acc"]))
    assert result["test_acc_at_best_val"] == pytest.approx(float(best["test_acc"]))
    assert result["best_epoch"] == int(best["epoch"])


def test_best_validation_takes_the_first_best_epoch():
    history = [
        {"epoch": 1, "val_acc": 0.5, "test_acc": 0.4},
        {"epoch": 2, "val_acc": 0.7, "test_acc": 0.6},
        {"epoch": 3, "val_acc": 0.7, "test_acc": 0.9},
    ]
    assert best_validation(history) == {
        "best_val_acc": 0.7,
        "best_epoch": 2,
        "test_acc_at_best_val": 0.6,
    }


def test_diverging_run_is_recorded_as_diverged(tmp_path):
    config = tiny(name="udl-fc", steps=200, overrides=["optim.lr=1e6"])
    result = train(config, seed=0, out_dir=tmp_path, options=QUIET)
    assert result["status"] == "diverged"
    assert result["diverged_at_step"] is not None and result["diverged_at_step"] <= 80


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_sigmoid_output_losses_train(tmp_path, loss):
    config = tiny(name="udl-mlp", steps=400, overrides=[f"loss={loss}", "optim.lr=0.5"])
    result = train(config, seed=0, out_dir=tmp_path, options=QUIET)
    assert result["status"] == "ok" and result["test_acc"] > 0.2  # chance is 0.1


def test_best_checkpoint_is_kept_when_asked(tmp_path):
    import torch

    options = TrainOptions(progress="off", checkpoint=True)
    train(tiny(steps=80), seed=0, out_dir=tmp_path, options=options)
    saved = torch.load(tmp_path / "best.ckpt", map_location="cpu", weights_only=False)
    assert "state_dict" in saved and any(k.startswith("net.") for k in saved["state_dict"])
    module = load_trained(tmp_path / "best.ckpt")
    assert not module.training and module.config == tiny(steps=80)
    weights = dict(module.named_parameters())
    assert all(torch.equal(weights[k], v) for k, v in saved["state_dict"].items() if k in weights)


def test_step_cap_limits_the_budget(tmp_path):
    options = TrainOptions(progress="off", step_cap=50)
    result = train(tiny(steps=200), seed=0, out_dir=tmp_path, options=options)
    assert result["steps"] == 50 and result["step_cap"] == 50


def test_packed_seeds_match_separate_runs(tmp_path):
    """Without dropout or augmentation, seeds trained together equal seeds trained alone."""
    from cnnablate.train import train_seeds

    config = tiny(steps=60, overrides=["model.hidden=[]"])  # the UDL CNN, conv layers only
    seeds = [3, 5, 8]
    packed = train_seeds(config, seeds, [tmp_path / f"p{s}" for s in seeds], QUIET)
    for seed, together in zip(seeds, packed, strict=True):
        alone = train(config, seed=seed, out_dir=tmp_path / f"s{seed}", options=QUIET)
        assert together["pack_size"] == 3 and alone["pack_size"] == 1
        assert together["test_loss"] == pytest.approx(alone["test_loss"], rel=1e-4, abs=1e-5)
        assert together["train_loss"] == pytest.approx(alone["train_loss"], rel=1e-4, abs=1e-5)
        rows_p = list(csv.DictReader((tmp_path / f"p{seed}" / "metrics.csv").open()))
        rows_s = list(csv.DictReader((tmp_path / f"s{seed}" / "metrics.csv").open()))
        assert [r["step"] for r in rows_p] == [r["step"] for r in rows_s]
        for a, b in zip(rows_p, rows_s, strict=True):
            assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)
            assert float(a["test_acc"]) == pytest.approx(float(b["test_acc"]), abs=2e-3)
    assert len({r["test_loss"] for r in packed}) == 3  # the copies are independent


def test_packed_seeds_with_batch_norm_match_separate_runs(tmp_path):
    """Each copy's running statistics are its own: evaluated on them, and in its best.ckpt."""
    from cnnablate.train import train_seeds

    norms = [f"model.conv.{layer}.norm=batch" for layer in range(3)]
    config = tiny(steps=40, overrides=norms)
    options = TrainOptions(progress="off", checkpoint=True)
    seeds = [3, 5]
    packed = train_seeds(config, seeds, [tmp_path / f"p{s}" for s in seeds], options)
    x = torch.randn(50, 1, 40, generator=torch.Generator().manual_seed(0))
    for seed, together in zip(seeds, packed, strict=True):
        alone = train(config, seed=seed, out_dir=tmp_path / f"s{seed}", options=options)
        assert together["status"] == alone["status"] == "ok"
        assert math.isfinite(together["train_loss"]) and together["pack_size"] == 2
        assert together["test_loss"] == pytest.approx(alone["test_loss"], rel=1e-4, abs=1e-5)
        assert together["train_loss"] == pytest.approx(alone["train_loss"], rel=1e-4, abs=1e-5)
        assert together["test_acc"] == pytest.approx(alone["test_acc"], abs=2e-3)
        lone = load_trained(tmp_path / f"s{seed}" / "best.ckpt")
        unpacked = load_trained(tmp_path / f"p{seed}" / "best.ckpt")
        torch.testing.assert_close(unpacked(x), lone(x), atol=1e-5, rtol=0)
    assert packed[0]["test_loss"] != packed[1]["test_loss"]


def test_packed_checkpoints_load_as_single_networks(tmp_path):
    from cnnablate.module import load_trained
    from cnnablate.train import train_seeds

    config = tiny(steps=40)
    options = TrainOptions(progress="off", checkpoint=True)
    train_seeds(config, [0, 1], [tmp_path / "a", tmp_path / "b"], options)
    module = load_trained(tmp_path / "b" / "best.ckpt")
    assert module.copies == 1 and module.config == config


class UpdateLosses(pl.Callback):
    """The weights a run starts from and the loss of each of its SGD updates, in order (the
    module's block of updates wrapped before the first block)."""

    def __init__(self) -> None:
        self.initial: dict[str, torch.Tensor] = {}
        self.losses: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.initial = {k: p.detach().clone() for k, p in module.named_parameters()}
        updates = module.block_updates

        def logged(xs, ys):
            losses, logits = updates(xs, ys)
            self.losses += losses[:, 0].tolist()
            return losses, logits

        module.block_updates = logged


EVAL_IMAGES = 2_000  # evaluated per split; the 50,000 training images all train


@pytest.fixture
def short_eval_splits(monkeypatch):
    """MNIST's val and test splits, and the final evaluation of the training split, cut to their
    first EVAL_IMAGES (evaluating 70,000 images of a conv net twice took most of 45 s)."""
    from cnnablate.data.base import Split
    from cnnablate.data.batches import EvalBatches
    from cnnablate.data.mnist import MNISTDataModule

    load_splits = MNISTDataModule.load_splits

    def shortened(self):
        splits = load_splits(self)
        for name in ("val", "test"):
            splits[name] = Split(splits[name].x[:EVAL_IMAGES], splits[name].y[:EVAL_IMAGES])
        return splits

    monkeypatch.setattr(MNISTDataModule, "load_splits", shortened)
    monkeypatch.setattr(
        MNISTDataModule,
        "train_eval_batches",
        lambda self: EvalBatches(
            self.splits["train"].x[:EVAL_IMAGES], self.splits["train"].y[:EVAL_IMAGES], 10_000
        ),
    )


def layout_run(layout, out_dir, data_dir, overrides=(), seed=2):
    """60 updates of nielsen-conv2-relu on MNIST with its 2-D conv nets in `layout`."""
    config = apply_overrides(
        get_preset("nielsen-conv2-relu").config,
        [f"train.memory_format={layout}", "train.steps_per_block=20", *overrides],
    )
    log = UpdateLosses()
    result = train(
        with_budget(config, max_steps=60),
        seed=seed,
        out_dir=out_dir / layout,
        options=TrainOptions(data_dir=data_dir, progress="off", checkpoint=True, callbacks=[log]),
    )
    return result, log


# The two layouts run different CPU kernels (oneDNN's blocked ones for channels_last), whose
# sums are reassociated: each loss, gradient and update agrees only to float32 rounding, and which
# rounding depends on the CPU (AVX2, AVX-512) and its thread count. Measured on this run with
# noise of relative size 1e-7 (one ulp) to 1e-5 put into every gradient: the first 40 updates'
# losses stay within 1.3e-6 of the exact run. Near update 45, though, SGD here is on a knife
# edge: one ulp of noise flips it in 3 of 10 tries, the losses drift apart by up to 2e-4 by update
# 60, and the run ends at a training loss of 2.08969 instead of 2.08928 (the pair an AVX-512
# EPYC gave for the two layouts). A 1% larger learning rate, by contrast, moves the second
# update's loss by 3.6e-3 and the final losses by 2.5e-3.
FIRST_UPDATES = 20  # one block, well before the knife edge
FIRST_UPDATES_RTOL = 1e-5  # ~100 ulps: reassociation, not another network or learning rate
FINAL_LOSS_REL = 1e-3  # 5x the knife edge's flip, below a 1% change of learning rate
FINAL_ACC_ABS = 5e-3  # 10 of the 2,000 test images; the flip moved 3 of 10,000


def assert_trains_the_same(fast, plain):
    (fast_result, fast_log), (plain_result, plain_log) = fast, plain
    assert fast_result["steps"] == plain_result["steps"] == 60
    assert len(fast_log.losses) == len(plain_log.losses) == 60
    # The same network: layouts are copies of the same numbers, so exactly the same weights.
    assert fast_log.initial.keys() == plain_log.initial.keys()
    for name, weight in fast_log.initial.items():
        assert torch.equal(weight, plain_log.initial[name]), name
    # The same arithmetic: the first updates agree to rounding.
    torch.testing.assert_close(
        torch.tensor(fast_log.losses[:FIRST_UPDATES], dtype=torch.float64),
        torch.tensor(plain_log.losses[:FIRST_UPDATES], dtype=torch.float64),
        rtol=FIRST_UPDATES_RTOL,
        atol=0.0,
    )
    # The same learning: where rounding has been amplified, as closely as rounding allows.
    for key in ("train_loss", "test_loss"):
        assert fast_result[key] == pytest.approx(plain_result[key], rel=FINAL_LOSS_REL), key
    assert fast_result["test_acc"] == pytest.approx(plain_result["test_acc"], abs=FINAL_ACC_ABS)


def test_channels_last_trains_the_same_network_as_contiguous(
    tmp_path, mnist_data_dir, short_eval_splits
):
    """The CPU's default layout for 2-D conv nets changes speed (and float rounding), not what
    is learned."""
    assert_trains_the_same(
        layout_run("channels_last", tmp_path, mnist_data_dir),
        layout_run("contiguous", tmp_path, mnist_data_dir),
    )


@pytest.mark.parametrize(
    ("memory_format", "accelerator", "channels_last"),
    [("auto", "cpu", True), ("auto", "gpu", False), ("contiguous", "cpu", False)],
)
def test_memory_format_of_2d_conv_weights(memory_format, accelerator, channels_last):
    from cnnablate.module import Classifier
    from cnnablate.train import set_memory_format

    config = get_preset("nielsen-conv2").config
    module = Classifier(config, (1, 28, 28), num_train=50_000)
    set_memory_format(module, memory_format, accelerator)
    weight = module.net[0][1].conv.weight  # 40 x 20 x 5 x 5: the layouts differ
    assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert weight.is_contiguous() == (not channels_last)


def test_packed_conv_weights_keep_their_layout_on_the_cpu():
    """Packed 2-D conv weights are 5-D (copies first): channels_last does not apply to them."""
    from cnnablate.module import Classifier
    from cnnablate.train import set_memory_format

    config = get_preset("nielsen-conv2").config
    module = Classifier(config, (1, 28, 28), num_train=50_000, seeds=[0, 1])
    set_memory_format(module, "auto", "cpu")
    assert {p.dim() for p in module.net.parameters()} >= {5}
    assert all(p.is_contiguous() for p in module.net.parameters())


def test_a_runs_own_output_does_not_make_the_commit_dirty(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    for path in ("src/code.py", "results/spec/results.csv", "reports/spec/index.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    clean = git_commit(tmp_path / "src")
    assert clean is not None and not clean.endswith("-dirty")
    (tmp_path / "results/spec/results.csv").write_text("v2\n")
    (tmp_path / "reports/spec/index.md").write_text("v2\n")
    assert git_commit(tmp_path / "src") == clean
    (tmp_path / "src/code.py").write_text("v2\n")
    assert git_commit(tmp_path / "src") == clean + "-dirty"


def test_a_pinned_commit_names_a_copied_tree(tmp_path, monkeypatch):
    """A device's copy of the tree sits on another commit; the one it was prepared at wins."""
    monkeypatch.setenv("CNNABLATE_COMMIT", "4312673-prepared")
    assert git_commit(tmp_path) == "4312673-prepared"
    monkeypatch.setenv("CNNABLATE_COMMIT", "")
    assert git_commit(tmp_path) is None  # not a git tree, nothing pinned


def test_a_process_names_the_commit_it_started_with(monkeypatch):
    from cnnablate.machine import running_commit

    running_commit.cache_clear()
    try:
        monkeypatch.setenv("CNNABLATE_COMMIT", "at-start")
        assert running_commit() == "at-start"
        monkeypatch.setenv("CNNABLATE_COMMIT", "made-while-training")
        assert running_commit() == "at-start"
    finally:
        running_commit.cache_clear()
