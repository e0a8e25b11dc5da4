"""Settings every contender gets alike, a `measure` fixture, the ratio table and the ratio check.

Each benchmark records the fastest of its rounds; at the end of the run the steady-state
throughputs and the ratios ours/stock Lightning and ours/plain loop are printed and written to
`bench/results/latest.md`. Under `--benchmark-compare`, a ratio more than `RATIO_TOLERANCE` below
the baseline's fails the run: ratios measured side by side move far less with the load of this
shared machine than the times themselves, which pytest-benchmark's own check compares.

`CNNABLATE_BENCH_DEVICE=cuda` runs every benchmark on the GPU (`comparators.bench_device`), against
the GPU's own targets, and keeps its baselines apart, in a folder named after the GPU inside
`--benchmark-storage` (`cuda-nvidia-h200/`): a CPU run never compares with a GPU's, nor an H100's
with an H200's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.comparators import bench_device
from cnnablate.callbacks import quiet_lightning
from cnnablate.machine import cpu_model, describe_device, gpu_tag
from cnnablate.perf.workloads import (
    EAGER,
    OURS,
    PLAIN,
    PLAIN_TUNED,
    STOCK,
    STOCK_TUNED,
    WARMUP_UPDATES,
    Run,
)

THREADS = 2
RESULTS_FILE = Path(__file__).parent / "results" / "latest.md"
# The targets per device: (ours/stock, ours/plain) at least.
TARGETS = {
    "cpu": {"nielsen-conv2-relu": (1.4, 1.0), "udl-cnn": (1.5, 1.1)},
    "cuda": {"nielsen-conv2-relu": (20, 5)},
}
RATIO_TOLERANCE = 0.30


@dataclass(frozen=True)
class Measurement:
    kind: str  # "train", "eval" or "data"
    network: str
    contender: str
    samples: int  # processed by one call of the benchmarked function
    seconds: float  # the fastest call
    rate: float  # samples/s: training, the best steady state inside a run; else samples/seconds
    batch: int | None = None  # training: the mini-batch size

    @classmethod
    def from_json(cls, bench: dict[str, Any]) -> list[Measurement]:
        """From a benchmark of a saved run (pytest-benchmark's JSON): one measurement, or one
        per contender for a training benchmark."""
        info = bench["extra_info"]
        fields = ("kind", "network", "samples", "batch")
        common = {key: info.get(key) for key in fields}
        if "contenders" in info:
            return [
                cls(**common, contender=name, seconds=run["seconds"], rate=run["samples_per_s"])
                for name, run in info["contenders"].items()
            ]
        return [
            cls(
                **common,
                contender=info["contender"],
                seconds=bench["stats"]["min"],
                rate=info["samples_per_s"],
            )
        ]


MEASUREMENTS = pytest.StashKey[list[Measurement]]()
BASELINE = pytest.StashKey[list[Measurement]]()
RATIO_REGRESSIONS = pytest.StashKey[list[str]]()
LOAD_AT_START = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    # Before pytest-benchmark's own (trylast), which opens the storage and loads the baseline.
    if bench_device().type == "cuda":  # a UsageError where CUDA is asked for but absent
        config.option.benchmark_storage = own_folder(config.option.benchmark_storage, gpu_tag())
    config.stash[MEASUREMENTS] = []
    config.stash[LOAD_AT_START] = os.getloadavg()[0]
    torch.set_num_threads(THREADS)
    quiet_lightning()


def own_folder(storage: str, folder: str) -> str:
    """A file storage's subfolder (pytest-benchmark's other storages are left as they are)."""
    if "://" not in storage:
        storage = f"file://{storage}"
    return f"{storage.rstrip('/')}/{folder}" if storage.startswith("file://") else storage


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["device"] = device()
    machine_info["torch"] = torch.__version__


def pytest_benchmark_compare_machine_info(
    config: pytest.Config, benchmarksession, machine_info: dict, compared_benchmark: dict
) -> None:
    """Keep the baseline run that --benchmark-compare loaded, for the ratio check."""
    info = ("samples_per_s", "contenders")
    benches = [b for b in compared_benchmark["benchmarks"] if set(info) & set(b["extra_info"])]
    config.stash[BASELINE] = [m for b in benches for m in Measurement.from_json(b)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if BASELINE not in config.stash:
        return
    regressions = ratio_regressions(config.stash[MEASUREMENTS], config.stash[BASELINE])
    config.stash[RATIO_REGRESSIONS] = regressions
    if regressions:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def device() -> str:
    """E.g. 'AMD EPYC, 2 cores; cpu: x86_64, 2 threads' (the last figure: torch's threads), or
    on CUDA '…, 16 cores; cuda: NVIDIA H200'."""
    return f"{cpu_model()}, {os.cpu_count()} cores; {describe_device(bench_device())}"


@pytest.fixture(autouse=True)
def same_torch_settings() -> None:
    torch.set_num_threads(THREADS)
    # `train` runs with deterministic=True on the CPU and Lightning leaves it switched on.
    torch.use_deterministic_algorithms(False)


@pytest.fixture
def measure(benchmark, request: pytest.FixtureRequest) -> Callable[..., None]:
    """`measure(fn, rounds=, kind=, network=, contender=, samples=)`: time `fn` and record its
    rate, `samples` over the fastest call."""

    def run(fn: Callable[[], Any], *, rounds: int, **info: Any) -> None:
        # The load average goes with each benchmark: other processes distort its timing.
        benchmark.extra_info.update(info, threads=THREADS, load_average=os.getloadavg()[0])
        benchmark.pedantic(fn, rounds=rounds, iterations=1)
        if benchmark.stats is None:  # --benchmark-disable
            return
        seconds = benchmark.stats.stats.min
        rate = info["samples"] / seconds
        benchmark.extra_info["samples_per_s"] = rate
        request.config.stash[MEASUREMENTS].append(Measurement(**info, seconds=seconds, rate=rate))

    return run


@pytest.fixture
def measure_contenders(benchmark, request: pytest.FixtureRequest) -> Callable[..., None]:
    """`measure_contenders(one_round, runs, rounds=, network=, samples=, batch=)`: time rounds
    that each run every contender once and append `(seconds, samples/s)` to `runs[contender]`;
    record each contender's best steady-state rate and fastest run."""

    def run(
        one_round: Callable[[], None],
        runs: dict[str, list[tuple[float, Run]]],
        *,
        rounds: int,
        **info: Any,
    ) -> None:
        benchmark.extra_info.update(
            info, kind="train", threads=THREADS, load_average=os.getloadavg()[0]
        )
        benchmark.pedantic(one_round, rounds=rounds, iterations=1)
        best = {name: best_run(done) for name, done in runs.items()}
        benchmark.extra_info["contenders"] = best
        for name, figures in best.items():
            request.config.stash[MEASUREMENTS].append(
                Measurement(
                    kind="train",
                    contender=name,
                    seconds=figures["seconds"],
                    rate=figures["samples_per_s"],
                    **info,
                )
            )

    return run


def best_run(done: list[tuple[float, Run]]) -> dict[str, Any]:
    """A contender's fastest run, best steady state and (ours) update path of its last run."""
    best = {
        "seconds": min(s for s, _ in done),
        "samples_per_s": max(r.samples_per_s for _, r in done),
    }
    path = done[-1][1].update_path
    return best if path is None else {**best, "update_path": path}


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
    text = report(measurements, load, config.stash.get(RATIO_REGRESSIONS, None))
    terminalreporter.write_sep("=", "throughput (samples/s) and ratios")
    terminalreporter.write_line(text)
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(f"# Benchmarks\n\n{text}\n")
    terminalreporter.write_line(f"written to {RESULTS_FILE}")


# --- the report ---------------------------------------------------------------------------


def rates(measurements: list[Measurement], kind: str) -> dict[str, dict[str, float]]:
    """{network: {contender: samples/s}} of one kind of benchmark."""
    table: dict[str, dict[str, float]] = {}
    for m in measurements:
        if m.kind == kind:
            table.setdefault(m.network, {})[m.contender] = m.rate
    return table


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def rate_and_update(rate: float | None, batch: int | None) -> str:
    """'2,836 (3,526 µs)': samples/s, and microseconds per update of `batch` samples."""
    if rate is None or batch is None:
        return number(rate)
    micros = 1e6 * batch / rate
    return f"{rate:,.0f} ({micros:,.0f} µs)" if micros >= 100 else f"{rate:,.0f} ({micros:.1f} µs)"


def times(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def verdict(network: str, vs_stock: float | None, vs_plain: float | None) -> str:
    targets = TARGETS[bench_device().type]
    if network not in targets:
        return ""
    want_stock, want_plain = targets[network]
    met = (vs_stock or 0) >= want_stock and (vs_plain or 0) >= want_plain
    return f"≥{want_stock}×, ≥{want_plain}×: {'met' if met else 'NOT met'}"


def training_ratios(measurements: list[Measurement]) -> dict[tuple[str, str], float | None]:
    """{(network, "ours/stock" or "ours/plain"): ratio}."""
    ratios = {}
    for network, rate in rates(measurements, "train").items():
        ratios[network, "ours/stock"] = ratio(rate.get(OURS), rate.get(STOCK))
        ratios[network, "ours/plain"] = ratio(rate.get(OURS), rate.get(PLAIN))
        ratios[network, "ours/stock tuned"] = ratio(rate.get(OURS), rate.get(STOCK_TUNED))
        ratios[network, "ours/plain tuned"] = ratio(rate.get(OURS), rate.get(PLAIN_TUNED))
    return ratios


def ratio_regressions(
    measurements: list[Measurement], baseline: list[Measurement], tolerance: float = RATIO_TOLERANCE
) -> list[str]:
    before = training_ratios(baseline)
    regressions = []
    for (network, which), value in training_ratios(measurements).items():
        was = before.get((network, which))
        if value is not None and was is not None and value < was * (1 - tolerance):
            regressions.append(f"{network} {which}: {value:.2f}× against {was:.2f}× before")
    return regressions


def training_table(measurements: list[Measurement]) -> str:
    ratios = training_ratios(measurements)
    trained = [m for m in measurements if m.kind == "train"]
    contenders = [
        name
        for name in (OURS, EAGER, STOCK, PLAIN, STOCK_TUNED, PLAIN_TUNED)
        if name in {m.contender for m in trained}
    ]
    rows = []
    for network, rate in rates(measurements, "train").items():
        vs_stock, vs_plain = ratios[network, "ours/stock"], ratios[network, "ours/plain"]
        batch = next(m.batch for m in trained if m.network == network)
        speeds = [rate_and_update(rate.get(name), batch) for name in contenders]
        tuned = [times(ratios[network, f"ours/{w} tuned"]) for w in ("stock", "plain")]
        verdicts = [times(vs_stock), times(vs_plain), verdict(network, vs_stock, vs_plain)]
        rows.append([network, str(batch), *speeds, *verdicts, *tuned])
    header = [
        "network",
        "batch",
        *contenders,
        "ours/stock",
        "ours/plain",
        "target",
        "ours/stock tuned",
        "ours/plain tuned",
    ]
    return markdown(header, rows)


def simple_table(measurements: list[Measurement], kind: str, contenders: list[str]) -> str:
    rows = []
    for network, rate in rates(measurements, kind).items():
        rows.append([network, *(number(rate.get(name)) for name in contenders)])
        if len(contenders) == 2:
            rows[-1].append(times(ratio(rate.get(contenders[0]), rate.get(contenders[1]))))
    ratio_header = [f"{contenders[0]}/{contenders[1]}"] if len(contenders) == 2 else []
    return markdown(["network", *contenders, *ratio_header], rows)


EAGER_NOTE = (
    f" {OURS}: each block of updates captured once as a CUDA graph and replayed; "
    f"{EAGER}: the same with `train.cuda_graph=false`, every kernel launched anew."
)


def report(
    measurements: list[Measurement], load: tuple[float, float], regressions: list[str] | None
) -> str:
    kinds = {m.kind for m in measurements}
    on_cuda = bench_device().type == "cuda"
    sections = [
        f"Device: {device()}, torch {torch.__version__}. "
        f"Load average (1 min): {load[0]:.2f} at the start, {load[1]:.2f} at the end "
        f"(the run itself adds up to {THREADS})."
    ]
    if "train" in kinds:
        sections.append(
            "## Training, steady state\n\nSamples/s inside each run after a warm-up of "
            f"{WARMUP_UPDATES} updates, the best of the rounds; in brackets, the same as "
            f"microseconds per update (mini-batch).{EAGER_NOTE if on_cuda else ''}\n\n"
            + training_table(measurements)
        )
    if "eval" in kinds:
        sections.append(
            "## Evaluation (the module's test path, `trainer.test`)\n\n"
            + simple_table(measurements, "eval", [OURS])
        )
    if "data" in kinds:
        sections.append(
            "## Data path: epochs of training mini-batches, no training\n\n"
            + simple_table(measurements, "data", ["TrainBlocks", "DataLoader"])
        )
    if regressions is not None:
        lines = "\n".join(f"- {line}" for line in regressions) or "none"
        sections.append(
            f"## Ratios more than {RATIO_TOLERANCE:.0%} below the baseline's\n\n{lines}"
        )
    return "\n\n".join(sections)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
