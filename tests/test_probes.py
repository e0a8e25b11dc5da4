"""The lecture's claims 6 and 7 on untrained layers: equivariance, invariance, receptive fields."""

import torch
from torch import nn

from cnnablate.probes import equivariance_error, receptive_field, shift, shift_change


def test_shift_moves_with_zero_fill():
    x = torch.arange(1.0, 6.0)
    assert shift(x, 1).tolist() == [0, 1, 2, 3, 4]
    assert shift(x, -2).tolist() == [3, 4, 5, 0, 0]


def test_convolution_is_translation_equivariant_away_from_borders():
    torch.manual_seed(0)
    for conv, x in [
        (nn.Conv1d(1, 4, 5), torch.randn(3, 1, 64)),
        (nn.Conv2d(1, 4, 5), torch.randn(3, 1, 32, 32)),
    ]:
        assert equivariance_error(conv, x, by=1) < 1e-5
        assert equivariance_error(conv, x, by=3) < 1e-5


def test_a_fully_connected_layer_is_not_equivariant():
    torch.manual_seed(0)
    dense = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.Unflatten(1, (1, 64)))
    assert equivariance_error(dense, torch.randn(3, 1, 64), by=1) > 1e-2


def test_max_pooling_is_partially_invariant_to_one_pixel_shifts():
    torch.manual_seed(0)
    # Sparse, peaky inputs (like strokes): a one-pixel move mostly stays inside a 2x2 window.
    x = (torch.rand(16, 1, 28, 28) > 0.97).float()
    x = nn.functional.max_pool2d(x, 3, 1, 1)  # blobs of 3x3
    pooled = shift_change(nn.MaxPool2d(2), x, by=1)
    raw = shift_change(nn.Identity(), x, by=1)
    strided = shift_change(nn.Conv2d(1, 1, 2, 2, bias=False).requires_grad_(False), x, by=1)
    assert pooled < raw
    assert pooled < strided


def test_receptive_fields_of_the_lecture_stack_are_3_5_7():
    # UDL fig. 10.6: kernel 3, kernel 3, then kernel 3 with stride 2.
    layers = [nn.Conv1d(1, 3, 3), nn.ReLU(), nn.Conv1d(3, 3, 3), nn.ReLU(), nn.Conv1d(3, 3, 3, 2)]
    sizes = [receptive_field(nn.Sequential(*layers[:n]), (1, 40), 5) for n in (1, 3, 5)]
    assert sizes == [3, 5, 7]
    # A fourth kernel-3 layer after the stride-2 one doubles the growth: 7 + 2*2 = 11.
    deeper = nn.Sequential(*layers, nn.ReLU(), nn.Conv1d(3, 3, 3))
    assert receptive_field(deeper, (1, 40), 3) == 11


def test_receptive_field_of_udl_cnn_covers_most_of_the_input():
    layers = []
    for c_in in (1, 15, 15):
        layers += [nn.Conv1d(c_in, 15, 3, 2), nn.ReLU()]
    assert receptive_field(nn.Sequential(*layers), (1, 40), 1) == 15
