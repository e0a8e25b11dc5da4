"""The tinynets presets: two or three Conv1d(k5, s2) layers of one width, then Linear(→10);
and tiny-resnet1d, a network of the example's own (nets.py) named by `model.factory`.

Torch-free, like cnnablate's own presets, so that `cnnablate presets` lists them without torch.
Each `params=` is the trainable parameter count of the built network (the example's tests check
it): a Conv1d(c_in→w, k5) has 5·c_in·w + w parameters; the input is 1×40, and each layer
shortens it as (n - 5) // 2 + 1 (40 → 18 → 7 → 2), so the head is Linear(w·n → 10).
"""

from __future__ import annotations

from cnnablate.presets import register

SOURCE = "examples/tinynets"


def tiny_cnn(width: int, depth: int) -> dict:
    """A cnnablate config dict: MNIST-1D, ReLU, He init, plain SGD, 4,000 updates of batch 100."""
    return {
        "data": {"name": "mnist1d", "batch_size": 100},
        "model": {
            "conv": [{"channels": width, "kernel": 5, "stride": 2}] * depth,
            "activation": "relu",
            "init": "kaiming",
        },
        "loss": "ce",
        "optim": {"name": "sgd", "lr": 0.05},
        "train": {"max_steps": 4_000, "eval_every_epochs": 20},
    }


@register("tiny-cnn-w4", "MNIST-1D 2× Conv1d(4, k5, s2) + ReLU, Linear(28→10)", SOURCE, params=398)
def tiny_cnn_w4() -> dict:
    return tiny_cnn(width=4, depth=2)


@register("tiny-cnn-w8", "MNIST-1D 2× Conv1d(8, k5, s2) + ReLU, Linear(56→10)", SOURCE, params=946)
def tiny_cnn_w8() -> dict:
    return tiny_cnn(width=8, depth=2)


@register(
    "tiny-cnn-w16", "MNIST-1D 2× Conv1d(16, k5, s2) + ReLU, Linear(112→10)", SOURCE, params=2_522
)
def tiny_cnn_w16() -> dict:
    return tiny_cnn(width=16, depth=2)


@register(
    "tiny-cnn-deep", "MNIST-1D 3× Conv1d(16, k5, s2) + ReLU, Linear(32→10)", SOURCE, params=3_018
)
def tiny_cnn_deep() -> dict:
    return tiny_cnn(width=16, depth=3)


@register(
    "tiny-resnet1d",
    "MNIST-1D residual 1-D CNN: Conv1d(16, k5, s2), 2 residual blocks, global mean, Linear(16→10)",
    SOURCE,
    params=3_402,
)
def tiny_resnet1d() -> dict:
    """Your own network as a preset: `model.factory` names it by import path (imported only when
    a network is built, so listing stays torch-free), `model.kwargs` its arguments."""
    config = tiny_cnn(width=16, depth=0)
    config["model"] = {"factory": "tinynets.nets:resnet1d", "kwargs": {"width": 16, "blocks": 2}}
    return config
