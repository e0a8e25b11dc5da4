"""One side of an A/B: a process that trains benchmark workloads on request, with the code of one
source tree (its `src/` and `bench/` first on `PYTHONPATH`).

This file is copied out and run as a script, so that it imports nothing of the tree that
launched it. Protocol, one JSON object per line. In: a request (`{"preset": ..., "updates": ...,
"slowdown": 0.0, "paced": true}` or `{"calibrate": N}`). Out: the answer
(`{"seconds_per_sample": ..., "blocks": [...]}` or `{"error": ...}`). A paced run stops at the
end of every training step (a block of updates), says `{"tick": samples}` and waits for a line
`go`: the parent lets two such processes take turns block by block, so that both see the same
machine, whatever its speed does from one second to the next. The first line out says which
`cnnablate` was imported.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
import warnings

THREADS = 1
TRAIN_IMAGES = 10_000


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


def calibrate(torch, iterations: int) -> float:
    """A fixed workload of torch alone (a small convnet's forward and backward at batch 10):
    seconds per sample. It moves with the machine's speed, not with this code."""
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(10, 1, 28, 28, generator=generator)
    w1 = torch.randn(20, 1, 5, 5, generator=generator, requires_grad=True)
    w2 = torch.randn(10, 20 * 12 * 12, generator=generator, requires_grad=True)
    start = time.perf_counter()
    for _ in range(iterations):
        h = torch.nn.functional.max_pool2d(torch.relu(torch.conv2d(x, w1)), 2)
        (h.flatten(1) @ w2.T).square().mean().backward()
    return (time.perf_counter() - start) / (10 * iterations)


def block_clocks(comparators, slowdown: Slowdown):
    """The suite's `SteadyClock`, also timing every step (a block of updates) past the warm-up
    from its start (or the moment it was let go) to its end; paced, it waits at each step's end."""

    class BlockClock(comparators.SteadyClock):
        paced = False

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.blocks: list[float] = []
            self.began = time.perf_counter()

        def tick(self, samples: int) -> None:
            ended = time.perf_counter()
            warm = self.start is not None
            super().tick(samples)
            if warm and self.samples <= self.total_samples:
                self.blocks.append((ended - self.began) / samples)
            if self.paced:
                say({"tick": self.samples})
                if sys.stdin.readline().strip() != "go":
                    raise RuntimeError("expected 'go'")
            self.began = slowdown.last = time.perf_counter()

    clocks: list[BlockClock] = []

    def clock_for(workload, updates, device):
        batch = workload.batch_size
        clock = BlockClock(comparators.WARMUP_UPDATES * batch, updates * batch, device)
        clocks.append(clock)
        return clock

    return BlockClock, clock_for, clocks


def main() -> None:
    quiet()
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    import cnnablate
    from bench import comparators

    slowdown = Slowdown()
    register_optimizer_step_post_hook(slowdown)
    # Both sides alike: a smaller synthetic training set (the final evaluation on all of it is
    # outside the clock, but takes seconds) that still holds every measured run in one epoch.
    comparators.SYNTHETIC_TRAIN = TRAIN_IMAGES
    clock_class, comparators.clock_for, clocks = block_clocks(comparators, slowdown)
    workloads: dict[str, object] = {}
    say({"cnnablate": cnnablate.__file__})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            torch.set_num_threads(THREADS)
            torch.use_deterministic_algorithms(False)
            if "calibrate" in request:
                answer = {"seconds_per_sample": calibrate(torch, request["calibrate"])}
            else:
                preset = request["preset"]
                if preset not in workloads:
                    workloads[preset] = comparators.Workload.load(preset)
                slowdown.fraction = request.get("slowdown", 0.0)
                clock_class.paced = request.get("paced", False)
                device = torch.device("cpu")
                run = comparators.run_ours(workloads[preset], request["updates"], device)
                answer = {
                    "seconds_per_sample": 1.0 / run.samples_per_s,
                    "blocks": clocks[-1].blocks,
                    "batch": workloads[preset].batch_size,
                }
        except Exception as error:  # the parent reports it as one line
            answer = {"error": traceback.format_exception_only(error)[-1].strip()}
        finally:
            slowdown.fraction, clock_class.paced = 0.0, False
        say(answer)


if __name__ == "__main__":
    main()
