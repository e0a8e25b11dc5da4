"""A throwaway PostgreSQL cluster on loopback, made with the server's own binaries.

Debian's `postgresql` package puts `initdb` and `pg_ctl` in /usr/lib/postgresql/<version>/bin.
The server refuses to run as root, so as root every server command runs as the `postgres` user
(`runuser -u postgres --`), in a temporary folder that user owns. Authentication is `trust`:
the cluster listens on 127.0.0.1 only and lives as long as the test session.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"
START_TIMEOUT_S = 60


class ClusterUnavailable(Exception):
    """The server cannot be started here; the message says why (for the skip reason)."""


def server_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, else PATH's."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    raise ClusterUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no initdb "
        "on PATH): `apt-get install -y postgresql` provides them"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_server_user() -> list[str]:
    """The prefix that runs a command as the server's user ([] unless we are root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailable(f"running as root and there is no '{SERVER_USER}' user") from None
    if shutil.which("runuser") is None:
        raise ClusterUnavailable("running as root and `runuser` is missing")
    return ["runuser", "-u", SERVER_USER, "--"]


class ThrowawayCluster:
    """initdb + pg_ctl start in a temporary folder; `database(name)` gives a SQLAlchemy URL."""

    def __init__(self) -> None:
        self.bin_dir = server_bin_dir()
        self.prefix = as_server_user()
        self.root = Path(tempfile.mkdtemp(prefix="cnnablate-pg-"))
        if self.prefix:
            shutil.chown(self.root, user=SERVER_USER)
        self.data = self.root / "data"
        self.port = free_port()

    def _server(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        command = [*self.prefix, str(self.bin_dir / tool), *args]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ClusterUnavailable(f"{tool} failed: {' | '.join(tail)}")

    def start(self) -> ThrowawayCluster:
        self._server("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=200"
        )
        log = self.root / "server.log"
        self._server("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(ClusterUnavailable, subprocess.TimeoutExpired):
            self._server("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """A new, empty database; its URL."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)
