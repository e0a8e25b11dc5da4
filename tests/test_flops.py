"""FLOPs of a training step against hand counts: a linear layer is 2·in·out per sample forward."""

import pytest
import torch
from torch import nn

from cnnablate.flops import training_flops_per_sample
from cnnablate.losses import cross_entropy

IN, OUT, BATCH = 30, 10, 8


def batch(requires_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(BATCH, IN, requires_grad=requires_grad)
    return x, torch.arange(BATCH) % OUT


def test_linear_forward_plus_weight_gradient():
    # forward x·Wᵀ: 2·in·out; backward: the weight gradient (another 2·in·out), no input
    # gradient since the data needs none. The bias gradient is a sum: not counted.
    x, y = batch()
    flops = training_flops_per_sample(nn.Linear(IN, OUT), cross_entropy, x, y)
    assert flops == 2 * IN * OUT + 2 * IN * OUT


def test_input_gradient_when_the_input_requires_it():
    # backward about twice the forward: weight gradient and input gradient, 2·in·out each.
    x, y = batch(requires_grad=True)
    flops = training_flops_per_sample(nn.Linear(IN, OUT), cross_entropy, x, y)
    assert flops == 2 * IN * OUT * 3
    assert x.grad is None


def test_counts_every_layer_and_is_per_sample():
    net = nn.Sequential(nn.Linear(IN, 20), nn.ReLU(), nn.Linear(20, OUT))
    x, y = batch()
    forward = 2 * (IN * 20 + 20 * OUT)
    # the first layer needs no input gradient; the second passes its gradient back to the first
    backward = 2 * (IN * 20) + 2 * (20 * OUT) * 2
    assert training_flops_per_sample(net, cross_entropy, x, y) == forward + backward
    x2, y2 = torch.cat([x, x]), torch.cat([y, y])
    assert training_flops_per_sample(net, cross_entropy, x2, y2) == forward + backward


def test_conv_layer_against_hand_count():
    conv = nn.Sequential(nn.Conv2d(1, 4, kernel_size=3), nn.Flatten(), nn.Linear(4 * 6 * 6, OUT))
    x, y = torch.randn(BATCH, 1, 8, 8), torch.arange(BATCH) % OUT
    conv_forward = 2 * (4 * 6 * 6) * (1 * 3 * 3)
    linear_forward = 2 * 4 * 6 * 6 * OUT
    expected = 2 * conv_forward + 3 * linear_forward
    assert training_flops_per_sample(conv, cross_entropy, x, y) == pytest.approx(expected)


def test_leaves_gradients_and_random_state_alone():
    net = nn.Sequential(nn.Dropout(0.5), nn.Linear(IN, OUT))
    x, y = batch()
    torch.manual_seed(0)
    training_flops_per_sample(net, cross_entropy, x, y)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), after)
    assert all(p.grad is None for p in net.parameters())


def test_leaves_batch_norms_running_statistics_alone():
    net = nn.Sequential(nn.BatchNorm1d(IN), nn.Linear(IN, OUT))
    before = {name: t.clone() for name, t in net.state_dict().items()}
    x, y = batch()
    training_flops_per_sample(net.train(), cross_entropy, x + 3.0, y)
    assert all(torch.equal(t, before[name]) for name, t in net.state_dict().items())
