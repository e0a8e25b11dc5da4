"""`cnnablate run` as a real process: started, watched line by line, killed, its children found."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cnnablate.runner.storage import process_start_time


class RunProcess:
    """`python -m cnnablate.cli ARGS` with its stdout and stderr merged and read by a thread."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cnnablate.cli", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.started = time.monotonic()
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for_line(self, fragment: str, count: int = 1, timeout: float = 120.0) -> bool:
        """Block until `count` lines containing `fragment` have appeared; False if it ended."""
        seen = sum(fragment in line for line in self.lines)
        deadline = time.monotonic() + timeout
        while seen < count:
            try:
                line = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if line is None:
                return False
            seen += fragment in line
        return True

    def wait_up_to(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the process ends first."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=seconds)

    def kill(self) -> bool:
        """SIGKILL the process; True when it was still running."""
        was_alive = self.alive()
        if was_alive:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        return was_alive

    def finish(self, timeout: float) -> tuple[int, str]:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return self.proc.returncode, "".join(self.lines)


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(root: int) -> dict[int, float | None]:
    """Every process below `root` (children, grandchildren, ...) with its kernel start time."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := parent_of(int(entry))) is not None:
            children.setdefault(parent, []).append(int(entry))
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = process_start_time(child)
            todo.append(child)
    return found


def is_running(pid: int, start: float | None) -> bool:
    """Whether this very process (same pid, same start time) still runs (zombies do not)."""
    if process_start_time(pid) != start:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def survivors(processes: dict[int, float | None], within_s: float = 10.0) -> list[int]:
    """The processes still running after `within_s` seconds of grace."""
    deadline = time.monotonic() + within_s
    while True:
        alive = [pid for pid, start in processes.items() if is_running(pid, start)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
