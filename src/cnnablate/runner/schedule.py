"""The order in which a grid's cells start: cells cut off with their state saved first (work in
flight finishes before new work starts), then the longest first, so that the matrix's critical
path starts at once and the short cells fill the gaps at the end (longest-processing-time-first
scheduling over the workers).

A cell's length is its training work: the updates it is asked for × its mini-batch × the
training FLOPs per sample of its network (counted once per network by PyTorch's FlopCounterMode),
a measure that ranks the lecture's networks as their wall times do without running them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache

from cnnablate.budget import asked_steps
from cnnablate.config import ExperimentConfig, ModelConfig
from cnnablate.runner.grid import Cell


def start_order(
    cells: list[Cell],
    config_of: Callable[[Cell], ExperimentConfig],
    cut_off: set[str],
    step_cap: int | None = None,
) -> list[Cell]:
    """`cells` in the order to start them: cut off first, then by training work, longest first;
    ties (a cell's seeds) keep the grid's order."""
    work = {cell.key: training_work(config_of(cell), step_cap) for cell in cells}
    return sorted(cells, key=lambda cell: (cell.key not in cut_off, -work[cell.key]))


def training_work(config: ExperimentConfig, step_cap: int | None = None) -> float:
    """FLOPs the cell's training asks for: updates × batch × FLOPs per sample."""
    per_sample = _flops_per_sample(
        config.model.model_dump_json(), config.data.model_dump_json(), config.loss
    )
    return asked_steps(config, step_cap) * config.data.batch_size * per_sample


@cache
def _flops_per_sample(model_json: str, data_json: str, loss: str) -> float:
    import torch

    from cnnablate.config import DataConfig
    from cnnablate.data import data_shape
    from cnnablate.flops import training_flops_per_sample
    from cnnablate.losses import get_loss
    from cnnablate.models import build_network

    input_shape, num_classes = data_shape(DataConfig.model_validate(json.loads(data_json)))
    with torch.random.fork_rng():
        net = build_network(ModelConfig.model_validate_json(model_json), input_shape, num_classes)
    x = torch.rand(2, *input_shape)
    y = torch.zeros(2, dtype=torch.long)
    return training_flops_per_sample(net.train(), get_loss(loss), x, y)
