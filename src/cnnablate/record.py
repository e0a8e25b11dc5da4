"""One trial as a typed record: the facts `result.json` holds and the study stores, and one row of
the results table. The table's columns are this record's fields (`SCHEMA` follows from them) plus
one `param.<factor>` column per factor; the record carries the trial's resolved config, so that a
results table alone gives every trial's config, typed."""

from __future__ import annotations

import json
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cnnablate.config import ExperimentConfig
from cnnablate.errors import UserError

RESULTS_TABLE = "results.parquet"
TEXT, INT, FLOAT, TIME = "string", "Int64", "float64", "datetime64[ns]"
DTYPES = {str: TEXT, int: INT, float: FLOAT, datetime: TIME, dict: TEXT}


class TrialRecord(BaseModel):
    """A finished (or failed) trial. Unknown keys are dropped: older results carry retired ones."""

    model_config = ConfigDict(extra="ignore")

    trial: int | None = Field(None, description="Optuna trial number")
    state: str | None = Field(None, description="Optuna state: COMPLETE, PRUNED or FAIL")
    status: str | None = Field(None, description="ok, diverged, pruned or failed")
    failure: str | None = Field(
        None, description="why a FAIL trial failed (interrupted, duplicate, error text)"
    )
    short: str | None = Field(
        None,
        description="why a finished trial falls short of the budget the run asked for, if it does",
    )
    seed: int | None = Field(
        None, description="the trial's seed (init, data order, dropout, augmentation)"
    )
    preset: str | None = Field(
        None, description="the lecture network the cell trains (none for a model.factory's)"
    )
    test_acc: float | None = Field(None, description="accuracy on the test split, final weights")
    test_error: float | None = Field(None, description="1 - test_acc")
    test_loss: float | None = Field(
        None, description="mean cross-entropy (or the configured loss) on the test split"
    )
    best_val_acc: float | None = Field(
        None, description="best validation accuracy over the evaluations (needs a val split)"
    )
    best_epoch: int | None = Field(None, description="epoch of best_val_acc")
    test_acc_at_best_val: float | None = Field(
        None, description="test accuracy at the evaluation of best_val_acc"
    )
    train_acc: float | None = Field(
        None, description="accuracy on the training split, final weights"
    )
    train_loss: float | None = Field(None, description="loss on the training split, final weights")
    diverged_at_step: int | None = Field(
        None, description="update at which the loss became non-finite, if it did"
    )
    pruned_at_epoch: int | None = Field(None, description="last reported epoch of a pruned trial")
    params: int | None = Field(None, description="trainable parameters of one network")
    pack_size: int | None = Field(
        None, description="networks trained together in one packed module"
    )
    pack_fallback: str | None = Field(
        None, description="why seeds asked to train packed trained one at a time, if they did"
    )
    pack_key: str | None = Field(
        None, description="hash of what a pack shares: trials with equal keys may train packed"
    )
    pack_id: str | None = Field(
        None, description="the pack a trial trained in (its first folder's name), if packed"
    )
    train_samples_per_s: float | None = Field(
        None, description="training throughput of the whole pack"
    )
    train_flops_per_sample: float | None = Field(
        None, description="training FLOPs per sample of one network"
    )
    achieved_flops_per_s: float | None = Field(
        None, description="train_flops_per_sample x train_samples_per_s"
    )
    eval_samples_per_s: float | None = Field(
        None, description="evaluation throughput of the whole pack"
    )
    steps: int | None = Field(None, description="updates done")
    budget_steps: int | None = Field(
        None, description="updates the trial was asked for: the config's budget, under its step cap"
    )
    step_cap: int | None = Field(None, description="--max-steps cap in force, if any")
    epochs: int | None = Field(None, description="epochs run")
    wall_s: float | None = Field(
        None, description="seconds from the start of training to the end of evaluation"
    )
    eval_s: float | None = Field(
        None, description="of wall_s, seconds spent evaluating (validations and the final one)"
    )
    device: str | None = Field(
        None, description="the device in words (CPU model and threads, or GPU name)"
    )
    accelerator: str | None = Field(None, description="cpu or gpu")
    update_path: str | None = Field(None, description="how updates ran: eager, cuda-graph, ...")
    update_fallback: str | None = Field(
        None, description="why the faster update path was not taken, if it was not"
    )
    packed_layers: str | None = Field(
        None, description="how a pack's layers ran: vmap, grouped or unfold (none: not packed)"
    )
    commit: str | None = Field(
        None, description="git commit of the code (with -dirty for uncommitted changes)"
    )
    hostname: str | None = Field(None, description="machine that ran the trial")
    pid: int | None = Field(None, description="worker process id")
    version_cnnablate: str | None = Field(None, description="cnnablate version")
    version_python: str | None = Field(None, description="Python version")
    version_torch: str | None = Field(None, description="torch version")
    version_pytorch_lightning: str | None = Field(None, description="pytorch-lightning version")
    dir: str | None = Field(
        None, description="the trial's folder (result.json, metrics.csv, checkpoints)"
    )
    started: datetime | None = Field(
        None, description="when the trial started (Optuna's record, the worker's local time)"
    )
    finished: datetime | None = Field(
        None, description="when the trial finished (Optuna's record, the worker's local time)"
    )
    config: dict[str, Any] | None = Field(
        None,
        description="the trial's resolved config (JSON; `record.trial_config` reads it typed)",
    )

    def row(self) -> dict[str, Any]:
        """The record as a table row: the config as JSON text."""
        row = self.model_dump()
        row["config"] = None if self.config is None else json.dumps(self.config, sort_keys=True)
        return row


def trial_config(text: Any) -> ExperimentConfig | None:
    """A table's `config` cell as a config (None where absent or from an older version)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return ExperimentConfig.model_validate_json(text)
    except ValidationError:
        return None


def _dtype(annotation: Any) -> str:
    """`int | None` → Int64, `dict[...] | None` (the config, as JSON text) → string, ..."""
    kind = next(a for a in typing.get_args(annotation) if a is not type(None))
    return DTYPES[typing.get_origin(kind) or kind]


# column: (pandas dtype, meaning). The README's table of the results is this one.
SCHEMA: dict[str, tuple[str, str]] = {
    name: (_dtype(field.annotation), field.description or "")
    for name, field in TrialRecord.model_fields.items()
}


def results_table(folder: Path) -> Path:
    """`folder`'s results table, or a one-line UserError saying what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such results folder")
    table = folder / RESULTS_TABLE
    if not table.is_file():
        raise UserError(f"{folder}: no {RESULTS_TABLE} here (run `cnnablate run SPEC` first)")
    return table
