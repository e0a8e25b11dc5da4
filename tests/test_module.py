import copy
import math

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from cnnablate.config import apply_overrides, validate_config
from cnnablate.data.batches import EvalBatches, to_float
from cnnablate.data.mnist1d import MNIST1DDataModule
from cnnablate.evaluation import evaluate
from cnnablate.metrics import EvalTotals
from cnnablate.module import Classifier, l2_coefficient
from cnnablate.presets import get_preset


def config(**optim):
    return validate_config(
        {
            "data": {"batch_size": 10},
            "model": {"conv": [{"channels": 3, "kernel": 3}], "hidden": [8]},
            "optim": {"lr": 0.1, **optim},
            "train": {"max_epochs": 1},
        }
    )


def test_nielsen_l2_is_scaled_by_the_number_of_mini_batches():
    # network3: cost + 0.5 * λ * Σw² / num_training_batches; 4000 samples / batch 10 = 400.
    assert l2_coefficient(config(l2=5.0), 4000) == pytest.approx(5.0 / 400)
    assert l2_coefficient(config(l2=5.0, l2_scale="examples"), 4000) == pytest.approx(5.0 / 4000)


def test_l2_gradient_is_coefficient_times_weight_and_spares_biases():
    module = Classifier(config(l2=2.0), (1, 12), num_train=100)  # 10 mini-batches
    module.l2_penalty().backward()
    for name, param in module.net.named_parameters():
        if name.endswith("bias"):
            assert param.grad is None
        else:
            assert torch.allclose(param.grad, 0.2 * param.detach())


class FakeTrainer:
    should_stop = False


def test_a_block_makes_one_sgd_update_per_mini_batch_in_order():
    torch.manual_seed(0)
    module = Classifier(config(l2=0.5), (1, 12), num_train=40)
    reference = copy.deepcopy(module.net)
    optimizer = module.configure_optimizers()  # applies the L2 gradient as weight decay
    module.optimizers = lambda: type("Wrapped", (), {"optimizer": optimizer})()
    module._trainer = FakeTrainer()
    xs, ys = torch.randn(4, 10, 1, 12), torch.randint(0, 10, (4, 10))
    module.training_step((xs, ys), 0)

    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    coefficient = l2_coefficient(config(l2=0.5), 40)
    for x, y in zip(xs, ys, strict=True):
        ref_opt.zero_grad()
        weights = [m.weight for m in reference.modules() if hasattr(m, "weight")]
        cost = torch.nn.functional.cross_entropy(reference(x), y)
        cost = cost + 0.5 * coefficient * sum(w.square().sum() for w in weights)
        cost.backward()
        ref_opt.step()
    for a, b in zip(module.net.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert module.updates == 4


def test_non_finite_loss_marks_divergence_and_stops():
    module = Classifier(config(), (1, 12), num_train=40)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    module.optimizers = lambda: type("Wrapped", (), {"optimizer": optimizer})()
    module._trainer = FakeTrainer()
    xs = torch.full((2, 10, 1, 12), float("nan"))
    module.training_step((xs, torch.zeros(2, 10, dtype=torch.long)), 0)
    assert module.diverged_at == 2 and module._trainer.should_stop


@pytest.mark.parametrize("seeds", [None, [0, 1]])
def test_l2_decays_weights_only_alone_and_packed(seeds):
    module = Classifier(config(l2=2.0, weight_decay=0.01), (1, 12), num_train=100, seeds=seeds)
    weights, others = module.parameter_groups()
    assert weights["weight_decay"] == pytest.approx(0.2 + 0.01)  # λ / 10 mini-batches + plain
    assert others["weight_decay"] == pytest.approx(0.01)
    penalised = {id(p) for p in weights["params"]}
    module.l2_penalty().backward()
    for param in module.parameters():
        assert (param.grad is not None) == (id(param) in penalised)
    assert len(penalised) + len(others["params"]) == len(list(module.parameters()))


@pytest.mark.parametrize(
    ("optim", "kind", "settings"),
    [
        ({"momentum": 0.9}, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        ({"name": "adam", "lr": 0.01}, torch.optim.Adam, {"lr": 0.01, "capturable": False}),
    ],
)
def test_the_optimiser_is_the_registrys_with_the_configs_settings(optim, kind, settings):
    module = Classifier(config(l2=1.0, **optim), (1, 12), num_train=100)
    optimizer = module.configure_optimizers()
    assert type(optimizer) is kind
    for group, expected in zip(optimizer.param_groups, module.parameter_groups(), strict=True):
        assert group["weight_decay"] == expected["weight_decay"]
        assert {key: group[key] for key in settings} == settings


@pytest.mark.parametrize("seeds", [None, [0, 1]])
def test_batch_norm_parameters_are_not_decayed_by_l2(seeds):
    normed = apply_overrides(config(l2=2.0), ["model.conv.0.norm=batch"])
    module = Classifier(normed, (1, 12), num_train=100, seeds=seeds)
    weights, others = module.parameter_groups()
    copies = (len(seeds),) if seeds else ()
    shapes = [(3, 1, 3), (8, 30), (10, 8)]  # conv, hidden, output
    assert [tuple(w.shape) for w in weights["params"]] == [copies + shape for shape in shapes]
    assert len(others["params"]) == 3 + 2  # three biases, batch norm's scale and shift


def test_a_stock_trainer_fits_validates_tests_and_loads_it_back(tmp_path):
    """An ordinary LightningModule too: plain (x, y) batches from any DataLoader, one update
    each; validate and test; `load_from_checkpoint` rebuilds it."""
    config = apply_overrides(get_preset("udl-cnn").config, ["data.num_samples=600"])
    data = MNIST1DDataModule(config.data)
    data.prepare()
    train, test = data.splits["train"], data.splits["test"]
    loader = DataLoader(TensorDataset(train.x, train.y), batch_size=50, shuffle=True)
    test_loader = DataLoader(TensorDataset(test.x, test.y), batch_size=100)
    module = Classifier(config, data.input_shape, len(train))
    trainer = pl.Trainer(
        max_epochs=3, default_root_dir=tmp_path, enable_progress_bar=False, logger=False
    )
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=test_loader)
    assert trainer.global_step == module.updates == 3 * len(loader)  # Lightning counted them
    assert [row["epoch"] for row in module.history] == [1, 2, 3]
    assert module.history[-1]["train_acc"] > 0.1

    (validated,) = trainer.validate(module, dataloaders=test_loader)
    (tested,) = trainer.test(module, dataloaders=test_loader)
    assert validated["val_acc"] == pytest.approx(tested["test_acc"])
    assert tested["test_acc"] == pytest.approx(module.history[-1]["val_acc"])

    path = tmp_path / "stock.ckpt"
    trainer.save_checkpoint(path)
    loaded = Classifier.load_from_checkpoint(path)
    assert loaded.config == module.config
    x = test.x[:20]
    torch.testing.assert_close(loaded.eval()(x), module.eval()(x))
    (again,) = pl.Trainer(logger=False, enable_progress_bar=False).test(
        loaded, dataloaders=test_loader
    )
    assert again["test_acc"] == pytest.approx(tested["test_acc"])


def test_eval_totals_are_exact_and_a_nan_batch_makes_the_loss_nan():
    totals = EvalTotals()
    y = torch.arange(1000) % 10
    logits = torch.nn.functional.one_hot((y + (torch.arange(1000) >= 99)) % 10, 10).float()
    totals.update(torch.tensor(0.5), logits, y)
    loss, acc = totals.compute()
    assert (loss, acc) == (0.5, 99 / 1000)  # not float32's 0.0989999995
    totals.update(torch.tensor(float("nan")), logits[:10], y[:10])
    loss, acc = totals.compute()
    assert math.isnan(loss) and acc == 109 / 1010


def test_final_metrics_come_from_the_modules_test_and_validation_steps_per_copy():
    """`evaluate` runs the module's own steps in `trainer.test`/`trainer.validate`: each copy's
    metrics per named split (a copy with NaN weights gets a NaN loss), no history, the module
    back on the trainer's device."""
    config = apply_overrides(get_preset("udl-cnn").config, ["data.num_samples=600"])
    data = MNIST1DDataModule(config.data)
    data.prepare()
    train, test = data.splits["train"], data.splits["test"]
    module = Classifier(config, data.input_shape, len(train), seeds=[0, 1])
    with torch.no_grad():
        next(module.net.parameters())[1].fill_(float("nan"))
    splits = {"test": EvalBatches(test.x, test.y, 64), "train": EvalBatches(train.x, train.y, 100)}
    results, rate = evaluate(module, splits, "cpu")
    assert rate is not None and rate > 0
    z = module.eval()(to_float(test.x))
    for index, result in enumerate(results):
        assert set(result) == {"test_loss", "test_acc", "train_loss", "train_acc"}
        hits = (z[index].argmax(-1) == test.y).sum().item()
        assert result["test_acc"] == hits / len(test.y)
    assert math.isfinite(results[0]["test_loss"]) and math.isnan(results[1]["test_loss"])
    validated, rate = evaluate(module, {"test": splits["test"]}, "cpu", "validate")
    assert rate is None and [row["test_acc"] for row in validated] == [
        row["test_acc"] for row in results
    ]
    assert validated[0]["test_loss"] == results[0]["test_loss"]
    assert math.isnan(validated[1]["test_loss"])
    assert module.histories == [[], []] and module.device.type == "cpu"
