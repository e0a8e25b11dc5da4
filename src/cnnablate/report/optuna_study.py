"""An Optuna study's own view: best trials, parameter importances, optimisation history."""

from __future__ import annotations

import math

import optuna
import pandas as pd
from optuna.trial import TrialState

BEST_SHOWN = 10


def best_trials(study: optuna.Study, trials: pd.DataFrame, shown: int = BEST_SHOWN) -> pd.DataFrame:
    """The best completed trials by the study's objective, with their parameters, test accuracy
    and budget mark (`trials`: the finished trials with a `budget` column)."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    maximise = study.direction == optuna.study.StudyDirection.MAXIMIZE
    complete.sort(key=lambda t: t.value if maximise else -t.value, reverse=True)
    by_number = trials.set_index("trial")
    rows = []
    for trial in complete[:shown]:
        known = trial.number in by_number.index
        rows.append(
            {
                "trial": trial.number,
                "objective": trial.value,
                **trial.params,
                "test_acc": by_number.at[trial.number, "test_acc"] if known else math.nan,
                "budget": by_number.at[trial.number, "budget"] if known else "",
            }
        )
    return pd.DataFrame(rows)


def importances(study: optuna.Study) -> tuple[pd.DataFrame, str | None]:
    """fANOVA importances (Optuna's default evaluator), or an empty table and the reason."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return pd.DataFrame(), f"parameter importances need 2 completed trials ({len(complete)})"
    try:
        values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError) as error:
        return pd.DataFrame(), f"parameter importances not computed: {error}"
    table = pd.DataFrame({"parameter": list(values), "importance": list(values.values())})
    return table, None


def history(study: optuna.Study) -> pd.DataFrame:
    """Objective per trial in order, with the best value so far (completed trials only)."""
    maximise = study.direction == optuna.study.StudyDirection.MAXIMIZE
    rows, best = [], None
    for trial in study.get_trials(deepcopy=False):
        if trial.state != TrialState.COMPLETE:
            rows.append({"trial": trial.number, "state": trial.state.name, "objective": math.nan})
            continue
        value = trial.value
        better = best is None or (value > best if maximise else value < best)
        best = value if better else best
        rows.append({"trial": trial.number, "state": "COMPLETE", "objective": value, "best": best})
    frame = pd.DataFrame(rows)
    if "best" in frame:
        frame["best"] = frame["best"].ffill()
    return frame
