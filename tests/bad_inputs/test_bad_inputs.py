"""The corpus of bad input (`cases.yaml`), each case a real `cnnablate` process.

Every case must be answered by one line on stderr naming the problem and exit status 2 (1 where
the case says: a database or data set that cannot be had), with no
traceback, and must leave an existing finished results folder exactly as it was.

Each case runs in a process forked from one that has done the imports (`preloaded.py`); the
cases marked `fresh: true` (one or more per kind of problem) also run as a new interpreter,
`python -m cnnablate.cli`, and so does every case with CNNABLATE_TEST_FRESH=1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

HERE = Path(__file__).parent
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "cases.yaml").read_text())
CASE_TIMEOUT_S = 120
CASE_KEYS = {"id", "argv", "expect", "env", "files", "raw", "dirs", "foreign_study"}
CASE_KEYS |= {"absent", "fresh", "exit"}  # see the head of cases.yaml
ALL_FRESH = os.environ.get("CNNABLATE_TEST_FRESH", "") not in ("", "0")


def fill(template: str, places: dict[str, Path]) -> str:
    for name, path in places.items():
        template = template.replace(f"{{{name}}}", str(path))
    return template


def prepare(case: dict[str, Any], places: dict[str, Path]) -> None:
    """Make the case's folders and files (corrupted data, a broken study.db, ...)."""
    for folder in case.get("dirs", []):
        Path(fill(folder, places)).mkdir(parents=True, exist_ok=True)
    contents = {
        **{path: text.encode() for path, text in case.get("files", {}).items()},
        **{path: bytes.fromhex(data) for path, data in case.get("raw", {}).items()},
    }
    for template, data in contents.items():
        path = Path(fill(template, places))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if "foreign_study" in case:
        path = Path(fill(case["foreign_study"], places))
        path.parent.mkdir(parents=True, exist_ok=True)
        optuna.create_study(study_name="someone-elses", storage=f"sqlite:///{path}")


def environment(case: dict[str, Any], places: dict[str, Path]) -> dict[str, str]:
    """Hermetic: data in the case's folder, no npm, no reachable mirror, no MNIST source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNABLATE_")}
    env.update(
        CNNABLATE_DATA=str(places["tmp"] / "data"),
        CNNABLATE_NO_NPM="1",
        CNNABLATE_MNIST_MIRRORS="http://127.0.0.1:1/",
    )
    env.update({key: fill(value, places) for key, value in case.get("env", {}).items()})
    return env


def snapshot(folder: Path) -> dict[str, str]:
    """SHA256 of every file under `folder` (and every subfolder, as 'dir')."""
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        )
        for path in sorted(folder.rglob("*"))
    }


def run_cnnablate(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -m cnnablate.cli ARGV`: a new interpreter, imports and all."""
    return subprocess.run(
        [sys.executable, "-m", "cnnablate.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=CASE_TIMEOUT_S,
    )


def test_the_corpus_is_large_and_each_case_named_once():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    for case in CASES:
        assert set(case) <= CASE_KEYS, case["id"]
        assert case["expect"], case["id"]


def check_case(case: dict[str, Any], tmp_path: Path, finished: Path, tiny: Path, run) -> None:
    """Run one case with `run(argv, env, cwd)` and check the answer and the folders."""
    places = {
        "specs": HERE / "specs",
        "tiny": tiny,
        "finished": tmp_path / "finished",
        "tmp": tmp_path / "case",
    }
    places["tmp"].mkdir()
    shutil.copytree(finished, places["finished"])
    prepare(case, places)
    before = snapshot(places["finished"])

    argv = [fill(arg, places) for arg in case["argv"]]
    proc = run(argv, environment(case, places), places["tmp"])

    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    expected = case.get("exit", 2)
    assert proc.returncode == expected, f"exit {proc.returncode}; stderr:\n{proc.stderr}"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{proc.stderr}"
    assert lines[0].startswith("cnnablate: error: ")
    assert case["expect"] in lines[0]
    assert snapshot(places["finished"]) == before, "the finished results folder changed"
    for template in case.get("absent", []):
        assert not Path(fill(template, places)).exists(), template


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_is_one_line_exit_two_and_touches_nothing(
    case, tmp_path, finished_results, tiny_spec_file, preloaded_cnnablate
):
    def forked(argv, env, cwd):
        return preloaded_cnnablate.run(argv, env, cwd, CASE_TIMEOUT_S)

    check_case(case, tmp_path, finished_results, tiny_spec_file, forked)


FRESH = [case for case in CASES if case.get("fresh") or ALL_FRESH]


@pytest.mark.parametrize("case", FRESH, ids=[case["id"] for case in FRESH])
def test_bad_input_in_a_fresh_interpreter(case, tmp_path, finished_results, tiny_spec_file):
    check_case(case, tmp_path, finished_results, tiny_spec_file, run_cnnablate)
