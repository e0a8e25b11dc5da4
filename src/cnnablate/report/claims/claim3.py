"""Claim 3 (Nielsen ch. 6 and ch. 3): ReLU beats sigmoid; cross-entropy beats squared error."""

from __future__ import annotations

from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.contrasts import Contrast
from cnnablate.report.claims.steps import Step

ACTIVATION, LOSS = "activation", "loss"

CLAIM = Claim(
    3,
    "ReLU beats sigmoid; cross-entropy beats squared error",
    "ablations/nielsen-chain.yaml (conv2, conv2-relu), ablations/lecture-factors.yaml",
    steps=(Step(ACTIVATION, "nielsen-conv2", "nielsen-conv2-relu"),),
    contrasts=(
        Contrast(
            ACTIVATION,
            "sigmoid → ReLU",
            lambda c: c["model"]["activation"] == "sigmoid",
            lambda c: c["model"]["activation"] == "relu",
        ),
        Contrast(
            LOSS, "MSE → cross-entropy", lambda c: c["loss"] == "mse", lambda c: c["loss"] == "ce"
        ),
    ),
    numbers="MSE learns slower",
)
