"""Claim 4 (Nielsen ch. 6): augmentation, a second FC layer, dropout and ensembles each help. The
ensemble has no preset: it is the majority vote of the nielsen-dropout runs' best checkpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnnablate.errors import UserError
from cnnablate.presets import PRESETS
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.contrasts import Contrast, data_name
from cnnablate.report.claims.evidence import Evidence
from cnnablate.report.claims.outcome import NOT_RUN, Part, budget_remark, numbers_verdict, pct
from cnnablate.report.claims.steps import Step
from cnnablate.report.claims.trials import Config
from cnnablate.report.tables import accuracy_interval
from cnnablate.report.trained import (
    TrainedModel,
    load_model,
    load_test_inputs,
    majority_vote,
    predict,
)

AUGMENTATION, SECOND_FC, DROPOUT = "augmentation", "second FC layer", "dropout"


def augmented(config: Config) -> bool:
    return config["data"]["augment"] != "none" or data_name(config) == "mnist-expanded"


@dataclass(frozen=True)
class Ensemble:
    """Nielsen's ensemble of five dropout networks, as a majority vote of checkpoints."""

    preset: str = "nielsen-dropout"
    acc: float = 0.9967  # the lecture's
    topic: str = "ensemble"

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic,)

    @property
    def name(self) -> str:
        return f"ensemble of {self.preset}"

    @property
    def label(self) -> str:
        return f"{self.preset} → ensemble"

    @property
    def lecture(self) -> str:
        return f"{100 * self.acc:.2f}% ({self.name})"

    def parts(self, evidence: Evidence, claim: int) -> list[Part]:
        trials = evidence.trials
        members = []
        for row in trials.of_preset(self.preset).to_dict("records"):
            source = trials.sources[row["source_index"]]
            if source.checkpoint(row) is not None:
                members.append(load_model(source, row))
        if len(members) < 2:
            return []
        try:
            x, y = load_test_inputs(members[0], evidence.data_dir)
        except UserError as error:
            return [Part(claim, self.topic, self.label, NOT_RUN, f"no test data: {error}")]
        return [self.vote(members, x, y, claim)]

    def vote(self, members: list[TrainedModel], x: Any, y: np.ndarray, claim: int) -> Part:
        """The majority vote of `members` on the test inputs `x` (labels `y`) against each."""
        predictions = np.stack([predict(m.model, x) for m in members])
        single = (predictions == y).mean(axis=1)
        ensemble = float((majority_vote(predictions) == y).mean())
        claimed = (PRESETS[self.preset].lecture.acc, self.acc)
        low, high = accuracy_interval(single)
        measured = (
            f"majority vote of {len(members)} nets {pct(ensemble)} vs single nets "
            f"{pct(single.mean())} (mean; 95% CI [{pct(low)}, {pct(high)}])"
        )
        return Part(
            claim,
            self.topic,
            self.label,
            numbers_verdict(single.mean(), ensemble, claimed, math.nan, math.nan),
            measured,
            sources=", ".join(sorted({m.source.name for m in members})),
            note=budget_remark(pd.DataFrame([m.row for m in members])),
            numbers={
                "ensemble": ensemble,
                "single_mean": float(single.mean()),
                "members": len(members),
            },
        )


ENSEMBLE = Ensemble()

CLAIM = Claim(
    4,
    "Augmentation, a second FC layer, dropout and ensembles each help",
    "ablations/nielsen-chain.yaml (expanded, fc2, 5× dropout with checkpoints for the "
    "ensemble) or ablations/lecture-factors.yaml (augmentation, dropout)",
    steps=(
        Step(AUGMENTATION, "nielsen-conv2-relu", "nielsen-expanded"),
        Step(SECOND_FC, "nielsen-expanded", "nielsen-fc2"),
        Step(DROPOUT, "nielsen-fc2", ENSEMBLE.preset),
    ),
    probes=(ENSEMBLE,),
    contrasts=(
        Contrast(
            AUGMENTATION, "no augmentation → augmentation", lambda c: not augmented(c), augmented
        ),
        Contrast(
            DROPOUT,
            "no dropout → dropout",
            lambda c: c["model"]["dropout"] == 0,
            lambda c: c["model"]["dropout"] > 0,
        ),
    ),
)
