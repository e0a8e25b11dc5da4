"""`mnist1d-noisy`: MNIST-1D generated as cnnablate generates it, with NOISE_FACTOR times the
config's noise (`data.iid_noise`, `data.corr_noise`): by default 0.04 and 0.5 instead of 0.02
and 0.25. Generated, no download; the rest (splits, `data.val_size`, sizes) is MNIST-1D's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnablate.data.mnist1d import MNIST1DDataModule

if TYPE_CHECKING:
    from cnnablate.config import DataConfig

NOISE_FACTOR = 2.0


def noisier(config: DataConfig) -> DataConfig:
    return config.model_copy(
        update={
            "iid_noise": NOISE_FACTOR * config.iid_noise,
            "corr_noise": NOISE_FACTOR * config.corr_noise,
        }
    )


class NoisyMNIST1DDataModule(MNIST1DDataModule):
    name = "mnist1d-noisy"

    def __init__(self, config: DataConfig, *args, **kwargs) -> None:
        super().__init__(noisier(config), *args, **kwargs)
