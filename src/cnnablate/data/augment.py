"""Training-time augmentation of whole blocks of samples on the device, drawn from a generator."""

from __future__ import annotations

import torch
from torch import Tensor

from cnnablate.data.batches import Transform
from cnnablate.errors import UserError

# (dy, dx) choices of "shift": none, up, down, left, right; signals shift left or right only.
IMAGE_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
SIGNAL_SHIFTS = ((0, 0), (0, -1), (0, 1))
AFFINE_DEGREES = 10.0
AFFINE_TRANSLATE = 0.1
AFFINE_SCALE = (0.9, 1.1)


def _overlap(shift: int, size: int) -> tuple[slice, slice]:
    """Target and source slices along one axis for a shift by `shift` (positive: forward)."""
    shift = max(-size, min(size, shift))
    if shift >= 0:
        return slice(shift, size), slice(0, size - shift)
    return slice(0, size + shift), slice(-shift, size)


def shift_images(x: Tensor, dy: int, dx: int) -> Tensor:
    """Move the content of `(..., H, W)` images down by `dy` and right by `dx` pixels, zero fill."""
    height, width = x.shape[-2:]
    rows_to, rows_from = _overlap(dy, height)
    cols_to, cols_from = _overlap(dx, width)
    shifted = torch.zeros_like(x)
    shifted[..., rows_to, cols_to] = x[..., rows_from, cols_from]
    return shifted


def random_shift(x: Tensor, generator: torch.Generator) -> Tensor:
    """Shift each sample of `(n, C, H, W)` or `(n, C, L)` by one draw of the shift choices."""
    shifts = IMAGE_SHIFTS if x.dim() == 4 else SIGNAL_SHIFTS
    choice = torch.randint(len(shifts), (len(x),), generator=generator, device=x.device)
    choice = choice.view(-1, *([1] * (x.dim() - 1)))
    # A 1-D signal is an image of height 1 for shift_images.
    images = x if x.dim() == 4 else x.unsqueeze(-2)
    out = x
    for index, (dy, dx) in enumerate(shifts[1:], start=1):
        shifted = shift_images(images, dy, dx).view_as(x)
        out = torch.where(choice == index, shifted, out)
    return out


def _uniform(
    n: int, low: float, high: float, generator: torch.Generator, device: torch.device
) -> Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


def _affine_params(x: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
    """RandomAffine's parameters, drawn from `generator` so that runs are reproducible."""
    n, device = len(x), x.device
    height, width = x.shape[-2:]
    translate = AFFINE_TRANSLATE
    shift_x = _uniform(n, -translate * width, translate * width, generator, device)
    shift_y = _uniform(n, -translate * height, translate * height, generator, device)
    scale = _uniform(n, *AFFINE_SCALE, generator, device)
    center = torch.tensor([(width - 1) / 2, (height - 1) / 2], device=device)
    return {
        "translations": torch.stack([shift_x, shift_y], dim=1),
        "center": center.repeat(n, 1),
        "scale": torch.stack([scale, scale], dim=1),
        "angle": _uniform(n, -AFFINE_DEGREES, AFFINE_DEGREES, generator, device),
        "shear_x": torch.zeros(n, device=device),
        "shear_y": torch.zeros(n, device=device),
        "batch_prob": torch.ones(n, device=device),
        "forward_input_shape": torch.tensor(x.shape),
    }


def make_random_affine() -> Transform:
    """Rotation ±10°, translation ±10%, scale 0.9–1.1 per sample, with kornia's RandomAffine."""
    try:
        from kornia.augmentation import RandomAffine
    except ImportError:
        raise UserError("augment 'affine' needs kornia: pip install kornia") from None
    affine = RandomAffine(
        AFFINE_DEGREES, translate=(AFFINE_TRANSLATE,) * 2, scale=AFFINE_SCALE, p=1.0
    )

    def random_affine(x: Tensor, generator: torch.Generator) -> Tensor:
        return affine(x, params=_affine_params(x, generator))

    return random_affine


def make_train_transform(augment: str, input_shape: tuple[int, ...]) -> Transform | None:
    """The transform for `DataConfig.augment` on inputs of shape `input_shape` (no batch axis)."""
    if augment == "none":
        return None
    if augment == "shift":
        return random_shift
    if augment == "affine":
        if len(input_shape) != 3:
            raise UserError(
                f"augment 'affine' needs images (channels, height, width); this data set's "
                f"inputs have shape {input_shape}: use augment 'shift' or 'none'"
            )
        return make_random_affine()
    raise UserError(f"unknown augment {augment!r}; allowed: none, shift, affine")
