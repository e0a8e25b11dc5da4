"""Claim 5 (Nielsen ch. 6), a negative result: L2 regularisation adds little on top of conv/pool
layers."""

from __future__ import annotations

from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.contrasts import Contrast
from cnnablate.report.trained import has_conv

LITTLE = 0.005  # "adds little": a gain below 0.5 percentage points

CLAIM = Claim(
    5,
    "L2 regularisation adds little on top of conv/pool layers",
    "ablations/nielsen-l2.yaml (optim.l2 from 0 to 100 on nielsen-conv2-relu)",
    contrasts=(
        Contrast(
            "L2",
            "no L2 → L2",
            lambda c: c["optim"]["l2"] == 0,
            lambda c: c["optim"]["l2"] > 0,
            scope=has_conv,
            little=LITTLE,
        ),
    ),
    numbers="no gain for λ from 1e-5 to 100",
)
