"""One side of a speed check: a process that trains benchmark workloads on request, with the code
of one source tree (its `src/` and `bench/` first on `PYTHONPATH`) or of the installed package.

This file is copied out and run as a script, so that it imports nothing of the tree that
launched it; its one argument is a copy of the launching package's clock (`perf/clock.py`), so
that both sides of an A/B are timed by the same clock whatever their own code holds. The
workloads are the tree's own, `cnnablate.perf.workloads`: no pytest, no `bench/`. Only a tree
from before they moved into the package is run through its `bench/comparators.py`.

Protocol, one JSON object per line. In: a request (`{"preset": ..., "updates": ...,
"slowdown": 0.0, "paced": true}` or `{"calibrate": N}`). Out: the answer
(`{"seconds_per_sample": ..., "blocks": [...]}` or `{"error": ...}`). A paced run stops at the
end of every training step (a block of updates), says `{"tick": samples}` and waits for a line
`go`: the parent lets two such processes take turns block by block, so that both see the same
machine, whatever its speed does from one second to the next. The first line out says which
`cnnablate` was imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

THREADS = 1
TRAIN_IMAGES = 10_000
WARMUP_UPDATES = 150  # the suite's; set here, so that both sides leave out the same


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def say(message: dict) -> None:
    print(json.dumps(message), flush=True)


class Slowdown:
    """The injected regression: after every optimiser step, spin for `fraction` of the time since
    the previous one ended (or since the run resumed): each update takes `1 + fraction` as long.
    """

    def __init__(self) -> None:
        self.fraction = 0.0
        self.last: float | None = None

    def __call__(self, optimizer, args, kwargs) -> None:
        now = time.perf_counter()
        if self.fraction and self.last is not None:
            until = now + self.fraction * (now - self.last)
            while time.perf_counter() < until:
                pass
        self.last = time.perf_counter()


def calibrate(iterations: int) -> float:
    """A fixed workload of torch alone (a small convnet's forward and backward at batch 10):
    seconds per sample. It moves with the machine's speed, not with this code."""
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.rand(10, 1, 28, 28, generator=generator)
    w1 = torch.randn(20, 1, 5, 5, generator=generator, requires_grad=True)
    w2 = torch.randn(10, 20 * 12 * 12, generator=generator, requires_grad=True)
    start = time.perf_counter()
    for _ in range(iterations):
        h = torch.nn.functional.max_pool2d(torch.relu(torch.conv2d(x, w1)), 2)
        (h.flatten(1) @ w2.T).square().mean().backward()
    return (time.perf_counter() - start) / (10 * iterations)


def load_clock(path: Path) -> type:
    """The `SteadyClock` of the file at `path` (not of this tree's package)."""
    spec = importlib.util.spec_from_file_location("steady_clock", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SteadyClock


def paced_clock(clock: type, slowdown: Slowdown) -> type:
    """The clock; paced, it waits at each step's end for `go`, and times the next step from then."""

    class PacedClock(clock):
        paced = False

        def resume(self) -> None:
            super().resume()
            slowdown.last = time.perf_counter()

        def tick(self, samples: int) -> None:
            super().tick(samples)
            slowdown.last = time.perf_counter()
            if self.paced:
                say({"tick": self.samples})
                if sys.stdin.readline().strip() != "go":
                    raise RuntimeError("expected 'go'")
                self.resume()

    return PacedClock


Load = Callable[[str], Any]
Run = Callable[[Any, int, Any], None]


def tree_workloads() -> tuple[Load, Run]:
    """How this tree loads a preset's workload and trains it (ours) with a given clock."""
    import torch

    cpu = torch.device("cpu")
    try:
        workloads = importlib.import_module("cnnablate.perf.workloads")
    except ModuleNotFoundError as error:
        if error.name not in ("cnnablate.perf", "cnnablate.perf.workloads"):
            raise
        return legacy_workloads(cpu)

    def run(workload: Any, updates: int, clock: Any) -> None:
        workloads.run_ours(workload, updates, cpu, clock=clock)

    return lambda preset: workloads.Workload.load(preset, train_images=TRAIN_IMAGES), run


def legacy_workloads(cpu: Any) -> tuple[Load, Run]:
    """A tree whose workloads are still its `bench/comparators.py` (a test module)."""
    from bench import comparators

    comparators.SYNTHETIC_TRAIN = TRAIN_IMAGES

    def run(workload: Any, updates: int, clock: Any) -> None:
        comparators.clock_for = lambda *args: clock
        comparators.run_ours(workload, updates, cpu)

    return comparators.Workload.load, run


class Bench:
    """The requests' answers: this tree's workloads, timed by the given clock."""

    def __init__(self, clock: type, slowdown: Slowdown) -> None:
        self.clock, self.slowdown = clock, slowdown
        self.load, self.run = tree_workloads()
        self.workloads: dict[str, Any] = {}

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if "calibrate" in request:
            return {"seconds_per_sample": calibrate(request["calibrate"])}
        preset, updates = request["preset"], request["updates"]
        if preset not in self.workloads:
            self.workloads[preset] = self.load(preset)
        workload = self.workloads[preset]
        batch = workload.batch_size
        clock = self.clock(WARMUP_UPDATES * batch, updates * batch, None)
        clock.paced = request.get("paced", False)
        self.slowdown.fraction = request.get("slowdown", 0.0)
        self.run(workload, updates, clock)
        return {
            "seconds_per_sample": 1.0 / clock.steady_samples_per_s(),
            "blocks": clock.seconds_per_sample_by_step(),
            "batch": batch,
        }


def main() -> None:
    quiet()
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    import cnnablate

    slowdown = Slowdown()
    register_optimizer_step_post_hook(slowdown)
    bench = Bench(paced_clock(load_clock(Path(sys.argv[1])), slowdown), slowdown)
    say({"cnnablate": cnnablate.__file__})
    for line in sys.stdin:
        try:
            torch.set_num_threads(THREADS)
            torch.use_deterministic_algorithms(False)
            answer = bench.answer(json.loads(line))
        except Exception as error:  # the parent reports it as one line
            answer = {"error": traceback.format_exception_only(error)[-1].strip()}
        finally:
            slowdown.fraction = 0.0
        say(answer)


if __name__ == "__main__":
    main()
