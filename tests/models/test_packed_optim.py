"""The packed optimisers (models/packed_optim.py): each copy of stacked parameters takes the steps
`torch.optim` takes on it alone with that copy's learning rate, momentum and weight decay."""

import copy

import pytest
import torch

from cnnablate.config import OptimConfig
from cnnablate.models.packed_optim import (
    PackedAdam,
    PackedSGD,
    schedule_factor,
    set_learning_rates,
)

LR = [0.1, 0.05, 0.3]
MOMENTUM = [0.0, 0.9, 0.5]
DECAY = [0.0, 0.01, 0.2]
BIAS_DECAY = [0.3, 0.0, 0.0]
SHAPES = [(4, 3, 5), (4,)]  # a weight and a bias, per copy


def stacked_and_lone(seed=0):
    """Stacked parameters `(3, ...)` and each copy's own, equal to start with."""
    generator = torch.Generator().manual_seed(seed)
    stacked = [torch.randn(3, *s, generator=generator).requires_grad_() for s in SHAPES]
    lone = [[p[c].detach().clone().requires_grad_() for p in stacked] for c in range(3)]
    return stacked, lone


def gradients(steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [[torch.randn(3, *s, generator=generator) for s in SHAPES] for _ in range(steps)]


def groups(weight, bias):
    return [
        {"params": [weight], "weight_decay": torch.tensor(DECAY)},
        {"params": [bias], "weight_decay": torch.tensor(BIAS_DECAY)},
    ]


def step_all(packed, lone_optimisers, stacked, lone, grads):
    for step in grads:
        for param, grad in zip(stacked, step, strict=True):
            param.grad = grad.clone()
        packed.step()
        for index, optimiser in enumerate(lone_optimisers):
            for param, grad in zip(lone[index], step, strict=True):
                param.grad = grad[index].clone()
            optimiser.step()


def assert_copies_equal(stacked, lone):
    for index, params in enumerate(lone):
        for together, alone in zip(stacked, params, strict=True):
            torch.testing.assert_close(together[index], alone, rtol=1e-6, atol=1e-7)


def test_sgd_takes_each_copys_momentum_weight_decay_and_learning_rate():
    stacked, lone = stacked_and_lone()
    packed = PackedSGD(groups(*stacked), torch.tensor(LR), torch.tensor(MOMENTUM))
    alone = [
        torch.optim.SGD(
            [
                {"params": [lone[c][0]], "weight_decay": DECAY[c]},
                {"params": [lone[c][1]], "weight_decay": BIAS_DECAY[c]},
            ],
            lr=LR[c],
            momentum=MOMENTUM[c],
        )
        for c in range(3)
    ]
    step_all(packed, alone, stacked, lone, gradients(6))
    assert_copies_equal(stacked, lone)
    assert not torch.equal(stacked[0][0], stacked[0][1])


def test_adam_takes_each_copys_learning_rate_and_weight_decay():
    stacked, lone = stacked_and_lone()
    packed = PackedAdam(groups(*stacked), torch.tensor(LR))
    alone = [
        torch.optim.Adam(
            [
                {"params": [lone[c][0]], "weight_decay": DECAY[c]},
                {"params": [lone[c][1]], "weight_decay": BIAS_DECAY[c]},
            ],
            lr=LR[c],
        )
        for c in range(3)
    ]
    step_all(packed, alone, stacked, lone, gradients(6))
    assert_copies_equal(stacked, lone)


def test_a_loaded_state_goes_into_the_same_tensors_and_steps_on_alike():
    """A resumed optimiser keeps its hyperparameter tensors (a captured graph reads them) and
    goes on as the one it was saved from."""
    stacked, _ = stacked_and_lone()
    first = PackedSGD(groups(*stacked), torch.tensor(LR), torch.tensor(MOMENTUM))
    step_all(first, [], stacked, [], gradients(2))
    saved = copy.deepcopy(first.state_dict())  # as written to a file and read back
    again = [p.detach().clone().requires_grad_() for p in stacked]
    second = PackedSGD(groups(*again), torch.zeros(3), torch.tensor(MOMENTUM))
    lr = second.param_groups[0]["lr"]
    second.load_state_dict(saved)
    assert second.param_groups[0]["lr"] is lr and second.param_groups[1]["lr"] is lr
    assert lr.tolist() == pytest.approx(LR)
    later = gradients(2, seed=5)
    step_all(first, [], stacked, [], later)
    step_all(second, [], again, [], later)
    for a, b in zip(stacked, again, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("settings", "scheduler"),
    [
        ({"schedule": "cosine"}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 5)),
        (
            {"schedule": "step", "step_every_epochs": 2, "step_gamma": 0.3},
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.3),
        ),
        ({"schedule": "none"}, None),
    ],
)
def test_schedules_give_torchs_learning_rate_of_every_epoch(settings, scheduler):
    optim = OptimConfig(lr=0.2, **settings)
    lone = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    schedule = scheduler(lone) if scheduler else None
    for epoch in range(5):
        expected = lone.param_groups[0]["lr"]
        assert 0.2 * schedule_factor(optim, epoch, max_epochs=5) == pytest.approx(expected)
        if schedule is not None:
            lone.step()
            schedule.step()


def test_each_copy_follows_its_own_schedule_in_place():
    stacked, _ = stacked_and_lone()
    packed = PackedSGD(groups(*stacked), torch.tensor(LR), torch.tensor(MOMENTUM))
    lr = packed.param_groups[0]["lr"]
    optims = [
        OptimConfig(lr=LR[0]),
        OptimConfig(lr=LR[1], schedule="cosine"),
        OptimConfig(lr=LR[2], schedule="step", step_every_epochs=1, step_gamma=0.5),
    ]
    set_learning_rates(packed, optims, epoch=2, max_epochs=4)
    assert packed.param_groups[0]["lr"] is lr
    assert lr.tolist() == pytest.approx([0.1, 0.05 * 0.5, 0.3 * 0.25])
