"""A run's best weights: each seed's weights at its best validation (else test) accuracy, kept
as a Lightning checkpoint (`best.ckpt`) that `Classifier.load_from_checkpoint` loads as a lone
network, packed seeds' included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint

from cnnablate.atomic import atomic_path
from cnnablate.data import TensorDataModule
from cnnablate.models.copy_dropout import lone_layers
from cnnablate.module import Classifier

BEST_FILE = "best.ckpt"


class BestWeights(Checkpoint):
    """Each copy's weights at its best validation (else test) accuracy, the first epoch of the
    best as `best_validation` picks it, kept as a Lightning checkpoint `best.ckpt` in its folder.

    Epochs validated inside Lightning are offered as they end; `train_seeds` offers the final row
    it evaluates itself (a step cap between validations).
    """

    def __init__(self, monitor: str, out_dirs: list[Path], seeds: list[int]) -> None:
        self.monitor, self.seeds = monitor, seeds
        self.paths = [Path(d) / BEST_FILE for d in out_dirs]
        self.best: list[float | None] = [None] * len(seeds)

    def on_validation_end(self, trainer: pl.Trainer, module: Classifier) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            for copy, history in enumerate(module.histories):
                self.offer(module, copy, history[-1])

    def offer(self, module: Classifier, copy: int, row: dict[str, Any]) -> None:
        """Keep the module's current weights of `copy`, evaluated as `row`, if they are better."""
        score, best = row.get(self.monitor), self.best[copy]
        if score is None or (best is not None and not score > best):
            return
        saved = copy_checkpoint(module, copy, row)
        saved["best_weights"] = {"monitor": self.monitor, "score": score, "seed": self.seeds[copy]}
        with atomic_path(self.paths[copy]) as tmp:
            torch.save(saved, tmp)
        self.best[copy] = score

    def state_dict(self) -> dict[str, Any]:
        return {"best": list(self.best)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = list(state["best"])


def best_checkpoint(
    datamodule: TensorDataModule, out_dirs: list[Path], seeds: list[int]
) -> BestWeights:
    return BestWeights("val_acc" if datamodule.has_val else "test_acc", out_dirs, seeds)


def copy_checkpoint(module: Classifier, copy: int, row: dict[str, Any]) -> dict[str, Any]:
    """One copy of `module` as the checkpoint Lightning would write of it trained alone (weights
    only): `Classifier.load_from_checkpoint` gives a lone network. `row`: its evaluation."""
    net = lone_layers(module.net.unpack(copy)) if module.packed else module.net
    hparams = {**module.hparams, "config": module.copy_configs[copy].model_dump()}
    return {
        "epoch": row["epoch"] - 1,  # Lightning counts epochs from 0, the history from 1
        "global_step": row["step"],
        "pytorch-lightning_version": pl.__version__,
        "state_dict": {f"net.{k}": v.detach().cpu() for k, v in net.state_dict().items()},
        module.CHECKPOINT_HYPER_PARAMS_NAME: getattr(module, "_hparams_name", None),
        # A packed copy's hyper-parameters are a lone one's: its own config, no seeds.
        module.CHECKPOINT_HYPER_PARAMS_KEY: hparams,
    }


def checkpoint_line(out_dir: Path, result: dict[str, Any]) -> str:
    """Where a run's best weights are, or why it has none."""
    path = Path(out_dir) / BEST_FILE
    if not path.exists():
        step = result["diverged_at_step"]
        return f"no {path}: the run diverged at step {step}, before its first evaluation"
    saved = torch.load(path, map_location="cpu", weights_only=False)
    best = saved["best_weights"]
    return (
        f"best weights: {path} (epoch {saved['epoch'] + 1}, step {saved['global_step']}, "
        f"{best['monitor']} {best['score']:.4f})"
    )


def offer_final_weights(
    best: BestWeights, module: Classifier, histories: list[list[dict[str, Any]]]
) -> None:
    """The final weights where the last row evaluated them (not a copy diverged since)."""
    for copy, history in enumerate(histories):
        if history and history[-1]["step"] == module.updates:
            best.offer(module, copy, history[-1])
