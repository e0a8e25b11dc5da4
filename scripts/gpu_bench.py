"""Packed layers and concurrent streams, measured: µs per update and updates per second of k
networks trained at once (run first in each device call by scripts/gpu_campaign.py).

For nielsen-conv2-relu (batch 10) and udl-cnn (batch 100): the lone network; k = 2, 4, 8, 16
copies packed by each kind of packed layers (vmap, grouped, unfold: `models/grouped.py`); and
1, 2, 4, 8 lone networks each on its own CUDA stream (on the CPU: threads, labelled so). Each
measurement is `cnnablate.perf.packs`'s: the module's own update, CUDA graphs where there is CUDA,
the speed checks' clock. Writes packs.json and packs.md into --out and prints the tables; the
kind it recommends per network (the fastest over k = 2, 4, 8, by at least 5% against vmap) is
what the campaign's runs use on that device. `--dry`: the same on the CPU, in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from cnnablate.machine import describe_device
from cnnablate.perf.packs import (
    KINDS,
    LONE,
    Measurement,
    measure_concurrent,
    measure_packed,
    recommend,
)

PRESETS = ("nielsen-conv2-relu", "udl-cnn")
COPIES, STREAMS = (1, 2, 4, 8, 16), (1, 2, 4, 8)


def plan(dry: bool) -> list[tuple[str, str, int]]:
    """(preset, how, networks) in order: packs first (what the campaign needs), streams last."""
    copies, streams = ((1, 2), (1, 2)) if dry else (COPIES, STREAMS)
    rows = []
    for preset in PRESETS:
        rows.append((preset, LONE, 1))
        rows += [(preset, kind, k) for k in copies if k > 1 for kind in KINDS]
    return rows + [(preset, "streams", n) for preset in PRESETS for n in streams]


def measure(row: tuple[str, str, int], device: torch.device, steps: int, seconds: float):
    preset, how, networks = row
    if how == "streams":
        return measure_concurrent(preset, networks, device, steps, seconds)
    return measure_packed(preset, networks, "vmap" if how == LONE else how, device, steps, seconds)


def cell(measurement: Measurement | None, one: float | None) -> str:
    if measurement is None:
        return "-"
    times = f", {measurement.us_per_update / one:.2f}×" if one else ""
    return f"{measurement.us_per_update:,.0f} µs{times}, {measurement.updates_per_s:,.0f}/s"


def table(measurements: list[Measurement], preset: str) -> list[str]:
    """One network's grid: rows k, columns the kinds and the streams."""
    mine = [m for m in measurements if m.network == preset]
    lone = next((m for m in mine if m.how == LONE), None)
    one = lone.us_per_update if lone else None
    concurrent = next((m.how for m in mine if m.how not in (LONE,) and "packed" not in m.how), "")
    columns = [f"packed: {kind}" for kind in KINDS] + [concurrent or "streams"]
    lines = [
        f"| {preset}: networks | {' | '.join(columns)} |",
        "| --- " * (len(columns) + 1) + "|",
    ]
    for k in sorted({m.networks for m in mine}):
        found = {m.how: m for m in mine if m.networks == k}
        cells = [cell(lone if k == 1 and "packed" in c else found.get(c), one) for c in columns]
        lines.append(f"| {k} | {' | '.join(cells)} |")
    return lines


def markdown(report: dict, measurements: list[Measurement]) -> str:
    lines = [
        f"# Packed layers and concurrent streams on {report['device']}",
        "",
        f"torch {report['torch']}, {report['date']}; blocks of {report['steps']} updates, "
        f"at least {report['seconds']} s per measurement, the best of {report['repeats']} "
        "(rounds of all rows). Each cell: µs per update of all the "
        "networks together, that against one lone network's, network updates per second in all.",
        "",
    ]
    for preset in PRESETS:
        lines += table(measurements, preset)
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in report["ratios"][preset].items())
        lines += [
            "",
            f"{preset}: recommended packed layers **{report['recommended'][preset]}** "
            f"(µs against vmap's over k = 2, 4, 8: {ratios or 'not measured'})",
            "",
        ]
    if report["skipped"]:
        lines.append(f"Not measured: {', '.join(report['skipped'])}")
    lines += [f"Failed: {row}: {error}" for row, error in report["failed"].items()]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, device: torch.device) -> tuple[dict, list[Measurement]]:
    """Every row of the plan, `args.repeats` times round (interleaved, so that a slow spell of a
    shared machine does not fall on one row alone), each row's fastest kept."""
    deadline = time.monotonic() + args.budget
    best: dict[tuple[str, str, int], Measurement] = {}
    failed: dict[str, str] = {}
    rows = plan(args.dry)
    for _ in range(args.repeats):
        for row in rows:
            if time.monotonic() > deadline:
                break
            try:
                found = measure(row, device, args.steps, args.seconds)
            except Exception as error:  # one row's failure leaves the others measured
                name, why = " ".join(map(str, row)), f"{type(error).__name__}: {error}"[:300]
                print(f"{name}: failed: {why}", file=sys.stderr, flush=True)
                failed[name] = why
                continue
            print(f"{found.network} {found.how} ×{found.networks}: {found.us_per_update:,.0f} µs "
                  f"per update ({found.update_path})", file=sys.stderr, flush=True)  # fmt: skip
            if row not in best or found.us_per_update < best[row].us_per_update:
                best[row] = found
    measurements = [best[row] for row in rows if row in best]
    skipped = [f"{p} {how} ×{n}" for p, how, n in rows if (p, how, n) not in best]
    recommended, ratios = {}, {}
    for preset in PRESETS:
        recommended[preset], ratios[preset] = recommend(measurements, preset)
    report = {
        "device": describe_device(device),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "steps": args.steps,
        "seconds": args.seconds,
        "repeats": args.repeats,
        "recommended": recommended,
        "ratios": ratios,
        "skipped": skipped,
        "failed": failed,
        "measurements": [m.as_dict() for m in measurements],
    }
    return report, measurements


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="on the CPU, k <= 2, in seconds")
    parser.add_argument("--out", type=Path, default=Path("packs-out"), help="folder for the files")
    parser.add_argument("--seconds", type=float, default=None, help="timed per measurement")
    parser.add_argument("--steps", type=int, default=None, help="updates per block")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds for all rows")
    parser.add_argument("--threads", type=int, default=None, help="torch's CPU threads")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of all rows, best kept")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.seconds = args.seconds if args.seconds is not None else (0.0 if args.dry else 1.5)
    args.steps = args.steps or (2 if args.dry else 50)
    cuda = torch.cuda.is_available() and not args.dry
    report, measurements = run(args, torch.device("cuda" if cuda else "cpu"))
    text = markdown(report, measurements)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "packs.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "packs.md").write_text(text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
