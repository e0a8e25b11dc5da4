"""Build a report folder beside its target and swap it in only once it is complete."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnnablate.errors import UserError


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target`, renamed over it when the block succeeds.

    The previous `target` stays in place until the new folder is complete; an exception (or an
    interrupt) removes the temporary folder and leaves `target` as it was.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UserError(f"--out {target}: exists and is not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        stage.chmod(0o755)  # mkdtemp's 0700 would hide the report from other users
    except OSError as error:
        raise UserError(f"--out {target}: not writable ({error.strerror})") from None
    try:
        yield stage
        _swap_in(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, target: Path) -> None:
    if not target.exists():
        stage.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    target.rename(old)  # the previous report moves aside only now, with the new one complete
    try:
        stage.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
