"""The lecture's named networks, each a few lines of config over the same builders.

A registry in the manner of timm: `@register` adds a preset, `get_preset(name)` finds it,
`list_presets()` lists them. Values are those of docs/lecture.md (UDL ch. 10, Nielsen ch. 1/3/6).
Each preset carries its parameter count as the lecture states it, so that listing the presets
builds no network (no torch); tests/test_startup.py checks every count against the built network.
An installed package adds its own presets through the `cnnablate.presets` entry point group
(`cnnablate.plugins`): its module's `@register(...)` calls, imported when `PRESETS` is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnablate.config import ExperimentConfig, validate_config
from cnnablate.errors import UserError
from cnnablate.plugins import PRESETS_GROUP, PluginRegistry, import_module_of


@dataclass(frozen=True)
class Lecture:
    """A network's test accuracy as the lecture reports it (docs/lecture.md)."""

    acc: float
    approximate: bool = False  # "~98%"
    as_error: bool = False  # the lecture gives a test error ("test error ~17%")

    def __str__(self) -> str:
        value = 1 - self.acc if self.as_error else self.acc
        number = f"{100 * value:.0f}%" if self.approximate else f"{100 * value:.2f}%"
        return f"{'test error ' if self.as_error else ''}{'~' if self.approximate else ''}{number}"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    source: str
    lecture: Lecture | None
    build: Callable[[], ExperimentConfig]
    params: int  # trainable parameters (docs/lecture.md), kept honest by a test

    @property
    def claimed(self) -> str:
        return str(self.lecture) if self.lecture else "not stated"

    @property
    def config(self) -> ExperimentConfig:
        return self.build()

    @property
    def dataset(self) -> str:
        return self.config.data.name


# The built-ins below register at import; the plugins' presets join on the first read.
PRESETS: PluginRegistry[Preset] = PluginRegistry({}, PRESETS_GROUP, import_module_of)


def register(
    name: str, description: str, source: str, lecture: Lecture | None = None, *, params: int
):
    def decorator(build: Callable[[], dict]) -> Callable[[], dict]:
        def config() -> ExperimentConfig:
            return validate_config(build())

        PRESETS[name] = Preset(name, description, source, lecture, config, params)
        return build

    return decorator


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"unknown preset '{name}'; allowed: {', '.join(PRESETS)}")
    return PRESETS[name]


def recorded_preset(name: str | None, config: ExperimentConfig) -> str | None:
    """The preset a run of `config` stands for in its result: None when a user's network
    (`model.factory`) replaced the preset's, so that it never counts as a lecture network."""
    if name is None or name not in PRESETS:
        return name
    return name if config.model.factory == PRESETS[name].config.model.factory else None


def preset_or_config(
    preset: str | None, config: ExperimentConfig | dict[str, Any] | None
) -> ExperimentConfig:
    """The config of a preset, or the one given (validated): exactly one of the two."""
    if (preset is None) == (config is None):
        raise UserError("train: give a preset or a config (exactly one)")
    if preset is not None:
        return get_preset(preset).config
    return config if isinstance(config, ExperimentConfig) else validate_config(config)


def list_presets() -> list[Preset]:
    return list(PRESETS.values())


# --- MNIST-1D, UDL chapter 10 -------------------------------------------------------------

UDL_CONV = [{"channels": 15, "kernel": 3, "stride": 2}] * 3


def udl(model: dict, lr: float, max_steps: int) -> dict:
    return {
        "data": {"name": "mnist1d", "batch_size": 100},
        "model": {"activation": "relu", "init": "kaiming", **model},
        "loss": "ce",
        "optim": {"name": "sgd", "lr": lr},
        "train": {"max_steps": max_steps, "eval_every_epochs": 25},
    }


@register(
    "udl-cnn",
    "MNIST-1D CNN: three Conv1d(15, k3, s2) + ReLU, Linear(60→10)",
    "UDL fig. 10.8",
    Lecture(0.83, approximate=True, as_error=True),
    params=2_050,
)
def udl_cnn() -> dict:
    return udl({"conv": UDL_CONV}, lr=0.01, max_steps=100_000)


@register(
    "udl-fc",
    "MNIST-1D fully connected 40→285→135→60→10, ReLU",
    "UDL fig. 10.8",
    Lecture(0.60, approximate=True, as_error=True),
    params=59_065,
)
def udl_fc() -> dict:
    return udl({"hidden": [285, 135, 60]}, lr=0.01, max_steps=100_000)


@register("udl-mlp", "MNIST-1D MLP 40→100→100→10, ReLU", "UDL ch. 10 notebooks", params=15_210)
def udl_mlp() -> dict:
    return udl({"hidden": [100, 100]}, lr=0.1, max_steps=6_000)


# --- MNIST, Nielsen ch. 1, 3 and 6 --------------------------------------------------------

CONV_POOL_20 = {"channels": 20, "kernel": 5, "pool": "max", "pool_size": 2}
CONV_POOL_40 = {"channels": 40, "kernel": 5, "pool": "max", "pool_size": 2}


def nielsen(
    hidden: list[int],
    lr: float,
    epochs: int,
    *,
    conv: list[dict] | tuple = (),
    activation: str = "sigmoid",
    loss: str = "ce",
    l2: float = 0.0,
    l2_scale: str = "batches",
    init: str = "nielsen",
    dataset: str = "mnist",
    dropout: float = 0.0,
    shuffle: bool = False,
) -> dict:
    """Mini-batch 10, plain SGD. network3 (ch. 6) does not shuffle between epochs; network.py
    and network2.py (ch. 1, 3) do, so their presets pass shuffle=True."""
    return {
        "data": {"name": dataset, "batch_size": 10, "shuffle": shuffle},
        "model": {
            "conv": list(conv),
            "hidden": hidden,
            "activation": activation,
            "init": init,
            "dropout": dropout,
            "dropout_style": "nielsen",
        },
        "loss": loss,
        "optim": {"name": "sgd", "lr": lr, "l2": l2, "l2_scale": l2_scale},
        "train": {"max_epochs": epochs},
    }


@register(
    "nielsen-mlp30-mse",
    "784→30→10 sigmoid, quadratic cost (network.py)",
    "Nielsen ch. 1",
    Lecture(0.9542),
    params=23_860,
)
def nielsen_mlp30_mse() -> dict:
    return nielsen([30], 3.0, 30, loss="mse", init="nielsen-ch1", shuffle=True)


@register(
    "nielsen-mlp100-mse",
    "784→100→10 sigmoid, quadratic cost (network.py)",
    "Nielsen ch. 1",
    Lecture(0.9659),
    params=79_510,
)
def nielsen_mlp100_mse() -> dict:
    return nielsen([100], 3.0, 30, loss="mse", init="nielsen-ch1", shuffle=True)


@register(
    "nielsen-mlp100-bce",
    "784→100→10 sigmoid, per-output cross-entropy, L2 λ=5 (network2.py)",
    "Nielsen ch. 3",
    Lecture(0.98, approximate=True),
    params=79_510,
)
def nielsen_mlp100_bce() -> dict:
    return nielsen(
        [100], 0.1, 60, loss="bce", l2=5.0, l2_scale="examples", init="nielsen-ch3", shuffle=True
    )


@register(
    "nielsen-shallow",
    "784→100 sigmoid → softmax 10, log-likelihood (network3)",
    "Nielsen ch. 6",
    Lecture(0.9780),
    params=79_510,
)
def nielsen_shallow() -> dict:
    return nielsen([100], 0.1, 60)


@register(
    "nielsen-conv1",
    "ConvPool(20, 5×5, max 2×2) · FC 100 · softmax, sigmoid",
    "Nielsen ch. 6",
    Lecture(0.9878),
    params=289_630,
)
def nielsen_conv1() -> dict:
    return nielsen([100], 0.1, 60, conv=[CONV_POOL_20])


@register(
    "nielsen-conv2",
    "two ConvPool layers (20, 40 maps) · FC 100 · softmax, sigmoid",
    "Nielsen ch. 6",
    Lecture(0.9906),
    params=85_670,
)
def nielsen_conv2() -> dict:
    return nielsen([100], 0.1, 60, conv=[CONV_POOL_20, CONV_POOL_40])


def conv2_relu(dataset: str = "mnist", hidden: tuple[int, ...] = (100,)) -> dict:
    return nielsen(
        list(hidden),
        0.03,
        60,
        conv=[CONV_POOL_20, CONV_POOL_40],
        activation="relu",
        l2=0.1,
        dataset=dataset,
    )


@register(
    "nielsen-conv2-relu",
    "nielsen-conv2 with ReLU everywhere, L2 λ=0.1",
    "Nielsen ch. 6",
    Lecture(0.9923),
    params=85_670,
)
def nielsen_conv2_relu() -> dict:
    return conv2_relu()


@register(
    "nielsen-expanded",
    "nielsen-conv2-relu on the expanded training set (250,000)",
    "Nielsen ch. 6",
    Lecture(0.9937),
    params=85_670,
)
def nielsen_expanded() -> dict:
    return conv2_relu(dataset="mnist-expanded")


@register(
    "nielsen-fc2",
    "nielsen-expanded plus a second FC layer of 100",
    "Nielsen ch. 6",
    Lecture(0.9943),
    params=95_770,
)
def nielsen_fc2() -> dict:
    return conv2_relu(dataset="mnist-expanded", hidden=(100, 100))


@register(
    "nielsen-dropout",
    "expanded, two FC layers of 1,000 ReLU, dropout 0.5 on FC inputs",
    "Nielsen ch. 6",
    Lecture(0.9960),
    params=1_672_570,
)
def nielsen_dropout() -> dict:
    return nielsen(
        [1000, 1000],
        0.03,
        40,
        conv=[CONV_POOL_20, CONV_POOL_40],
        activation="relu",
        dataset="mnist-expanded",
        dropout=0.5,
    )


__all__ = ["PRESETS", "Lecture", "Preset", "get_preset", "list_presets", "register"]
