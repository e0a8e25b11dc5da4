"""Normalisation layers (models/norms.py): where the network puts them, and that weight
initialisation, Nielsen's L2 and the shape probe leave them as they should."""

import pytest
import torch
from torch import nn

from cnnablate.config import ModelConfig
from cnnablate.models import build_network, count_params, weight_parameters
from cnnablate.models.network import weight_names


def model(**fields) -> ModelConfig:
    return ModelConfig.model_validate(fields)


def layer(**fields) -> dict:
    return {"channels": 3, "kernel": 3, **fields}


@pytest.mark.parametrize(
    ("fields", "shape", "kinds"),
    [
        ({}, (1, 12), ["Conv1d", "BatchNorm1d", "ReLU"]),
        ({"pool": "max"}, (1, 12), ["Conv1d", "BatchNorm1d", "MaxPool1d", "ReLU"]),
        (
            {"pool": "mean", "activation_after_pool": False, "dropout": 0.1},
            (2, 8, 8),
            ["Dropout", "Conv2d", "BatchNorm2d", "ReLU", "AvgPool2d"],
        ),
    ],
)
def test_batch_norm_follows_the_convolution(fields, shape, kinds):
    net = build_network(model(conv=[layer(norm="batch", **fields)]), shape)
    assert [type(m).__name__ for m in net[0][0]] == kinds


def test_no_norm_is_no_layer():
    plain = build_network(model(conv=[layer()]), (1, 12))
    named = build_network(model(conv=[layer(norm="none")]), (1, 12))
    assert [type(m).__name__ for m in named[0][0]] == ["Conv1d", "ReLU"]
    assert count_params(named) == count_params(plain)


def test_batch_norm_adds_a_scale_and_shift_per_channel():
    plain = build_network(model(conv=[layer(), layer(channels=5)]), (1, 12))
    layers = [layer(norm="batch"), layer(channels=5, norm="batch")]
    normed = build_network(model(conv=layers), (1, 12))
    assert count_params(normed) == count_params(plain) + 2 * (3 + 5)


def test_l2_decays_no_norm_parameter():
    net = build_network(model(conv=[layer(norm="batch")], hidden=[4]), (1, 10))
    assert weight_names(net) == {"0.0.0.weight", "2.0.weight", "2.2.weight"}
    assert len(weight_parameters(net)) == 3


@pytest.mark.parametrize("scheme", ["default", "kaiming", "nielsen", "nielsen-ch1", "nielsen-ch3"])
def test_every_init_scheme_leaves_batch_norm_at_its_own(scheme):
    torch.manual_seed(0)
    net = build_network(model(conv=[layer(norm="batch", pool="max")], init=scheme), (1, 12))
    norm = net[0][0][1]
    assert isinstance(norm, nn.BatchNorm1d)
    assert torch.equal(norm.weight, torch.ones(3)) and torch.equal(norm.bias, torch.zeros(3))


def test_building_leaves_the_running_statistics_alone():
    """The shape probe runs in evaluation mode: one sample of one value per channel would be
    refused in training mode, and would move the running statistics."""
    net = build_network(model(conv=[layer(norm="batch")]), (1, 3))  # conv output: 1 value
    norm = net[0][0][1]
    assert net.training and norm.training
    assert torch.equal(norm.running_mean, torch.zeros(3))
    assert torch.equal(norm.running_var, torch.ones(3))
    assert norm.num_batches_tracked.item() == 0


def test_the_shape_probe_draws_conv_dropout_as_before():
    """Layers built after the probe are initialised from the same random stream as before
    norms existed: the probe's training-mode dropout still draws from it."""
    torch.manual_seed(0)
    net = build_network(model(conv=[layer(dropout=0.5, norm="batch")], hidden=[4]), (1, 12))
    torch.manual_seed(0)
    nn.Conv1d(1, 3, 3)
    nn.Dropout(0.5)(torch.zeros(1, 1, 12))  # the probe's dropout mask
    assert torch.equal(net[2][0].weight, nn.Linear(30, 4).weight)
