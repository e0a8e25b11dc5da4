"""Your own network: `model.factory: "package.module:callable"` with `model.kwargs`.

The callable is called as `factory(input_shape=(C, L) or (C, H, W), num_classes=K, **kwargs)`
and returns a `torch.nn.Module` mapping `(B, *input_shape)` to logits `(B, K)`. What it returns
is checked at once (a module, the right output shape), so that a bad factory is one line naming
`model.factory` before anything trains.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnablate.config import ModelConfig
from cnnablate.errors import UserError
from cnnablate.imports import import_object, one_line

KEY = "model.factory"


def build_from_factory(
    config: ModelConfig, input_shape: tuple[int, ...], num_classes: int
) -> nn.Module:
    factory = import_object(config.factory, KEY)
    where = f"{KEY} {config.factory!r}"
    if not callable(factory):
        raise UserError(f"{where}: not callable (a {type(factory).__name__})")
    try:
        net = factory(input_shape=tuple(input_shape), num_classes=num_classes, **config.kwargs)
    except Exception as error:
        raise UserError(f"{where} raised {one_line(error)}") from None
    if not isinstance(net, nn.Module):
        raise UserError(f"{where}: returned {type(net).__name__!r}, not a torch.nn.Module")
    check_logits(net, input_shape, num_classes, where)
    return net


def check_logits(
    net: nn.Module, input_shape: tuple[int, ...], num_classes: int, where: str
) -> None:
    """A forward of two zero samples gives `(2, num_classes)`: in evaluation mode (no dropout
    draw, no batch-norm update), so that the check changes nothing the training will see."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, *input_shape))
    except Exception as error:
        raise UserError(
            f"{where}: its network fails on inputs of shape (2, {', '.join(map(str, input_shape))})"
            f": {one_line(error)}"
        ) from None
    finally:
        net.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(
            f"{where}: its network maps inputs (2, {', '.join(map(str, input_shape))}) to {got}; "
            f"expected logits (2, {num_classes})"
        )
