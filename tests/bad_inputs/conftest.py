"""A finished results folder, made once per session from the runner's tiny spec, and a
`cnnablate` that forks each command from a process that has done its imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.runner.conftest import TINY_SPEC

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY_SPEC))
    return path


@pytest.fixture(scope="session")
def finished_results(tmp_path_factory: pytest.TempPathFactory, tiny_spec_file: Path) -> Path:
    """`cnnablate run tiny.yaml` done: study.db, trials/, results.parquet and results.csv."""
    out = tmp_path_factory.mktemp("finished") / "tiny"
    options = RunOptions(out_dir=out, storage_url=default_storage_url(out), step_cap=8)
    run_spec(load_spec(tiny_spec_file), options)
    assert (out / "results.parquet").is_file()
    return out


class PreloadedCnnablate:
    """Client of `preloaded.py`: `run(argv, env, cwd)` as a forked `cnnablate` process."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.count = 0
        self.server = subprocess.Popen(
            [sys.executable, "-m", "tests.bad_inputs.preloaded"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.server.stdout.readline()) == {"ready": True}

    def run(
        self, argv: list[str], env: dict[str, str], cwd: Path, timeout_s: int
    ) -> subprocess.CompletedProcess:
        self.count += 1
        out, err = self.scratch / f"{self.count}.out", self.scratch / f"{self.count}.err"
        request = {
            "argv": argv,
            "env": env,
            "cwd": str(cwd),
            "stdout": str(out),
            "stderr": str(err),
            "timeout_s": timeout_s,
        }
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        code = json.loads(self.server.stdout.readline())["returncode"]
        return subprocess.CompletedProcess(argv, code, out.read_text(), err.read_text())

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=30)


@pytest.fixture(scope="session")
def preloaded_cnnablate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreloadedCnnablate]:
    client = PreloadedCnnablate(tmp_path_factory.mktemp("preloaded"))
    yield client
    client.close()
