"""`cnnablate bench`: this tree's training speed against another commit's (an A/B in
interleaved rounds on this machine, in a git checkout), or against a stored baseline normalised by
a calibration workload measured in the same run (in a checkout, or of the installed package)."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnablate.errors import UserError
from cnnablate.perf.benchmarks import BENCHMARKS
from cnnablate.perf.stats import (
    FASTER,
    INCONCLUSIVE,
    SAME,
    SLOWER,
    Ratio,
    log_interval,
    rounds_to_settle,
    unpaired_ratio,
    verdict,
)
from cnnablate.perf.trees import checkout, describe, export, needs_checkout, resolve
from cnnablate.perf.workers import Worker, alone, taking_turns

CALIBRATION = "calibration"
CALIBRATION_ITERATIONS = 300
BASELINES = Path("bench") / "baselines" / "normalised"
REFERENCE, TESTED = "reference", "tested"


@dataclass
class BenchOptions:
    against: str | None = None
    tolerance: float = 0.10
    max_seconds: float = 270.0
    min_rounds: int = 5
    slowdown: float = 0.0  # injected into the tested tree's updates (to measure power)
    benchmarks: list[str] = field(default_factory=lambda: list(BENCHMARKS))
    out: Path = Path("bench") / "results"
    save: str | None = None
    baseline: str | None = None
    baseline_dir: Path | None = None  # default: bench/baselines/normalised in the checkout


@dataclass
class Samples:
    """Seconds per sample of each run, per benchmark and side; rounds done, seconds taken."""

    times: dict[str, dict[str, list[float]]]
    # A/B: per round, the median over the blocks of log(tested / reference), each block of the
    # tested tree paired with the reference's block that ran just before or after it.
    log_ratios: dict[str, list[float]] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)
    rounds: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """What a bench run compares, checked before anything runs or is written."""

    root: Path | None  # the checkout; None: the installed package, run outside one
    commit: str | None = None  # --against
    baseline: dict[str, Any] | None = None  # the stored baseline compared with


def prepare(options: BenchOptions) -> Plan:
    """The plan, or a one-line UserError: --against outside a checkout, an unknown REF or one
    without the bench, a missing baseline or, outside a checkout, no --baseline-dir."""
    root = checkout()
    if options.against is not None:
        if root is None:
            raise needs_checkout(options.against)
        return Plan(root, commit=resolve(root, options.against))
    if options.save is not None:
        baseline_folder(root, options, "--save")
        return Plan(root)
    folder = baseline_folder(root, options, "--baseline")
    return Plan(root, baseline=load_baseline(folder, options.baseline))


def run_bench(
    plan: Plan, options: BenchOptions, say: Callable[[str], None] = print
) -> tuple[dict, int]:
    """The result (also written as JSON and Markdown under `options.out`) and the exit status:
    1 when a benchmark is slower, else 0."""
    if plan.commit is not None:
        result = _against(plan.root, plan.commit, options, say)
    else:
        result = _against_baseline(plan.root, plan.baseline, options, say)
    if options.save is None:
        write_outputs(result, options.out)
    return result, 1 if result["verdict"] == SLOWER else 0


def _against(root: Path, commit: str, options: BenchOptions, say: Callable[[str], None]) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnnablate-bench-") as scratch_name:
        scratch = Path(scratch_name)
        trees = {REFERENCE: export(root, commit, scratch), TESTED: root}
        say(f"A/B: {describe(root, None)} against {describe(root, commit)}")
        workers = {side: Worker(tree, scratch, side) for side, tree in trees.items()}
        try:
            samples = _rounds(workers, options, say, paired=True)
        finally:
            for worker in workers.values():
                worker.close()
    ratios = {b: log_interval(logs) for b, logs in samples.log_ratios.items()}
    header = {
        "kind": "a/b",
        "reference": describe(root, commit),
        "tested": describe(root, None),
        "method": "the two trees take turns block by block; per round the median over blocks of "
        "the time ratio of back-to-back blocks; geometric mean over rounds, t interval on logs",
    }
    return _result(header, samples, ratios, options)


def _against_baseline(
    root: Path | None, stored: dict | None, options: BenchOptions, say: Callable[[str], None]
) -> dict:
    with tempfile.TemporaryDirectory(prefix="cnnablate-bench-") as scratch_name:
        worker = Worker(root, Path(scratch_name), TESTED)
        try:
            samples = _rounds({TESTED: worker}, options, say, paired=False)
        finally:
            worker.close()
    normalised = _normalised(samples)
    if options.save:
        folder = baseline_folder(root, options, "--save")
        path = save_baseline(root, folder, options.save, samples, normalised)
        say(f"saved the baseline {path}")
        return {"verdict": SAME}
    ratios = {
        b: unpaired_ratio(stored["normalised"][b], normalised[b])
        for b in normalised
        if b in stored["normalised"]
    }
    header = {
        "kind": "baseline",
        "reference": f"baseline {stored['name']}: {stored['commit']} on {stored['machine']}",
        "tested": describe(root, None),
        "method": "time / calibration time per round, ratio of geometric means, Welch interval",
    }
    return _result(header, samples, ratios, options)


def _rounds(
    workers: dict[str, Worker], options: BenchOptions, say: Callable[[str], None], paired: bool
) -> Samples:
    """Rounds until every benchmark has a verdict (after `min_rounds`) or time runs out. In a
    round, each benchmark trains once per side; the two sides take turns block by block, and
    which goes first alternates from round to round."""
    names = ([] if paired else [CALIBRATION]) + options.benchmarks
    samples = Samples({name: {side: [] for side in workers} for name in names})
    started = time.monotonic()
    while True:
        round_started = time.monotonic()
        for index, name in enumerate(names):
            sides = list(workers)
            if (samples.rounds + index) % 2:
                sides.reverse()
            answers = dict(zip(sides, _measure(workers, sides, name, options), strict=True))
            for side, answer in answers.items():
                samples.times[name][side].append(_typical(answer))
                samples.batch.setdefault(name, answer.get("batch", 10))
            if paired:
                logs = samples.log_ratios.setdefault(name, [])
                logs.append(_paired_blocks(answers[REFERENCE], answers[TESTED]))
        samples.rounds += 1
        elapsed = samples.seconds = time.monotonic() - started
        settled = _progress(samples, options, elapsed, paired, say)
        per_round = time.monotonic() - round_started
        if samples.rounds >= options.min_rounds and (settled or options.save):
            return samples
        if elapsed + per_round > options.max_seconds and samples.rounds >= 2:
            return samples


def _measure(
    workers: dict[str, Worker], sides: list[str], name: str, options: BenchOptions
) -> list[dict]:
    if name == CALIBRATION:
        return [alone(workers[side], {"calibrate": CALIBRATION_ITERATIONS}) for side in sides]
    requests = [
        {
            "preset": name,
            "updates": BENCHMARKS[name],
            "slowdown": options.slowdown if side == TESTED else 0.0,
        }
        for side in sides
    ]
    if len(sides) == 1:
        return [alone(workers[sides[0]], requests[0])]
    return taking_turns([workers[side] for side in sides], requests)


def _paired_blocks(reference: dict, tested: dict) -> float:
    """The median of log(tested / reference) over blocks that ran back to back: what the
    machine did in between touches both alike."""
    pairs = zip(reference["blocks"], tested["blocks"], strict=False)
    return statistics.median(math.log(t / r) for r, t in pairs)


def _typical(answer: dict) -> float:
    """Seconds per sample of a run: the median of its blocks' (a burst of load elsewhere on the
    machine moves few blocks), else the run's steady state (calibration)."""
    blocks = answer.get("blocks")
    return statistics.median(blocks) if blocks else answer["seconds_per_sample"]


def _progress(
    samples: Samples, options: BenchOptions, elapsed: float, paired: bool, say: Callable
) -> bool:
    parts, settled = [], True
    for name in options.benchmarks:
        if paired and samples.rounds >= 2:
            ratio = log_interval(samples.log_ratios[name])
            said = verdict(ratio, options.tolerance)
            settled &= said != INCONCLUSIVE
            parts.append(f"{name} {ratio.estimate:.3f} [{ratio.low:.3f}, {ratio.high:.3f}] {said}")
        else:
            settled = settled and not paired
            parts.append(
                f"{name} {1e6 * statistics.median(samples.times[name][TESTED]):.1f} µs/sample"
            )
    say(f"round {samples.rounds} ({elapsed:.0f} s): " + " · ".join(parts))
    return settled


def _normalised(samples: Samples) -> dict[str, list[float]]:
    calibration = samples.times[CALIBRATION][TESTED]
    return {
        name: [t / c for t, c in zip(sides[TESTED], calibration, strict=True)]
        for name, sides in samples.times.items()
        if name != CALIBRATION
    }


def _result(
    header: dict, samples: Samples, ratios: dict[str, Ratio], options: BenchOptions
) -> dict:
    rows = {}
    for name, ratio in ratios.items():
        said = verdict(ratio, options.tolerance)
        batch = samples.batch[name]
        row = {
            "updates_per_run": BENCHMARKS[name],
            "batch": batch,
            "ratio": ratio.estimate,
            "low": ratio.low,
            "high": ratio.high,
            "rounds": ratio.n,
            "verdict": said,
        }
        for side, times in samples.times[name].items():
            row[f"{side}_us_per_update"] = 1e6 * batch * statistics.median(times)
            row[f"{side}_us_per_update_by_round"] = [1e6 * batch * t for t in times]
        if said == INCONCLUSIVE:
            row["settle_rounds"] = rounds_to_settle(ratio, options.tolerance)
        rows[name] = row
    verdicts = {row["verdict"] for row in rows.values()}
    overall = next((v for v in (SLOWER, INCONCLUSIVE, FASTER) if v in verdicts), SAME)
    return {
        **header,
        "machine": machine(),
        "tolerance": options.tolerance,
        "confidence": 0.95,
        "injected_slowdown": options.slowdown,
        "rounds": samples.rounds,
        "seconds": samples.seconds,
        "benchmarks": rows,
        "verdict": overall,
    }


def machine() -> str:
    """E.g. 'vm: AMD EPYC, 2 cores, torch 2.13.0+cpu (workers: 1 torch thread each)'."""
    import torch

    from cnnablate.machine import cpu_model

    return (
        f"{platform.node()}: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
        "(workers: 1 torch thread each)"
    )


def baseline_folder(root: Path | None, options: BenchOptions, flag: str) -> Path:
    """`--baseline-dir`, else the checkout's `bench/baselines/normalised`; outside a checkout
    (an installed package) there is none to default to."""
    if options.baseline_dir is not None:
        return options.baseline_dir
    if root is None:
        raise UserError(
            f"{flag}: not in a cnnablate checkout, so there is no bench/baselines/normalised "
            "to use; say where the baselines are with --baseline-dir DIR"
        )
    return root / BASELINES


def load_baseline(folder: Path, name: str | None) -> dict[str, Any]:
    saved = (
        sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    if name is not None:
        saved = [p for p in saved if p.stem == name]
    if not saved:
        wanted = f"a baseline named {name!r}" if name else "a baseline"
        raise UserError(
            f"--baseline: {wanted} is missing from {folder} "
            "(save one with `cnnablate bench --save NAME`, or compare with --against REF)"
        )
    return json.loads(saved[-1].read_text())


def save_baseline(
    root: Path | None, folder: Path, name: str, samples: Samples, normalised: dict
) -> Path:
    from cnnablate.atomic import write_json

    stored = {
        "name": name,
        "commit": describe(root, None),
        "machine": machine(),
        "rounds": samples.rounds,
        "normalised": normalised,
        "seconds_per_sample": {n: s[TESTED] for n, s in samples.times.items()},
    }
    write_json(folder / f"{name}.json", stored)
    return folder / f"{name}.json"


def write_outputs(result: dict, out: Path) -> None:
    from cnnablate.atomic import write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bench.json", result)
    write_text(out / "bench.md", markdown(result))


def markdown(result: dict) -> str:
    tolerance = result["tolerance"]
    lines = [
        f"# Speed: {result['tested']} against {result['reference']}",
        "",
        f"Machine: {result['machine']}. Method: {result['method']}; 95% intervals; "
        f"tolerance {tolerance:.0%} (slower or faster when the interval clears "
        f"{tolerance / 2:.0%}, same when it lies within ±{tolerance:.0%}). "
        f"Rounds: {result['rounds']} in {result['seconds']:.0f} s."
        + (
            f" Injected slowdown of the tested tree: {result['injected_slowdown']:.0%}."
            if result["injected_slowdown"]
            else ""
        ),
        "",
        "| benchmark | batch | reference µs/update | tested µs/update | time ratio | 95% interval "
        "| verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in result["benchmarks"].items():
        said = row["verdict"]
        if said == INCONCLUSIVE:
            said = f"inconclusive: too noisy (about {row['settle_rounds']} rounds would settle it)"
        reference = row.get(f"{REFERENCE}_us_per_update")
        lines.append(
            f"| {name} | {row['batch']} | {f'{reference:,.0f}' if reference else '(baseline)'} "
            f"| {row[f'{TESTED}_us_per_update']:,.0f} | {row['ratio']:.3f} "
            f"| [{row['low']:.3f}, {row['high']:.3f}] | {said} |"
        )
    lines += ["", f"Verdict: **{result['verdict']}**.", ""]
    return "\n".join(lines)


def progress_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
