"""Packs across cells: which runs may train together as one packed module (`train.train_pack`),
and what each copy of a pack keeps its own. No torch: the runner groups trials with it.

The copies of a pack share the network's shape, the data (data set, split, batch size, order
rules, augmentation), the budget and its training settings, and the optimiser's kind. Each copy
has its own:

- seed (initialisation, data order);
- `loss` (the copies are grouped by loss, one vmapped cost per group);
- `optim.lr`, `optim.momentum`, `optim.weight_decay`, `optim.l2`, `optim.l2_scale` and the
  schedule `optim.schedule`, `optim.step_every_epochs`, `optim.step_gamma`: tensors of one value
  per copy in one fused update (`models/packed_optim.py`), for the optimisers that have a packed
  form (`PACKED_OPTIMISERS`); another optimiser's settings stay shared;
- dropout rates `model.dropout` and `model.conv.N.dropout` (a mask probability per copy,
  `models/copy_dropout.py`), as long as the same layers have dropout: a rate of 0 builds no
  dropout layer (another shape), and a conv layer's dropout draws random numbers while the
  network is built, which moves every later layer's initialisation.

`pack_key` is a config without those (dropout rates reduced to whether a layer has dropout):
runs with equal keys may pack, and `pack_conflict` names the first key where they may not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnablate.config import ExperimentConfig

# Optimisers with a packed form (a value per copy), by `optim.name`: `models/packed_optim.py`.
PACKED_OPTIMISERS = ("sgd", "adam")
OPTIM_KEYS = (
    "lr",
    "momentum",
    "weight_decay",
    "l2",
    "l2_scale",
    "schedule",
    "step_every_epochs",
    "step_gamma",
)
# Every config key a copy keeps its own (the seed is no config key but is its own as well).
PER_COPY_KEYS = (
    "loss",
    *(f"optim.{key}" for key in OPTIM_KEYS),
    "model.dropout",
    "model.conv.N.dropout",
)


def shared_part(config: ExperimentConfig) -> dict[str, Any]:
    """The config as the copies of a pack share it: the per-copy keys removed, dropout rates
    reduced to whether there is dropout."""
    tree = config.model_dump()
    del tree["loss"]
    if config.optim.name in PACKED_OPTIMISERS:
        for key in OPTIM_KEYS:
            del tree["optim"][key]
    model = tree["model"]
    model["dropout"] = model["dropout"] > 0
    for layer in model["conv"]:
        layer["dropout"] = layer["dropout"] > 0
    return tree


def pack_key(config: ExperimentConfig) -> str:
    """Runs whose configs have equal keys may train as one pack."""
    return json.dumps(shared_part(config), sort_keys=True, separators=(",", ":"))


def pack_hash(config: ExperimentConfig) -> str:
    """The pack key, short (a result's `pack_key`)."""
    return hashlib.sha256(pack_key(config).encode()).hexdigest()[:16]


def pack_conflict(configs: Sequence[ExperimentConfig]) -> str | None:
    """The first dotted key in which a config differs from the first beyond the per-copy keys
    (so that they may not pack), or None."""
    first = shared_part(configs[0])
    for config in configs[1:]:
        key = _first_difference(first, shared_part(config), "")
        if key is not None:
            return key
    return None


def _first_difference(a: Any, b: Any, prefix: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for key in a:
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{prefix}{index}.")
            if found is not None:
                return found
        return None
    return None if a == b else prefix.rstrip(".")


def copy_facts(config: ExperimentConfig, folders: Sequence[Path]) -> dict[str, Any]:
    """A copy's own facts in its result: its config, its pack key (`pack_hash`: the runs it may
    pack with) and, packed, the pack it trained in (named by the pack's first folder)."""
    pack_id = Path(folders[0]).name if len(folders) > 1 else None
    return {"config": config.model_dump(), "pack_key": pack_hash(config), "pack_id": pack_id}


def check_pack(configs: Sequence[ExperimentConfig]) -> None:
    """Refuse configs that may not pack (a caller's mistake: the runner never groups them)."""
    key = pack_conflict(configs)
    if key is not None:
        raise ValueError(f"these configs cannot train as one pack: they differ in {key}")
