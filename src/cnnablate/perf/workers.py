"""Worker processes, one per source tree (or the installed package), each training the
benchmarks with its own code and timing them with this package's clock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from cnnablate.errors import UserError

SCRIPT = Path(__file__).with_name("worker.py")
CLOCK = Path(__file__).with_name("clock.py")


def installed_package() -> Path:
    """The folder of the `cnnablate` this process runs."""
    import cnnablate

    return Path(cnnablate.__file__).resolve().parent


class Worker:
    """`python worker.py CLOCK` with `tree/src` and `tree` first on the path (`tree` None: the
    installed package's folder); one request at a time."""

    def __init__(self, tree: Path | None, scratch: Path, name: str) -> None:
        self.tree, self.name = tree, name
        script, clock = scratch / f"worker-{name}.py", scratch / "steady_clock.py"
        shutil.copyfile(SCRIPT, script)
        shutil.copyfile(CLOCK, clock)
        code = tree or installed_package()
        paths = [tree / "src", tree] if tree else [code.parent]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in paths)}
        env.pop("CNNABLATE_BENCH_DEVICE", None)
        self.log = scratch / f"worker-{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(clock)],
            cwd=scratch,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
        )
        imported = Path(self.read()["cnnablate"]).resolve()
        if not imported.is_relative_to(code.resolve()):
            self.close()
            raise UserError(f"the {name} worker imported {imported}, not the code in {code}")

    def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            tail = self.log.read_text().strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"the {self.name} worker ended: {tail[0]}")
        answer = json.loads(line)
        if "error" in answer:
            raise UserError(f"the {self.name} tree failed a benchmark: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def alone(worker: Worker, request: dict[str, Any]) -> dict[str, Any]:
    worker.send(request)
    return worker.read()


def taking_turns(workers: list[Worker], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paced runs on every worker, one block at a time in turn (the first listed goes first):
    at any moment one of them trains and the others wait. Their answers, in the same order."""
    for worker, request in zip(workers, requests, strict=True):
        worker.send({**request, "paced": True})
    answers: list[dict[str, Any] | None] = [None] * len(workers)
    for index, worker in enumerate(workers):  # each stops at its first step's end
        message = worker.read()
        if "tick" not in message:
            answers[index] = message
    while any(answer is None for answer in answers):
        for index, worker in enumerate(workers):
            if answers[index] is None:
                worker.send("go")
                message = worker.read()
                if "tick" not in message:
                    answers[index] = message
    return answers
