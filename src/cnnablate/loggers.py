"""Experiment loggers: Lightning's own CSVLogger, TensorBoardLogger, MLFlowLogger and
WandbLogger, one set per seed of a run (`seed_logging.SeedLoggers` drives them).

Naming the loggers and checking that their packages are installed imports neither torch nor
Lightning: the command line checks `--logger` and a spec's `loggers` before anything trains.
Making a logger imports Lightning and the logger's package.

Where each seed's run lands, under its `root` (a `train`'s OUT, a `run`'s results folder):
csv `root/csv/NAME/metrics.csv`; tensorboard `root/tensorboard/NAME/`; mlflow the store at
`$MLFLOW_TRACKING_URI`, else `sqlite:///root/mlflow.db` (MLflow 3 refuses a plain file store
unless told to), experiment EXPERIMENT, run NAME; wandb `root/wandb/`, project EXPERIMENT, run
NAME, group GROUP (offline under `WANDB_MODE=offline`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnablate.errors import Unavailable, UserError

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

# Each logger's name and the module it needs beyond Lightning (None: Lightning's own).
LOGGER_MODULES: dict[str, str | None] = {
    "csv": None,
    "tensorboard": "tensorboard",
    "mlflow": "mlflow",
    "wandb": "wandb",
}
LOGGERS = tuple(LOGGER_MODULES)
MLFLOW_DB = "mlflow.db"


def unknown_logger(name: str) -> str | None:
    """Why `name` is no logger, or None when it is one."""
    if name in LOGGER_MODULES:
        return None
    return f"unknown logger {name!r}; allowed: {', '.join(LOGGERS)}"


def check_loggers(names: Iterable[str], where: str = "--logger") -> tuple[str, ...]:
    """The loggers named, each once, in order; refuses an unknown name (UserError) and one
    whose package is not installed (Unavailable), without importing it."""
    chosen = tuple(dict.fromkeys(names))
    for name in chosen:
        if (problem := unknown_logger(name)) is not None:
            raise UserError(f"{where}: {problem}")
    for name in chosen:
        module = LOGGER_MODULES[name]
        if module is not None and importlib.util.find_spec(module) is None:
            raise Unavailable(
                f"{where}: logger '{name}' needs the package '{module}', which is not "
                f"installed: pip install 'cnnablate[{name}]'"
            )
    return chosen


@dataclass(frozen=True)
class LogTarget:
    """Where a run's loggers write and what they call it. `root`: the folder they write under
    (None: each seed's own folder); `experiment`: MLflow's experiment and W&B's project (None:
    the preset's name); `group`: W&B's group (a cell's seeds together); `params`: more
    hyperparameters, logged beside the flattened config, the seed and the preset."""

    root: Path | None = None
    experiment: str | None = None
    group: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedRun:
    """One seed's run as its loggers see it: its files under `root`, named `name`."""

    root: Path
    experiment: str
    name: str
    group: str | None = None


def seed_runs(target: LogTarget, out_dirs: list[Path], preset: str | None) -> list[SeedRun]:
    """Each seed's run, named after its folder (a trial's folder in a results folder)."""
    experiment = target.experiment or preset or "cnnablate"
    return [
        SeedRun(Path(target.root or out_dir), experiment, Path(out_dir).name, target.group)
        for out_dir in out_dirs
    ]


def flat_params(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config as flat hyperparameters: dotted keys as `--set` takes them (list items of
    mappings by index), other lists and None as JSON text."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_params(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for index, item in enumerate(value):
                flat.update(flat_params(item, f"{name}.{index}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value)
    return flat


# --- making Lightning's loggers -------------------------------------------------------------


def csv_logger(run: SeedRun, run_id: str | None) -> Logger:
    from pytorch_lightning.loggers import CSVLogger

    if run_id is None:
        fresh_dir(run.root / "csv" / run.name)
    return CSVLogger(run.root, name="csv", version=run.name)


def tensorboard_logger(run: SeedRun, run_id: str | None) -> Logger:
    from pytorch_lightning.loggers import TensorBoardLogger

    if run_id is None:
        fresh_dir(run.root / "tensorboard" / run.name)
    return TensorBoardLogger(
        run.root, name="tensorboard", version=run.name, default_hp_metric=False
    )


def fresh_dir(folder: Path) -> None:
    """A new run of a name starts from an empty folder: an earlier run's curves under the same
    name (an earlier `train` into the same OUT) would mix with its own."""
    if folder.is_dir():
        shutil.rmtree(folder)


def mlflow_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root / MLFLOW_DB).resolve()}"


def mlflow_logger(run: SeedRun, run_id: str | None) -> Logger:
    from filelock import FileLock
    from mlflow.tracking import MlflowClient
    from pytorch_lightning.loggers import MLFlowLogger

    for name in ("mlflow.store.db.utils", "alembic"):  # the store's set-up, at INFO: noise
        logging.getLogger(name).setLevel(logging.WARNING)
    uri, local = mlflow_uri(run.root), "MLFLOW_TRACKING_URI" not in os.environ
    artifacts = str((run.root / "mlartifacts").resolve()) if local else None
    run.root.mkdir(parents=True, exist_ok=True)
    # One process at a time sets up the store and the experiment (workers start together).
    with FileLock(run.root / f".{MLFLOW_DB}.lock"):
        mlflow_experiment(MlflowClient(tracking_uri=uri), run.experiment, artifacts)
        logger = MLFlowLogger(
            experiment_name=run.experiment,
            run_name=run.name,
            tracking_uri=uri,
            run_id=run_id,
            artifact_location=artifacts,
        )
        _ = logger.experiment  # the run itself, now
    return logger


def mlflow_experiment(client: Any, name: str, artifacts: str | None) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage != "deleted":
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifacts)


def wandb_logger(run: SeedRun, run_id: str | None) -> Logger:
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    run.root.mkdir(parents=True, exist_ok=True)
    # A run of its own even beside other runs of this process (packed seeds, later trials):
    # WandbLogger alone would take over the process's current run.
    experiment = wandb.init(
        project=run.experiment,
        name=run.name,
        group=run.group,
        dir=run.root,
        id=run_id,
        resume="allow" if run_id else None,
        reinit="create_new",
        settings=wandb.Settings(silent=True, console="off"),
    )
    experiment.define_metric("trainer/global_step")
    experiment.define_metric("*", step_metric="trainer/global_step", step_sync=True)
    return WandbLogger(experiment=experiment)


MAKERS: dict[str, Callable[[SeedRun, str | None], Logger]] = {
    "csv": csv_logger,
    "tensorboard": tensorboard_logger,
    "mlflow": mlflow_logger,
    "wandb": wandb_logger,
}


def make_logger(name: str, run: SeedRun, run_id: str | None = None) -> Logger:
    """Lightning's logger `name` for one seed's run; `run_id` (from `run_id_of`) resumes that
    run. A logger that cannot start says so in one line."""
    try:
        return MAKERS[name](run, run_id)
    except Exception as error:  # a store or service that would not start: I/O, not a bug
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise Unavailable(f"--logger {name}: cannot start its run {run.name!r}: {first}") from None


def run_id_of(name: str, logger: Logger) -> str:
    """What resumes this logger's run: MLflow's or W&B's run id; for csv and TensorBoard their
    folder, which a resumed run keeps."""
    if name == "mlflow":
        return logger.run_id
    if name == "wandb":
        return logger.experiment.id
    return logger.log_dir


def finish_logger(name: str, logger: Logger, status: str) -> None:
    """End the logger's run: `success`, `failed`, or `killed` (stopped to be resumed, or
    pruned)."""
    if name == "mlflow":
        logger.finalize({"success": "FINISHED", "failed": "FAILED"}.get(status, "KILLED"))
    elif name == "wandb":
        if status == "killed":
            logger.experiment.mark_preempting()
        logger.experiment.finish(exit_code=0 if status == "success" else 1)
    else:
        logger.finalize(status)
