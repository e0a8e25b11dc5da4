"""The GPU campaign, one device call at a time (run through scripts/gpu.sh).

Each call runs, in order, the steps that earlier calls have not finished (a done step runs again
when one of its inputs changed), and stops itself before its budget is spent with its state saved:

1. packs: the microbenchmark of packed layers and concurrent streams (scripts/gpu_bench.py, about
   two minutes): µs per update for k = 1, 2, 4, 8, 16 copies packed by vmap, grouped
   convolutions and unfold + bmm, and for 1, 2, 4, 8 CUDA streams; it recommends a kind of packed
   layers for the device;
2. correctness: the CUDA-only tests (packed layers against vmap and lone networks, graph against
   eager, packed against separate seeds) and a short run whose result.json must say
   `update_path: cuda-graph`;
3. speed: the training benchmarks on the GPU (bench/, contenders side by side), saved as a
   baseline named after the GPU;
4. profile: microseconds per update under a few settings and the kernels of eager updates
   (scripts/gpu_profile.py), where the next speed-up must come from;
5. the campaign: ablations/nielsen-chain.yaml at full budget, then lecture-factors.yaml, through
   the real runner with `--time-limit`, so that cut-off trials resume (first) in the next call.
   Its seeds train packed by the kind the microbenchmark recommends, once the correctness tests
   (which check that kind on the device) have passed; vmap otherwise. Every kind resumes the
   same saved states.

The measurements come first, the tests before the long runs that rely on them. Everything a
later call or the report needs lives in the state folder (default .gpu/, carried to the device
and back): done markers, logs, the microbenchmark's tables (packs/), bench baselines and the
results folders (storage, trial folders with checkpoints and saved training states). At the end
the state is packed into $OUT as gpu-state.tgz.NN parts of at most 15 MiB;
`scripts/gpu-unpack.sh` restores it here.

`--dry` runs every step on the CPU with tiny budgets (part of the test suite).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PART_BYTES = 15 * 1024 * 1024
PACK_RESERVE_S = 25.0  # left at the end for packing the state into $OUT
STOP_MARGIN_S = 30.0  # a cut-off run's last epoch, its result writing and the runner's exit
# What train.packed_layers=auto runs (models/grouped.py), set for the campaign's runs.
PACKED_LAYERS_ENV = "CNNABLATE_PACKED_LAYERS"
MIN_STEP_S = 20.0  # a step given less than this is left for the next call
# One process on the GPU: processes share it by turns (on an H200, two gave no more updates per
# second in all than one), and each cell started adds its saved state to what the next call
# must carry within 64 MiB (fc2: 20 MB, dropout: 33 MB), so one cell is in flight at a time.
CAMPAIGN_WORKERS = 1
TAIL_LINES = 40  # of each command's output, printed (the whole output is in the state's logs)
PACKS_BUDGET_S = 150  # the microbenchmark's rows stop being added after this
GROUPED_TESTS = "tests/models/test_grouped.py"
PACKS_INPUTS = (
    "scripts/gpu_bench.py",
    "src/cnnablate/perf/packs.py",
    "src/cnnablate/models/grouped.py",
    "src/cnnablate/models/grouped_ops.py",
)
PACKS_NETWORK = "nielsen-conv2-relu"  # the recommendation the campaign's networks follow


@dataclass
class Step:
    name: str
    commands: list[list[str]]
    env: dict[str, str] = field(default_factory=dict)
    time_limited: bool = False  # the last command takes --time-limit
    check: str | None = None  # a result.json whose update_path must be cuda-graph
    needs: str | None = None  # a module the step imports (its wheel may stay behind, to fit)
    packed_layers: bool = False  # runs with the packed layers the microbenchmark recommends
    inputs: tuple[str, ...] = ()  # files whose change makes a done step run again

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in self.inputs:
            digest.update(name.encode() + b"\0" + Path(name).read_bytes())
        return digest.hexdigest()[:16]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnnablate", *args]


def pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def steps(state: Path, dry: bool, gpu: str, workers: int = CAMPAIGN_WORKERS) -> list[Step]:
    runs = state / "runs"
    if dry:
        # The suite runs these tests on the CPU itself, and the CPU bench takes minutes: the dry
        # run checks that both are set up.
        check_preset, check_steps = "udl-cnn", "20"
        tests = ["tests/test_graphed.py", "--collect-only"]
        grouped_tests = [GROUPED_TESTS, "--collect-only"]
        packs = ["--dry"]
        bench = ["bench/test_train.py", "--collect-only"]
        specs, spec_args = ["scripts/gpu-dry.yaml"], ["--max-steps", "20", "--workers", "1"]
    else:
        check_preset, check_steps = "nielsen-conv2-relu", "600"
        tests = ["tests/test_graphed.py", "tests/test_train.py", "-k", "graph or packed"]
        grouped_tests = [GROUPED_TESTS]
        packs = ["--budget", str(PACKS_BUDGET_S)]
        bench = ["bench/test_train.py", "bench/test_memory.py", f"--benchmark-save={gpu}"]
        specs = ["ablations/nielsen-chain.yaml", "ablations/lecture-factors.yaml"]
        spec_args = ["--workers", str(workers)]
    check_out = runs / "graph-check"
    plan = [
        Step(
            "packs",
            [[sys.executable, "scripts/gpu_bench.py", "--out", str(state / "packs"), *packs]],
            inputs=PACKS_INPUTS,
        ),
        Step(
            "correctness",
            [
                pytest(*grouped_tests),
                pytest(*tests),
                cli("train", check_preset, "--max-steps", check_steps, "--out", str(check_out)),
            ],
            check=None if dry else str(check_out / "result.json"),
            inputs=(
                "tests/test_graphed.py",
                "tests/test_train.py",
                "src/cnnablate/graphed.py",
                GROUPED_TESTS,
                *PACKS_INPUTS[2:],
            ),
        ),
        Step(
            "speed",
            [pytest(f"--benchmark-storage=file://{(state / 'baselines').resolve()}", *bench)],
            env={"CNNABLATE_BENCH_DEVICE": "cpu" if dry else "cuda"},
        ),
        Step("profile", [[sys.executable, "scripts/gpu_profile.py", *(["--dry"] if dry else [])]]),
    ]
    for spec in specs:
        name = Path(spec).stem
        out = state / "results" / name
        needs = "kornia" if "lecture-factors" in name else None  # augmentation on the GPU
        command = cli("run", spec, "--out", str(out), *spec_args)
        step = Step(f"campaign-{name}", [command], {}, True, needs=needs, packed_layers=True)
        plan.append(step)
    return plan


def gpu_name() -> str:
    import torch

    from cnnablate.machine import gpu_tag

    return gpu_tag() if torch.cuda.is_available() else "cpu"


def describe_machine() -> str:
    import torch

    from cnnablate.machine import git_commit

    lines = [f"python {sys.version.split()[0]}, torch {torch.__version__}, commit {git_commit()}"]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        lines.append(
            f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
            f"{props.multi_processor_count} SMs, CUDA {torch.version.cuda}"
        )
    else:
        lines.append("GPU: none (CPU only)")
    for package in ("pytorch_lightning", "optuna", "kornia", "mnist1d", "pydantic"):
        try:
            module = __import__(package)
            lines.append(f"{package} {getattr(module, '__version__', '?')}")
        except ImportError as error:
            lines.append(f"{package}: MISSING ({error})")
    return "\n".join(lines)


class Campaign:
    def __init__(self, state: Path, out: Path, budget_s: float, dry: bool) -> None:
        self.state, self.out, self.dry = state, out, dry
        self.deadline = time.monotonic() + budget_s
        self.log_dir = state / "logs"
        self.done_dir = state / "done"
        for folder in (self.log_dir, self.done_dir, out):
            folder.mkdir(parents=True, exist_ok=True)
        self.call = time.strftime("%Y%m%dT%H%M%S")
        self.plan: dict[str, Step] = {}

    def left_s(self) -> float:
        return self.deadline - time.monotonic() - PACK_RESERVE_S

    def say(self, text: str) -> None:
        print(f"[gpu {time.strftime('%H:%M:%S')} left {self.left_s():.0f}s] {text}", flush=True)

    def done(self, step: Step) -> bool:
        """Done in this call or an earlier one, with the inputs it has now."""
        marker = self.done_dir / step.name
        return marker.exists() and (not step.inputs or step.fingerprint() in marker.read_text())

    def run(self, plan: list[Step]) -> None:
        self.plan = {step.name: step for step in plan}
        for step in plan:
            marker = self.done_dir / step.name
            if self.done(step):
                self.say(f"{step.name}: done in an earlier call, skipped")
                continue
            if step.needs and importlib.util.find_spec(step.needs) is None:
                self.say(f"{step.name}: needs {step.needs}, not carried this call: next call")
                continue
            if self.left_s() < MIN_STEP_S:
                self.say(f"{step.name}: no time left in this call, next call")
                continue
            ok = self.run_step(step)
            if ok:
                marker.write_text(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {step.fingerprint()}\n")
            self.say(f"{step.name}: {'done' if ok else 'not finished'}")

    def packed_layers(self) -> str:
        """The kind the microbenchmark recommends, once the correctness tests passed; else vmap."""
        packs = self.state / "packs" / "packs.json"
        tested = "correctness" in self.plan and self.done(self.plan["correctness"])
        kind = "vmap"
        if packs.exists() and tested:
            kind = json.loads(packs.read_text())["recommended"].get(PACKS_NETWORK, "vmap")
        why = "recommended by the microbenchmark" if kind != "vmap" else "until measured and tested"
        self.say(f"packed layers: {kind} ({why}; {PACKED_LAYERS_ENV})")
        return kind

    def run_step(self, step: Step) -> bool:
        log = self.log_dir / f"{self.call}-{step.name}.log"
        env = {**os.environ, **step.env, "PYTHONUNBUFFERED": "1"}
        if step.packed_layers:
            env[PACKED_LAYERS_ENV] = self.packed_layers()
        ok = True
        for command in step.commands:
            limit = self.left_s()
            if step.time_limited:
                command = [*command, "--time-limit", f"{max(1.0, limit - STOP_MARGIN_S):.0f}"]
            self.say(f"{step.name}: {' '.join(command[2:] if command[1] == '-m' else command)}")
            code = self.execute(command, env, log, limit)
            ok = ok and code == 0
            if not ok:
                break
        if ok and step.check:
            result = json.loads(Path(step.check).read_text())
            self.say(f"update_path {result['update_path']}, fallback {result['update_fallback']}")
            ok = result["update_path"] == "cuda-graph"
        return ok

    def execute(self, command: list[str], env: dict[str, str], log: Path, limit: float) -> int:
        """Run `command` into `log` for at most `limit` seconds; print the end of its output."""
        start = log.stat().st_size if log.exists() else 0
        with log.open("a") as sink:
            try:
                code = subprocess.run(
                    command, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=limit
                ).returncode
            except subprocess.TimeoutExpired:
                code = -9
                self.say("killed at the call's deadline (the next call resumes from saved state)")
        with log.open() as text:
            text.seek(start)
            lines = text.read().splitlines()
        print("\n".join(f"  | {line}" for line in lines[-TAIL_LINES:]), flush=True)
        self.say(f"exit {code} ({len(lines)} lines in {log})")
        return code

    def pack(self) -> list[Path]:
        """The state (but not the carried inputs) as .tgz parts of at most PART_BYTES."""
        archive = self.out / "gpu-state.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            for entry in sorted(self.state.iterdir()):
                if entry.name not in ("mnist", "out"):
                    tar.add(entry, arcname=entry.name)
        data = archive.read_bytes()
        archive.unlink()
        parts = []
        for index in range(0, max(1, len(data)), PART_BYTES):
            part = self.out / f"gpu-state.tgz.{index // PART_BYTES:02d}"
            part.write_bytes(data[index : index + PART_BYTES])
            parts.append(part)
        self.say(f"state packed: {len(data) / 2**20:.1f} MiB in {len(parts)} part(s) in {self.out}")
        return parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry", action="store_true", help="every step on the CPU, tiny budgets")
    parser.add_argument("--budget", type=float, default=530.0, help="seconds for this call")
    parser.add_argument("--state", type=Path, default=Path(".gpu"), help="carried state folder")
    parser.add_argument("--workers", type=int, default=CAMPAIGN_WORKERS, help="campaign processes")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT") or args.state / "out")
    campaign = Campaign(args.state, out, args.budget, args.dry)
    campaign.say(describe_machine())
    campaign.run(steps(args.state, args.dry, gpu_name(), args.workers))
    campaign.pack()
    names = [step.name for step in steps(args.state, args.dry, "any")]
    pending = [name for name in names if not (campaign.done_dir / name).exists()]
    campaign.say("all steps done" if not pending else f"still to do: {', '.join(pending)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
