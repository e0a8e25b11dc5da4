"""The report's first sections, before each results folder's: the lecture's numbers beside ours,
what the report was built from, and the verdict on each of the lecture's claims."""

from __future__ import annotations

from cnnablate.report import figures
from cnnablate.report.claims import verdicts
from cnnablate.report.claims.outcome import Part
from cnnablate.report.claims.trials import Trials
from cnnablate.report.document import Document, Table
from cnnablate.report.headline import for_reading, headline_table
from cnnablate.report.provenance import (
    budget_warning,
    dirty_commits,
    provenance_table,
    report_date,
)
from cnnablate.report.sections import Context
from cnnablate.report.sources import ResultsSource


def header(document: Document, sources: list[ResultsSource], context: Context) -> None:
    section = document.section("Built from")
    section.text(f"Report made {report_date()} from {len(sources)} results folder(s).")
    warning = budget_warning(sources, context.notes)
    if warning:
        section.text(warning, warning=True)
    if dirty_commits(sources):
        section.text(
            "Some trials ran from a working tree with uncommitted changes (commit '-dirty').",
            warning=True,
        )
    for source in sources:
        for note in source.notes:
            section.text(note, warning=True)
    section.add(
        Table(
            "provenance",
            "Specs, commits, devices and trials",
            provenance_table(sources, context.notes),
        )
    )


def headline_section(
    document: Document, sources: list[ResultsSource], context: Context
) -> list[Part]:
    """The lecture's numbers beside ours, first, where any lecture network ran; returns the
    claims' parts (the claims section shows them)."""
    trials = Trials.gather(sources, context.notes)
    parts = verdicts.evaluate_parts(sources, context.notes, context.data_dir, trials)
    table = headline_table(trials, parts)
    if table.empty:
        return parts
    section = document.section("The lecture's numbers and ours")
    section.text(
        "Each network of the lecture that ran here: the test accuracy the lecture reports and "
        "ours, the mean over n seeds with its 95% interval (t over seeds, truncated at "
        "100%), and the budget it ran at (full, or † and the fraction of the lecture's "
        "updates). Nielsen's networks are measured as he does: test accuracy at the epoch of "
        "best validation accuracy."
    )
    section.add(Table("headline", "The lecture's numbers and ours", table, for_reading(table)))
    context.figure(
        section,
        figures.headline(table),
        "headline",
        "Lecture (×) and ours (mean, 95% CI) per network; † below the lecture's budget",
    )
    return parts


def claims_section(
    document: Document, sources: list[ResultsSource], context: Context, parts: list[Part]
) -> None:
    section = document.section("The lecture's claims")
    section.text(f"Verdict rule. {verdicts.RULE}")
    section.add(
        Table("claims", "One row per claim of docs/lecture.md", verdicts.claims_table(parts))
    )
    if parts:
        section.add(Table("claim-evidence", "Every measured part", verdicts.parts_table(parts)))
