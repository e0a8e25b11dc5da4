"""The LightningDataModule that every data set of the suite is: tensors held on the device."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pytorch_lightning as pl
import torch
from torch import Tensor

from cnnablate.data.augment import make_train_transform
from cnnablate.data.batches import EvalBatches, TrainBlocks, Transform, to_float

if TYPE_CHECKING:
    from cnnablate.config import DataConfig


@dataclass
class Split:
    """Inputs `(n, channels, *spatial)` (uint8 images or float signals) and int64 labels `(n,)`."""

    x: Tensor
    y: Tensor

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"{len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> Split:
        return Split(self.x.to(device), self.y.to(device))


class TensorDataModule(pl.LightningDataModule):
    """Loads `train`, optional `val`, and `test` splits once and serves them from the device.

    Subclasses implement `load_splits`. The device is the trainer's root device when attached
    to a Trainer, else the CPU. The train loader yields blocks of mini-batches (`TrainBlocks`);
    `val_dataloader` yields the validation split (when there is one) then the test split, so that
    the test accuracy at the epoch of best validation accuracy can be recorded.
    """

    # A data set's facts, which the rest of the suite reads from the registry (`DATAMODULES`).
    name: ClassVar[str] = ""
    input_shape: ClassVar[tuple[int, ...]] = ()
    num_classes: ClassVar[int] = 10
    fixed_train_size: ClassVar[int | None] = None  # None: it depends on the config
    # A cheaper data set with the same test split (for evaluating a trained model), if any.
    test_stand_in: ClassVar[str | None] = None
    generated: ClassVar[bool] = False  # made on the fly: no files to fetch

    @classmethod
    def train_size(cls, config: DataConfig) -> int:
        """Training samples per epoch under `config`, without loading anything."""
        if cls.fixed_train_size is None:
            raise NotImplementedError(f"{cls.__name__} must define fixed_train_size or train_size")
        return cls.fixed_train_size

    @classmethod
    def prepare_files(
        cls, data_dir: Path, local_dir: Path | None = None, log: Callable[[str], None] = print
    ) -> Path:
        """Fetch and verify the data set's files under `data_dir` (from `local_dir` first, when
        given); the folder holding them."""
        raise NotImplementedError(f"{cls.__name__}: say how its files are fetched")

    def __init__(
        self,
        config: DataConfig,
        seed: int = 0,
        data_dir: Path | None = None,
        steps_per_block: int = 1,
        max_updates: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.seed = seed
        self.data_dir = data_dir
        self.steps_per_block = steps_per_block
        self.max_updates = max_updates
        self.splits: dict[str, Split] = {}
        self._train_blocks: TrainBlocks | None = None
        self._position: dict[str, int] = {"epoch": 0, "updates_issued": 0}

    def load_splits(self) -> dict[str, Split]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Load the splits now (on the CPU); a missing data set fails here, before training."""
        if not self.splits:
            self.splits = self.load_splits()

    def setup(self, stage: str | None = None) -> None:
        self.prepare()
        device = self.device
        if self.splits["train"].x.device != device:
            self.splits = {name: split.to(device) for name, split in self.splits.items()}

    @property
    def device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    @property
    def has_val(self) -> bool:
        self.prepare()
        return "val" in self.splits

    @property
    def num_train(self) -> int:
        self.prepare()
        return len(self.splits["train"])

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.num_train // self.config.batch_size)

    def train_transform(self) -> Transform | None:
        """Augmentation applied on the device to each training block (`config.augment`)."""
        return make_train_transform(self.config.augment, self.input_shape)

    def train_dataloader(self) -> TrainBlocks:
        if self._train_blocks is None:
            train = self.splits["train"]
            self._train_blocks = TrainBlocks(
                train.x,
                train.y,
                batch_size=self.config.batch_size,
                steps_per_block=self.steps_per_block,
                shuffle=self.config.shuffle,
                seed=self.seed,
                max_updates=self.max_updates,
                transform=self.train_transform(),
            )
            self._train_blocks.epoch = self._position["epoch"]
            self._train_blocks.updates_issued = self._position["updates_issued"]
        return self._train_blocks

    def state_dict(self) -> dict[str, int]:
        """Where the training data stands: the next epoch's order and the updates handed out
        (saved in Lightning's checkpoints, so that a resumed run sees the same batches)."""
        blocks = self._train_blocks
        if blocks is None:
            return dict(self._position)
        return {"epoch": blocks.epoch, "updates_issued": blocks.updates_issued}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._position = {key: int(state[key]) for key in ("epoch", "updates_issued")}
        if self._train_blocks is not None:
            self._train_blocks.epoch = self._position["epoch"]
            self._train_blocks.updates_issued = self._position["updates_issued"]

    def eval_batches(self, split: str) -> EvalBatches:
        data = self.splits[split]
        return EvalBatches(data.x, data.y, self.config.eval_batch_size)

    def train_eval_batches(self) -> EvalBatches:
        """The training split in fixed order, for the final train accuracy."""
        train = self.splits["train"]
        return EvalBatches(train.x, train.y, 10_000)

    def sample_batch(self) -> tuple[Tensor, Tensor]:
        """The first training mini-batch, as floats (what FLOPs are counted on)."""
        train, batch = self.splits["train"], self.config.batch_size
        return to_float(train.x[:batch]), train.y[:batch]

    def eval_split_names(self) -> list[str]:
        return [name for name in ("val", "test") if name in self.splits]

    def val_dataloader(self) -> list[EvalBatches]:
        return [self.eval_batches(name) for name in self.eval_split_names()]

    def test_dataloader(self) -> EvalBatches:
        return self.eval_batches("test")
