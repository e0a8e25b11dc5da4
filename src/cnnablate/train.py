"""One training run: config + seed → Lightning Trainer → `result.json` and `metrics.csv`."""

from __future__ import annotations

import math
import os
import platform
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.loggers import CSVLogger

from cnnablate.atomic import write_json, write_text
from cnnablate.callable_modules import make_callable
from cnnablate.callbacks import (
    RESUME_FILE,
    PlainProgress,
    ResumeCheckpoint,
    ThroughputMeter,
    quiet,
    resumable_state,
    resume_meta,
)
from cnnablate.checkpoints import BestWeights, best_checkpoint, offer_final_weights
from cnnablate.config import ExperimentConfig, apply_dict, with_budget
from cnnablate.config_file import write_run_configs
from cnnablate.data import TensorDataModule, build_datamodule, data_shape
from cnnablate.data.external import describe
from cnnablate.errors import Interrupted, UserError
from cnnablate.evaluation import best_validation, completed_histories, evaluate, metrics_csv
from cnnablate.flops import flops_figures
from cnnablate.machine import describe_device, running_commit, versions
from cnnablate.models import build_network, count_params
from cnnablate.models.packed import pack_failure
from cnnablate.module import Classifier
from cnnablate.pack_keys import check_pack, copy_facts
from cnnablate.seed_logging import log_summary, seed_logging
from cnnablate.train_options import Progress, TrainOptions

if TYPE_CHECKING:
    import pandas as pd

# Lightning's advice about logging intervals and a torch deprecation inside Lightning: noise here.
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")


def resolve_accelerator(accelerator: str) -> str:
    if accelerator == "gpu" and not torch.cuda.is_available():
        raise UserError("--accelerator gpu: no CUDA GPU is available here; allowed: auto, cpu")
    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return accelerator


def budget_updates(config: ExperimentConfig, batches_per_epoch: int) -> int:
    train = config.train
    return train.max_steps if train.max_steps is not None else train.max_epochs * batches_per_epoch


def set_memory_format(module: Classifier, memory_format: str, accelerator: str) -> None:
    """Put 2-D conv weights in channels_last where asked (auto: on the CPU); the activations
    follow the weights' layout. Other tensors, and packed (5-D) weights, are left as they are."""
    if memory_format == "channels_last" or (memory_format == "auto" and accelerator == "cpu"):
        for param in module.net.parameters():
            if param.dim() == 4:
                param.data = param.data.contiguous(memory_format=torch.channels_last)


def build_trainer(
    config: ExperimentConfig,
    accelerator: str,
    max_epochs: int,
    out_dir: Path,
    callbacks: list[pl.Callback],
    progress: Progress,
    max_steps: int = -1,
) -> pl.Trainer:
    checkpointing = any(isinstance(c, Checkpoint) for c in callbacks)
    return pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_epochs=max_epochs,
        max_steps=max_steps,
        check_val_every_n_epoch=config.train.eval_every_epochs,
        num_sanity_val_steps=0,
        # An epoch's length in blocks varies (a capped last epoch is shorter): Lightning reads it
        # anew each epoch, so that every epoch, the last included, ends with its validation.
        reload_dataloaders_every_n_epochs=1,
        logger=CSVLogger(out_dir, name="lightning_logs"),
        enable_checkpointing=checkpointing,
        enable_model_summary=False,
        enable_progress_bar=progress == "bar",
        deterministic=accelerator == "cpu",
        callbacks=callbacks,
    )


def train(
    config: ExperimentConfig,
    seed: int = 0,
    out_dir: Path | None = None,
    options: TrainOptions | None = None,
) -> dict[str, Any]:
    """Train `config` with `seed`; write `result.json` and `metrics.csv` into `out_dir`."""
    options = options or TrainOptions()
    out_dir = Path(out_dir or Path("runs") / (options.preset or "custom") / f"seed{seed}")
    return train_seeds(config, [seed], [out_dir], options)[0]


def train_seeds(
    config: ExperimentConfig,
    seeds: list[int],
    out_dirs: list[Path],
    options: TrainOptions | None = None,
) -> list[dict[str, Any]]:
    """Train `config` once per seed, several seeds packed into one module when more than one."""
    runs = [(config, seed, Path(d)) for seed, d in zip(seeds, out_dirs, strict=True)]
    return train_pack(runs, options)


def train_pack(
    runs: Sequence[tuple[ExperimentConfig, int, Path]], options: TrainOptions | None = None
) -> list[dict[str, Any]]:
    """Train each run (config, seed, folder), several packed into one module when more than one:
    their configs must share a pack key (`pack_keys.py`: each copy keeps its loss, optimiser
    settings, schedule and dropout rates), else ValueError. A packed copy starts as it would alone.

    Each folder gets its run's `config.yaml` first (`train --config` reruns it), then its
    `result.json` (its config, `pack_size`, `pack_key`, `pack_id`) and `metrics.csv`. The pack
    saves its whole state to the first folder's `resume.ckpt` every `train.checkpoint_every`
    and resumes from it when started again with the same configs, seeds and cap. Given a
    `deadline`, it stops at the last epoch end before it, saves, and raises `Interrupted`; the
    file is removed when the run completes. `train_samples_per_s` counts every copy's samples.
    """
    options = options or TrainOptions()
    configs, seeds = [run[0] for run in runs], [run[1] for run in runs]
    out_dirs = [Path(run[2]) for run in runs]
    check_pack(configs)
    if len(runs) > 1 and (reason := packing_failure(configs[0], len(runs))) is not None:
        alone = replace(options, pack_fallback=reason)
        return [train_pack([one], alone)[0] for one in runs]
    run = prepare(configs, seeds, options)
    for config, seed, out_dir in zip(configs, seeds, out_dirs, strict=True):
        write_run_configs(config, [seed], [out_dir], options.preset, options.step_cap)
    with seed_logging(configs, run.seeds, out_dirs, options) as options:
        fitted = fit(run, out_dirs, options)
        return summarise(run, fitted, out_dirs, options)


def packing_failure(config: ExperimentConfig, copies: int) -> str | None:
    """Why the seeds of `config` cannot train packed, or None: data streamed through the user's
    loaders, or a user's network that `torch.func` cannot vmap (tried on a copy)."""
    if config.data.module is not None and not describe(config.data).in_memory:
        return "data.module streams through its own DataLoaders"
    if config.model.factory is None:
        return None
    input_shape, num_classes = data_shape(config.data)
    nets = [build_network(config.model, input_shape, num_classes) for _ in range(min(copies, 2))]
    reason = pack_failure(nets, input_shape)
    return None if reason is None else f"torch.func cannot vmap model.factory's network: {reason}"


@dataclass(frozen=True)
class Prepared:
    """A run ready to fit: its data, its module (one copy per seed) and its budget."""

    config: ExperimentConfig
    seeds: list[int]
    accelerator: str
    datamodule: TensorDataModule
    module: Classifier
    updates: int  # the budget in SGD updates, after any step cap
    max_epochs: int
    started: float  # time.perf_counter()
    commit: str | None  # the code this process loaded, not HEAD when the run ends


@dataclass(frozen=True)
class Fitted:
    """What the fit hands on beside the trained module."""

    epochs: int
    train_samples_per_s: float | None
    best: BestWeights | None
    resume_path: Path
    eval_s: float = 0.0  # in the validations during training


def prepare(configs: list[ExperimentConfig], seeds: list[int], options: TrainOptions) -> Prepared:
    """The data and module of a run (a config per seed), each seed's initialisation and data
    order as if alone."""
    config, started, commit = configs[0], time.perf_counter(), running_commit()
    accelerator = resolve_accelerator(options.accelerator)
    packed = len(seeds) > 1
    pl.seed_everything(seeds[0], verbose=False)
    datamodule = build_datamodule(
        config.data, seeds if packed else seeds[0], options.data_dir, config.train.steps_per_block
    )
    datamodule.prepare()
    updates = budget_updates(config, datamodule.batches_per_epoch)
    if options.step_cap is not None:
        updates = min(updates, options.step_cap)
    datamodule.max_updates = updates
    max_epochs = math.ceil(updates / datamodule.batches_per_epoch)
    module = Classifier(
        config,
        datamodule.input_shape,
        datamodule.num_train,
        num_classes=datamodule.num_classes,
        seeds=seeds if packed else None,
        copy_configs=configs if packed else None,
    )
    set_memory_format(module, config.train.memory_format, accelerator)
    pl.seed_everything(seeds[0], verbose=False)  # dropout streams start as in a lone run
    return Prepared(
        config, list(seeds), accelerator, datamodule, module, updates, max_epochs, started, commit
    )


def fit(run: Prepared, out_dirs: list[Path], options: TrainOptions) -> Fitted:
    """Train the module under Lightning, from the run's saved state if there is one. Raises
    `Interrupted` when the deadline stopped it (its state saved)."""
    progress = options.shown_progress()
    meter = ThroughputMeter()
    best = best_checkpoint(run.datamodule, out_dirs, run.seeds) if options.checkpoint else None
    meta = resume_meta(run.config, run.seeds, options.step_cap, run.module.copy_configs)
    saver = ResumeCheckpoint(
        out_dirs[0] / RESUME_FILE,
        run.config.train.checkpoint_every_updates,
        run.config.train.checkpoint_every_s,
        options.deadline,
        meta,
    )
    callbacks = [meter, *options.callbacks, *([best] if best is not None else [])]
    if progress == "lines":
        callbacks.append(PlainProgress(options.run_label(), run.updates))
    callbacks.append(saver)  # a Checkpoint after the best weights: its state includes theirs
    # The user's own loaders (a streamed data.module) know no update budget: Lightning keeps it.
    streams = getattr(run.datamodule, "streams", False)
    trainer = build_trainer(
        run.config,
        run.accelerator,
        run.max_epochs,
        out_dirs[0],
        callbacks,
        progress,
        max_steps=run.updates if streams else -1,
    )
    resume_from = resumable_state(saver.path, meta)
    if best is not None and resume_from is None:
        for path in best.paths:  # an earlier run's, which this run might not better
            path.unlink(missing_ok=True)
    trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=resume_from, weights_only=False)
    # Lightning hands a GPU module back on the CPU; the final evaluations run where the data is.
    run.module.to(trainer.strategy.root_device)
    if saver.interrupted:
        raise Interrupted(
            f"stopped by its time limit after epoch {trainer.current_epoch} "
            f"({run.module.updates} of {run.updates} updates); its state is in {saver.path}"
        )
    return Fitted(trainer.current_epoch, meter.samples_per_s, best, saver.path, meter.eval_seconds)


def summarise(
    run: Prepared, fitted: Fitted, out_dirs: list[Path], options: TrainOptions
) -> list[dict[str, Any]]:
    """Evaluate the trained copies; write each seed's `metrics.csv` and `result.json`; remove
    the saved state. Returns the results, one per seed."""
    module, datamodule = run.module, run.datamodule
    bar = options.shown_progress() == "bar"
    splits = {"test": datamodule.eval_batches("test"), "train": datamodule.train_eval_batches()}
    started = time.perf_counter()
    finals, eval_rate = evaluate(module, splits, run.accelerator, "test", bar)
    eval_s = fitted.eval_s + time.perf_counter() - started
    shared = shared_facts(run, fitted, options, eval_samples_per_s=eval_rate, eval_s=eval_s)
    histories = completed_histories(module, datamodule, fitted.epochs, run.accelerator, bar)
    if fitted.best is not None:
        offer_final_weights(fitted.best, module, histories)
    results = []
    for copy, seed in enumerate(run.seeds):
        result = {
            "status": "diverged" if module.diverged[copy] is not None else "ok",
            "diverged_at_step": module.diverged[copy],
            "seed": seed,
            "test_acc": finals[copy]["test_acc"],
            "test_error": 1.0 - finals[copy]["test_acc"],
            "test_loss": finals[copy]["test_loss"],
            **best_validation(histories[copy]),
            "train_acc": finals[copy]["train_acc"],
            "train_loss": finals[copy]["train_loss"],
            **shared,
            **copy_facts(run.module.copy_configs[copy], out_dirs),
        }
        write_text(out_dirs[copy] / "metrics.csv", metrics_csv(histories[copy]))
        write_json(out_dirs[copy] / "result.json", result)
        results.append(result)
    log_summary(options, histories, results)
    fitted.resume_path.unlink(missing_ok=True)
    return results


def shared_facts(
    run: Prepared,
    fitted: Fitted,
    options: TrainOptions,
    eval_samples_per_s: float | None,
    eval_s: float | None = None,
) -> dict[str, Any]:
    """The result's facts common to all seeds of the run (timings as of this call)."""
    module, rate = run.module, fitted.train_samples_per_s
    return {
        "preset": options.preset,
        "pack_size": len(run.seeds),
        "pack_fallback": options.pack_fallback,
        "params": count_params(module.net) // module.copies,
        "train_samples_per_s": rate,
        **flops_figures(module, run.datamodule, rate),
        "eval_samples_per_s": (
            eval_samples_per_s * module.copies if eval_samples_per_s is not None else None
        ),
        "steps": module.updates,
        "budget_steps": run.updates,
        "step_cap": options.step_cap,
        "epochs": fitted.epochs,
        "wall_s": time.perf_counter() - run.started,
        "eval_s": eval_s,
        "device": describe_device(module.device),
        "accelerator": run.accelerator,
        "update_path": module.update_path,
        "update_fallback": module.update_fallback,
        "packed_layers": getattr(module.net, "layers_path", "vmap") if module.packed else None,
        "versions": versions(),
        "commit": run.commit,
        "hostname": platform.node(),
        "pid": os.getpid(),
    }


def train_table(
    preset: str | None = None,
    *,
    config: ExperimentConfig | dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    seeds: Sequence[int] = (0,),
    out: str | Path | None = None,
    max_steps: int | None = None,
    max_epochs: int | None = None,
    accelerator: str = "auto",
    loggers: Sequence[str] = (),
) -> pd.DataFrame:
    """Train a preset (or a config, an ExperimentConfig or its dict) with `overrides` (dotted
    keys, as `--set`: {"optim.lr": 0.05, "model.factory": "mynets:wide"}), once per seed; one
    row per seed with its result (test_acc, train_acc, params, throughput, ...). Each seed's
    result.json and metrics.csv go to OUT/seedN (default runs/PRESET); `loggers`: experiment
    loggers, a run per seed in its folder (README "Loggers")."""
    import pandas as pd

    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.loggers import check_loggers
    from cnnablate.presets import preset_or_config, recorded_preset

    base = preset_or_config(preset, config)
    resolved = with_budget(apply_dict(base, overrides or {}), max_steps, max_epochs)
    out_dir = Path(out) if out is not None else Path("runs") / (preset or "custom")
    options = TrainOptions(
        accelerator=accelerator,
        data_dir=resolve_data_dir(None),
        preset=recorded_preset(preset, resolved) if preset else None,
        progress="off",
        loggers=check_loggers(list(loggers), "loggers"),
    )
    with quiet():
        results = train_seeds(resolved, list(seeds), [out_dir / f"seed{s}" for s in seeds], options)
    return pd.DataFrame([table_row(result) for result in results])


def table_row(result: dict[str, Any]) -> dict[str, Any]:
    """A result as a row: its scalars, versions as `version_*` (its config stays in the file)."""
    row = {k: v for k, v in result.items() if k not in ("config", "versions")}
    return row | {f"version_{k}": v for k, v in result["versions"].items()}


make_callable(__name__, train_table)
