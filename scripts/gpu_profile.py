"""Where a GPU update's time goes: microseconds per update of the real training path under a few
settings, and the kernels of eager updates (run once per campaign by scripts/gpu_campaign.py).

Each row trains a preset on synthetic MNIST-shaped data (cnnablate.perf.workloads) with
`train_seeds`, and times it with the speed checks' clock (cnnablate.perf.clock) after their warm-up.
`--dry` runs the same on the CPU with a few updates.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from cnnablate.config import apply_overrides
from cnnablate.perf.clock import SteadyClock
from cnnablate.perf.worker import WARMUP_UPDATES
from cnnablate.perf.workloads import synthetic_config
from cnnablate.presets import get_preset
from cnnablate.train import TrainOptions, train_seeds


def time_updates(preset: str, seeds: list[int], overrides: list[str], updates: int, cudnn: bool):
    """Microseconds per (packed) update after the bench's warm-up, and the update path."""
    config = synthetic_config(apply_overrides(get_preset(preset).config, overrides))
    torch.backends.cudnn.benchmark = cudnn
    samples_per_update = config.data.batch_size * len(seeds)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    clock = SteadyClock(WARMUP_UPDATES * samples_per_update, updates * samples_per_update, device)
    with tempfile.TemporaryDirectory() as scratch:
        dirs = [Path(scratch) / str(seed) for seed in seeds]
        options = TrainOptions(progress="off", step_cap=updates, callbacks=[clock])
        (result, *_) = train_seeds(config, seeds, dirs, options)
    torch.backends.cudnn.benchmark = False
    return 1e6 * samples_per_update / clock.samples_per_s, result["update_path"]


def kernel_table(preset: str, updates: int) -> str:
    """The top kernels of eager updates (graphs off), by device time."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    config = synthetic_config(
        apply_overrides(get_preset(preset).config, ["train.cuda_graph=false"])
    )
    with tempfile.TemporaryDirectory() as scratch, profile(activities=activities) as prof:
        train_seeds(config, [0], [Path(scratch)], TrainOptions(progress="off", step_cap=updates))
    key = "self_device_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="on the CPU, a few updates")
    args = parser.parse_args()
    updates = WARMUP_UPDATES + 50 if args.dry else 4000
    print("| preset | seeds | overrides | cudnn.benchmark | µs per update | path |")
    print("| --- | --- | --- | --- | --- | --- |")
    # Dry: a packed MLP, whose final evaluation of the 40,000 training images is quick on a CPU.
    for preset, seeds, overrides, cudnn in ROWS[-1:] if args.dry else ROWS:
        micros, path = time_updates(preset, seeds, overrides, updates, cudnn)
        print(f"| {preset} | {len(seeds)} | {' '.join(overrides) or '-'} | {cudnn} "
              f"| {micros:,.0f} | {path} |", flush=True)  # fmt: skip
    print(kernel_table("nielsen-mlp30-mse" if args.dry else "nielsen-conv2-relu", updates // 10))
    return 0


ROWS = [
    ("nielsen-conv2-relu", [0], [], False),
    ("nielsen-conv2-relu", [0], [], True),
    ("nielsen-conv2-relu", [0], ["train.steps_per_block=200"], False),
    ("nielsen-conv2-relu", [0, 1, 2], [], False),
    ("nielsen-conv2-relu", [0, 1, 2], [], True),
    ("nielsen-fc2", [0, 1, 2], [], False),
    ("nielsen-expanded", [0, 1, 2], [], False),
    ("nielsen-mlp30-mse", [0, 1, 2], [], False),
]


if __name__ == "__main__":
    sys.exit(main())
