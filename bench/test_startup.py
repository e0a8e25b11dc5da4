"""How long the command line takes to answer: fresh `python -m cnnablate` processes beside a bare
`python -c pass` on the same machine, in the same run (group `startup`).

Each benchmark starts a new interpreter per round, so its time is the whole start-up: the
interpreter, the imports and the answer. The issue's goal is under 1 s here for `--help`,
`--version`, `presets` and a bad flag (none of which imports torch or Lightning; that is tested in
tests/test_startup.py). Compare the medians with `python -c pass`, not across machines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7

# id: (arguments after `python`, expected exit status)
COMMANDS = {
    "python -c pass": (["-c", "pass"], 0),
    "cnnablate --help": (["-m", "cnnablate", "--help"], 0),
    "cnnablate --version": (["-m", "cnnablate", "--version"], 0),
    "cnnablate presets": (["-m", "cnnablate", "presets"], 0),
    "cnnablate --bad-flag": (["-m", "cnnablate", "--bad-flag"], 2),
    "cnnablate status nope.yaml": (["-m", "cnnablate", "status", "nope.yaml"], 2),
    "cnnablate report nope": (["-m", "cnnablate", "report", "nope"], 2),
}


@pytest.mark.benchmark(group="startup")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup(benchmark, name: str) -> None:
    arguments, status = COMMANDS[name]
    benchmark.extra_info.update(kind="startup", load_average=os.getloadavg()[0])
    done = benchmark.pedantic(
        subprocess.run,
        args=([sys.executable, *arguments],),
        kwargs={"cwd": ROOT, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL},
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    assert done.returncode == status
