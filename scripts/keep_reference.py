"""The weight files a report reads, so that only those are committed with the reference runs.

A reference run keeps every trial's `result.json` and `metrics.csv` (small, tracked), while
`*.ckpt` is ignored: committing every checkpoint would put tens of MB of weights in git that no
report opens. This builds the report into a scratch folder, records each checkpoint it loads
(best models, probes, the dropout ensemble) and prints their paths, e.g.

    .venv/bin/python scripts/keep_reference.py $(bash scripts/lecture-report.sh --sources) \\
        | xargs git add -f
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cnnablate.report.trained as trained
from cnnablate.report import build_report


def checkpoints_read(sources: list[Path]) -> list[Path]:
    loaded: set[Path] = set()
    load = trained.load_trained

    def recording(path: Path):
        loaded.add(Path(path))
        return load(path)

    trained.load_trained = recording
    try:
        with tempfile.TemporaryDirectory() as scratch:
            build_report(sources, Path(scratch) / "report")
    finally:
        trained.load_trained = load
    return sorted(loaded)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for path in checkpoints_read([Path(a) for a in argv]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
