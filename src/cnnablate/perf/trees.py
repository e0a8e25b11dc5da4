"""The code a speed check runs: this checkout as it stands, a git revision exported to a temporary
folder (`git archive`: nothing is written to the repository), or, outside a checkout, the
installed package (`root` None)."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

from cnnablate.errors import UserError

PACKAGE = "src/cnnablate/__init__.py"
# Where a tree keeps its workloads: the package now, its bench suite before they moved there.
WORKLOADS = ("src/cnnablate/perf/workloads.py", "bench/comparators.py")


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    except FileNotFoundError:  # no git on this machine: as good as no checkout
        return subprocess.CompletedProcess(["git", *args], 127, "", "git: not found")


def checkout() -> Path | None:
    """The cnnablate checkout the command runs in (a git work tree holding the package and its
    workloads), or None (an installed package run elsewhere)."""
    found = git(Path.cwd(), "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        return None
    root = Path(found.stdout.strip())
    has_bench = any((root / name).is_file() for name in WORKLOADS)
    return root if (root / PACKAGE).is_file() and has_bench else None


def needs_checkout(ref: str) -> UserError:
    return UserError(
        f"--against {ref}: needs a git checkout of cnnablate ({Path.cwd()} is not in one); "
        "run it from the repository, or compare with a stored baseline "
        "(--baseline NAME --baseline-dir DIR)"
    )


def resolve(root: Path, ref: str) -> str:
    """`ref` as a commit id, or a one-line UserError for an unknown ref or one without the bench."""
    found = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0 or not found.stdout.strip():
        raise UserError(f"--against: unknown git revision {ref!r} in {root}")
    commit = found.stdout.strip()
    has_bench = any(has_file(root, commit, name) for name in WORKLOADS)
    if not (has_file(root, commit, PACKAGE) and has_bench):
        raise UserError(
            f"--against {ref}: commit {commit[:10]} has no {' or '.join(WORKLOADS)} "
            "(the bench came later); choose a later revision"
        )
    return commit


def has_file(root: Path, commit: str, name: str) -> bool:
    return git(root, "cat-file", "-e", f"{commit}:{name}").returncode == 0


def export(root: Path, commit: str, dest: Path) -> Path:
    """The commit's `src/` and `bench/` under `dest`, as files (no checkout, no worktree)."""
    archive = dest / "tree.tar"
    folders = [name for name in ("src", "bench") if has_file(root, commit, name)]
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", commit, *folders], cwd=root, stdout=out, check=True)
    tree = dest / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    archive.unlink()
    return tree


def describe(root: Path | None, commit: str | None) -> str:
    """'abc1234567 (subject)', or for this tree its HEAD with '+ changes' when dirty, or for the
    installed package its version and folder."""
    if root is None:
        import cnnablate

        return f"cnnablate {cnnablate.__version__} installed in {Path(cnnablate.__file__).parent}"
    head = commit or git(root, "rev-parse", "HEAD").stdout.strip()
    subject = git(root, "log", "-1", "--format=%s", head).stdout.strip()
    label = f"{head[:10]} ({subject[:60]})" if head else "no commit"
    if commit is None and git(root, "status", "--porcelain", "--", "src", "bench").stdout.strip():
        label += " + uncommitted changes"
    return label
