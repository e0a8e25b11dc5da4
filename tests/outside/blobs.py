"""A user's LightningDataModule, written outside cnnablate: three Gaussian blobs as 1-D signals
of 2 channels x 8 (train, val, test), with plain DataLoaders over TensorDatasets."""

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class Blobs(pl.LightningDataModule):
    def __init__(self, n=300, classes=3, batch_size=25, with_val=True):
        super().__init__()
        self.n, self.classes, self.batch_size, self.with_val = n, classes, batch_size, with_val

    def setup(self, stage=None):
        generator = torch.Generator().manual_seed(0)
        y = torch.arange(self.n) % self.classes
        centres = torch.randn(self.classes, 2, 8, generator=generator) * 2
        x = centres[y] + torch.randn(self.n, 2, 8, generator=generator)
        cut = [int(self.n * 0.6), int(self.n * 0.8)]
        self.train_set = TensorDataset(x[: cut[0]], y[: cut[0]])
        self.val_set = TensorDataset(x[cut[0] : cut[1]], y[cut[0] : cut[1]])
        self.test_set = TensorDataset(x[cut[1] :], y[cut[1] :])

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=100) if self.with_val else []

    def test_dataloader(self):
        return DataLoader(self.test_set, batch_size=100)


class NoTest(Blobs):
    test_dataloader = pl.LightningDataModule.test_dataloader


class BrokenSetup(Blobs):
    def setup(self, stage=None):
        raise OSError("disk not found")


class NotADataModule:
    def __init__(self, **kwargs):
        pass
