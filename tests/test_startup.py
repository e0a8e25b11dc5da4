"""The command line answers at once: help, version, the preset listing and bad input, each
without importing torch or Lightning (which take seconds). How fast is measured in
bench/test_startup.py, not here; here, what is imported. Also the facts kept light for that
(parameter counts; the names of activations, norms, optimisers and data sets) against what they
stand for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnnablate.config import BUILTIN_ACTIVATIONS, BUILTIN_NORMS, BUILTIN_OPTIMISERS
from cnnablate.data import input_shape
from cnnablate.data.registry import DATAMODULES, LazyRegistry
from cnnablate.models import build_network, count_params
from cnnablate.models.activations import ACTIVATIONS
from cnnablate.models.norms import NORMS
from cnnablate.optimisers import OPTIMISERS
from cnnablate.presets import list_presets

HEAVY = ("torch", "pytorch_lightning", "lightning")

# Each case runs `python -m cnnablate ARGS` in turn in one fresh interpreter, which reports the
# heavy modules loaded after it: none after the last means none after any.
PROBE = """
import json, runpy, sys
cases, heavy, report = json.loads(sys.argv[1]), sys.argv[2].split(","), []
for argv in cases:
    sys.argv = ["cnnablate", *argv]
    try:
        runpy.run_module("cnnablate", run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
    report.append([argv, code, sorted(m for m in heavy if m in sys.modules)])
print(json.dumps(report), file=sys.__stdout__)
"""

BAD_YAML = "name: x\nseeds: [0, 1\n"
UNKNOWN_KEY = "name: x\nbase: {preset: udl-mlp}\nseeds: [0]\nbudgett: {max_steps: 5}\n"
GOOD = "name: x\nbase: {preset: udl-mlp}\nseeds: [0]\n"


def cases(specs: Path) -> list[tuple[list[str], int]]:
    """(argv, exit status) of the commands that must not import torch or Lightning."""
    (specs / "bad.yaml").write_text(BAD_YAML)
    (specs / "key.yaml").write_text(UNKNOWN_KEY)
    (specs / "logger.yaml").write_text("name: x\nloggers: [nope]\n")
    (specs / "good.yaml").write_text(GOOD)
    return [
        (["--help"], 0),
        (["--version"], 0),
        (["train", "--help"], 0),
        (["presets"], 0),
        (["presets", "--json"], 0),
        (["--verison"], 2),
        (["trian", "udl-cnn"], 2),
        (["train", "udl-cnn", "--max-steps", "0"], 2),
        (["train", "lenet-5"], 2),
        (["train", "udl-cnn", "--set", "optim.lr=-0.1"], 2),
        (["train", "udl-cnn", "--set", "optim.name=adam", "--set", "optim.lr=-0.1"], 2),
        (["train", "udl-cnn", "--set", "model.conv.0.norm=batch", "--set", "optim.lr=-0.1"], 2),
        (["train", "udl-cnn", "--set", "optim.lrr=1"], 2),
        (["train", "udl-cnn", "--set", "data.name=cifar"], 2),
        (["train", "udl-cnn", "--logger", "nope"], 2),
        (["run", str(specs / "logger.yaml")], 2),
        (["train", "udl-cnn", "--print-config", "--set", "optim.lr=0.5"], 0),
        (["train", "--config", "nope.yaml"], 2),
        (["train", "--config", str(specs / "key.yaml")], 2),
        (["run", str(specs / "good.yaml"), "--set", "optim.lrr=1"], 2),
        (["data", "fetch", "cifar"], 2),
        (["bench", "--save", "a", "--against", "b"], 2),
        (["run", str(specs / "bad.yaml")], 2),
        (["run", str(specs / "key.yaml")], 2),
        (["status", "nope.yaml"], 2),
        (["status", str(specs)], 2),
        (["report", "nope"], 2),
        (["report", str(specs)], 2),
        (["compare", "nope", "nada"], 2),
    ]


def test_the_answers_that_need_no_network_import_neither_torch_nor_lightning(tmp_path):
    expected = cases(tmp_path)
    argvs = [argv for argv, _ in expected]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argvs), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(argv, code) for argv, code, _ in report] == expected, done.stderr
    assert [(argv, loaded) for argv, _, loaded in report if loaded] == []
    assert done.stderr.count("cnnablate: error:") == sum(code == 2 for _, code in expected)


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.name)
def test_the_listed_parameter_counts_are_those_of_the_built_networks(preset):
    config = preset.config
    network = build_network(config.model, input_shape(config.data.name))
    assert count_params(network) == preset.params


@pytest.mark.parametrize(
    ("builtin", "registry"),
    [(BUILTIN_ACTIVATIONS, ACTIVATIONS), (BUILTIN_NORMS, NORMS), (BUILTIN_OPTIMISERS, OPTIMISERS)],
    ids=["activations", "norms", "optimisers"],
)
def test_the_names_known_without_torch_are_those_of_the_registry(builtin, registry):
    origin = getattr(registry, "origin", lambda name: None)  # installed plugins' names aside
    assert list(builtin) == [name for name in registry if origin(name) is None]


def test_every_registered_data_set_is_the_module_of_its_name():
    assert all(DATAMODULES[name].name == name for name in DATAMODULES)


def test_the_registry_imports_an_entry_only_when_it_is_read():
    registry = LazyRegistry({"ghost": "cnnablate.no_such_module:Ghost", "real": dict})
    assert "ghost" in registry and list(registry) == ["ghost", "real"]
    assert list(registry.copy()) == ["ghost", "real"] and registry["real"] is dict
    with pytest.raises(ModuleNotFoundError):
        registry["ghost"]
    registry.clear()
    assert len(registry) == 0
