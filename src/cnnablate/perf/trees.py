"""The source trees an A/B compares: this checkout as it stands, and a git revision exported to a
temporary folder (`git archive`: nothing is written to the repository)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from cnnablate.errors import UserError

NEEDED = ("src/cnnablate/__init__.py", "bench/comparators.py")


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def this_tree() -> Path:
    """The checkout the command runs in (a git work tree holding the bench)."""
    found = git(Path.cwd(), "rev-parse", "--show-toplevel")
    root = Path(found.stdout.strip()) if found.returncode == 0 else Path.cwd()
    missing = [name for name in NEEDED if not (root / name).is_file()]
    if missing:
        raise UserError(
            f"{root}: not a cnnablate checkout with its bench ({missing[0]} missing); "
            "run `cnnablate bench` from the repository"
        )
    return root


def resolve(root: Path, ref: str) -> str:
    """`ref` as a commit id, or a one-line UserError for an unknown ref or one without the bench."""
    found = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise UserError(f"--against: unknown git revision {ref!r} in {root}")
    commit = found.stdout.strip()
    for name in NEEDED:
        if git(root, "cat-file", "-e", f"{commit}:{name}").returncode != 0:
            raise UserError(
                f"--against {ref}: commit {commit[:10]} has no {name} (the bench came later); "
                "choose a later revision"
            )
    return commit


def export(root: Path, commit: str, dest: Path) -> Path:
    """The commit's `src/` and `bench/` under `dest`, as files (no checkout, no worktree)."""
    archive = dest / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", commit, "src", "bench"], cwd=root, stdout=out, check=True)
    tree = dest / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


def describe(root: Path, commit: str | None) -> str:
    """'abc1234567 (subject)', or for this tree its HEAD with '+ changes' when dirty."""
    head = commit or git(root, "rev-parse", "HEAD").stdout.strip()
    subject = git(root, "log", "-1", "--format=%s", head).stdout.strip()
    label = f"{head[:10]} ({subject[:60]})" if head else "no commit"
    if commit is None and git(root, "status", "--porcelain", "--", "src", "bench").stdout.strip():
        label += " + uncommitted changes"
    return label
