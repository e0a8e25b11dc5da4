"""Claim 2 (Nielsen ch. 6): conv/pool layers beat the plain MLP on MNIST."""

from __future__ import annotations

from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.contrasts import Contrast, data_name, no_conv
from cnnablate.report.claims.steps import Step
from cnnablate.report.trained import has_conv

TOPIC = "conv vs MLP"

CLAIM = Claim(
    2,
    "Conv/pool layers beat the plain MLP on MNIST",
    "ablations/nielsen-chain.yaml (shallow, conv1) or ablations/lecture-factors.yaml",
    steps=(Step(TOPIC, "nielsen-shallow", "nielsen-conv1"),),
    contrasts=(
        Contrast(
            TOPIC,
            "no conv → conv (MNIST)",
            no_conv,
            has_conv,
            scope=lambda c: data_name(c) != "mnist1d",
        ),
    ),
)
