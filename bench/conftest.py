"""Settings every contender gets alike, a `measure` fixture, and the ratio table at the end.

Each benchmark records the fastest of its rounds; at the end of the run the steady-state
throughputs and the ratios ours/stock Lightning and ours/plain loop are printed and written to
`bench/results/latest.md`.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.comparators import OURS, PLAIN, STOCK
from cnnablate.cli import quiet_lightning
from cnnablate.train import describe_device

THREADS = 2
RESULTS_FILE = Path(__file__).parent / "results" / "latest.md"
# The targets: (ours/stock, ours/plain) at least.
TARGETS = {"nielsen-conv2-relu": (1.4, 1.0), "udl-cnn": (1.5, 1.1)}


@dataclass(frozen=True)
class Measurement:
    kind: str  # "train", "eval" or "data"
    network: str
    contender: str
    samples: int  # processed by one call of the benchmarked function
    seconds: float  # the fastest round
    batch: int | None = None  # training: the mini-batch size


MEASUREMENTS = pytest.StashKey[list[Measurement]]()
LOAD_AT_START = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[MEASUREMENTS] = []
    config.stash[LOAD_AT_START] = os.getloadavg()[0]
    torch.set_num_threads(THREADS)
    quiet_lightning()


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["device"] = device()
    machine_info["torch"] = torch.__version__


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "CPU"


def device() -> str:
    """E.g. 'AMD EPYC, 2 cores; cpu: x86_64, 2 threads' (the last figure: torch's threads)."""
    return f"{cpu_model()}, {os.cpu_count()} cores; {describe_device(torch.device('cpu'))}"


@pytest.fixture(autouse=True)
def same_torch_settings() -> None:
    torch.set_num_threads(THREADS)
    # `train` runs with deterministic=True on the CPU and Lightning leaves it switched on.
    torch.use_deterministic_algorithms(False)


@pytest.fixture
def measure(benchmark, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`measure(fn, rounds=, kind=, network=, contender=, samples=[, batch=])`: time and record."""

    def run(fn: Callable[[], Any], *, rounds: int, **info: Any) -> Any:
        # The load average goes with each benchmark: other processes distort its timing.
        benchmark.extra_info.update(info, threads=THREADS, load_average=os.getloadavg()[0])
        result = benchmark.pedantic(fn, rounds=rounds, iterations=1)
        if benchmark.stats is not None:  # None under --benchmark-disable
            seconds = benchmark.stats.stats.min
            request.config.stash[MEASUREMENTS].append(Measurement(**info, seconds=seconds))
        return result

    return run


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config):
    # A wrapper, so that the table comes last and even when pytest-benchmark's summary raises
    # its PerformanceRegression (the way it fails a run on --benchmark-compare-fail).
    try:
        return (yield)
    finally:
        write_summary(terminalreporter, config)


def write_summary(terminalreporter, config: pytest.Config) -> None:
    measurements = config.stash.get(MEASUREMENTS, [])
    if not measurements:
        return
    load = (config.stash[LOAD_AT_START], os.getloadavg()[0])
    text = report(measurements, load)
    terminalreporter.write_sep("=", "throughput (samples/s) and ratios")
    terminalreporter.write_line(text)
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(f"# Benchmarks\n\n{text}\n")
    terminalreporter.write_line(f"written to {RESULTS_FILE}")


# --- the report ---------------------------------------------------------------------------


def by_contender(
    measurements: list[Measurement], kind: str
) -> dict[str, dict[str, list[Measurement]]]:
    table: dict[str, dict[str, list[Measurement]]] = {}
    for m in measurements:
        if m.kind == kind:
            table.setdefault(m.network, {}).setdefault(m.contender, []).append(m)
    return table


def steady_rate(runs: list[Measurement]) -> float | None:
    """(N2 − N1)·B / (t2 − t1) from the shortest and the longest run; start-up cancels."""
    short, long = min(runs, key=lambda m: m.samples), max(runs, key=lambda m: m.samples)
    if long.samples == short.samples or long.seconds <= short.seconds:
        return None
    return (long.samples - short.samples) / (long.seconds - short.seconds)


def call_rate(runs: list[Measurement]) -> float:
    best = min(runs, key=lambda m: m.seconds / m.samples)
    return best.samples / best.seconds


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def verdict(network: str, vs_stock: float | None, vs_plain: float | None) -> str:
    if network not in TARGETS:
        return ""
    want_stock, want_plain = TARGETS[network]
    met = (vs_stock or 0) >= want_stock and (vs_plain or 0) >= want_plain
    return f"≥{want_stock}×, ≥{want_plain}×: {'met' if met else 'NOT met'}"


def training_table(measurements: list[Measurement]) -> str:
    rows = []
    for network, contenders in by_contender(measurements, "train").items():
        rate = {name: steady_rate(runs) for name, runs in contenders.items()}
        vs_stock = ratio(rate.get(OURS), rate.get(STOCK))
        vs_plain = ratio(rate.get(OURS), rate.get(PLAIN))
        batch = str(next(iter(contenders.values()))[0].batch)
        rates = [number(rate.get(name)) for name in (OURS, STOCK, PLAIN)]
        ratios = [times(vs_stock), times(vs_plain), verdict(network, vs_stock, vs_plain)]
        rows.append([network, batch, *rates, *ratios])
    header = ["network", "batch", OURS, STOCK, PLAIN, "ours/stock", "ours/plain", "target"]
    return markdown(header, rows)


def simple_table(measurements: list[Measurement], kind: str, contenders: list[str]) -> str:
    rows = []
    for network, runs in by_contender(measurements, kind).items():
        rate = {name: call_rate(r) for name, r in runs.items()}
        rows.append([network, *(number(rate.get(name)) for name in contenders)])
        if len(contenders) == 2:
            rows[-1].append(times(ratio(rate.get(contenders[0]), rate.get(contenders[1]))))
    ratio_header = [f"{contenders[0]}/{contenders[1]}"] if len(contenders) == 2 else []
    return markdown(["network", *contenders, *ratio_header], rows)


def report(measurements: list[Measurement], load: tuple[float, float]) -> str:
    kinds = {m.kind for m in measurements}
    sections = [
        f"Device: {device()}, torch {torch.__version__}. "
        f"Load average (1 min): {load[0]:.2f} at the start, {load[1]:.2f} at the end "
        f"(the run itself adds up to {THREADS})."
    ]
    if "train" in kinds:
        sections.append(
            "## Training, steady state\n\nEach contender is timed on a run of N1 and of N2 "
            "updates (fastest of the rounds each): (N2 − N1)·B / (t2 − t1).\n\n"
            + training_table(measurements)
        )
    if "eval" in kinds:
        sections.append(
            "## Evaluation (`cnnablate.train.evaluate`)\n\n"
            + simple_table(measurements, "eval", [OURS])
        )
    if "data" in kinds:
        sections.append(
            "## Data path: one epoch of training mini-batches\n\n"
            + simple_table(measurements, "data", ["TrainBlocks", "DataLoader"])
        )
    return "\n\n".join(sections)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
