"""A network of the example's own, built by a function rather than by cnnablate's config:
cnnablate calls it as `resnet1d(input_shape=(C, L), num_classes=K, **model.kwargs)`."""

from __future__ import annotations

from torch import Tensor, nn


class Residual(nn.Module):
    """x + conv(relu(conv(x))), then ReLU: a 1-D residual block that keeps width and length."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.ReLU(), nn.Conv1d(width, width, 3, padding=1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.body(x)).relu()


def resnet1d(
    input_shape: tuple[int, ...], num_classes: int, width: int = 16, blocks: int = 2
) -> nn.Module:
    """A strided Conv1d(k5) stem, `blocks` residual blocks, global average pooling, a linear
    head: 5·C·w + w + blocks·2·(3·w² + w) + w·K + K parameters."""
    return nn.Sequential(
        nn.Conv1d(input_shape[0], width, 5, stride=2, padding=2),
        nn.ReLU(),
        *(Residual(width) for _ in range(blocks)),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(width, num_classes),
    )
