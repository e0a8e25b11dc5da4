"""The false-alarm rate and the power of `cnnablate bench --against`, measured on this machine.

Runs `cnnablate bench --against HEAD` on a clean checkout RUNS times with unchanged code and RUNS
times with a slowdown injected into the tested tree (`--inject-slowdown`), alternating, and
prints the Markdown table that `bench/README.md` quotes. Start it with nothing else running:

    python scripts/bench_power.py --runs 10 --out bench/power      # about 50 minutes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def one_run(out: Path, slowdown: float) -> dict:
    command = [sys.executable, "-m", "cnnablate", "bench", "--against", "HEAD", "--out", str(out)]
    if slowdown:
        command += ["--inject-slowdown", str(slowdown)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    result = json.loads((out / "bench.json").read_text())
    return {**result, "wall_s": time.monotonic() - started, "exit": done.returncode}


def table(runs: list[dict]) -> str:
    names = list(runs[0]["benchmarks"])
    lines = [
        "| code | runs | said slower (exit 1) | "
        + " | ".join(f"{n}: slower / same / inconclusive" for n in names)
        + " | time ratio, range | minutes per run (mean, max) |",
        "| --- " * (5 + len(names)) + "|",
    ]
    for label, injected in (("unchanged", False), ("10% slower", True)):
        chosen = [r for r in runs if bool(r["injected_slowdown"]) == injected]
        if not chosen:
            continue
        cells = []
        for name in names:
            said = [r["benchmarks"][name]["verdict"] for r in chosen]
            cells.append(
                f"{said.count('slower')} / {said.count('same')} / {said.count('inconclusive')}"
            )
        ratios = [r["benchmarks"][n]["ratio"] for r in chosen for n in names]
        minutes = [r["wall_s"] / 60 for r in chosen]
        lines.append(
            f"| {label} | {len(chosen)} | {sum(r['exit'] == 1 for r in chosen)} | "
            + " | ".join(cells)
            + f" | {min(ratios):.3f}–{max(ratios):.3f} | "
            f"{sum(minutes) / len(minutes):.1f}, {max(minutes):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--slowdown", type=float, default=0.10)
    parser.add_argument("--out", type=Path, default=Path("bench/power"))
    args = parser.parse_args()
    runs = []
    for index in range(2 * args.runs):
        slowdown = args.slowdown if index % 2 else 0.0
        out = args.out / f"run-{index // 2:02d}-{'slower' if slowdown else 'unchanged'}"
        runs.append(one_run(out, slowdown))
        verdicts = {n: b["verdict"] for n, b in runs[-1]["benchmarks"].items()}
        print(f"{out.name}: {runs[-1]['wall_s']:.0f} s, {verdicts}", flush=True)
    text = table(runs)
    (args.out / "summary.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
