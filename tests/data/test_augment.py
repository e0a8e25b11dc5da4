from __future__ import annotations

import pytest
import torch

from cnnablate.config import DataConfig
from cnnablate.data.augment import make_random_affine, make_train_transform, random_shift
from cnnablate.data.base import Split, TensorDataModule
from cnnablate.errors import UserError


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def image_candidates(x: torch.Tensor) -> torch.Tensor:
    """(5, n, C, H, W): unchanged, up, down, left, right, written out with slices."""
    out = torch.zeros((5, *x.shape), dtype=x.dtype)
    out[0] = x
    out[1, ..., :-1, :] = x[..., 1:, :]
    out[2, ..., 1:, :] = x[..., :-1, :]
    out[3, ..., :, :-1] = x[..., :, 1:]
    out[4, ..., :, 1:] = x[..., :, :-1]
    return out


def signal_candidates(x: torch.Tensor) -> torch.Tensor:
    out = torch.zeros((3, *x.shape), dtype=x.dtype)
    out[0] = x
    out[1, ..., :-1] = x[..., 1:]
    out[2, ..., 1:] = x[..., :-1]
    return out


def matching_choices(out: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """For each sample, the candidate index it equals; asserts exactly one matches."""
    equal = (candidates == out.unsqueeze(0)).flatten(2).all(dim=2)  # (k, n)
    assert torch.equal(equal.sum(dim=0), torch.ones(len(out), dtype=torch.long))
    return equal.float().argmax(dim=0)


def test_shift_gives_each_image_one_of_five_shifts() -> None:
    x = torch.rand(400, 2, 6, 7, generator=generator(1)) + 0.1  # no zeros: shifts all differ
    out = random_shift(x, generator(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    choices = matching_choices(out, image_candidates(x))
    assert torch.bincount(choices, minlength=5).min() > 40


def test_shift_of_signals_moves_left_or_right() -> None:
    x = torch.rand(300, 1, 40, generator=generator(1)) + 0.1
    out = random_shift(x, generator(0))
    choices = matching_choices(out, signal_candidates(x))
    assert torch.bincount(choices, minlength=3).min() > 40


def test_shift_is_reproducible_from_the_generator_seed() -> None:
    x = torch.rand(100, 1, 8, 8, generator=generator(1))
    assert torch.equal(random_shift(x, generator(5)), random_shift(x, generator(5)))
    assert not torch.equal(random_shift(x, generator(5)), random_shift(x, generator(6)))


def test_affine_transforms_each_sample_differently() -> None:
    affine = make_random_affine()
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 8:20, 10:18] = 1.0  # the same block in every sample
    out = affine(x, generator(0))
    assert out.shape == x.shape and out.device == x.device and out.dtype == x.dtype
    assert not torch.allclose(out, x, atol=1e-3)
    assert not torch.allclose(out[0], out[1], atol=1e-3)
    assert 0.8 < out.sum() / x.sum() < 1.25  # a mild warp, not an erasure
    assert torch.equal(out, affine(x, generator(0)))
    assert not torch.equal(out, affine(x, generator(1)))


def test_transform_names() -> None:
    assert make_train_transform("none", (1, 28, 28)) is None
    assert make_train_transform("shift", (1, 40)) is random_shift
    assert callable(make_train_transform("affine", (1, 28, 28)))
    with pytest.raises(UserError, match=r"affine.*needs images"):
        make_train_transform("affine", (1, 40))


class TinyImages(TensorDataModule):
    input_shape = (1, 4, 4)

    def load_splits(self) -> dict[str, Split]:
        x = torch.arange(1, 1 + 64 * 16, dtype=torch.float32).view(64, 1, 4, 4)
        y = torch.arange(64) % 10
        return {"train": Split(x, y), "test": Split(x, y)}


class TinySignals(TinyImages):
    input_shape = (1, 40)


def first_block(augment: str) -> torch.Tensor:
    config = DataConfig(augment=augment, batch_size=8, shuffle=False)
    module = TinyImages(config, steps_per_block=2)
    module.setup()
    return next(iter(module.train_dataloader()))[0]


def test_datamodule_applies_the_configured_augmentation() -> None:
    plain, shifted = first_block("none"), first_block("shift")
    assert plain.shape == shifted.shape == (2, 8, 1, 4, 4)
    assert not torch.equal(plain, shifted)
    choices = matching_choices(shifted.flatten(0, 1), image_candidates(plain.flatten(0, 1)))
    assert len(choices.unique()) > 1


def test_datamodule_rejects_affine_on_signals() -> None:
    module = TinySignals(DataConfig(augment="affine"))
    with pytest.raises(UserError, match="affine"):
        module.train_transform()
