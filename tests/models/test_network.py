import math

import pytest
import torch
from torch import nn

from cnnablate.config import ModelConfig
from cnnablate.models import build_network, count_params, weight_parameters
from cnnablate.models.layers import NielsenDropout


def model(**fields) -> ModelConfig:
    return ModelConfig.model_validate(fields)


def test_mlp_shapes_and_count():
    net = build_network(model(hidden=[30]), (1, 28, 28))
    assert net(torch.zeros(4, 1, 28, 28)).shape == (4, 10)
    assert count_params(net) == 784 * 30 + 30 + 30 * 10 + 10


@pytest.mark.parametrize(
    ("conv", "shape", "expected"),
    [
        # C_i * C_o * K^d weights + C_o biases per conv layer (claim 8)
        ([{"channels": 20, "kernel": 5}], (1, 28, 28), 1 * 20 * 25 + 20),
        ([{"channels": 15, "kernel": 3, "stride": 2}], (1, 40), 1 * 15 * 3 + 15),
        (
            [{"channels": 4, "kernel": 3}, {"channels": 6, "kernel": 1}],
            (3, 9, 9),
            (3 * 4 * 9 + 4) + (4 * 6 * 1 + 6),
        ),
    ],
)
def test_conv_parameter_count_formula(conv, shape, expected):
    net = build_network(model(conv=conv), shape)
    conv_params = sum(
        p.numel()
        for m in net.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d)
        for p in m.parameters()
    )
    assert conv_params == expected


def test_pool_stride_dilation_and_same_padding_shapes():
    conv = [
        {"channels": 3, "kernel": 3, "padding": "same"},
        {"channels": 3, "kernel": 3, "dilation": 2},
        {"channels": 3, "kernel": 1, "pool": "mean", "pool_size": 3, "pool_stride": 1},
    ]
    net = build_network(model(conv=conv), (1, 12))
    features = net[0](torch.zeros(1, 1, 12))
    assert features.shape == (1, 3, 12 - 4 - 2)


def test_activation_before_or_after_pooling():
    after = build_network(
        model(conv=[{"channels": 2, "kernel": 3, "pool": "mean", "activation_after_pool": True}]),
        (1, 8),
    )[0][0]
    before = build_network(
        model(conv=[{"channels": 2, "kernel": 3, "pool": "mean", "activation_after_pool": False}]),
        (1, 8),
    )[0][0]
    assert [type(m).__name__ for m in after] == ["Conv1d", "AvgPool1d", "ReLU"]
    assert [type(m).__name__ for m in before] == ["Conv1d", "ReLU", "AvgPool1d"]


def test_dropout_sits_on_the_inputs_of_fully_connected_layers():
    net = build_network(model(hidden=[5, 5], dropout=0.5, dropout_style="nielsen"), (1, 4))
    kinds = [type(m).__name__ for m in net[2]]
    assert kinds == ["NielsenDropout", "Linear", "ReLU"] * 2 + ["NielsenDropout", "Linear"]


def test_nielsen_dropout_scales_at_evaluation_not_training():
    layer = NielsenDropout(0.5)
    x = torch.ones(10_000)
    kept = layer.train()(x)
    assert set(kept.unique().tolist()) == {0.0, 1.0}
    assert kept.mean().item() == pytest.approx(0.5, abs=0.03)
    assert torch.equal(layer.eval()(x), torch.full_like(x, 0.5))


def test_nielsen_init_statistics():
    torch.manual_seed(0)
    net = build_network(
        model(conv=[{"channels": 20, "kernel": 5, "pool": "max"}], hidden=[100], init="nielsen"),
        (1, 28, 28),
    )
    conv, fc, out = net[0][0].conv, net[2][0], net[2][-1]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(1 / (20 * 25 / 4)), rel=0.1)
    assert fc.weight.std().item() == pytest.approx(math.sqrt(1 / 100), rel=0.05)
    assert fc.bias.std().item() == pytest.approx(1.0, rel=0.3)
    assert out.weight.abs().max().item() == 0 and out.bias.abs().max().item() == 0


def test_kaiming_init_has_zero_biases_and_he_scale():
    torch.manual_seed(0)
    net = build_network(model(hidden=[400], init="kaiming"), (1, 400))
    fc = net[2][0]
    assert fc.bias.abs().max().item() == 0
    # He-uniform: U(-b, b) with b = sqrt(6 / fan_in); std = sqrt(2 / fan_in)
    assert fc.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.05)


def test_weight_parameters_exclude_biases():
    net = build_network(model(conv=[{"channels": 2, "kernel": 3}], hidden=[4]), (1, 10))
    weights = weight_parameters(net)
    assert len(weights) == 3 and all(w.dim() > 1 for w in weights)


def test_conv_that_shrinks_input_away_is_rejected():
    with pytest.raises((ValueError, RuntimeError)):
        build_network(model(conv=[{"channels": 2, "kernel": 50}]), (1, 40))
