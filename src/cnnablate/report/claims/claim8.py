"""Claim 8 (UDL §10.2, §10.3): a conv layer has C_i·C_o·K·K weights and C_o biases, counted on
every conv layer of the probed network."""

from __future__ import annotations

from dataclasses import dataclass

from cnnablate.report import probing
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.evidence import PROBE_SPEC, Evidence
from cnnablate.report.claims.outcome import NOT_REPRODUCED, REPRODUCED, Part


@dataclass(frozen=True)
class ParameterCounts:
    topic: str = "parameter count"
    lecture: str = ""

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic,)

    def parts(self, evidence: Evidence, claim: int) -> list[Part]:
        trained = evidence.probe_model
        if trained is None:
            return []
        rows = probing.conv_parameter_counts(trained.model.net)
        agree = all(r["formula"] == r["actual"] for r in rows)
        listed = "; ".join(
            f"{r['C_i']}·{r['C_o']}·{r['K']} + {r['C_o']} = {r['formula']:,} "
            f"(layer has {r['actual']:,})"
            for r in rows
        )
        part = Part(
            claim,
            self.topic,
            "parameters per conv layer",
            REPRODUCED if agree else NOT_REPRODUCED,
            f"{listed}. {trained.label}",
            sources=trained.source.name,
            numbers={"rows": rows},
        )
        return [part]


CLAIM = Claim(
    8,
    "A conv layer has C_i·C_o·K·K weights + C_o biases",
    PROBE_SPEC,
    probes=(ParameterCounts(),),
    numbers="C_i·C_o·K·K + C_o",
    rule="every conv layer holds C_i·C_o·K^d + C_o parameters.",
)
