"""Microseconds per update of several networks trained at once: packed into one network (by each
kind of packed layers, `models/grouped.py`), or each alone on its own CUDA stream
(`scripts/gpu_bench.py` runs the grid and writes the tables).

A measurement trains a preset's network with the module's own update (`Classifier.block_updates`:
its cost, optimiser with Nielsen's L2 as weight decay, learning rate; on CUDA each block of
updates captured as a CUDA graph and replayed, `graphed.GraphedBlocks`), without Lightning's
loop around it, on random data of the preset's input shape already on the device. It is timed by
the speed checks' clock (`perf.clock.SteadyClock`) after two blocks (the eager first block and
the capture), for at least `seconds`.

On the CPU there are no streams: the same measurement runs the networks in threads, and says so.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import torch
from torch import Tensor

from cnnablate.config import apply_overrides
from cnnablate.data import DATAMODULES
from cnnablate.graphed import GraphedBlocks
from cnnablate.models.grouped import LAYER_KINDS
from cnnablate.module import Classifier
from cnnablate.optimisers import build_optimiser
from cnnablate.perf.clock import SteadyClock
from cnnablate.presets import get_preset
from cnnablate.train import set_memory_format

KINDS = LAYER_KINDS  # vmap, grouped, unfold
RECOMMEND_OVER = (2, 4, 8)  # the pack sizes the campaign uses (3 seeds), and the target
MARGIN = 0.95  # another kind replaces vmap only when at least 5% faster
WARMUP_BLOCKS = 2  # the eager block, then the capture
LONE = "lone"
STREAMS, THREADS = "CUDA streams", "CPU threads (not CUDA streams)"

Block = Callable[[Tensor, Tensor], object]


@dataclass(frozen=True)
class Measurement:
    network: str  # the preset
    how: str  # LONE, "packed: <kind>", STREAMS or THREADS
    networks: int  # trained at once
    us_per_update: float  # one update of every network
    updates_per_s: float  # network updates per second, all together
    update_path: str  # "cuda-graph" or "eager"

    def as_dict(self) -> dict:
        return asdict(self)


class Trainee:
    """A preset's Classifier (one network, or `len(seeds)` packed by `kind`) with its optimiser
    and graphed block of updates, on `device`."""

    def __init__(self, preset: str, seeds: list[int], kind: str, device: torch.device) -> None:
        config = apply_overrides(get_preset(preset).config, [f"train.packed_layers={kind}"])
        datamodule = DATAMODULES[config.data.name]
        self.input_shape = datamodule.input_shape
        self.batch = config.data.batch_size
        num_train = datamodule.train_size(config.data)  # Nielsen's L2 is scaled by it
        torch.manual_seed(seeds[0])
        packed = seeds if len(seeds) > 1 else None
        module = Classifier(config, self.input_shape, num_train, seeds=packed).to(device)
        accelerator = "gpu" if device.type == "cuda" else "cpu"
        set_memory_format(module, config.train.memory_format, accelerator)
        capturable = config.train.cuda_graph and device.type == "cuda"
        optimizer = build_optimiser(module.parameter_groups(), config.optim, capturable)
        # The module's own update, handed the optimiser Lightning would (no trainer here).
        module.optimizers = lambda: SimpleNamespace(optimizer=optimizer)
        self.module, self.copies = module, len(seeds)
        self.graphed = GraphedBlocks(module.block_updates, optimizer, config.train.cuda_graph)

    def data(self, steps: int, device: torch.device, seed: int) -> tuple[Tensor, Tensor]:
        """A block of random inputs in [0, 1] and labels, `(copies, steps, batch, ...)`."""
        generator = torch.Generator().manual_seed(seed)
        shape = (self.copies, steps, self.batch)
        xs = torch.rand(*shape, *self.input_shape, generator=generator)
        return xs.to(device), torch.randint(0, 10, shape, generator=generator).to(device)

    @property
    def update_path(self) -> str:
        return self.graphed.path


def timed(run_round: Callable[[], None], samples: int, seconds: float, device) -> float:
    """Samples per second of `run_round` (`samples` each) in steady state, over at least
    `seconds` and two rounds after the warm-up."""
    clock = SteadyClock(WARMUP_BLOCKS * samples, None, device)
    clock.resume()
    began = None
    while began is None or len(clock.steps) < 2 or time.perf_counter() - began < seconds:
        run_round()
        clock.tick(samples)
        if clock.samples == WARMUP_BLOCKS * samples:
            began = time.perf_counter()
    return clock.steady_samples_per_s()


def measure_packed(
    preset: str, copies: int, kind: str, device: torch.device, steps: int, seconds: float
) -> Measurement:
    """`copies` networks packed by `kind` (one: the lone network, whatever the kind)."""
    trainee = Trainee(preset, list(range(copies)), kind, device)
    blocks = itertools.cycle([trainee.data(steps, device, seed) for seed in range(2)])

    def run_round() -> None:
        trainee.graphed(*next(blocks))

    samples = copies * steps * trainee.batch
    rate = timed(run_round, samples, seconds, device)
    how = LONE if copies == 1 else f"packed: {kind}"
    return measurement(preset, how, copies, trainee.batch, rate, trainee.update_path)


def measure_concurrent(
    preset: str, networks: int, device: torch.device, steps: int, seconds: float
) -> Measurement:
    """`networks` lone networks, each a block at a time on its own CUDA stream (on the CPU: its
    own thread), all blocks of a round in flight together."""
    trainees = [Trainee(preset, [seed], "vmap", device) for seed in range(networks)]
    blocks = [trainee.data(steps, device, seed) for seed, trainee in enumerate(trainees)]
    if device.type == "cuda":
        streams = [torch.cuda.Stream(device) for _ in trainees]
        torch.cuda.synchronize(device)

        def run_round() -> None:
            for trainee, block, stream in zip(trainees, blocks, streams, strict=True):
                with torch.cuda.stream(stream):
                    trainee.graphed(*block)

        how = STREAMS
    else:
        pool = ThreadPoolExecutor(max_workers=networks)

        def run_round() -> None:
            jobs = [pool.submit(t.graphed, *b) for t, b in zip(trainees, blocks, strict=True)]
            for job in jobs:
                job.result()

        how = THREADS
    batch = trainees[0].batch
    try:
        rate = timed(run_round, networks * steps * batch, seconds, device)
    finally:
        if device.type != "cuda":
            pool.shutdown()
    return measurement(preset, how, networks, batch, rate, trainees[0].update_path)


def measurement(preset: str, how: str, networks: int, batch: int, samples_per_s: float, path: str):
    updates_per_s = samples_per_s / batch
    return Measurement(preset, how, networks, 1e6 * networks / updates_per_s, updates_per_s, path)


def recommend(measurements: list[Measurement], preset: str) -> tuple[str, dict[str, float]]:
    """The kind of packed layers to use for `preset`, and each other kind's geometric mean over
    `RECOMMEND_OVER` of its µs per update against vmap's."""
    micros = {(m.how, m.networks): m.us_per_update for m in measurements if m.network == preset}
    ratios = {}
    for kind in KINDS[1:]:
        pairs = [
            micros[f"packed: {kind}", k] / micros["packed: vmap", k]
            for k in RECOMMEND_OVER
            if (f"packed: {kind}", k) in micros and ("packed: vmap", k) in micros
        ]
        if pairs:
            ratios[kind] = math.exp(sum(map(math.log, pairs)) / len(pairs))
    best = min(ratios, key=ratios.__getitem__, default="vmap")
    return (best if ratios.get(best, 1.0) < MARGIN else "vmap"), ratios
