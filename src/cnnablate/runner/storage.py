"""Where a study lives and how workers share it safely.

- Storage: SQLite in the results folder by default; any Optuna storage URL otherwise
  (`postgresql://...` to spread workers over machines, `journal:PATH` for a journal file).
- Claiming: popping a waiting trial is atomic on PostgreSQL and on journal storage but not on
  SQLite, so workers on one machine take an exclusive file lock around every claim. Enqueueing
  the cells and failing lost trials is not atomic anywhere: on PostgreSQL, where machines share
  a study, the same section also holds a database-wide advisory lock (as does creating the
  tables, which two processes starting on an empty database would otherwise race).
- Liveness: each running trial carries its worker's host, pid, process start time (psutil)
  and a heartbeat. A trial whose worker is gone (same host, process dead) or silent for longer
  than `stale_after_s` is failed and its cell queued again. Heartbeats and the judgement of
  silence use the database's clock (`storage_now`), so machines whose clocks disagree still
  agree on who is silent. Optuna's own heartbeat covers only `study.optimize`, not ask/tell,
  hence ours.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import psutil
import sqlalchemy
from filelock import FileLock
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from cnnablate.errors import Unavailable, UserError
from cnnablate.runner.optuna_access import engine_of

HEARTBEAT_S = 5.0
ADVISORY_LOCK_KEY = 0x636E6E61626C6174  # "cnnablat": one lock for table creation and claims


def default_storage_url(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / 'study.db').resolve()}"


def open_storage(url: str) -> BaseStorage:
    """An Optuna storage for `url`; an unreachable or malformed URL is a one-line UserError."""
    try:
        if url.startswith("journal:"):
            return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
        engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        if url.startswith("postgresql"):
            engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
        # RDBStorage creates the tables of an empty database: two processes opening it at once
        # (a run and a status, two workers) would race.
        with database_lock(url), sqlite_file_lock(url):
            return RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        # A database server that does not answer is no fault of the URL; a bad URL, driver or
        # SQLite path is.
        unreachable = type(error).__name__ == "OperationalError" and not url.startswith("sqlite")
        raise (Unavailable if unreachable else UserError)(
            f"--storage {url!r}: cannot open ({first})"
        ) from None


@cache
def _lock_engine(url: str) -> sqlalchemy.Engine:
    # NullPool: closing a connection ends its server session, and with it the session's locks.
    return sqlalchemy.create_engine(
        url, poolclass=sqlalchemy.NullPool, connect_args={"connect_timeout": 10}
    )


@contextmanager
def sqlite_file_lock(url: str) -> Iterator[None]:
    """Exclusive across the processes of this machine for a SQLite file; nothing otherwise."""
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or path == ":memory:" or not Path(path).parent.is_dir():
        yield  # nothing to share, or a folder SQLite itself will refuse
        return
    with FileLock(f"{path}.lock"):
        yield


@contextmanager
def database_lock(url: str) -> Iterator[None]:
    """Exclusive across every process on a PostgreSQL database; nothing for other storages.

    A session-level advisory lock: the server releases it when the holder's connection ends,
    so a killed process never leaves it held.
    """
    if not url.startswith("postgresql"):
        yield
        return
    with _lock_engine(url).connect() as connection:
        connection.execute(
            sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        )
        yield


@contextmanager
def claim_lock(out_dir: Path, storage_url: str) -> Iterator[None]:
    """Exclusive across the processes of this machine (and, on PostgreSQL, of every machine):
    one claim (pop, enqueue, fail lost trials) at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(out_dir / ".claim.lock"), database_lock(storage_url):
        yield


def process_start_time(pid: int) -> float | None:
    """When `pid` started (to tell a reused pid from the original); None if it is gone or a
    zombie."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.Error:
        return None


def storage_now(storage: BaseStorage) -> float:
    """Seconds since the epoch by the database's clock (RDB storages), else by this machine's."""
    engine = engine_of(storage)
    if engine is None:
        return time.time()
    with engine.connect() as connection:
        value = connection.execute(sqlalchemy.text("SELECT CURRENT_TIMESTAMP")).scalar()
    if isinstance(value, str):  # SQLite: UTC as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def worker_identity() -> dict[str, str | int | None]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": process_start_time(pid)}


def claim_attrs(storage: BaseStorage) -> dict[str, str | int | float | None]:
    """What a claimed trial carries from the start: its worker and a first heartbeat."""
    return {**worker_identity(), "heartbeat": storage_now(storage)}


def worker_is_gone(attrs: dict, now: float, stale_after_s: float) -> bool:
    """True when the trial's worker is known dead (this host) or silent past the deadline."""
    if attrs.get("host") == socket.gethostname() and attrs.get("pid") is not None:
        start = process_start_time(int(attrs["pid"]))
        if start is None or start != attrs.get("pid_start"):
            return True
    beat = attrs.get("heartbeat")
    return beat is None or now - float(beat) > stale_after_s


class Heartbeat:
    """Writes `heartbeat = time()` into a running trial's user attrs every few seconds."""

    def __init__(self, storage: BaseStorage, trial_id: int, every_s: float = HEARTBEAT_S) -> None:
        self.storage, self.trial_id, self.every_s = storage, trial_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _beat(self) -> None:
        # A missed beat is harmless: the next one retries.
        with contextlib.suppress(Exception):
            self.storage.set_trial_user_attr(self.trial_id, "heartbeat", storage_now(self.storage))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._beat()

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
