"""The order cells start in: cut off first, then the longest training first."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from cnnablate.runner.grid import cell_config
from cnnablate.runner.plans import make_plan
from cnnablate.runner.schedule import start_order, training_work
from cnnablate.runner.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
name: sizes
base: {preset: udl-mlp, set: {data.num_samples: 600}}
factors:
  model.hidden: [[4], [256, 256], [32]]
seeds: [0, 1]
budget: {max_steps: 10}
"""


def test_the_chain_starts_with_its_longest_networks():
    spec = load_spec(ROOT / "ablations" / "nielsen-chain.yaml")
    plan = make_plan(spec)
    order = start_order(plan.cells, lambda c: cell_config(spec, c.params), cut_off=set())
    work = [training_work(cell_config(spec, c.params)) for c in order]
    assert work == sorted(work, reverse=True)
    assert dict(order[0].levels)["preset"] == "nielsen-dropout"  # 1.7 M weights, 60 epochs
    last = {dict(c.levels)["preset"] for c in order[-3:]}
    assert last == {"nielsen-mlp30-mse"}  # 784-30-10, 30 epochs of 50,000


def test_cells_cut_off_come_first_whatever_their_length():
    spec = parse_spec(SPEC)
    cells = make_plan(spec).cells
    small = next(c for c in cells if dict(c.levels)["model.hidden"] == "[4]")
    order = start_order(cells, lambda c: cell_config(spec, c.params), cut_off={small.key})
    assert order[0] == small


def test_the_queue_holds_the_cells_longest_first_a_cells_seeds_together():
    spec = parse_spec(SPEC)
    plan = make_plan(spec)
    study = optuna.create_study(sampler=plan.sampler())
    assert plan.queue(study) == 6
    waiting = study.get_trials(states=(TrialState.WAITING,))
    queued = [json.loads(t.user_attrs["cell"]) for t in waiting]
    assert [c["model.hidden"] for c in queued] == [
        "[256,256]",
        "[256,256]",
        "[32]",
        "[32]",
        "[4]",
        "[4]",
    ]
    assert [c["seed"] for c in queued] == [0, 1, 0, 1, 0, 1]
