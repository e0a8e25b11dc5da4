"""`gelu-tanh`: GELU in its tanh approximation. An entry of cnnablate's activation registry is a
class or a zero-argument callable returning an nn.Module; this one needs an argument, so it is
a function."""

from __future__ import annotations

from torch import nn


def gelu_tanh() -> nn.Module:
    return nn.GELU(approximate="tanh")
