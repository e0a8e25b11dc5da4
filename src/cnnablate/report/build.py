"""`build_report`: results folders in, a report folder out (Markdown, HTML, CSV, PNG, SVG)."""

from __future__ import annotations

from pathlib import Path

from cnnablate.report.budgets import budget_notes
from cnnablate.report.document import Document
from cnnablate.report.front import claims_section, header, headline_section
from cnnablate.report.render import write_document
from cnnablate.report.sections import Context, source_section
from cnnablate.report.sources import load_sources
from cnnablate.report.staging import staged_folder


def build_report(results_dirs: list[Path], out_dir: Path, data_dir: Path | None = None) -> Path:
    """Write the report on `results_dirs` to `out_dir`, replacing it only once complete.

    `data_dir` is where MNIST lives (default: `$CNNABLATE_DATA`, else the user cache dir); it
    is needed for the figures and probes that look at test images.
    """
    sources = load_sources([Path(p) for p in results_dirs])
    notes = {source.name: budget_notes(source) for source in sources}
    out_dir = Path(out_dir)
    with staged_folder(out_dir) as stage:
        context = Context(stage / "figures", data_dir, notes)
        document = Document(f"Report: {', '.join(s.name for s in sources)}")
        parts = headline_section(document, sources, context)
        header(document, sources, context)
        claims_section(document, sources, context, parts)
        for source in sources:
            source_section(document, source, context)
        write_document(document, stage)
    return out_dir
