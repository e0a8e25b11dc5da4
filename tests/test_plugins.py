"""Plugins without a fork: the example package (examples/tinynets) installed for real, into a
folder of its own (the shared environment stays as it is), then listed, ablated in worker
processes and reported by the command line; broken and clashing plugins are skipped with one
warning line each and every command still works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

from cnnablate.plugins import PluginRegistry, add_object
from cnnablate.runner.results import read_results

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tinynets"
TINY_PRESETS = {
    "tiny-cnn-w4": 398,
    "tiny-cnn-w8": 946,
    "tiny-cnn-w16": 2_522,
    "tiny-cnn-deep": 3_018,
    "tiny-resnet1d": 3_402,
}


def make_distribution(folder: Path, name: str, entry_points: str) -> Path:
    """An installed distribution as pip leaves it: NAME-0.1.dist-info with its entry points."""
    info = folder / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return folder


def cli(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess:
    return python("-m", "cnnablate.cli", *args, path=path, cwd=cwd)


def python(*args: str, path: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), *sys.path])}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example installed with pip (offline, this environment's setuptools) into a folder."""
    root = tmp_path_factory.mktemp("tinynets")
    source = shutil.copytree(
        EXAMPLE, root / "source", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    target = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*pip, "--no-index", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return target


def test_the_listing_shows_the_plugins_presets_without_importing_torch(installed, tmp_path):
    probe = (
        "import json, sys; from cnnablate.cli import main; main(['presets', '--json']); "
        "print(json.dumps(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules)))"
    )
    done = python("-c", probe, path=installed, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    *listing, heavy = done.stdout.strip().splitlines()
    rows = {row["name"]: row for row in json.loads("\n".join(listing))}
    assert {name: rows[name]["params"] for name in TINY_PRESETS} == TINY_PRESETS
    assert {"udl-cnn", "nielsen-conv1"} <= set(rows)
    assert json.loads(heavy) == []


def test_the_plugins_entries_are_what_they_say(installed, tmp_path):
    probe = """
    import json
    from cnnablate.config import DataConfig
    from cnnablate.data import build_datamodule, input_shape
    from cnnablate.models import build_network, count_params
    from cnnablate.models.activations import activation
    from cnnablate.presets import PRESETS
    counts = {n: count_params(build_network(PRESETS[n].config.model, input_shape("mnist1d")))
              for n in PRESETS if n.startswith("tiny-")}
    gelu = activation("gelu-tanh")
    splits = {}
    for name in ("mnist1d", "mnist1d-noisy"):
        data = build_datamodule(DataConfig(name=name))
        data.prepare()
        splits[name] = data.splits["train"]
    deviation = (splits["mnist1d-noisy"].x - splits["mnist1d"].x).abs().mean().item()
    same_labels = bool((splits["mnist1d-noisy"].y == splits["mnist1d"].y).all())
    print(json.dumps([counts, type(gelu).__name__, gelu.approximate, deviation, same_labels]))
    """
    done = python("-c", textwrap.dedent(probe), path=installed, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    counts, kind, approximate, deviation, same_labels = json.loads(done.stdout)
    assert counts == TINY_PRESETS
    assert (kind, approximate) == ("GELU", "tanh")
    assert deviation > 0.05 and same_labels  # the same digits, drawn with more noise


def test_the_example_spec_runs_in_workers_and_reports(installed, tmp_path):
    out = tmp_path / "results"
    spec = str(EXAMPLE / "ablation.yaml")
    args = ["-m", "cnnablate.cli", "run", spec, "--max-steps", "20", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), *sys.path])}
    command = subprocess.Popen(
        [sys.executable, *args, "--out", str(out)],
        env=env,
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = command.communicate(timeout=300)
    assert command.returncode == 0, stdout + stderr

    table = read_results(out)
    cells = set(
        zip(table["preset"], table["param.model.activation"], table["param.data.name"], strict=True)
    )
    expected = set(
        product(
            ["tiny-cnn-w4", "tiny-cnn-w16"], ["relu", "gelu-tanh"], ["mnist1d", "mnist1d-noisy"]
        )
    )
    assert cells == expected and (table["status"] == "ok").all()
    assert command.pid not in set(table["pid"])  # resolved in the worker processes
    assert set(table["params"]) == {TINY_PRESETS["tiny-cnn-w4"], TINY_PRESETS["tiny-cnn-w16"]}

    reported = cli(
        "report", str(out), "--out", str(tmp_path / "report"), path=installed, cwd=tmp_path
    )
    assert reported.returncode == 0, reported.stderr
    shown = pd.read_csv(tmp_path / "report" / "tables" / "tinynets-cells.csv")
    assert (
        set(zip(shown["preset"], shown["model.activation"], shown["data.name"], strict=True))
        == expected
    )


def test_a_broken_or_clashing_plugin_is_skipped_with_one_warning_line_each(tmp_path):
    site = make_distribution(
        tmp_path / "site",
        "shaky-plugin",
        """
        [cnnablate.presets]
        missing = no_such_module_for_cnnablate
        halfway = halfway_presets
        [cnnablate.datasets]
        mnist = no_such_module_for_cnnablate:Thing
        """,
    )
    (site / "halfway_presets.py").write_text(
        "from cnnablate.presets import register\n"
        "register('halfway', 'taken back', 'test', params=1)(lambda: {})\n"
        "register('udl-cnn', 'an impostor', 'test', params=1)(lambda: {})\n"
        "raise RuntimeError('broken halfway')\n"
    )
    done = cli("presets", "--json", path=site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert "halfway" not in rows and rows["udl-cnn"]["params"] == 2_050
    warnings = done.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("cnnablate: warning: ") for w in warnings)
    assert all("shaky-plugin 0.1" in line for line in warnings)
    assert sum("'missing = no_such_module_for_cnnablate' of" in w for w in warnings) == 1
    assert sum("'udl-cnn' is taken" in w for w in warnings) == 1
    assert sum("RuntimeError: broken halfway" in w for w in warnings) == 1
    assert sum("'mnist' is taken" in w for w in warnings) == 1


def test_a_registry_takes_in_its_group_once_refusing_taken_names(tmp_path, monkeypatch, capsys):
    site = make_distribution(
        tmp_path,
        "toy-plugin",
        """
        [cnnablate.test-toys]
        dumps = json:dumps
        first = json:loads
        ghost = no_such_module_for_cnnablate:ghost
        """,
    )
    monkeypatch.syspath_prepend(str(site))
    registry = PluginRegistry({"first": len}, "cnnablate.test-toys", add_object)
    registry["added-at-run-time"] = max  # a write loads nothing
    assert capsys.readouterr().err == ""
    assert list(registry) == ["first", "added-at-run-time", "dumps"]
    assert registry["first"] is len and registry["dumps"] is json.dumps
    assert registry.origin("dumps").dist.name == "toy-plugin" and registry.origin("first") is None
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 2
    assert "'first' is taken" in warnings[0] and "ModuleNotFoundError" in warnings[1]
    assert list(registry) == ["first", "added-at-run-time", "dumps"]  # read once
    assert capsys.readouterr().err == ""
