"""One training run: config + seed → Lightning Trainer → `result.json` and `metrics.csv`."""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.loggers import CSVLogger

from cnnablate.atomic import write_json, write_text
from cnnablate.callbacks import (
    RESUME_FILE,
    PlainProgress,
    ResumeCheckpoint,
    ThroughputMeter,
    resumable_state,
    resume_meta,
)
from cnnablate.checkpoints import BestWeights, best_checkpoint, offer_final_weights
from cnnablate.config import ExperimentConfig
from cnnablate.data import TensorDataModule, build_datamodule, data_shape
from cnnablate.data.external import describe
from cnnablate.errors import Interrupted, UserError
from cnnablate.evaluation import evaluate
from cnnablate.flops import training_flops_per_sample
from cnnablate.machine import describe_device, running_commit, versions
from cnnablate.models import build_network, count_params
from cnnablate.models.packed import pack_failure
from cnnablate.module import Classifier
from cnnablate.train_options import Progress, TrainOptions

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


def metrics_csv(history: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in history for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def best_validation(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The lecture's rule: the test accuracy at the (first) epoch of best validation accuracy."""
    rows = [row for row in history if row.get("val_acc") is not None]
    if not rows:
        return {"best_val_acc": None, "best_epoch": None, "test_acc_at_best_val": None}
    best = max(rows, key=lambda row: row["val_acc"])
    return {
        "best_val_acc": best["val_acc"],
        "best_epoch": best["epoch"],
        "test_acc_at_best_val": best.get("test_acc"),
    }


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


def completed_histories(
    module: Classifier,
    datamodule: TensorDataModule,
    epochs: int,
    accelerator: str,
    progress_bar: bool = False,
) -> list[list[dict]]:
    """Each copy's validation history, ending at its last update: a run whose last epoch was not
    validated (a step cap between validations) gets a final row, evaluated only then."""
    histories = [list(history) for history in module.histories]
    unvalidated = [
        copy
        for copy, history in enumerate(histories)
        if module.diverged[copy] is None and (not history or history[-1]["step"] != module.updates)
    ]
    if unvalidated:
        finals = final_rows(module, datamodule, epochs, accelerator, progress_bar)
        for copy in unvalidated:
            histories[copy].append(finals[copy])
    return histories


def final_rows(
    module: Classifier,
    datamodule: TensorDataModule,
    epochs: int,
    accelerator: str,
    progress_bar: bool = False,
) -> list[dict]:
    """Each copy's row at its last update: its validation splits through `trainer.validate`."""
    splits = {name: datamodule.eval_batches(name) for name in datamodule.eval_split_names()}
    evaluated, _ = evaluate(module, splits, accelerator, "validate", progress_bar)
    return [{"epoch": epochs, "step": module.updates, **metrics} for metrics in evaluated]


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
    """Train `config` once per seed, several seeds packed into one module when more than one.

    Each seed gets its own `result.json` and `metrics.csv` in its `out_dirs` entry. A packed run
    gives each seed the initialisation and data order it would have alone; `train_samples_per_s`
    counts the samples of all seeds (`pack_size` says how many).

    The run saves its whole state to `out_dirs[0]/resume.ckpt` every `train.checkpoint_every`
    and resumes from it when started again with the same config, seeds and cap. Given a
    `deadline`, it stops at the last epoch end before it, saves, and raises `Interrupted`; the
    file is removed when the run completes.
    """
    options = options or TrainOptions()
    out_dirs = [Path(d) for d in out_dirs]
    if len(seeds) > 1 and (reason := packing_failure(config, len(seeds))) is not None:
        alone = replace(options, pack_fallback=reason)
        return [
            train_seeds(config, [s], [d], alone)[0] for s, d in zip(seeds, out_dirs, strict=True)
        ]
    run = prepare(config, seeds, options)
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


def prepare(config: ExperimentConfig, seeds: list[int], options: TrainOptions) -> Prepared:
    """The data and module of a run, each seed's initialisation and data order as if alone."""
    started, commit = time.perf_counter(), running_commit()
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
    meta = resume_meta(run.config, run.seeds, options.step_cap)
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
    return Fitted(trainer.current_epoch, meter.samples_per_s, best, saver.path)


def summarise(
    run: Prepared, fitted: Fitted, out_dirs: list[Path], options: TrainOptions
) -> list[dict[str, Any]]:
    """Evaluate the trained copies; write each seed's `metrics.csv` and `result.json`; remove
    the saved state. Returns the results, one per seed."""
    module, datamodule = run.module, run.datamodule
    bar = options.shown_progress() == "bar"
    splits = {"test": datamodule.eval_batches("test"), "train": datamodule.train_eval_batches()}
    finals, eval_rate = evaluate(module, splits, run.accelerator, "test", bar)
    shared = shared_facts(run, fitted, options, eval_samples_per_s=eval_rate)
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
        }
        write_text(out_dirs[copy] / "metrics.csv", metrics_csv(histories[copy]))
        write_json(out_dirs[copy] / "result.json", result)
        results.append(result)
    fitted.resume_path.unlink(missing_ok=True)
    return results


def shared_facts(
    run: Prepared, fitted: Fitted, options: TrainOptions, eval_samples_per_s: float | None
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
        "device": describe_device(module.device),
        "accelerator": run.accelerator,
        "update_path": module.update_path,
        "update_fallback": module.update_fallback,
        "versions": versions(),
        "commit": run.commit,
        "hostname": platform.node(),
        "pid": os.getpid(),
        "config": run.config.model_dump(),
    }


def flops_figures(module: Classifier, datamodule: TensorDataModule, rate: float | None) -> dict:
    """Training FLOPs per sample of one network (one counted step), and the FLOP/s achieved
    (all copies of a packed module together)."""
    x, y = datamodule.sample_batch()
    net = module.net.unpack(0) if module.packed else module.net
    net.train()
    per_sample = training_flops_per_sample(net, module.loss_fn, x, y)
    return {
        "train_flops_per_sample": per_sample,
        "achieved_flops_per_s": per_sample * rate if rate else None,
    }
