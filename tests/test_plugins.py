"""Plugins without a fork: broken and clashing plugins are skipped with one warning line each
and every command still works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cnnablate.plugins import PluginRegistry, add_object

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tinynets"
TINY_PRESETS = {
    "tiny-cnn-w4": 398,
    "tiny-cnn-w8": 946,
    "tiny-cnn-w16": 2_522,
    "tiny-cnn-deep": 3_018,
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
