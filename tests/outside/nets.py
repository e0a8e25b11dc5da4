"""A user's networks, written outside cnnablate: copied to a temporary folder by the tests and
named by import path (`model.factory: "nets:wide_cnn"`)."""

import torch
from torch import nn


def wide_cnn(input_shape, num_classes, width=16, depth=2):
    """A 1-D CNN of `depth` strided convolutions of `width` channels, then a linear layer."""
    layers, channels = [], input_shape[0]
    for _ in range(depth):
        layers += [nn.Conv1d(channels, width, 3, stride=2), nn.ReLU()]
        channels = width
    body = nn.Sequential(*layers)
    with torch.no_grad():
        features = body(torch.zeros(1, *input_shape)).numel()
    return nn.Sequential(body, nn.Flatten(), nn.Linear(features, num_classes))


def mlp(input_shape, num_classes, hidden=32):
    inputs = int(torch.tensor(input_shape).prod())
    return nn.Sequential(
        nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


class GatedByData(nn.Module):
    """Python control flow on the data's values: fine alone, impossible under `torch.func.vmap`."""

    def __init__(self, inputs, num_classes):
        super().__init__()
        self.linear = nn.Linear(inputs, num_classes)

    def forward(self, x):
        x = x.flatten(1)
        if x.sum() > 1e9:
            x = x * 0
        return self.linear(x)


def gated(input_shape, num_classes):
    return GatedByData(int(torch.tensor(input_shape).prod()), num_classes)


def one_class_too_many(input_shape, num_classes):
    return mlp(input_shape, num_classes + 1)


def not_a_module(input_shape, num_classes):
    return "a network"


def raises(input_shape, num_classes):
    raise RuntimeError("out of ideas")


def fails_on_the_input(input_shape, num_classes):
    return nn.Linear(3, num_classes)


NOT_CALLABLE = 3
