"""Verdict rules, the ensemble vote, preset matching, and the claims of a real tiny run."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cnnablate.presets import get_preset
from cnnablate.report.budgets import budget_notes
from cnnablate.report.claims import outcome, verdicts
from cnnablate.report.claims import trials as claims_trials
from cnnablate.report.claims.claim4 import ENSEMBLE
from cnnablate.report.claims.lecture import CLAIMS, STEPS
from cnnablate.report.sources import load_sources
from cnnablate.report.trained import load_model, load_test_inputs, majority_vote, predict


def test_numbers_verdict_needs_the_direction_and_closeness_or_the_difference_in_the_interval():
    claimed = (0.9780, 0.9878)
    assert outcome.numbers_verdict(0.975, 0.990, claimed, math.nan, math.nan) == outcome.REPRODUCED
    # Far from the numbers, but the lecture's difference (0.98 points) is inside the interval.
    assert outcome.numbers_verdict(0.90, 0.93, claimed, 0.005, 0.05) == outcome.REPRODUCED
    # The lecture's direction beyond doubt, its numbers and difference missed.
    assert outcome.numbers_verdict(0.90, 0.93, claimed, 0.02, 0.05) == outcome.DIRECTION_ONLY
    # The direction of the means, but an interval that holds zero and misses the difference.
    assert outcome.numbers_verdict(0.90, 0.93, claimed, -0.02, 0.005) == outcome.NOT_REPRODUCED
    # The wrong direction is never reproduced, however close.
    assert outcome.numbers_verdict(0.980, 0.979, claimed, -0.01, 0.01) == outcome.NOT_REPRODUCED


def test_direction_verdict_needs_the_whole_interval_above_zero():
    assert outcome.direction_verdict(0.001) == outcome.REPRODUCED
    assert outcome.direction_verdict(-0.001) == outcome.NOT_REPRODUCED
    assert outcome.direction_verdict(math.nan) == outcome.NOT_REPRODUCED


def test_majority_vote_counts_votes_and_breaks_ties_to_the_lowest_class():
    predictions = np.array([[1, 2, 3, 4], [1, 5, 3, 5], [2, 5, 0, 6]])
    assert majority_vote(predictions).tolist() == [1, 5, 3, 4]


def test_a_presets_own_config_matches_it_and_an_override_does_not():
    fingerprints = {
        name: claims_trials.comparable(get_preset(name).config.model_dump())
        for name in ("udl-cnn", "udl-fc")
    }
    config = get_preset("udl-cnn").config.model_dump()
    config["train"]["max_steps"] = 50  # budget aside
    config["data"]["eval_batch_size"] = 10
    assert claims_trials.preset_of(config, fingerprints) == "udl-cnn"
    config["optim"]["lr"] = 0.05
    assert claims_trials.preset_of(config, fingerprints) is None


def test_a_presets_full_budget_trials_are_not_pooled_with_its_short_ones():
    def rows(preset: str, budget: str, accs: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            {"matched_preset": preset, "budget": budget, "source": "s", "test_acc": accs}
        )

    short = "5,000 of nielsen-conv1's 300,000 steps"
    frame = pd.concat(
        [
            rows("nielsen-shallow", short, [0.92, 0.92]),
            rows("nielsen-shallow", "", [0.978, 0.977]),
            rows("nielsen-conv1", short, [0.93, 0.94]),
        ],
        ignore_index=True,
    )
    trials = claims_trials.Trials(frame, [], [])
    assert trials.of_preset("nielsen-shallow")["test_acc"].tolist() == [0.978, 0.977]
    assert trials.of_preset("nielsen-conv1")["test_acc"].tolist() == [0.93, 0.94]
    step = next(s for s in STEPS if s.a == "nielsen-shallow")
    part = step.part(trials, 2)
    assert "97.75%" in part.measured and "(n=2)" in part.measured
    assert part.note == f"† short budget: {short}"


def test_a_short_budget_part_does_not_overrule_full_budget_evidence_on_its_topic():
    full = outcome.Part(2, "conv vs MLP", "shallow → conv1", outcome.REPRODUCED, "")
    short = outcome.Part(
        2, "conv vs MLP", "no conv → conv", outcome.NOT_REPRODUCED, "", note="† short budget: x"
    )
    assert CLAIMS[2].verdict([full, short]) == outcome.REPRODUCED
    assert CLAIMS[2].verdict([short]) == outcome.NOT_REPRODUCED  # nothing outweighs it
    row = verdicts.claims_table([full, short]).set_index("claim").loc[2]
    assert "no conv → conv: not reproduced (not counted: short budget" in row["measured"]


def test_claim_verdict_combines_topics():
    part = lambda topic, verdict: outcome.Part(3, topic, topic, verdict, "")
    assert CLAIMS[3].verdict([]) == outcome.NOT_RUN
    assert CLAIMS[3].verdict([part("activation", outcome.REPRODUCED)]) == outcome.PARTLY
    both = [part("activation", outcome.REPRODUCED), part("loss", outcome.REPRODUCED)]
    assert CLAIMS[3].verdict(both) == outcome.REPRODUCED
    mixed = [part("activation", outcome.NOT_REPRODUCED), part("loss", outcome.REPRODUCED)]
    assert CLAIMS[3].verdict(mixed) == outcome.NOT_REPRODUCED
    sized = [part("activation", outcome.DIRECTION_ONLY), part("loss", outcome.REPRODUCED)]
    assert CLAIMS[3].verdict(sized) == outcome.DIRECTION_ONLY
    assert CLAIMS[3].verdict(sized[:1]) == f"{outcome.DIRECTION_ONLY} (partly run)"
    worse = [part("activation", outcome.DIRECTION_ONLY), part("loss", outcome.NOT_REPRODUCED)]
    assert CLAIMS[3].verdict(worse) == outcome.NOT_REPRODUCED


def test_without_evidence_every_claim_is_not_run_and_names_a_spec():
    table = verdicts.claims_table([])
    assert list(table["claim"]) == list(range(1, 9))
    assert set(table["verdict"]) == {outcome.NOT_RUN}
    assert table["not run"].str.contains("ablations/|spec").all()


@pytest.fixture(scope="module")
def grid_parts(grid_results: Path) -> list[outcome.Part]:
    sources = load_sources([grid_results])
    notes = {s.name: budget_notes(s) for s in sources}
    return verdicts.evaluate_parts(sources, notes, data_dir=None)


def test_probes_on_the_tiny_cnn_settle_claims_6_to_8(grid_parts):
    by_topic = {p.topic: p for p in grid_parts}
    assert by_topic["equivariance"].verdict == outcome.REPRODUCED
    assert by_topic["equivariance"].numbers["relative_error"] < 1e-5
    rows = by_topic["receptive field"].numbers["rows"]
    assert [r["formula"] for r in rows] == [3, 7]  # kernel 3 stride 2, twice
    assert [r["measured"] for r in rows] == [3, 7]
    counts = by_topic["parameter count"].numbers["rows"]
    assert [(r["formula"], r["actual"]) for r in counts] == [
        (1 * 4 * 3 + 4,) * 2,
        (4 * 4 * 3 + 4,) * 2,
    ]
    invariance = by_topic["invariance"].numbers
    assert set(invariance) >= {"max pool 2", "mean pool 2", "stride 2, no pool", "no pooling"}


def test_factor_contrast_of_the_tiny_grid_is_claim_1_evidence_with_its_caveats(grid_parts):
    part = next(p for p in grid_parts if p.claim == 1)
    assert part.numbers["n_pairs"] == 4  # (activation, seed) pairs of mlp → cnn
    assert "short budget" in part.note
    table = verdicts.claims_table(grid_parts)
    assert table.set_index("claim").loc[5, "verdict"] == outcome.NOT_RUN


def test_ensemble_is_the_majority_vote_of_the_checkpoints(grid_results):
    source = load_sources([grid_results])[0]
    rows = source.finished[source.finished["param.architecture"] == "cnn"].to_dict("records")
    members = [load_model(source, row) for row in rows]
    x, y = load_test_inputs(members[0], None)
    part = ENSEMBLE.vote(members, x, y, claim=4)
    predictions = [predict(m.model, x) for m in members]
    votes = []
    for sample in zip(*predictions, strict=True):
        counts = Counter(sample)
        top = max(counts.values())
        votes.append(min(label for label, count in counts.items() if count == top))
    assert part.numbers["ensemble"] == pytest.approx(float(np.mean(np.array(votes) == y)))
    singles = [float(np.mean(p == y)) for p in predictions]
    assert part.numbers["single_mean"] == pytest.approx(np.mean(singles))
    # Each checkpoint is its trial's best epoch (by test accuracy: no validation split here).
    for row, single in zip(rows, singles, strict=True):
        curve = pd.read_csv(source.trial_dir(row) / "metrics.csv")
        assert single == pytest.approx(curve["test_acc"].max(), abs=1e-6)
