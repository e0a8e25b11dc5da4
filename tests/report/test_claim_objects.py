"""The claims as objects: one per claim of docs/lecture.md, and one rule for which metric stands
for a network, the same in the headline and in the claims' parts."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pandas as pd
import pytest

from cnnablate.presets import PRESETS
from cnnablate.report import claims as claims_package
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.lecture import CLAIMS, STEPS
from cnnablate.report.claims.trials import Trials
from cnnablate.report.headline import headline_table, lecture_networks
from cnnablate.report.metric import NIELSEN, TEST_ACC, as_shown, dataset_metric, metric_of

REPORT = Path(claims_package.__file__).parent.parent


def claim_objects() -> list[Claim]:
    found = {}
    for info in pkgutil.iter_modules(claims_package.__path__):
        module = importlib.import_module(f"{claims_package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Claim):
                found[id(value)] = value
    return list(found.values())


def test_each_claim_of_the_lecture_has_exactly_one_object():
    numbers = sorted(claim.number for claim in claim_objects())
    assert numbers == list(range(1, 9))
    assert list(CLAIMS) == numbers
    assert all(CLAIMS[claim.number] is claim for claim in claim_objects())


def test_a_topic_belongs_to_one_claim_and_every_claim_has_one():
    topics = [topic for claim in CLAIMS.values() for topic in claim.topics]
    assert all(claim.topics for claim in CLAIMS.values())
    assert len(topics) == len(set(topics))


def test_the_metric_is_a_property_of_the_data_set():
    for name, preset in PRESETS.items():
        assert metric_of(name) == dataset_metric(preset.dataset)
        assert metric_of(name) == (TEST_ACC if preset.dataset == "mnist1d" else NIELSEN)


def test_a_step_compares_two_networks_measured_alike():
    for step in STEPS:
        assert metric_of(step.a) == metric_of(step.b)


@pytest.fixture
def trials() -> Trials:
    """Two trials of every network the claims compare; the final test accuracy and the one at
    best validation differ, so each shows which one was read."""
    rows = [
        {"matched_preset": name, "budget": "", "source": "s", "test_acc": final, "steps": None,
         "test_acc_at_best_val": at_best}
        for name in lecture_networks()
        for final, at_best in ((0.50, 0.70), (0.60, 0.80))
    ]  # fmt: skip
    return Trials(pd.DataFrame(rows), [None] * len(rows), [])


def test_headline_and_steps_read_each_network_by_the_one_rule(trials: Trials):
    headline = headline_table(trials, []).set_index("network")
    for name in lecture_networks():
        metric = metric_of(name)
        expected = metric.values(trials.of_preset(name)).mean()
        assert headline.loc[name, "metric"] == metric.label
        assert headline.loc[name, "measured"] == pytest.approx(expected)
    for step in STEPS:
        part = step.part(trials, 0)
        metric = metric_of(step.a)
        assert part.numbers["mean_a"] == pytest.approx(
            metric.values(trials.of_preset(step.a)).mean()
        )
        as_error = PRESETS[step.a].lecture.as_error
        assert f" {as_shown(metric.label, as_error)};" in part.measured


def test_only_modes_py_asks_which_kind_of_study_a_source_is():
    asking = re.compile(r"\.mode\s*[!=]=")
    for path in REPORT.rglob("*.py"):
        if path.name not in {"modes.py", "sources.py"}:
            assert not asking.search(path.read_text()), path
