"""Reports on results folders: tables, figures and a verdict on every lecture claim.

`cnnablate.report(...)` (this package called) is `report_table`: from Python."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cnnablate.callable_modules import make_callable
from cnnablate.callbacks import quiet
from cnnablate.report.build import build_report

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

__all__ = ["build_report", "report_table"]


def report_table(
    results: str | Path | Sequence[str | Path], *, out: str | Path | None = None
) -> pd.DataFrame:
    """Build the report on one or more results folders (default reports/NAME of the first);
    the table of its cells (mean accuracy, interval, parameters, throughput per cell), with
    the report's index.html path in `.attrs["report"]`."""
    import pandas as pd

    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.record import results_table

    folders = [Path(results)] if isinstance(results, str | Path) else [Path(r) for r in results]
    for folder in folders:
        results_table(folder)
    out_dir = Path(out) if out is not None else Path("reports") / folders[0].resolve().name
    with quiet():
        build_report(folders, out_dir, data_dir=resolve_data_dir(None))
    tables = sorted((out_dir / "tables").glob("*-cells.csv"))
    frame = pd.concat(
        [pd.read_csv(t).assign(results=t.stem[:-6]) for t in tables], ignore_index=True
    )
    frame.attrs["report"] = str(out_dir / "index.html")
    return frame


make_callable(__name__, report_table)
