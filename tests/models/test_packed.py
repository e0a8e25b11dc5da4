"""Packed copies (models/packed.py) keep each copy's buffers: batch norm's running statistics are
stacked, updated copy by copy in training mode, used in evaluation, saved and unpacked."""

import pytest
import torch

from cnnablate.config import ModelConfig
from cnnablate.models import build_network
from cnnablate.models.packed import PackedNetwork

SHAPE = (1, 20)
BATCH_NORM = ModelConfig.model_validate(
    {
        "conv": [
            {"channels": 4, "kernel": 3, "norm": "batch"},
            {"channels": 3, "kernel": 3, "norm": "batch", "pool": "max"},
        ],
        "hidden": [8],
    }
)


def lone_networks(config: ModelConfig = BATCH_NORM, seeds=(0, 1, 2)):
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        nets.append(build_network(config, SHAPE))
    return nets


def test_copies_train_and_evaluate_as_the_lone_networks():
    """Training-mode forwards (updating the running statistics) and SGD steps, then evaluation
    (on the running statistics): copy by copy the lone networks' outputs and buffers."""
    nets = lone_networks()
    packed = PackedNetwork(nets)
    lone_opt = torch.optim.SGD([p for net in nets for p in net.parameters()], lr=0.1)
    packed_opt = torch.optim.SGD(packed.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        x = torch.randn(3, 16, *SHAPE, generator=generator) * 2 + 1
        y = torch.randint(0, 10, (3, 16), generator=generator)
        z = packed.train()(x)
        lone = torch.stack([net.train()(x[i]) for i, net in enumerate(nets)])
        torch.testing.assert_close(z, lone, atol=1e-5, rtol=0)
        for optimizer, logits in ((packed_opt, z), (lone_opt, lone)):
            optimizer.zero_grad()
            torch.func.vmap(torch.nn.functional.cross_entropy)(logits, y).sum().backward()
            optimizer.step()
    x = torch.randn(5, *SHAPE, generator=generator)
    z = packed.eval()(x, shared=True)
    for i, net in enumerate(nets):
        torch.testing.assert_close(z[i], net.eval()(x), atol=1e-5, rtol=0)
        unpacked = packed.unpack(i)
        torch.testing.assert_close(unpacked(x), net(x), atol=1e-5, rtol=0)
        expected = net.state_dict()
        assert list(unpacked.state_dict()) == list(expected)
        for name, tensor in unpacked.state_dict().items():
            torch.testing.assert_close(tensor, expected[name], atol=1e-5, rtol=0)
        assert unpacked[0][0][1].num_batches_tracked.item() == 4


def test_buffers_are_the_modules_own():
    """They are in the state dict (checkpoints), load back, and move with `.to()`."""
    packed = PackedNetwork(lone_networks())
    packed.train()(torch.randn(3, 8, *SHAPE))
    state = packed.state_dict()
    assert sum(name.startswith("stacked_buffers.") for name in state) == 6  # 2 x mean, var, count
    again = PackedNetwork(lone_networks(seeds=(5, 6, 7)))
    again.load_state_dict(state)
    x = torch.randn(4, *SHAPE)
    torch.testing.assert_close(again.eval()(x, shared=True), packed.eval()(x, shared=True))
    doubled = packed.to(torch.float64)
    assert all(t.dtype in (torch.float64, torch.long) for t in doubled.stacked_buffers.tensors())
    assert doubled.eval()(x.double(), shared=True).dtype == torch.float64


def test_a_network_without_buffers_packs_as_before():
    plain = ModelConfig.model_validate({"conv": [{"channels": 4, "kernel": 3}], "hidden": [8]})
    packed = PackedNetwork(lone_networks(plain, seeds=(0, 1)))
    assert all(name.startswith("stacked.") for name in packed.state_dict())


@pytest.mark.parametrize("training", [True, False])
def test_an_unpacked_copy_is_in_the_packs_mode(training):
    packed = PackedNetwork(lone_networks(seeds=(0, 1))).train(training)
    assert packed.unpack(1).training == training
