"""A config's training budget in SGD updates, and what a run asks of each trial.

One rule for the trainer, the runner and the report: the budget is `train.max_steps`, else
`train.max_epochs` times the mini-batches of one epoch; a step cap (`--max-steps`) can only
lower it. A finished trial stands for its cell in a run only when it was asked for at least what
that run asks (`reaches`): a smoke run never passes for the real one.
"""

from __future__ import annotations

from cnnablate.config import DataConfig, ExperimentConfig


def batches_per_epoch(data: DataConfig) -> int:
    from cnnablate.data import batches_per_epoch

    return batches_per_epoch(data)


def budget_steps(config: ExperimentConfig) -> int:
    """The updates `config` asks for, with no cap."""
    train = config.train
    if train.max_steps is not None:
        return train.max_steps
    return train.max_epochs * batches_per_epoch(config.data)


def asked_steps(config: ExperimentConfig, step_cap: int | None) -> int:
    """The updates a run with `step_cap` (None: no cap) asks of a trial of `config`."""
    budget = budget_steps(config)
    return budget if step_cap is None else min(budget, step_cap)


def shortfall(reach: int | None, cap: int | None, asked: int) -> str | None:
    """Why a trial asked for `reach` updates (under its step `cap`) falls short of the `asked`
    ones, else None."""
    if reach is None or reach >= asked:
        return None
    under = f", run with --max-steps {cap:,}" if cap is not None and cap == reach else ""
    return f"{reach:,} of the {asked:,} steps asked{under}"
