"""Claim 6 (UDL §10.1, §10.2, §10.4): convolution is translation-equivariant; max pooling gives
partial invariance. Measured on the probed network's first conv block and test inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnnablate.errors import UserError
from cnnablate.report import probing
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.evidence import PROBE_SPEC, Evidence
from cnnablate.report.claims.outcome import NOT_REPRODUCED, NOT_RUN, REPRODUCED, Part
from cnnablate.report.trained import TrainedModel, load_test_inputs

TOLERANCE = 1e-4  # of the convolution's output scale


@dataclass(frozen=True)
class Shifts:
    equivariance: str = "equivariance"
    invariance: str = "invariance"
    lecture: str = ""

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.equivariance, self.invariance)

    def parts(self, evidence: Evidence, claim: int) -> list[Part]:
        trained = evidence.probe_model
        if trained is None:
            return []
        try:
            x, _ = load_test_inputs(trained, evidence.data_dir)
        except UserError as error:
            return [Part(claim, t, t, NOT_RUN, f"no test data: {error}") for t in self.topics]
        return [self.equivariance_part(trained, x, claim), self.invariance_part(trained, x, claim)]

    def equivariance_part(self, trained: TrainedModel, x: Any, claim: int) -> Part:
        equi = probing.equivariance(trained.model.net, x)
        return Part(
            claim,
            self.equivariance,
            "equivariance of the first convolution",
            REPRODUCED if equi["relative_error"] < TOLERANCE else NOT_REPRODUCED,
            f"max |conv(shift x) − shift(conv x)| = {equi['max_abs_error']:.2e} "
            f"({equi['relative_error']:.1e} of the output scale), {trained.label}",
            sources=trained.source.name,
            numbers=equi,
        )

    def invariance_part(self, trained: TrainedModel, x: Any, claim: int) -> Part:
        net = trained.model.net
        changes = probing.shift_invariance(net, x)
        maximum = changes["max pool 2"]
        pool_ok = maximum < changes["stride 2, no pool"] and maximum < changes["no pooling"]
        stability = probing.prediction_stability(net, x)
        listed = ", ".join(f"{name} {value:.3f}" for name, value in changes.items())
        return Part(
            claim,
            self.invariance,
            "invariance from max pooling",
            REPRODUCED if pool_ok else NOT_REPRODUCED,
            f"relative output change of block 1 under a one-position shift: {listed}; "
            f"whole net: {100 * stability:.1f}% of test predictions unchanged",
            sources=trained.source.name,
            numbers={**changes, "prediction_unchanged": stability},
        )


CLAIM = Claim(
    6,
    "Convolution is translation-equivariant; max pooling gives partial invariance",
    PROBE_SPEC,
    probes=(Shifts(),),
    numbers="equivariance exact; small change under a one-pixel shift with max pooling",
    rule=f"the convolution's equivariance error is below {TOLERANCE:g} of its output scale, and "
    "max pooling changes less under a one-position shift than stride-2 subsampling and than no "
    "pooling.",
)
