"""Probes on the lecture's own networks, untrained: receptive fields and parameter counts do
not depend on the weights, and equivariance holds for any kernel."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnablate.config import ConvLayerConfig, ModelConfig
from cnnablate.models import build_network
from cnnablate.presets import get_preset
from cnnablate.report import figures
from cnnablate.report.probing import (
    conv_blocks,
    conv_parameter_counts,
    equivariance,
    receptive_fields,
    shift_invariance,
)


def network(preset: str) -> tuple[nn.Module, tuple[int, ...]]:
    config = get_preset(preset).config
    shape = (1, 40) if config.data.name == "mnist1d" else (1, 28, 28)
    return build_network(config.model, shape), shape


def test_lecture_example_kernel_3_gives_3_5_7():
    layers = [ConvLayerConfig(channels=2, kernel=3)] * 3
    net = build_network(ModelConfig(conv=layers, activation="sigmoid"), (1, 40))
    rows = receptive_fields(net, (1, 40))
    assert [r["measured"] for r in rows] == [r["formula"] for r in rows] == [3, 5, 7]


def test_udl_cnn_receptive_fields_double_with_each_stride_2_layer():
    net, shape = network("udl-cnn")
    assert [r["measured"] for r in receptive_fields(net, shape)] == [3, 7, 15]


def test_max_pooled_sigmoid_stack_is_measured_like_the_formula():
    # Sigmoid saturates and max pooling routes gradients to one input: the probe linearises.
    net, shape = network("nielsen-conv2")
    rows = receptive_fields(net, shape)
    assert [r["formula"] for r in rows] == [6, 16]
    assert [r["measured"] for r in rows] == [6, 16]


def test_parameter_formula_against_nielsen_conv2():
    net, _ = network("nielsen-conv2")
    rows = conv_parameter_counts(net)
    assert [r["formula"] for r in rows] == [1 * 20 * 25 + 20, 20 * 40 * 25 + 40]
    assert [r["actual"] for r in rows] == [r["formula"] for r in rows]


def test_image_probes_and_figures_on_a_2d_network():
    torch.manual_seed(0)
    net, shape = network("nielsen-conv2")
    x = torch.rand(16, *shape)
    assert equivariance(net, x)["relative_error"] < 1e-5
    changes = shift_invariance(net, x)
    assert set(changes) == {"max pool 2", "mean pool 2", "stride 2, no pool", "no pooling"}
    assert all(0 < value < 10 for value in changes.values())
    labels = np.arange(16) % 10
    predicted = (labels + (np.arange(16) % 3 == 0)) % 10
    images = x.numpy()
    for figure in (
        figures.misclassified(images, labels, predicted),
        figures.kernels(conv_blocks(net)[0].conv.weight.detach().numpy(), "kernels"),
        figures.confusion(labels, predicted),
    ):
        assert figure.axes and len(figures.png_bytes(figure)) > 1000
