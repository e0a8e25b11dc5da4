"""The lecture's claims 1–8 (docs/lecture.md), one object each, in its order."""

from __future__ import annotations

from cnnablate.report.claims import claim1, claim2, claim3, claim4, claim5, claim6, claim7, claim8
from cnnablate.report.claims.claim import Claim
from cnnablate.report.claims.steps import Step

MODULES = (claim1, claim2, claim3, claim4, claim5, claim6, claim7, claim8)
CLAIMS: dict[int, Claim] = {module.CLAIM.number: module.CLAIM for module in MODULES}
STEPS: list[Step] = [step for claim in CLAIMS.values() for step in claim.steps]
