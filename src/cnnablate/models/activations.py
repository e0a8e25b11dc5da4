"""The registry of activation functions: a new one is one line here, and a config or spec may
name it (`model.activation`, a conv layer's `activation`)."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def activation_types() -> tuple[type[nn.Module], ...]:
    return tuple(ACTIVATIONS.values())
