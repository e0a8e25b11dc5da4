"""The one LightningModule: any network of the suite, any of the lecture's costs and optimisers.

Training uses manual optimisation over blocks of mini-batches (see `data.batches.TrainBlocks`):
each block is one Lightning step but still one SGD update per mini-batch, in the data's order,
so Lightning's per-step overhead is paid once per block rather than once per update. On CUDA
the block's updates are captured once as a CUDA graph and replayed (`graphed.GraphedBlocks`).

With several seeds the module trains that many independent copies of the network at once
(`models.PackedNetwork`): each copy's initialisation and data order are those of its seed; its
dropout masks (one shared stream, different per copy) and augmentation (the first seed's stream)
are not. Metrics, history and divergence are kept per seed. The copies may be configs of one pack
key, each with its own loss, optimiser settings, schedule and dropout rate (`copy_settings.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from cnnablate.config import ExperimentConfig
from cnnablate.copy_settings import CopySettings
from cnnablate.divergence import DivergenceWatch
from cnnablate.graphed import GraphedBlocks
from cnnablate.losses import get_loss
from cnnablate.metrics import EvalTotals
from cnnablate.models import build_network, weight_parameters
from cnnablate.models.copy_dropout import per_copy_dropout
from cnnablate.models.grouped import pack_networks
from cnnablate.optimisers import build_optimiser, l2_coefficient

EVAL_SPLITS = ("val", "test", "train")


class Classifier(pl.LightningModule):
    def __init__(
        self,
        config: ExperimentConfig | dict[str, Any],
        input_shape: tuple[int, ...],
        num_train: int,
        num_classes: int = 10,
        seeds: list[int] | None = None,
        copy_configs: list[ExperimentConfig] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(config, ExperimentConfig):  # as `load_from_checkpoint` passes it
            config = ExperimentConfig.model_validate(config)
        input_shape = tuple(input_shape)
        self.save_hyperparameters(
            {
                "config": config.model_dump(),
                "input_shape": input_shape,
                "num_train": num_train,
                "num_classes": num_classes,
            }
        )
        self.input_shape = input_shape
        self.config = config
        self.packed = seeds is not None and len(seeds) > 1
        self.copies = len(seeds) if self.packed else 1
        self.copy_configs = list(copy_configs or [config] * self.copies)
        self.copy_settings = CopySettings(self.copy_configs, num_train) if self.packed else None
        self.net = self._build(input_shape, num_classes, seeds)
        self.loss_fns = [get_loss(c.loss) for c in self.copy_configs]
        self.loss_fn = self.loss_fns[0]
        self.l2 = l2_coefficient(config, num_train)
        self.automatic_optimization = False
        copies = range(self.copies)
        # Evaluation totals per split and copy (`EvalTotals`: no state in checkpoints), keyed
        # `split_<name>` ('train' is a Module method, no ModuleDict key).
        self.eval_totals = nn.ModuleDict(
            {f"split_{split}": nn.ModuleList(EvalTotals() for _ in copies) for split in EVAL_SPLITS}
        )
        # The split of each evaluation loader, where the caller sets it (`evaluation.evaluate`);
        # else the datamodule's (val if any, then test), else 'val' (validate) or 'test' (test).
        self.eval_split_names: list[str] | None = None
        # Each copy's metrics of the last `trainer.validate` / `trainer.test`, by split:
        # `[{f"{split}_loss": ..., f"{split}_acc": ...}, ...]`.
        self.last_eval: list[dict[str, float]] = [{} for _ in copies]
        # "disable": no NaN check, which would read the device every block (a diverged copy's
        # epoch mean is NaN, as its loss is).
        self.train_loss = nn.ModuleList(MeanMetric(nan_strategy="disable") for _ in copies)
        self.train_acc = nn.ModuleList(MeanMetric(nan_strategy="disable") for _ in copies)
        self.updates = 0
        self.watch = DivergenceWatch(self.copies)
        self.histories: list[list[dict[str, Any]]] = [[] for _ in copies]
        self._graphed: GraphedBlocks | None = None
        self._resumed_rng: dict[str, Any] | None = None

    def _build(self, input_shape: tuple[int, ...], num_classes: int, seeds: list[int] | None):
        if not self.packed:
            return build_network(self.config.model, input_shape, num_classes)
        nets = []
        for seed, config in zip(seeds, self.copy_configs, strict=True):
            torch.manual_seed(seed)  # each copy initialised as a run with that seed alone would be
            nets.append(build_network(config.model, input_shape, num_classes))
        return pack_networks(per_copy_dropout(nets), self.config.train.packed_layers)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.histories[0]

    @property
    def diverged(self) -> list[int | None]:
        """Per copy, the update at the end of the block whose loss was first not finite."""
        return self.watch.diverged

    @diverged.setter
    def diverged(self, steps: list[int | None]) -> None:
        self.watch.diverged = list(steps)

    @property
    def diverged_at(self) -> int | None:
        return self.diverged[0]

    def forward(self, x: Tensor) -> Tensor:
        """Logits `(batch, classes)`, or `(copies, batch, classes)` for a packed module."""
        return self.net(x, shared=True) if self.packed else self.net(x)

    def per_copy(self, z: Tensor) -> Tensor:
        return z if self.packed else z.unsqueeze(0)

    def l2_penalty(self) -> Tensor:
        """Nielsen's L2 term (a pack's: each copy's at its coefficient). Training applies its
        gradient in the optimiser instead."""
        if self.packed:
            return self.copy_settings.l2_penalty(self.net.weights())
        return 0.5 * self.l2 * sum(w.square().sum() for w in weight_parameters(self.net))

    def copy_losses(self, z: Tensor, y: Tensor) -> Tensor:
        """The data cost of each copy, shape `(copies,)`."""
        if self.packed:
            return self.copy_settings.losses(z, y)
        return self.loss_fn(z, y).unsqueeze(0)

    def block_updates(self, xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        """One SGD update per mini-batch of the block, in order. Returns the per-update losses
        `(steps, copies)` and logits `(steps, copies, batch, classes)`."""
        optimizer = self.optimizers().optimizer
        losses, logits = [], []
        for i in range(ys.shape[1]):
            # Nielsen's L2 is not in this cost: the optimiser applies its gradient (weight decay
            # on the weights only, `configure_optimizers`), which is cheaper per update.
            z = self.net(xs[:, i] if self.packed else xs[0, i])
            copy_losses = self.copy_losses(z, ys[:, i] if self.packed else ys[0, i])
            optimizer.zero_grad(set_to_none=True)
            copy_losses.sum().backward()
            optimizer.step()
            losses.append(copy_losses.detach())
            logits.append(self.per_copy(z.detach()))
        return torch.stack(losses), torch.stack(logits)

    @property
    def update_path(self) -> str:
        """How the updates ran: 'cuda-graph' (captured and replayed) or 'eager'."""
        return "eager" if self._graphed is None else self._graphed.path

    @property
    def update_fallback(self) -> str | None:
        return None if self._graphed is None else self._graphed.fallback

    def training_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> None:
        """One SGD update per mini-batch: a plain `(x, y)` batch from any DataLoader is one
        update; a block `(k, batch, ...)` from `TensorDataModule` is k of them, in order."""
        if not self.packed and batch[0].dim() == len(self.input_shape) + 1:
            self._plain_update(*batch)
        else:
            self._block_update(*batch)

    def _plain_update(self, x: Tensor, y: Tensor) -> None:
        """The usual manual-optimisation step: Lightning's optimizer wrapper, `manual_backward`
        (so precision and strategy plugins apply), Lightning counting the step."""
        optimizer = self.optimizers()
        z = self.net(x)
        loss = self.loss_fn(z, y)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        self.updates += 1
        self._record_block(
            loss.detach().view(1, 1), z.detach().view(1, 1, *z.shape), y.view(1, 1, -1)
        )

    def _block_update(self, xs: Tensor, ys: Tensor) -> None:
        if not self.packed:
            xs, ys = xs.unsqueeze(0), ys.unsqueeze(0)
        if self._graphed is None:
            enabled = self.config.train.cuda_graph
            self._graphed = GraphedBlocks(self.block_updates, self.optimizers().optimizer, enabled)
        losses, logits = self._graphed(xs, ys)
        self.updates += ys.shape[1]
        self._count_optimizer_steps(ys.shape[1])
        self._record_block(losses, logits, ys.transpose(0, 1))

    def _record_block(self, losses: Tensor, logits: Tensor, ys: Tensor) -> None:
        """Statistics once per block, not per update: losses `(steps, copies)`, logits
        `(steps, copies, batch, classes)`, labels `(steps, copies, batch)`."""
        steps, batch = ys.shape[0], ys.shape[2]
        loss_sum = losses.sum(0) * batch
        correct = (logits.argmax(-1) == ys).sum((0, 2))
        self._check_divergence(loss_sum)
        samples = steps * batch
        for copy in range(self.copies):
            self.train_loss[copy].update(loss_sum[copy] / samples, weight=samples)
            self.train_acc[copy].update(correct[copy] / samples, weight=samples)

    def _check_divergence(self, loss_sum: Tensor | None, wait: bool = False) -> None:
        """Record the step at which each copy's loss became NaN/inf; stop when all have (on a
        GPU the flags are read when they have landed: divergence.py)."""
        if loss_sum is not None:
            self.watch.note(torch.isfinite(loss_sum), self.updates)
        self.watch.read(wait)
        if self.watch.all_diverged:
            self.trainer.should_stop = True

    def _count_optimizer_steps(self, steps: int) -> None:
        """Advance Lightning's global_step by the updates of this block.

        A block steps the raw optimiser directly (or replays its captured graph), not Lightning's
        wrapper, so that an update costs no Lightning overhead; the wrapper is what advances
        global_step, which checkpoints and loggers key on. So the count is added here, to the
        manual-optimisation loop's step progress, a private attribute
        (`trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress`), checked against
        pytorch_lightning 2.6.6. This is the one place the package touches Lightning's loops.
        Without a fitting trainer (a module stepped by hand) there is nothing to count.
        """
        trainer = self._trainer
        loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
        if loop is not None:
            loop.manual_optimization.optim_step_progress.total.completed += steps

    def validation_step(
        self, batch: tuple[Tensor, Tensor], batch_index: int, dataloader_idx: int = 0
    ) -> None:
        self._update_eval(self._eval_splits()[dataloader_idx], *batch)

    def test_step(
        self, batch: tuple[Tensor, Tensor], batch_index: int, dataloader_idx: int = 0
    ) -> None:
        self._update_eval(self._eval_splits("test")[dataloader_idx], *batch)

    def on_test_epoch_end(self) -> None:
        self.last_eval = [self._eval_metrics(copy, "test") for copy in range(self.copies)]
        for copy, metrics in enumerate(self.last_eval):
            suffix = "" if copy == 0 else f"_{copy}"
            self.log_dict({f"{key}{suffix}": value for key, value in metrics.items()})

    def _eval_splits(self, default: str = "val") -> list[str]:
        """The split of each evaluation loader: as set in `eval_split_names`, else ours (the val
        split if any, then test); any other loader is `default`."""
        if self.eval_split_names is not None:
            return self.eval_split_names
        if default == "test":
            return ["test"]
        datamodule = getattr(self.trainer, "datamodule", None)
        names = getattr(datamodule, "eval_split_names", None)
        return names() if names is not None else [default]

    def _update_eval(self, split: str, x: Tensor, y: Tensor) -> None:
        z = self.per_copy(self(x))
        for copy, loss_fn in enumerate(self.loss_fns):
            self.eval_totals[f"split_{split}"][copy].update(loss_fn(z[copy], y), z[copy], y)

    def _eval_metrics(self, copy: int, default: str = "val") -> dict[str, float]:
        """Loss and accuracy of `copy` on each evaluated split; its totals reset."""
        metrics: dict[str, float] = {}
        for split in dict.fromkeys(self._eval_splits(default)):
            totals = self.eval_totals[f"split_{split}"][copy]
            metrics[f"{split}_loss"], metrics[f"{split}_acc"] = totals.compute()
            totals.reset()
        return metrics

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            for copy in range(self.copies):
                self._eval_metrics(copy)
            return
        if self.trainer.state.fn != "fit":  # a `trainer.validate` is no epoch of training
            self.last_eval = [self._eval_metrics(copy) for copy in range(self.copies)]
            self.log_dict(self.last_eval[0])  # what `validate` returns, as Lightning does
            return
        rows = [self._epoch_row(copy) for copy in range(self.copies)]
        for history, copy_row in zip(self.histories, rows, strict=True):
            history.append(copy_row)
        row = rows[0]
        numeric = {k: v for k, v in row.items() if v is not None and k != "epoch"}
        # The logger gets the row at the update count, not at Lightning's step.
        self.log_dict({k: float(v) for k, v in numeric.items()}, logger=False)
        if self.logger is not None:
            self.logger.log_metrics({**numeric, "epoch": row["epoch"]}, step=self.updates)

    def _epoch_row(self, copy: int) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": self.current_epoch + 1, "step": self.updates}
        row["train_loss"], row["train_acc"] = self._compute_train_metrics(copy)
        row.update(self._eval_metrics(copy))
        return row

    def _compute_train_metrics(self, copy: int) -> tuple[float | None, float | None]:
        loss, acc = self.train_loss[copy], self.train_acc[copy]
        if loss.update_count == 0:
            return None, None
        values = loss.compute().item(), acc.compute().item()
        loss.reset()
        acc.reset()
        return values

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """What Lightning's checkpoint lacks for an exact resume: the update counter, the
        history and divergence of every copy, and the random streams (dropout, augmentation)."""
        checkpoint["cnnablate"] = {
            "updates": self.updates,
            "histories": self.histories,
            "diverged": self.diverged,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("cnnablate")
        if state is None:
            return
        self.updates = state["updates"]
        self.histories = state["histories"]
        self.diverged = state["diverged"]
        self._resumed_rng = {"cpu": state["rng_cpu"], "cuda": state["rng_cuda"]}

    def on_train_start(self) -> None:
        # The random streams are set last, after everything that restoring and setup draw.
        if self._resumed_rng is None:
            return
        torch.set_rng_state(self._resumed_rng["cpu"])
        if self._resumed_rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self._resumed_rng["cuda"])
        self._resumed_rng = None

    def on_train_epoch_start(self) -> None:
        if self.packed:  # copies with optimiser settings of their own: their schedules
            optimizer = self.optimizers().optimizer
            self.copy_settings.start_epoch(optimizer, self.current_epoch, self.trainer.max_epochs)

    def on_train_epoch_end(self) -> None:
        self._check_divergence(None, wait=True)  # every block's flags read by the epoch's end
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Weights decay by Nielsen's L2 coefficient plus any plain weight decay; biases (and
        normalisation layers' parameters) by the plain weight decay alone. SGD and Adam add
        `decay * w` to the gradient, which is exactly the gradient of the penalty
        `0.5 * l2 * sum(w^2)` (`l2_penalty`); see `optimisers.py` for others."""
        weights = self.net.weights() if self.packed else weight_parameters(self.net)
        weight_ids = {id(w) for w in weights}
        others = [p for p in self.parameters() if id(p) not in weight_ids]
        decay = self.config.optim.weight_decay
        return [
            {"params": weights, "weight_decay": decay + self.l2},
            {"params": others, "weight_decay": decay},
        ]

    def configure_optimizers(self) -> Any:
        optim = self.config.optim
        if self.packed and self.copy_settings.own_optimiser:  # hyperparameters of their own
            return self.copy_settings.optimiser(*(g["params"] for g in self.parameter_groups()))
        capturable = self.config.train.cuda_graph and self.device.type == "cuda"
        optimizer = build_optimiser(self.parameter_groups(), optim, capturable)
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
    """A trained Classifier (eval mode) from a `best.ckpt` written by a run with
    `TrainOptions(checkpoint=True)`.

    Also reads the files of earlier versions that `load_from_checkpoint` cannot: a packed seed's
    weights and hyper-parameters alone, without Lightning's version and the rest.
    """
    saved = torch.load(checkpoint, map_location=map_location, weights_only=False)
    hparams = saved["hyper_parameters"]
    config = ExperimentConfig.model_validate(hparams["config"])
    module = Classifier(
        config, tuple(hparams["input_shape"]), hparams["num_train"], hparams.get("num_classes", 10)
    )
    module.load_state_dict(saved["state_dict"])
    return module.eval()
