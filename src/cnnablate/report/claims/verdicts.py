"""A verdict on each of the lecture's claims from the results at hand: every claim's parts, the
rule that combines them (its text made from the constants the verdicts use), and the tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnablate.report.claims.evidence import Evidence
from cnnablate.report.claims.lecture import CLAIMS
from cnnablate.report.claims.outcome import DIRECTION_ONLY, SHORT_MARK, TOLERANCE, Part, outweighed
from cnnablate.report.claims.trials import Trials
from cnnablate.report.sources import ResultsSource


def _rule() -> str:
    little = [
        f"'adds little' (claim {claim.number}) when the mean gain is below "
        f"{100 * contrast.little:g} points"
        for claim in CLAIMS.values()
        for contrast in claim.contrasts
        if contrast.little is not None
    ]
    probes = [f"Claim {claim.number}: {claim.rule}" for claim in CLAIMS.values() if claim.rule]
    several = [c for c in CLAIMS.values() if len(c.topics) > 1]
    topics = "; ".join(f"claim {c.number}: {', '.join(sorted(c.topics))}" for c in several)
    return (
        "A part comparing two networks with the lecture's numbers is reproduced when the "
        "lecture's direction holds for the means over seeds and either both means are within "
        f"{100 * TOLERANCE:g} percentage points of the lecture's numbers or the lecture's "
        "difference lies inside the 95% interval of the measured difference (Welch for presets, "
        "paired t for factor levels); when neither holds but the 95% interval lies wholly on the "
        f"lecture's side of zero, its verdict is '{DIRECTION_ONLY}'. A part without numbers is "
        "reproduced when the 95% interval of the difference lies wholly on the lecture's side of "
        f"zero; {'; '.join(little)}. {' '.join(probes)} A claim is reproduced when each of its "
        f"topics ({topics}) has evidence and every part is reproduced; '{DIRECTION_ONLY}' when "
        "no part is worse than that and one is that; not reproduced when any part is not; not "
        "run when no part ran; '(partly run)' when some topic has no evidence. A part at a short "
        f"budget ({SHORT_MARK}) is shown but not counted when its topic has a part at full budget."
    )


RULE = _rule()


def evaluate_parts(
    sources: list[ResultsSource],
    notes: dict[str, pd.Series],
    data_dir: Path | None,
    trials: Trials | None = None,
) -> list[Part]:
    evidence = Evidence(trials or Trials.gather(sources, notes), data_dir)
    return [part for claim in CLAIMS.values() for part in claim.parts(evidence)]


def claims_table(parts: list[Part]) -> pd.DataFrame:
    rows = []
    for claim in CLAIMS.values():
        mine = [p for p in parts if p.claim == claim.number]
        measured = " | ".join(part_summary(p, mine) for p in mine) or "no evidence here"
        missing = claim.missing_topics(mine)
        rows.append(
            {
                "claim": claim.number,
                "statement": claim.statement,
                "lecture": claim.lecture,
                "measured": measured,
                "verdict": claim.verdict(mine),
                "not run": f"{', '.join(missing)}: {claim.produced_by}" if missing else "",
            }
        )
    return pd.DataFrame(rows)


def part_summary(part: Part, parts: list[Part]) -> str:
    counted = " (not counted: short budget, a full-budget part exists)"
    return f"{part.name}: {part.verdict}{counted if outweighed(part, parts) else ''}"


def parts_table(parts: list[Part]) -> pd.DataFrame:
    columns = ["claim", "topic", "part", "verdict", "measured", "sources", "note"]
    rows = [[p.claim, p.topic, p.name, p.verdict, p.measured, p.sources, p.note] for p in parts]
    return pd.DataFrame(rows, columns=columns)
