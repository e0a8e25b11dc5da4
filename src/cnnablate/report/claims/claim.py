"""A claim of the lecture as one object: its statement, the presets it compares (steps), the
factor levels it contrasts, the trained networks it probes, and how its verdict is reached."""

from __future__ import annotations

from dataclasses import dataclass

from cnnablate.presets import PRESETS
from cnnablate.report.claims.contrasts import Contrast
from cnnablate.report.claims.evidence import Evidence, Probe
from cnnablate.report.claims.outcome import (
    DIRECTION_ONLY,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    Part,
    outweighed,
)
from cnnablate.report.claims.steps import Step


@dataclass(frozen=True)
class Claim:
    """Its topics are those of its steps, contrasts and probes: each needs evidence."""

    number: int
    statement: str
    produced_by: str  # the specs that give its evidence
    steps: tuple[Step, ...] = ()
    contrasts: tuple[Contrast, ...] = ()
    probes: tuple[Probe, ...] = ()
    numbers: str = ""  # the lecture's words where its numbers are not a preset's accuracy
    rule: str = ""  # how its probes decide, for the verdict rule's text

    @property
    def topics(self) -> frozenset[str]:
        compared = [item.topic for item in (*self.steps, *self.contrasts)]
        return frozenset(compared + [topic for probe in self.probes for topic in probe.topics])

    @property
    def lecture(self) -> str:
        """The lecture's numbers: each compared network's, then its probes', then any words."""
        named = []
        for step in self.steps:
            for name in (step.b, step.a):
                text = f"{PRESETS[name].claimed} ({name})"
                if text not in named:
                    named.append(text)
        named += [probe.lecture for probe in self.probes if probe.lecture]
        return "; ".join([*named, *([self.numbers] if self.numbers else [])])

    def parts(self, evidence: Evidence) -> list[Part]:
        """Its evidence at hand: steps, then probes, then each grid's contrasts."""
        parts = [p for p in (step.part(evidence.trials, self.number) for step in self.steps) if p]
        for probe in self.probes:
            parts += probe.parts(evidence, self.number)
        for source in evidence.grids:
            for contrast in self.contrasts:
                parts += contrast.parts(evidence.trials, source, self.number)
        return parts

    def verdict(self, parts: list[Part]) -> str:
        """From its parts: short-budget parts outweighed by full-budget ones aside, the worst
        part's verdict, marked '(partly run)' when a topic has no evidence."""
        ran = [p for p in parts if p.verdict != NOT_RUN and not outweighed(p, parts)]
        if not ran:
            return NOT_RUN
        if any(p.verdict == NOT_REPRODUCED for p in ran):
            return NOT_REPRODUCED
        complete = self.topics <= {p.topic for p in ran}
        if any(p.verdict == DIRECTION_ONLY for p in ran):
            return DIRECTION_ONLY if complete else f"{DIRECTION_ONLY} (partly run)"
        return REPRODUCED if complete else PARTLY

    def missing_topics(self, parts: list[Part]) -> list[str]:
        covered = {p.topic for p in parts if p.verdict != NOT_RUN}
        return sorted(self.topics - covered)
