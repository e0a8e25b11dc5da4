"""Claim 1 (UDL §10.2): a CNN generalises far better than a fully connected net with many more
parameters, on MNIST-1D."""

from __future__ import annotations

from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.contrasts import Contrast, data_name, no_conv
from cnnablate.report.claims.steps import Step
from cnnablate.report.trained import has_conv

TOPIC = "CNN vs fully connected"

CLAIM = Claim(
    1,
    "A CNN generalises far better than a fully connected net with many more parameters",
    "ablations/mnist1d-udl.yaml (udl-cnn vs udl-fc), or ablations/mnist1d-quick.yaml",
    steps=(Step(TOPIC, "udl-fc", "udl-cnn"),),
    contrasts=(
        Contrast(
            TOPIC,
            "no conv → conv (MNIST-1D)",
            no_conv,
            has_conv,
            scope=lambda c: data_name(c) == "mnist1d",
            smaller_b=True,
        ),
    ),
)
