"""`scripts/gpu.sh --dry`: every step of the GPU campaign on the CPU with tiny budgets, its state
packed for the next call, and a second call that skips what the first finished."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"packs", "correctness", "speed", "profile", "campaign-gpu-dry"}


def gpu_dry(state: Path, out: Path, budget: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(out), "PYTHON": os.environ.get("PYTHON", sys.executable)}
    command = ["bash", "scripts/gpu.sh", "--dry", "--state", str(state), "--budget", str(budget)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def unpacked_names(out: Path) -> set[str]:
    parts = sorted(out.glob("gpu-state.tgz.*"))
    assert parts and all(p.stat().st_size <= 15 * 2**20 for p in parts)
    data = b"".join(part.read_bytes() for part in parts)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return set(tar.getnames())


@pytest.mark.slow
def test_dry_campaign_runs_every_step_packs_its_state_and_resumes(tmp_path):
    state, out = tmp_path / "state", tmp_path / "out"
    first = gpu_dry(state, out)
    assert first.returncode == 0, first.stdout + first.stderr
    assert {p.name for p in (state / "done").iterdir()} == STEPS, first.stdout
    assert "all steps done" in first.stdout
    assert (out / "gpu.log").read_text() == first.stdout
    names = unpacked_names(out)
    quick = "results/gpu-dry"
    assert {f"{quick}/results.parquet", f"{quick}/study.db", "done/speed"} <= names
    # The microbenchmark first: its table in the output, its files in the state; the campaign's
    # runs use the packed layers it recommends, once the correctness step is done.
    assert first.stdout.index("packs: done") < first.stdout.index("correctness: done")
    header = "| nielsen-conv2-relu: networks | packed: vmap | packed: grouped | packed: unfold |"
    assert header in first.stdout and "CPU threads (not CUDA streams)" in first.stdout
    assert {"packs/packs.json", "packs/packs.md"} <= names
    packs = json.loads((state / "packs" / "packs.json").read_text())
    assert packs["device"].startswith("cpu") and len(packs["measurements"]) == 12
    kind = packs["recommended"]["nielsen-conv2-relu"]
    assert f"packed layers: {kind} (" in first.stdout
    assert not any(name.startswith(("mnist", "out")) for name in names)  # inputs stay behind

    second = gpu_dry(state, tmp_path / "out2")
    assert second.returncode == 0, second.stdout + second.stderr
    for step in STEPS:
        assert f"{step}: done in an earlier call, skipped" in second.stdout


def test_a_call_without_time_leaves_every_step_for_the_next(tmp_path):
    result = gpu_dry(tmp_path / "state", tmp_path / "out", budget=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("no time left in this call, next call") == len(STEPS)
    assert not list((tmp_path / "state" / "done").iterdir())
    assert "still to do: packs, correctness, speed, profile, campaign-gpu-dry" in result.stdout


def test_a_done_step_runs_again_when_its_inputs_change(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from gpu_campaign import Campaign, Step
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    watched = tmp_path / "test_file.py"
    watched.write_text("v1\n")
    step = Step("check", [[sys.executable, "-c", "pass"]], inputs=(str(watched),))
    campaign = Campaign(tmp_path / "state", tmp_path / "out", 300, dry=True)
    for _ in range(2):
        campaign.run([step])
    watched.write_text("v2\n")
    campaign.run([step])
    said = capsys.readouterr().out
    assert said.count("check: done in an earlier call, skipped") == 1
    assert said.count("check: done\n") == 2
