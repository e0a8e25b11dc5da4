"""What a report was built from: specs and hashes, commits, devices, dates, trial counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from cnnablate.report.sources import ResultsSource


def _distinct(frame: pd.DataFrame, column: str) -> str:
    if column not in frame:
        return "unknown"
    values = sorted({str(v) for v in frame[column].dropna()})
    return ", ".join(values) if values else "unknown"


def _counts(frame: pd.DataFrame, column: str) -> str:
    if column not in frame or frame.empty:
        return "none"
    counts = frame[column].fillna("unknown").value_counts()
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def _span(frame: pd.DataFrame) -> str:
    started = frame["started"].dropna() if "started" in frame else pd.Series(dtype=object)
    finished = frame["finished"].dropna() if "finished" in frame else pd.Series(dtype=object)
    if started.empty or finished.empty:
        return "unknown"
    first, last = pd.to_datetime(started).min(), pd.to_datetime(finished).max()
    return f"{first:%Y-%m-%dT%H:%M:%S} to {last:%Y-%m-%dT%H:%M:%S}"


def source_provenance(source: ResultsSource, budget: pd.Series) -> dict[str, Any]:
    frame = source.frame
    short = int((budget != "").sum()) if len(budget) else 0
    return {
        "results": str(source.path),
        "spec": source.name,
        "spec hash": source.spec_hash or "unknown (no study.db)",
        "mode": source.mode,
        "trials": f"{len(frame)} ({_counts(frame, 'state')}; status: {_counts(frame, 'status')})",
        "short budget": f"{short} of {len(source.finished)} finished trials",
        "commits": _distinct(frame, "commit"),
        "devices": _distinct(frame, "device"),
        "torch": _distinct(frame, "version_torch"),
        "ran": _span(frame),
    }


def provenance_table(sources: list[ResultsSource], notes: dict[str, pd.Series]) -> pd.DataFrame:
    rows = [source_provenance(source, notes[source.name]) for source in sources]
    return pd.DataFrame(rows)


def dirty_commits(sources: list[ResultsSource]) -> bool:
    return any(
        str(c).endswith("-dirty") for s in sources for c in s.frame.get("commit", pd.Series())
    )


def report_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def budget_warning(sources: list[ResultsSource], notes: dict[str, pd.Series]) -> str | None:
    """One sentence for the header when any trial ran capped or short, else None."""
    parts = []
    for source in sources:
        marked = sorted({n for n in notes[source.name] if n})
        if marked:
            count = int((notes[source.name] != "").sum())
            parts.append(f"{source.name}: {count} trials ({'; '.join(marked)})")
    if not parts:
        return None
    return (
        "Some trials trained less than their preset's own budget or under a step cap; their "
        "rows are marked † and their numbers are not the lecture's setting. " + " | ".join(parts)
    )
