"""Typed experiment configs, validated once at the edge (CLI, presets, ablation specs).

An `ExperimentConfig` says everything a training run needs except the seed and the device:
data, network, loss, optimiser and budget. Inside the package the config is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cnnablate.data.registry import DATAMODULES
from cnnablate.errors import UserError, format_validation_error
from cnnablate.plugins import ACTIVATIONS_GROUP, plugin_names

# The built-in names of the registries that need torch, known here without importing it, so that
# the command line checks a config without torch (tests/test_startup.py checks each tuple against
# its registry). A name added to a registry at run time is looked up in the registry itself, so
# it is valid at once; a new built-in entry also writes its name here. An installed plugin's
# activation is known by its entry point's name, read from the metadata (cnnablate.plugins).
BUILTIN_ACTIVATIONS = ("sigmoid", "relu", "tanh", "identity")  # models/activations.py
BUILTIN_NORMS = ("none", "batch")  # models/norms.py
BUILTIN_OPTIMISERS = ("sgd", "adam")  # optimisers.py


def _activations() -> Collection[str]:
    from cnnablate.models.activations import ACTIVATIONS

    return ACTIVATIONS


def _norms() -> Collection[str]:
    from cnnablate.models.norms import NORMS

    return NORMS


def _optimisers() -> Collection[str]:
    from cnnablate.optimisers import OPTIMISERS

    return OPTIMISERS


def registry_name(
    what: str,
    builtin: tuple[str, ...],
    registry: Callable[[], Collection[str]],
    plugin_group: str | None = None,
):
    """The type of a config field naming an entry of `registry` (imported only for a name that
    is neither `builtin` nor an installed plugin's of `plugin_group`, read from the metadata);
    any other name is refused with the registry's names."""

    def known(name: str) -> str:
        if name in builtin or (plugin_group and name in plugin_names(plugin_group)):
            return name
        names = registry()
        if name not in names:
            raise ValueError(f"not {what}; allowed: {', '.join(names)}")
        return name

    return Annotated[str, AfterValidator(known)]


# A name of the registry `cnnablate.models.activations.ACTIVATIONS`.
Activation = registry_name(
    "an activation", BUILTIN_ACTIVATIONS, _activations, plugin_group=ACTIVATIONS_GROUP
)
# A name of the registry `cnnablate.models.norms.NORMS`.
Norm = registry_name("a normalisation layer", BUILTIN_NORMS, _norms)
# A name of the registry `cnnablate.optimisers.OPTIMISERS`.
Optimiser = registry_name("an optimiser", BUILTIN_OPTIMISERS, _optimisers)
PoolKind = Literal["max", "mean", "none"]
InitScheme = Literal["nielsen", "nielsen-ch1", "nielsen-ch3", "kaiming", "default"]
LossName = Literal["ce", "bce", "mse"]
Augment = Literal["none", "shift", "affine"]

IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _import_path(text: str) -> str:
    if not IMPORT_PATH.match(text):
        raise ValueError("expected an import path 'package.module:name'")
    return text


# "package.module:attribute" — an object found by import path (a network factory, a data module).
ImportPath = Annotated[str, AfterValidator(_import_path)]
# The keyword arguments handed to such an object: any names, YAML values.
Kwargs = dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Any]
# Mappings of the config that take new keys (`--set model.kwargs.width=64`); every other key of
# a config must exist to be set.
OPEN_MAPPINGS = ("model.kwargs", "data.kwargs")

Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(StrictModel):
    name: str = "mnist1d"  # a data set of the registry `cnnablate.data.registry.DATAMODULES`
    # Or any LightningDataModule by import path, made as `Class(**kwargs)` (data/external.py); its
    # `name` is then this path. In memory (auto: when its samples fit in a quarter of the free
    # memory) its splits are read once and batched as every data set here is (batch_size,
    # shuffle, per-seed order); else its own DataLoaders feed the training, one seed at a time.
    module: ImportPath | None = None
    kwargs: Kwargs = Field(default_factory=dict)
    in_memory: bool | Literal["auto"] = "auto"
    batch_size: PositiveInt = 100
    eval_batch_size: PositiveInt = 1000
    shuffle: bool = True
    augment: Augment = "none"
    # MNIST-1D generation (the package's defaults reproduce the published frozen set).
    num_samples: Annotated[int, Field(ge=20)] = 5000
    train_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8
    iid_noise: Annotated[float, Field(ge=0.0)] = 0.02
    corr_noise: Annotated[float, Field(ge=0.0)] = 0.25
    generator_seed: Annotated[int, Field(ge=0)] = 42
    # MNIST-1D has no validation split; this many training samples (from the end) become one.
    val_size: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="before")
    @classmethod
    def _module_names_the_data(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("module"):
            return {**data, "name": data["module"]}
        return data

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in DATAMODULES and ":" not in name:
            raise ValueError(
                f"not a data set; allowed: {', '.join(DATAMODULES)}, or data.module "
                "'package.module:Class' (a LightningDataModule)"
            )
        return name

    @model_validator(mode="after")
    def _path_names_a_module(self) -> DataConfig:
        if ":" in self.name and self.module != self.name:
            raise ValueError("an import path goes in data.module, not data.name")
        if self.kwargs and self.module is None:
            raise ValueError("data.kwargs go with data.module")
        return self


class ConvLayerConfig(StrictModel):
    channels: PositiveInt
    kernel: PositiveInt
    stride: PositiveInt = 1
    dilation: PositiveInt = 1
    padding: Annotated[int, Field(ge=0)] | Literal["same"] = 0
    pool: PoolKind = "none"
    pool_size: PositiveInt = 2
    pool_stride: PositiveInt | None = None
    # Nielsen's ConvPool layer applies its activation after pooling.
    activation_after_pool: bool = True
    activation: Activation | None = None  # None: the model's activation
    norm: Norm = "none"  # right after the convolution, before pooling and activation
    dropout: Probability = 0.0  # on this layer's input

    @model_validator(mode="after")
    def _same_padding_needs_stride_one(self) -> ConvLayerConfig:
        if self.padding == "same" and self.stride != 1:
            raise ValueError("padding 'same' needs stride 1")
        return self


class ModelConfig(StrictModel):
    # Your own network instead of the builder's: `factory(input_shape=..., num_classes=K,
    # **kwargs)` returns an nn.Module mapping (B, *input_shape) to logits (B, K)
    # (models/factory.py); the fields below are then not used.
    factory: ImportPath | None = None
    kwargs: Kwargs = Field(default_factory=dict)
    conv: list[ConvLayerConfig] = Field(default_factory=list)
    hidden: list[PositiveInt] = Field(default_factory=list)
    activation: Activation = "relu"
    # Dropout on the inputs of every fully connected layer, the output layer included (Nielsen).
    dropout: Probability = 0.0
    # "nielsen": drop without rescaling in training, scale by (1-p) in evaluation (network3);
    # "inverted": PyTorch's nn.Dropout, rescale by 1/(1-p) in training.
    dropout_style: Literal["nielsen", "inverted"] = "inverted"
    init: InitScheme = "default"

    @model_validator(mode="after")
    def _kwargs_need_a_factory(self) -> ModelConfig:
        if self.kwargs and self.factory is None:
            raise ValueError("model.kwargs go with model.factory")
        return self


class OptimConfig(StrictModel):
    name: Optimiser = "sgd"
    lr: Annotated[float, Field(gt=0.0)] = 0.1
    momentum: Probability = 0.0
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    # Nielsen's L2: 0.5 * l2 * sum(w^2) / N added to the mean mini-batch cost, weights only,
    # N the number of training mini-batches (network3) or of training examples (network2).
    l2: Annotated[float, Field(ge=0.0)] = 0.0
    l2_scale: Literal["batches", "examples"] = "batches"
    schedule: Literal["none", "cosine", "step"] = "none"
    step_every_epochs: PositiveInt = 10
    step_gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1


class TrainConfig(StrictModel):
    max_epochs: PositiveInt | None = None
    max_steps: PositiveInt | None = None
    eval_every_epochs: PositiveInt = 1
    # Mini-batch updates per Lightning step: same updates, same order, less per-step overhead.
    steps_per_block: PositiveInt = 50
    # Layout of 2-D conv weights and activations. auto: channels_last on the CPU, where oneDNN's
    # convolutions (and their backward) run about 1.4x faster in it at the lecture's batch sizes.
    memory_format: Literal["auto", "channels_last", "contiguous"] = "auto"
    # On CUDA, capture each block of updates as a CUDA graph and replay it (eager elsewhere, and
    # whenever capture fails): the same updates without a kernel launch per operation.
    cuda_graph: bool = True
    # How packed seeds' layers run (models/grouped.py): vmap's batching rules, grouped
    # convolutions, or unfold + batched matrix products; auto: the one measured fastest on the
    # device (scripts/gpu_bench.py). The same weights and updates whichever runs.
    packed_layers: Literal["auto", "vmap", "grouped", "unfold"] = "auto"
    # Save the whole training state (weights, optimiser, data order, RNG, counters, history) at
    # the first epoch end after this many SGD updates (an int) or minutes ("5min"), so that a
    # run cut off resumes where it was; a run stopped by a time limit saves it in any case.
    checkpoint_every: PositiveInt | Annotated[str, Field(pattern=r"^\d+(\.\d+)?min$")] = "5min"

    @property
    def checkpoint_every_updates(self) -> int | None:
        return self.checkpoint_every if isinstance(self.checkpoint_every, int) else None

    @property
    def checkpoint_every_s(self) -> float | None:
        if isinstance(self.checkpoint_every, int):
            return None
        return 60.0 * float(self.checkpoint_every.removesuffix("min"))

    @model_validator(mode="after")
    def _one_budget(self) -> TrainConfig:
        check_one_budget(self.max_steps, self.max_epochs)
        return self


def check_one_budget(max_steps: int | None, max_epochs: int | None) -> None:
    """A budget is in SGD updates or in epochs: exactly one of the two."""
    if (max_epochs is None) == (max_steps is None):
        raise ValueError("set exactly one of max_epochs and max_steps")


class ExperimentConfig(StrictModel):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossName = "ce"
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(max_epochs=1))


def validate_config(data: dict[str, Any], where: str = "config") -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as error:
        raise UserError(format_validation_error(error, where)) from None


def parse_value(text: str) -> Any:
    """Read an override's value as YAML: 0.1, 3, true, relu, [100, 100], null."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _allowed_keys(node: Any, prefix: str) -> str:
    keys = [f"{prefix}{key}" for key in node] if isinstance(node, dict) else []
    return ", ".join(keys) if keys else "(none)"


def printable(text: str) -> str:
    """`text` for a one-line message: newlines and other control characters escaped."""
    return repr(text)[1:-1]


def set_key(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.0.c` in a nested dict/list tree; unknown keys are a UserError naming the allowed."""
    shown = printable(dotted)
    parts = dotted.split(".")
    node: Any = tree
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth]) + ("." if depth else "")
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                held = f"has indices 0..{len(node) - 1}" if node else "is an empty list"
                where = printable(prefix.rstrip("."))
                raise UserError(f"unknown config key '{shown}': '{where}' {held}")
            index: Any = int(part)
        elif isinstance(node, dict) and (part in node or prefix.rstrip(".") in OPEN_MAPPINGS):
            index = part
        else:
            raise UserError(
                f"unknown config key '{shown}'; allowed here: "
                f"{printable(_allowed_keys(node, prefix))}"
            )
        if last:
            node[index] = value
        else:
            node = node[index]


def apply_dict(
    config: ExperimentConfig, overrides: dict[str, Any], where: str = "config"
) -> ExperimentConfig:
    """Set dotted keys (`model.conv.0.channels`) to values and validate the result."""
    tree = config.model_dump()
    for key, value in overrides.items():
        set_key(tree, key, value)
    return validate_config(tree, where=where)


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as {dotted key: YAML value}, in order (a key given twice: the last)."""
    pairs = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects KEY=VALUE, got {item!r}")
        pairs[key.strip()] = parse_value(text.strip())
    return pairs


def apply_overrides(config: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply `KEY=VALUE` strings (dotted keys, YAML values) and validate the result."""
    return apply_dict(config, parse_overrides(overrides), where="--set")


def with_budget(
    config: ExperimentConfig, max_steps: int | None = None, max_epochs: int | None = None
) -> ExperimentConfig:
    """Replace the budget by steps or epochs (the CLI's --max-steps / --max-epochs)."""
    if max_steps is not None and max_epochs is not None:
        raise UserError("--max-steps and --max-epochs exclude each other; give one")
    if max_steps is None and max_epochs is None:
        return config
    tree = config.model_dump()
    tree["train"].update(max_steps=max_steps, max_epochs=max_epochs)
    return validate_config(tree, where="budget")


def in_open_mapping(dotted: str) -> bool:
    """Whether `dotted` is a key of a mapping that takes new keys (`model.kwargs.width`)."""
    parent, _, name = dotted.rpartition(".")
    return parent in OPEN_MAPPINGS and bool(name)


def has_key(config: ExperimentConfig, dotted: str) -> bool:
    """Whether `dotted` (e.g. `model.hidden.0`) names a field or list item of `config`, or a
    key of an open mapping (`model.kwargs.width`)."""
    if in_open_mapping(dotted):
        return True
    node: Any = config.model_dump()
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def leaf_keys(config: ExperimentConfig) -> list[str]:
    """Every dotted key that --set accepts for this config (list items by index)."""

    def walk(node: Any, prefix: str) -> list[str]:
        if isinstance(node, dict):
            return [k for key, value in node.items() for k in walk(value, f"{prefix}{key}.")]
        if isinstance(node, list) and node and isinstance(node[0], dict):
            return [k for i, item in enumerate(node) for k in walk(item, f"{prefix}{i}.")]
        return [prefix.rstrip(".")]

    return walk(config.model_dump(), "")
