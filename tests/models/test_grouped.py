"""Packed layers (models/grouped.py): the copies' convolutions, fully connected layers and batch
norm run as grouped convolutions or batched matrix products, and compute what `vmap` and the lone
networks compute: outputs, gradients of every parameter, running statistics, weights after SGD.

The `cuda` twins run where a GPU is (the device command, `scripts/gpu.sh`); elsewhere they skip.
They run in full float32: by default cuDNN rounds convolutions to TF32 on recent GPUs and batched
matrix products do not, so there the kinds agree only to TF32's precision (about 1e-3).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cnnablate.config import ExperimentConfig, ModelConfig, apply_overrides, with_budget
from cnnablate.errors import UserError
from cnnablate.graphed import GraphedBlocks
from cnnablate.models import build_network
from cnnablate.models.grouped import AUTO_ENV, GroupedNetwork, pack_networks, resolve_layers
from cnnablate.models.packed import PackedNetwork
from cnnablate.presets import get_preset

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
KINDS = ["grouped", "unfold"]
SEEDS = (3, 5, 8)
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}  # as the packed-against-separate training test's


@pytest.fixture(autouse=True)
def full_float32():
    """No TF32 on CUDA while a test runs (nothing changes on the CPU)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def model(preset: str, *overrides: str) -> ModelConfig:
    return apply_overrides(get_preset(preset).config, list(overrides)).model


MNIST, MNIST1D = (1, 28, 28), (1, 40)
# name -> (model, input shape, training mode). nielsen-ch3's init instead of network3's: its
# zero output layer would leave every other layer's first gradient zero.
NETWORKS = {
    "udl-cnn": (model("udl-cnn"), MNIST1D, True),
    "nielsen-conv2": (model("nielsen-conv2", "model.init=nielsen-ch3"), MNIST, True),
    "mlp": (model("nielsen-shallow", "model.init=nielsen-ch3"), MNIST, True),
    "batch-norm-2d": (
        model(
            "nielsen-conv2-relu",
            "model.conv.0.norm=batch",
            "model.conv.1.norm=batch",
            "model.init=nielsen-ch3",
        ),
        MNIST,
        True,
    ),
    "batch-norm-1d": (
        model("udl-cnn", "model.conv.0.norm=batch", "model.conv.2.norm=batch", "model.hidden=[8]"),
        MNIST1D,
        True,
    ),
    "dropout-eval": (
        model(
            "nielsen-dropout",
            "model.hidden=[30, 20]",
            "model.conv.0.dropout=0.2",
            "model.init=nielsen-ch3",
        ),
        MNIST,
        False,
    ),
}


def lone_networks(name: str, device: str, seeds=SEEDS) -> list[nn.Module]:
    config, shape, training = NETWORKS[name]
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        nets.append(build_network(config, shape).to(device).train(training))
    return nets


def batch(name: str, device: str, size: int = 6, seed: int = 0):
    """Per-copy inputs `(copies, size, ...)` and labels, away from zero mean (batch norm)."""
    shape = NETWORKS[name][1]
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(SEEDS), size, *shape, generator=generator) * 2 + 0.5
    y = torch.randint(0, 10, (len(SEEDS), size), generator=generator)
    return x.to(device), y.to(device)


def cost(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum of the copies' mean cross-entropies, as the module's."""
    return torch.func.vmap(nn.functional.cross_entropy)(logits, y).sum()


def lone_tensors(nets: list[nn.Module], names: list[str], grad: bool = False) -> list[torch.Tensor]:
    """Each stacked name's tensor (or gradient) of the lone networks, stacked like a pack's."""
    states = [dict(net.named_parameters()) | dict(net.named_buffers()) for net in nets]
    return [torch.stack([s[n].grad if grad else s[n] for s in states]) for n in names]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(NETWORKS))
def test_forward_and_gradients_equal_vmap_and_the_lone_networks(name, kind, device):
    nets = lone_networks(name, device)
    training = NETWORKS[name][2]
    vmapped = PackedNetwork(copy.deepcopy(nets)).train(training)
    grouped = GroupedNetwork(copy.deepcopy(nets), kind).train(training)
    x, y = batch(name, device)
    lone = torch.stack([net(x[i]) for i, net in enumerate(nets)])
    outputs = {"vmap": vmapped(x), kind: grouped(x)}
    assert grouped.layers_path == kind and grouped.unsupported is None
    for logits in (lone, *outputs.values()):
        cost(logits, y).backward()
    for logits in outputs.values():
        torch.testing.assert_close(logits, lone, **TOLERANCE)
    lone_grads = lone_tensors(nets, grouped.names, grad=True)
    assert any(g.abs().sum() > 0 for g in lone_grads[:-2])  # not only the output layer learns
    for mine, theirs, expected in zip(grouped.stacked, vmapped.stacked, lone_grads, strict=True):
        torch.testing.assert_close(mine.grad, theirs.grad, **TOLERANCE)
        torch.testing.assert_close(mine.grad, expected, **TOLERANCE)
    buffers = lone_tensors(nets, grouped.buffer_names)
    for mine, expected in zip(grouped.stacked_buffers.tensors(), buffers, strict=True):
        torch.testing.assert_close(mine, expected, **TOLERANCE)  # running statistics, counts


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["udl-cnn", "nielsen-conv2", "batch-norm-2d", "dropout-eval"])
def test_after_sgd_updates_the_weights_are_the_lone_runs(name, kind, device):
    """Five SGD updates with momentum, then evaluation on one shared input (running statistics,
    dropout's evaluation scaling): copy by copy the lone networks', unpacked too."""
    nets = lone_networks(name, device)
    training = NETWORKS[name][2]
    grouped = GroupedNetwork(copy.deepcopy(nets), kind).train(training)
    lone_opt = torch.optim.SGD([p for net in nets for p in net.parameters()], lr=0.05, momentum=0.9)
    packed_opt = torch.optim.SGD(grouped.parameters(), lr=0.05, momentum=0.9)
    for step in range(5):
        x, y = batch(name, device, seed=step)
        for optimizer, logits in (
            (packed_opt, grouped(x)),
            (lone_opt, torch.stack([net(x[i]) for i, net in enumerate(nets)])),
        ):
            optimizer.zero_grad()
            cost(logits, y).backward()
            optimizer.step()
    for mine, expected in zip(grouped.stacked, lone_tensors(nets, grouped.names), strict=True):
        torch.testing.assert_close(mine, expected, **TOLERANCE)
    x = batch(name, device, size=5, seed=9)[0][0]
    shared = grouped.eval()(x, shared=True)
    for i, net in enumerate(nets):
        torch.testing.assert_close(shared[i], net.eval()(x), **TOLERANCE)
        torch.testing.assert_close(grouped.unpack(i)(x), net(x), **TOLERANCE)


@needs_cuda
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_graph_replays_the_eager_updates_of_a_grouped_pack(kind):
    """A block of updates of packed layers captured as a CUDA graph: the eager updates."""
    runs = []
    for enabled in (True, False):
        grouped = GroupedNetwork(lone_networks("batch-norm-2d", "cuda"), kind)
        optimizer = torch.optim.SGD(grouped.parameters(), lr=0.05, momentum=0.9)

        def updates(xs, ys, net=grouped, optimizer=optimizer):
            losses = []
            for i in range(ys.shape[1]):
                loss = cost(net(xs[:, i]), ys[:, i])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
            return torch.stack(losses), torch.stack(losses)

        graphed = GraphedBlocks(updates, optimizer, enabled)
        losses = []
        for block in range(4):
            x, y = batch("batch-norm-2d", "cuda", size=4 * 5, seed=block)
            xs, ys = x.view(len(SEEDS), 5, 4, *MNIST), y.view(len(SEEDS), 5, 4)
            losses.append(graphed(xs, ys)[0])
        assert graphed.path == ("cuda-graph" if enabled else "eager")
        runs.append(
            (torch.cat(losses), [t.detach().clone() for t in grouped.state_dict().values()])
        )
    torch.testing.assert_close(runs[0][0], runs[1][0], **TOLERANCE)
    for graphed_tensor, eager_tensor in zip(runs[0][1], runs[1][1], strict=True):
        torch.testing.assert_close(graphed_tensor, eager_tensor, **TOLERANCE)


def test_a_pack_of_either_kind_loads_the_others_state():
    """The same state dict: checkpoints and saved training states move between them."""
    vmapped = PackedNetwork(lone_networks("batch-norm-2d", "cpu"))
    vmapped(batch("batch-norm-2d", "cpu")[0])  # running statistics of its own
    grouped = GroupedNetwork(lone_networks("batch-norm-2d", "cpu", seeds=(0, 1, 2)), "grouped")
    assert list(grouped.state_dict()) == list(vmapped.state_dict())
    grouped.load_state_dict(vmapped.state_dict())
    x = batch("batch-norm-2d", "cpu")[0][0]
    torch.testing.assert_close(
        grouped.eval()(x, shared=True), vmapped.eval()(x, shared=True), **TOLERANCE
    )


def test_a_layer_the_kernels_do_not_know_runs_through_vmap():
    torch.manual_seed(0)
    nets = [nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.LayerNorm(76))]
    nets.append(copy.deepcopy(nets[0]))
    grouped = GroupedNetwork(nets, "grouped")
    assert grouped.unsupported == "LayerNorm at '3': not a layer the packed kernels know"
    x = torch.randn(2, 4, 1, 40)
    torch.testing.assert_close(grouped(x), PackedNetwork(nets)(x))
    assert grouped.layers_path == "vmap"


def test_auto_runs_the_measured_kind_or_the_one_the_environment_names(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.delenv(AUTO_ENV, raising=False)
    assert [resolve_layers("auto", cpu, dims) for dims in (0, 1, 2)] == [
        "grouped",
        "unfold",
        "grouped",
    ]
    assert resolve_layers("auto", cuda, 2) == "vmap"
    assert resolve_layers("vmap", cpu, 2) == "vmap"
    monkeypatch.setenv(AUTO_ENV, "unfold")
    assert resolve_layers("auto", cuda, 2) == "unfold"
    assert resolve_layers("grouped", cuda, 2) == "grouped"  # the config's own choice stays
    monkeypatch.setenv(AUTO_ENV, "fast")
    with pytest.raises(UserError, match=f"^{AUTO_ENV}='fast'; allowed: vmap, grouped, unfold$"):
        resolve_layers("auto", cpu, 2)


def test_the_config_picks_the_pack_and_refuses_other_kinds():
    nets = lone_networks("udl-cnn", "cpu")
    assert type(pack_networks(copy.deepcopy(nets), "vmap")) is PackedNetwork
    assert type(pack_networks(copy.deepcopy(nets), "auto")) is GroupedNetwork
    config = get_preset("udl-cnn").config
    with pytest.raises(UserError, match="train.packed_layers"):
        from cnnablate.config import validate_config

        validate_config({**config.model_dump(), "train": {"max_steps": 1, "packed_layers": "x"}})


def test_a_saved_state_resumes_under_any_packed_layers():
    from cnnablate.callbacks import resume_meta

    config = get_preset("udl-cnn").config
    metas = [
        resume_meta(apply_overrides(config, [f"train.packed_layers={kind}"]), [1, 2], None)
        for kind in ("auto", "vmap", "grouped", "unfold")
    ]
    assert all(meta == metas[0] for meta in metas)
    assert "packed_layers" not in metas[0]["config"]["train"]


def test_seeds_trained_with_packed_layers_match_vmap(tmp_path):
    """Through the real trainer: the same losses and accuracies, each seed its own."""
    from cnnablate.train import TrainOptions, train_seeds

    base = with_budget(apply_overrides(get_preset("udl-cnn").config, []), max_steps=40)
    results = {}
    for kind in ("vmap", "unfold"):
        config = apply_overrides(base, [f"train.packed_layers={kind}"])
        out = [tmp_path / f"{kind}-{seed}" for seed in (3, 5)]
        results[kind] = train_seeds(config, [3, 5], out, TrainOptions(progress="off"))
    for theirs, mine in zip(results["vmap"], results["unfold"], strict=True):
        assert ExperimentConfig.model_validate(mine["config"]).train.packed_layers == "unfold"
        assert (theirs["packed_layers"], mine["packed_layers"]) == ("vmap", "unfold")
        for key in ("test_loss", "train_loss"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5)
        assert mine["test_acc"] == pytest.approx(theirs["test_acc"], abs=2e-3)
    assert results["unfold"][0]["test_loss"] != results["unfold"][1]["test_loss"]


def test_a_network_of_one_layer_packs_too():
    torch.manual_seed(0)
    nets = [nn.Linear(4, 3), nn.Linear(4, 3)]
    grouped = GroupedNetwork(copy.deepcopy(nets), "grouped")
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(grouped(x), torch.stack([net(x[i]) for i, net in enumerate(nets)]))
    assert grouped.layers_path == "grouped"
