"""The packaging metadata tells the truth: one version, the Python it really needs, a build
backend that can build the declared license."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import cnnablate

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = REPO_ROOT / "pyproject.toml"
INIT = REPO_ROOT / "src" / "cnnablate" / "__init__.py"

# setuptools 77 is the first to accept `license` as an SPDX expression and `license-files`
# (PEP 639); 68..76 reject `license = "MIT"` as an invalid table.
SPDX_LICENSE_SETUPTOOLS = Version("77")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def _python_classifiers(project: dict[str, Any]) -> list[Version]:
    prefix = "Programming Language :: Python :: "
    found = []
    for classifier in project.get("classifiers", []):
        if classifier.startswith(prefix):
            rest = classifier[len(prefix) :]
            if rest.count(".") == 1 and all(part.isdigit() for part in rest.split(".")):
                found.append(Version(rest))
    return sorted(found)


def _lower_bound(spec: SpecifierSet) -> Version:
    bounds = [Version(s.version) for s in spec if s.operator in (">=", "~=", "==")]
    if len(bounds) != 1:
        raise ValueError(f"requires-python {spec!s} has no single lower bound")
    return bounds[0]


def python_problems(pyproject: dict[str, Any]) -> list[str]:
    """What is untrue about the declared Python versions."""
    project = pyproject["project"]
    if "requires-python" not in project:
        return ["no requires-python"]
    spec = SpecifierSet(project["requires-python"])
    floor = _lower_bound(spec)
    problems = []
    declared = _python_classifiers(project)
    if not declared:
        problems.append("no 'Programming Language :: Python :: 3.N' classifiers")
    elif declared[0] != floor:
        problems.append(f"requires-python {spec} but the lowest classifier is {declared[0]}")
    for version in declared:
        if version not in spec:
            problems.append(f"classifier Python {version} is outside requires-python {spec}")
    # datetime.UTC (runner/storage.py) and tomllib are 3.11.
    if floor < Version("3.11"):
        problems.append(f"requires-python {spec} admits Pythons without datetime.UTC (< 3.11)")
    target = pyproject.get("tool", {}).get("ruff", {}).get("target-version")
    if target is not None and target != f"py{floor.major}{floor.minor}":
        problems.append(f"ruff target-version {target} but requires-python {spec}")
    return problems


def license_problems(pyproject: dict[str, Any]) -> list[str]:
    """What would stop the declared backend from building the declared license."""
    project = pyproject["project"]
    license_ = project.get("license")
    if not isinstance(license_, str):  # the old table form builds with any setuptools
        return []
    problems = []
    requires = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    setuptools = [r for r in requires if r.name == "setuptools"]
    if pyproject["build-system"].get("build-backend") == "setuptools.build_meta":
        floors = [Version(s.version) for r in setuptools for s in r.specifier if s.operator == ">="]
        if not floors or max(floors) < SPDX_LICENSE_SETUPTOOLS:
            problems.append(
                f"license = {license_!r} (SPDX) needs setuptools>={SPDX_LICENSE_SETUPTOOLS}, "
                f"build-system requires {[str(r) for r in setuptools]}"
            )
    for pattern in project.get("license-files", []):
        if not list(REPO_ROOT.glob(pattern)):
            problems.append(f"license-files names {pattern!r}, which matches no file")
    if "license-files" not in project:
        problems.append("no license-files")
    # PEP 639: a license expression and License :: classifiers together is an error.
    if any(c.startswith("License ::") for c in project.get("classifiers", [])):
        problems.append("License :: classifiers next to an SPDX license expression")
    return problems


def version_problems(pyproject: dict[str, Any]) -> list[str]:
    """Where the version is written more than once, or not readable without importing."""
    project = pyproject["project"]
    problems = []
    if "version" in project:
        problems.append(f"static version {project['version']!r} next to cnnablate.__version__")
    if "version" not in project.get("dynamic", []):
        problems.append("version is not dynamic")
    attr = (
        pyproject.get("tool", {})
        .get("setuptools", {})
        .get("dynamic", {})
        .get("version", {})
        .get("attr")
    )
    if attr != "cnnablate.__version__":
        problems.append(f"dynamic version reads {attr!r}, not cnnablate.__version__")
    return problems


# The pyproject.toml before the fix: every check must find something wrong with it.
OLD_PYPROJECT = """
[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "cnnablate"
version = "0.1.0"
license = "MIT"
requires-python = ">=3.10"

[tool.ruff]
target-version = "py310"
"""


@pytest.mark.parametrize("check", [python_problems, license_problems, version_problems])
def test_the_checks_reject_the_old_pyproject(check) -> None:
    assert check(tomllib.loads(OLD_PYPROJECT)) != []


def test_declared_python_is_true() -> None:
    assert python_problems(_pyproject()) == []


def test_running_interpreter_satisfies_requires_python() -> None:
    spec = SpecifierSet(_pyproject()["project"]["requires-python"])
    running = Version(".".join(map(str, sys.version_info[:3])))
    assert running in spec, f"Python {running} runs the tests, but requires-python is {spec}"


def test_installed_metadata_requires_the_same_python() -> None:
    """The installed metadata was built from this pyproject (else: reinstall the package)."""
    installed = importlib.metadata.metadata("cnnablate")["Requires-Python"]
    declared = _pyproject()["project"]["requires-python"]
    assert SpecifierSet(installed) == SpecifierSet(declared), (
        f"installed metadata says Requires-Python {installed}, pyproject.toml {declared}: "
        "reinstall (pip install -e .)"
    )


def test_license_builds_with_the_declared_backend() -> None:
    assert license_problems(_pyproject()) == []


def test_version_has_one_source() -> None:
    assert version_problems(_pyproject()) == []


def test_version_is_a_literal_setuptools_reads_without_importing() -> None:
    """setuptools' `attr:` reads a literal assignment from the AST; anything else makes it import
    cnnablate (and what that imports) while building."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    literals = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    assert literals == [cnnablate.__version__]
    Version(cnnablate.__version__)  # a valid PEP 440 version


def test_metadata_module_and_cli_agree_on_the_version() -> None:
    metadata = importlib.metadata.version("cnnablate")
    proc = subprocess.run(
        [sys.executable, "-m", "cnnablate", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cnnablate {cnnablate.__version__}"
    assert metadata == cnnablate.__version__, (
        f"installed metadata {metadata}, source {cnnablate.__version__}: reinstall the package"
    )
