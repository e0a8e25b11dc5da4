"""Which waiting trials of a grid a worker claims and trains together (the spec's `pack`).

- "cells": trials whose configs share a pack key (`pack_keys.py`: they may differ in seed, loss,
  optimiser settings, schedule and dropout rates) and that stand for the same preset;
- "seeds": the seeds of one cell (a cell without its seed);
- "none": one trial at a time.

"auto" (the default, and `pack_seeds: auto`) packs cells on a GPU, where one tiny network
leaves it idle, and nothing on a CPU. With experiment loggers, cells pack as "seeds": a logger
groups a trial's run with its cell's seeds, one group per pack.

Optuna hands waiting trials out in trial order, so a worker claims the leading run of waiting
trials of one group, up to `MAX_PACK`; the queue puts the cells of a group next to each other.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from cnnablate.config import ExperimentConfig
from cnnablate.pack_keys import pack_key
from cnnablate.runner.grid import SEED
from cnnablate.runner.spec import Spec

PackMode = Literal["cells", "seeds", "none"]
MAX_PACK = 8
Item = TypeVar("Item")


def pack_mode(spec: Spec, accelerator: str | None, logged: bool = False) -> PackMode:
    """What packs in a run of `spec` on `accelerator` (None: the spec's), with loggers or not.
    A search packs nothing: each trial's config is sampled after the last has told its value."""
    model = spec.model
    if model.mode != "grid":
        return "none"
    if model.pack != "auto":
        mode = model.pack
    elif model.pack_seeds != "auto":
        mode = "seeds" if model.pack_seeds else "none"
    else:
        wanted = accelerator or model.accelerator
        mode = "cells" if wanted == "gpu" or (wanted == "auto" and cuda_available()) else "none"
    if mode == "cells" and (logged or model.loggers):
        return "seeds"
    return mode


def cell_without_seed(cell: str) -> str:
    return json.dumps({k: v for k, v in json.loads(cell).items() if k != SEED}, sort_keys=True)


def group_key(
    cell: str | None, mode: PackMode, setup: Callable[[str], tuple[ExperimentConfig, Any]]
) -> str | None:
    """The group of a cell's trials under `mode`: trials of equal groups may pack. `setup`: a
    cell's config and preset."""
    if cell is None or mode == "none":
        return None
    if mode == "seeds":
        return cell_without_seed(cell)
    config, preset = setup(cell)
    return json.dumps([pack_key(config), preset])


def groups_of(items: Iterable[Item], key: Callable[[Item], Any]) -> list[list[Item]]:
    """`items` in groups of equal keys (a None key: alone), in order of their first item, items
    in their order within a group."""
    groups: dict[Any, list[Item]] = {}
    for index, item in enumerate(items):
        found = key(item)
        groups.setdefault(("alone", index) if found is None else found, []).append(item)
    return list(groups.values())


def leading_run(keys: list[str | None]) -> int:
    """How many of the first keys are equal to the first (None: one, it packs with nothing), at
    most MAX_PACK."""
    if not keys:
        return 0
    if keys[0] is None:
        return 1
    run = itertools.takewhile(lambda key: key == keys[0], keys)
    return min(MAX_PACK, sum(1 for _ in run))


def cuda_available() -> bool:
    import torch  # here, not at the top: status and spec checks answer without torch

    return torch.cuda.is_available()
