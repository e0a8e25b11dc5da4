"""The registry of activation functions: a new one is one line here, and a config or spec may
name it (`model.activation`, a conv layer's `activation`). An installed package adds its own
through the `cnnablate.activations` entry point group (`cnnablate.plugins`): a class or a
zero-argument callable returning an `nn.Module`."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cnnablate.errors import UserError
from cnnablate.plugins import ACTIVATIONS_GROUP, PluginRegistry, add_object

ACTIVATIONS: PluginRegistry[Callable[[], nn.Module]] = PluginRegistry(
    {
        "sigmoid": nn.Sigmoid,
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "identity": nn.Identity,
    },
    ACTIVATIONS_GROUP,
    add_object,
)


def activation(name: str) -> nn.Module:
    # A plugin's name passes config validation from the metadata alone; its module may still
    # have failed to load (a warning said so).
    if name not in ACTIVATIONS:
        raise UserError(f"activation '{name}' is not loaded; allowed: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def activation_types() -> tuple[type[nn.Module], ...]:
    """The activations' module classes (a plugin's entry may be a factory: the type it makes)."""
    kinds = (e if isinstance(e, type) else type(e()) for e in ACTIVATIONS.values())
    return tuple(dict.fromkeys(kinds))
