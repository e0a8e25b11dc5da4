"""The grid plan's queue: every missing cell once, cells cut off with a saved state first."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from cnnablate.runner.plans import make_plan
from cnnablate.runner.spec import parse_spec

SPEC = """
name: order
base: {preset: udl-cnn}
factors:
  model.activation: [sigmoid, relu, tanh]
seeds: [0]
budget: {max_steps: 10}
"""


def waiting_cells(study: optuna.Study) -> list[str]:
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return [t.user_attrs["cell"] for t in sorted(waiting, key=lambda t: t.number)]


def end_all_waiting(study: optuna.Study, failures: dict[str, str]) -> None:
    """Run every waiting trial to a failure: `failures` by cell, the rest an ordinary error."""
    for _ in waiting_cells(study):
        trial = study.ask()
        cell = trial.user_attrs["cell"]
        trial.set_user_attr("failure", failures.get(cell, "RuntimeError: boom"))
        study.tell(trial, state=TrialState.FAIL)


def test_cells_cut_off_are_queued_again_before_the_others():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plan = make_plan(parse_spec(SPEC))
    study = optuna.create_study(sampler=plan.sampler())
    assert plan.queue(study) == 3
    grid_order = waiting_cells(study)
    assert [c.key for c in plan.cells] == grid_order
    last = grid_order[-1]
    end_all_waiting(study, {last: "interrupted: the time limit, state saved"})
    assert plan.queue(study) == 3
    assert waiting_cells(study) == [last, *grid_order[:-1]]
    assert plan.queue(study) == 0  # all waiting: nothing queued twice
