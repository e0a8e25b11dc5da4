"""Claim 7 (UDL §10.2): receptive fields grow with depth, measured per conv block of the probed
network against the formula."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from cnnablate.report import probing
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.evidence import PROBE_SPEC, Evidence
from cnnablate.report.claims.outcome import NOT_REPRODUCED, REPRODUCED, Part


@dataclass(frozen=True)
class ReceptiveFields:
    topic: str = "receptive field"
    lecture: str = ""

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic,)

    def parts(self, evidence: Evidence, claim: int) -> list[Part]:
        trained = evidence.probe_model
        if trained is None:
            return []
        shape = tuple(trained.model.hparams["input_shape"])
        rows = probing.receptive_fields(trained.model.net, shape)
        sizes = [r["measured"] for r in rows]
        agree = all(r["measured"] == r["formula"] for r in rows)
        grows = all(later > earlier for earlier, later in itertools.pairwise(sizes))
        listed = " → ".join(f"{r['measured']} (formula {r['formula']})" for r in rows)
        part = Part(
            claim,
            self.topic,
            "receptive field per conv block",
            REPRODUCED if agree and grows else NOT_REPRODUCED,
            f"{listed} of {shape[-1]} input positions; the fully connected head then sees all "
            f"{shape[-1]}. {trained.label}",
            sources=trained.source.name,
            numbers={"rows": rows},
        )
        return [part]


CLAIM = Claim(
    7,
    "Receptive fields grow with depth",
    PROBE_SPEC,
    probes=(ReceptiveFields(),),
    numbers="kernel 3: 3, 5, 7 …, then the whole input",
    rule="the measured receptive field equals the formula at every depth and grows with it.",
)
