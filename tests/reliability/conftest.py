"""Fixtures of the reliability tests: the runner's tiny spec and a throwaway PostgreSQL."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.postgres import ClusterUnavailable, ThrowawayCluster
from tests.runner.conftest import TINY_SPEC


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY_SPEC))
    return path


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[ThrowawayCluster]:
    """A PostgreSQL server on 127.0.0.1 for this session; skipped only if it cannot start."""
    try:
        cluster = ThrowawayCluster()
    except ClusterUnavailable as error:
        pytest.skip(f"PostgreSQL tests need a local server: {error}")
    try:
        cluster.start()
    except ClusterUnavailable as error:
        cluster.stop()
        pytest.skip(f"PostgreSQL tests need a local server, which did not start: {error}")
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: ThrowawayCluster) -> str:
    """A fresh, empty database on the session's server: `postgresql+psycopg2://...`."""
    return postgres_cluster.database(f"cnnablate_{uuid.uuid4().hex[:12]}")
