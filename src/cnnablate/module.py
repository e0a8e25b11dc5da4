"""The one LightningModule: any network of the suite, any of the lecture's costs and optimisers.

Training uses manual optimisation over blocks of mini-batches (see `data.batches.TrainBlocks`):
each block is one Lightning step but still one SGD update per mini-batch, in the data's order,
so Lightning's per-step overhead is paid once per block rather than once per update.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from cnnablate.config import ExperimentConfig
from cnnablate.losses import get_loss
from cnnablate.models import build_network, weight_parameters


def l2_coefficient(config: ExperimentConfig, num_train: int) -> float:
    """Nielsen's λ divided by the number of training mini-batches (network3) or examples."""
    optim = config.optim
    if optim.l2 == 0:
        return 0.0
    if optim.l2_scale == "examples":
        return optim.l2 / num_train
    return optim.l2 / math.ceil(num_train / config.data.batch_size)


class Classifier(pl.LightningModule):
    def __init__(
        self,
        config: ExperimentConfig,
        input_shape: tuple[int, ...],
        num_train: int,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            {"config": config.model_dump(), "input_shape": input_shape, "num_train": num_train}
        )
        self.config = config
        self.net = build_network(config.model, input_shape, num_classes)
        self.loss_fn = get_loss(config.loss)
        self.l2 = l2_coefficient(config, num_train)
        self.automatic_optimization = False
        self.eval_acc = nn.ModuleDict(
            {s: MulticlassAccuracy(num_classes, average="micro") for s in ("val", "test")}
        )
        self.eval_loss = nn.ModuleDict({s: MeanMetric() for s in ("val", "test")})
        self.train_loss = MeanMetric()
        self.train_acc = MeanMetric()
        self.updates = 0
        self.diverged_at: int | None = None
        self.history: list[dict[str, Any]] = []

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def l2_penalty(self) -> Tensor:
        return 0.5 * self.l2 * sum(w.square().sum() for w in weight_parameters(self.net))

    def objective(self, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(cost to minimise, data cost alone): the L2 term is added only where it is on."""
        loss = self.loss_fn(z, y)
        return (loss + self.l2_penalty(), loss) if self.l2 else (loss, loss)

    def training_step(self, block: tuple[Tensor, Tensor], block_index: int) -> None:
        xs, ys = block
        optimizer = self.optimizers().optimizer
        loss_sum = torch.zeros((), device=xs.device)
        correct = torch.zeros((), device=xs.device)
        for x, y in zip(xs, ys, strict=True):
            z = self.net(x)
            cost, loss = self.objective(z, y)
            optimizer.zero_grad(set_to_none=True)
            cost.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += (z.detach().argmax(-1) == y).sum()
        self.updates += len(xs)
        self._count_optimizer_steps(len(xs))
        samples = ys.numel()
        if not torch.isfinite(loss_sum):
            self.diverged_at = self.updates
            self.trainer.should_stop = True
        self.train_loss.update(loss_sum / samples, weight=samples)
        self.train_acc.update(correct / samples, weight=samples)

    def _count_optimizer_steps(self, steps: int) -> None:
        """Advance Lightning's global_step by the updates of this block.

        The raw optimiser (stepped directly, to keep per-update overhead low) is invisible to
        Lightning's step counter, which checkpointing and loggers key on.
        """
        trainer = self._trainer
        loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
        if loop is not None:
            loop.manual_optimization.optim_step_progress.total.completed += steps

    def validation_step(
        self, batch: tuple[Tensor, Tensor], batch_index: int, dataloader_idx: int = 0
    ) -> None:
        x, y = batch
        split = self.trainer.datamodule.eval_split_names()[dataloader_idx]
        z = self.net(x)
        self.eval_loss[split].update(self.loss_fn(z, y), weight=len(y))
        self.eval_acc[split].update(z, y)

    def on_validation_epoch_end(self) -> None:
        row: dict[str, Any] = {"epoch": self.current_epoch + 1, "step": self.updates}
        row["train_loss"], row["train_acc"] = self._compute_train_metrics()
        for split in self.trainer.datamodule.eval_split_names():
            row[f"{split}_loss"] = self.eval_loss[split].compute().item()
            row[f"{split}_acc"] = self.eval_acc[split].compute().item()
            self.eval_loss[split].reset()
            self.eval_acc[split].reset()
        self.history.append(row)
        numeric = {k: v for k, v in row.items() if v is not None and k != "epoch"}
        self.log_dict({k: float(v) for k, v in numeric.items()}, logger=False)
        if self.logger is not None:
            self.logger.log_metrics({**numeric, "epoch": row["epoch"]}, step=self.updates)

    def _compute_train_metrics(self) -> tuple[float | None, float | None]:
        if self.train_loss.update_count == 0:
            return None, None
        loss, acc = self.train_loss.compute().item(), self.train_acc.compute().item()
        self.train_loss.reset()
        self.train_acc.reset()
        return loss, acc

    def on_train_epoch_end(self) -> None:
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()

    def configure_optimizers(self) -> Any:
        optim = self.config.optim
        if optim.name == "adam":
            optimizer = torch.optim.Adam(
                self.parameters(), lr=optim.lr, weight_decay=optim.weight_decay
            )
        else:
            optimizer = torch.optim.SGD(
                self.parameters(),
                lr=optim.lr,
                momentum=optim.momentum,
                weight_decay=optim.weight_decay,
            )
        if optim.schedule == "none":
            return optimizer
        if optim.schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(1, self.trainer.max_epochs)
            )
        else:
            scheduler = torch.optim.lr_scheduler.StepLR(
                optimizer, step_size=optim.step_every_epochs, gamma=optim.step_gamma
            )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def load_trained(checkpoint: str | Path, map_location: str = "cpu") -> Classifier:
    """A trained Classifier (eval mode) from a `best.ckpt` written by `train(checkpoint=True)`."""
    saved = torch.load(checkpoint, map_location=map_location, weights_only=False)
    hparams = saved["hyper_parameters"]
    config = ExperimentConfig.model_validate(hparams["config"])
    module = Classifier(config, tuple(hparams["input_shape"]), hparams["num_train"])
    module.load_state_dict(saved["state_dict"])
    return module.eval()
