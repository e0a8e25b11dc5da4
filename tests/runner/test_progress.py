"""The matrix's progress: a bar on a terminal (above Lightning's), plain lines in a log."""

import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from cnnablate.runner.progress import MatrixProgress, eta_text, trial_label


def study_with(states: list[TrialState]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for number, state in enumerate(states):
        trial = study.ask()
        trial.set_user_attr("cell", json.dumps({"activation": "relu", "seed": number}))
        trial.set_user_attr("result", {"status": "ok", "wall_s": 10.0 * (number + 1)})
        if state == TrialState.COMPLETE:
            study.tell(trial, 0.5)
        elif state != TrialState.RUNNING:
            study.tell(trial, state=state)
    return study


def test_eta_is_mean_trial_time_times_remaining_over_workers():
    assert eta_text([10.0, 20.0], remaining=3, workers=2) == "ETA 0m22s"
    assert eta_text([100.0], remaining=2, workers=1) == "ETA 3m20s"
    assert eta_text([], remaining=3, workers=1) == ""
    assert eta_text([5.0], remaining=0, workers=1) == ""


def test_bar_counts_finished_cells_of_total_with_running_and_eta():
    out = io.StringIO()
    study = study_with([TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING])
    progress = MatrixProgress("demo", total=5, workers=1, mode="bar", file=out)
    progress.start(study)
    progress.close()
    frame = out.getvalue().split("\r")[-1]
    # two done (10 s and 20 s each), three to go: 15 s × 3
    assert "demo:  40%" in frame and "2/5 cells" in frame
    assert "1 running" in frame and "ETA 0m45s" in frame


def test_only_trials_ending_after_start_are_reported_once_each():
    out = io.StringIO()
    study = study_with([TrialState.COMPLETE, TrialState.RUNNING])
    progress = MatrixProgress("demo", total=3, workers=2, mode="lines", file=out)
    progress.start(study)
    running = study.get_trials(states=(TrialState.RUNNING,))[0]
    study.tell(running.number, state=TrialState.FAIL)
    progress.report_ended(study)
    progress.report_ended(study)
    assert out.getvalue().splitlines() == ["[demo] trial 1 (activation=relu, seed 1): failed"]


def test_an_optuna_trial_is_named_once():
    study = optuna.create_study()
    trial = study.ask()
    assert trial_label(trial) == "trial 0"


def test_lines_mode_writes_whole_lines_and_off_mode_nothing():
    study = study_with([TrialState.COMPLETE])
    for mode, expected in (
        ("lines", "[demo] 1/2 done, 0 running, ETA 0m10s; starting cell-9\n"),
        ("off", ""),
    ):
        out = io.StringIO()
        progress = MatrixProgress("demo", total=2, workers=1, mode=mode, file=out)
        progress.starting(study, "cell-9")
        progress.close()
        assert out.getvalue() == expected


def run_on_terminal(args: list[str], cwd: Path, timeout: float = 240) -> str:
    """Run `cnnablate ARGS` with a 120×40 pseudo-terminal as stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnnablate.cli", *args],
        cwd=cwd,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every writer has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


def test_terminal_shows_the_matrix_bar_above_lightnings(tiny_spec, tmp_path):
    text = run_on_terminal(["run", str(tiny_spec), "--out", str(tmp_path / "out")], tmp_path)
    frames = text.replace("\r", "\n").splitlines()
    bars = [f for f in frames if "cells [" in f]
    assert bars and "tiny:   0%" in bars[0] and "0/6 cells" in bars[0]
    assert "6/6 cells" in bars[-1]
    assert any(f.startswith("Epoch ") for f in frames), "Lightning's per-trial bar is missing"
    assert not any("; starting" in f for f in frames), "a terminal gets the bar, not lines"


def test_terminal_with_workers_shows_one_bar_fed_from_the_storage(tiny_spec, tmp_path):
    out = tmp_path / "out"
    text = run_on_terminal(["run", str(tiny_spec), "--out", str(out), "--workers", "2"], tmp_path)
    frames = text.replace("\r", "\n").splitlines()
    assert "6/6 cells" in [f for f in frames if "cells [" in f][-1]
    ended = [f for f in frames if f.startswith("[tiny] trial ")]
    assert len(ended) == 6 and all(f.endswith(": ok") for f in ended)
