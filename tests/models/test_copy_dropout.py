"""Dropout with a rate per packed copy (models/copy_dropout.py): each copy drops with its own
probability under vmap, evaluates at its own scale, and leaves the pack as torch's layer."""

import pytest
import torch
from torch import nn

from cnnablate.config import ModelConfig
from cnnablate.models import build_network
from cnnablate.models.copy_dropout import CopyDropout, lone_layers, per_copy_dropout
from cnnablate.models.layers import NielsenDropout
from cnnablate.models.packed import PackedNetwork

SHAPE = (1, 20)
RATES = (0.1, 0.5, 0.8)


def nets(style: str, rates=RATES):
    built = []
    for rate in rates:
        config = ModelConfig(hidden=[12], dropout=rate, dropout_style=style)
        torch.manual_seed(0)
        built.append(build_network(config, SHAPE))
    return built


@pytest.mark.parametrize("nielsen", [False, True])
def test_each_copy_drops_at_its_own_rate_under_vmap(nielsen):
    layer = CopyDropout(0.0, nielsen=nielsen).train()
    rates = torch.tensor(RATES)

    def forward(rate, x):
        return torch.func.functional_call(layer, {"rate": rate}, (x,))

    out = torch.func.vmap(forward, randomness="different")(rates, torch.ones(3, 20000))
    assert (out == 0).float().mean(1).tolist() == pytest.approx(RATES, abs=0.02)
    for copy, rate in enumerate(RATES):
        kept = out[copy][out[copy] != 0]
        expected = 1.0 if nielsen else 1 / (1 - rate)
        torch.testing.assert_close(kept, torch.full_like(kept, expected))
    assert not torch.equal(out[0] == 0, out[1] == 0)


@pytest.mark.parametrize("style", ["inverted", "nielsen"])
def test_a_pack_keeps_each_copys_rate_and_unpacks_to_torchs_layers(style):
    packed = PackedNetwork(per_copy_dropout(nets(style)))
    rates = packed.stacked_buffers.tensors()
    assert len(rates) == 2 and all(t.tolist() == pytest.approx(RATES) for t in rates)
    packed.train()(torch.randn(len(RATES), 8, *SHAPE))  # a training forward of the pack runs
    packed.eval()
    sample = torch.randn(5, *SHAPE)
    together = packed(sample, shared=True)
    for copy, rate in enumerate(RATES):
        net = packed.unpack(copy)
        assert [float(m.rate) for m in net.modules() if isinstance(m, CopyDropout)] == [rate] * 2
        lone = lone_layers(net)
        expected = NielsenDropout if style == "nielsen" else nn.Dropout
        assert [m.p for m in lone.modules() if isinstance(m, expected)] == [rate] * 2
        assert not any(isinstance(m, CopyDropout) for m in lone.modules())
        torch.testing.assert_close(lone(sample), together[copy])


def test_equal_rates_keep_torchs_layers():
    same = nets("inverted", rates=(0.3, 0.3))
    assert per_copy_dropout(same) is same
    assert not any(isinstance(m, CopyDropout) for net in same for m in net.modules())


def test_a_nielsen_copy_scales_by_its_own_keep_rate_in_evaluation():
    layer = CopyDropout(0.25, nielsen=True).eval()
    assert torch.equal(layer(torch.ones(3)), torch.full((3,), 0.75))
    assert torch.equal(CopyDropout(0.25, nielsen=False).eval()(torch.ones(3)), torch.ones(3))
