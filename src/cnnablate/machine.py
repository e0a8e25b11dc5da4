"""Where a run ran: the commit of its code, the device, the versions."""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
from pathlib import Path

import pytorch_lightning as pl
import torch

from cnnablate import __version__

# A run's own output (results tables, reports) is tracked, but it is not a change to the code.
OUTPUT_FOLDERS = ("results", "reports")


def git_commit(source: Path | None = None) -> str | None:
    """The commit of the source tree this package runs from (or `source`), with '-dirty' for
    local changes to tracked files other than the runs' own output (`OUTPUT_FOLDERS`).

    `$CNNABLATE_COMMIT` overrides it, for a copy of a tree whose own git history says nothing
    true about it (scripts/gpu.sh sets it on a device from the commit it was prepared at)."""
    if pinned := os.environ.get("CNNABLATE_COMMIT", "").strip():
        return pinned
    source = source or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if not commit:
            return None
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                *(f":(top,exclude){folder}" for folder in OUTPUT_FOLDERS),
            ],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.cache
def running_commit() -> str | None:
    """The commit of the code this process loaded, taken once: a worker that trains for an
    hour must not name the commits made meanwhile (its code is the one it started with)."""
    return git_commit()


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def gpu_tag() -> str:
    """E.g. 'cuda-nvidia-h200': the first CUDA GPU's name as a folder or file name."""
    name = re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(0).lower()).strip("-")
    return f"cuda-{name}"


def versions() -> dict[str, str]:
    return {
        "cnnablate": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pytorch_lightning": pl.__version__,
    }


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine() or "CPU"
