"""A verdict on each of the lecture's claims 1–8 (`lecture.CLAIMS`), from its parts: preset and
factor-level comparisons (`claims.py`) and probes of trained networks (`probe_parts.py`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cnnablate.report.claims import (
    CONTRASTS,
    DIRECTION_ONLY,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    Part,
    Trials,
    contrast_parts,
    preset_part,
)
from cnnablate.report.lecture import CLAIMS, RULE, STEPS
from cnnablate.report.probe_parts import ensemble_part, probe_parts
from cnnablate.report.sources import ResultsSource

__all__ = ["RULE", "claim_verdict", "claims_table", "evaluate_parts", "parts_table"]


def evaluate_parts(
    sources: list[ResultsSource],
    notes: dict[str, pd.Series],
    data_dir: Path | None,
    trials: Trials | None = None,
) -> list[Part]:
    trials = trials or Trials.gather(sources, notes)
    parts: list[Part] = []
    for step in STEPS:
        parts += [p for p in [preset_part(trials, step)] if p]
    parts += [p for p in [ensemble_part(trials, data_dir)] if p]
    for source in sources:
        if source.mode == "grid":
            for contrast in CONTRASTS:
                parts += contrast_parts(trials, source, contrast)
    parts += probe_parts(trials, data_dir)
    return sorted(parts, key=lambda p: p.claim)


def short(part: Part) -> bool:
    return part.note.startswith("†")


def outweighed(part: Part, parts: list[Part]) -> bool:
    """A short-budget part on a topic that also has full-budget evidence: shown, not counted
    (one epoch of a network does not overrule its full training)."""
    return short(part) and any(
        p.topic == part.topic and p.verdict != NOT_RUN and not short(p) for p in parts
    )


def claim_verdict(claim: int, parts: list[Part]) -> str:
    ran = [p for p in parts if p.verdict != NOT_RUN and not outweighed(p, parts)]
    if not ran:
        return NOT_RUN
    if any(p.verdict == NOT_REPRODUCED for p in ran):
        return NOT_REPRODUCED
    complete = CLAIMS[claim].topics <= {p.topic for p in ran}
    if any(p.verdict == DIRECTION_ONLY for p in ran):
        return DIRECTION_ONLY if complete else f"{DIRECTION_ONLY} (partly run)"
    return REPRODUCED if complete else PARTLY


def missing_topics(claim: int, parts: list[Part]) -> list[str]:
    covered = {p.topic for p in parts if p.verdict != NOT_RUN}
    return sorted(CLAIMS[claim].topics - covered)


def claims_table(parts: list[Part]) -> pd.DataFrame:
    rows = []
    for claim in CLAIMS.values():
        mine = [p for p in parts if p.claim == claim.number]
        verdict = claim_verdict(claim.number, mine)
        measured = " | ".join(part_summary(p, mine) for p in mine) or "no evidence here"
        missing = missing_topics(claim.number, mine)
        to_run = f"{', '.join(missing)}: {claim.produced_by}" if missing else ""
        rows.append(
            {
                "claim": claim.number,
                "statement": claim.statement,
                "lecture": claim.lecture,
                "measured": measured,
                "verdict": verdict,
                "not run": to_run,
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
