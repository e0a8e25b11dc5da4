from torch import nn

from cnnablate.models import weight_parameters
from cnnablate.models.network import weight_names
from cnnablate.models.packed import PackedNetwork


def net_with_batch_norm() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)
    )


def test_lone_and_packed_networks_decay_the_same_weights():
    """Conv and linear weights only: not biases, not batch norm's scale (also named `weight`)."""
    lone = net_with_batch_norm()
    assert weight_names(lone) == {"0.weight", "4.weight"}
    assert [p.shape for p in weight_parameters(lone)] == [(4, 1, 3, 3), (10, 2704)]
    packed = PackedNetwork([net_with_batch_norm(), net_with_batch_norm()])
    assert [tuple(p.shape) for p in packed.weights()] == [(2, 4, 1, 3, 3), (2, 10, 2704)]


def test_a_bare_linear_layer_is_its_own_weight():
    assert weight_names(nn.Linear(3, 2)) == {"weight"}
