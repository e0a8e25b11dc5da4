"""A packed module's per-copy settings (copy_settings.py): costs grouped by loss are each copy's
own, value and gradient; the packed optimiser only where the optimiser settings differ."""

import torch

from cnnablate.config import ExperimentConfig, apply_dict
from cnnablate.copy_settings import CopySettings
from cnnablate.losses import get_loss
from cnnablate.models.packed_optim import PackedSGD
from cnnablate.module import Classifier

LOSSES = ["mse", "ce", "bce", "ce", "mse"]


def configs(*changes: dict) -> list[ExperimentConfig]:
    return [apply_dict(ExperimentConfig(), change) for change in changes]


def test_each_copy_gets_its_own_loss_and_gradient():
    settings = CopySettings(configs(*({"loss": loss} for loss in LOSSES)), num_train=4000)
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(len(LOSSES), 32, 10, generator=generator, requires_grad=True)
    y = torch.randint(0, 10, (len(LOSSES), 32), generator=generator)
    losses = settings.losses(z, y)
    losses.sum().backward()
    for copy, name in enumerate(LOSSES):
        alone = z[copy].detach().clone().requires_grad_()
        expected = get_loss(name)(alone, y[copy])
        expected.backward()
        torch.testing.assert_close(losses[copy], expected, rtol=1e-6, atol=0)
        torch.testing.assert_close(z.grad[copy], alone.grad, rtol=0, atol=1e-8)


def module(*changes: dict) -> Classifier:
    packed = configs(*changes)
    seeds = list(range(len(packed)))
    return Classifier(packed[0], (1, 40), 4000, seeds=seeds, copy_configs=packed)


def test_the_packed_optimiser_steps_only_copies_whose_settings_differ():
    same = module({"loss": "ce"}, {"loss": "mse"})
    assert not same.copy_settings.own_optimiser
    assert isinstance(same.configure_optimizers(), torch.optim.SGD)
    differ = module({"optim.l2": 0.0}, {"optim.l2": 5.0, "optim.momentum": 0.5})
    optimiser = differ.configure_optimizers()
    assert isinstance(optimiser, PackedSGD)
    weights, others = optimiser.param_groups
    assert weights["weight_decay"].tolist() == [0.0, 5.0 / 40]  # λ over 40 mini-batches
    assert others["weight_decay"].tolist() == [0.0, 0.0]  # biases: no L2
    assert weights["momentum"].tolist() == [0.0, 0.5]
    assert {id(p) for p in weights["params"]} == {id(w) for w in differ.net.weights()}
