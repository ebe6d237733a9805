"""A throwaway PostgreSQL server for the ingest tests, and the database backends fixture.

`postgres_server` starts one `tests.postgres_server.PostgresServer` per test process and
stops it at the end of the session. `database_url` parametrises
a test over SQLite and PostgreSQL; the ingest and crash-safety tests import it.

Without PostgreSQL binaries the PostgreSQL cases are skipped, except in CI (``CI`` set),
where `.ci/run` installs them and a missing server is a failure.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.settings import sqlite_url
from indexer.store.db import head_revision, open_database, schema_revision
from indexer.store.repository import Repository
from tests.postgres_server import (
    PostgresServer,
    PostgresStartError,
    postgres_bin_dir,
    start_server,
)

_server: PostgresServer | None = None


def shared_server() -> PostgresServer:
    """Starts the server on first use; one per test process, whichever module asks.

    The modules that import the fixtures below each get their own fixture definitions, so the
    server itself is kept here and stopped at exit (and by the session fixture's teardown).
    """
    global _server
    if _server is not None:
        return _server
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (initdb not found); .ci/run installs it")
        pytest.skip("PostgreSQL is not installed (initdb not found)")
    try:
        server = start_server(bin_dir)
    except PostgresStartError as error:
        pytest.fail(str(error))
    _server = server
    atexit.register(stop_shared_server)
    return server


def stop_shared_server() -> None:
    """Stops the shared server and deletes its files (idempotent)."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield shared_server()
    stop_shared_server()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "home" / "legajo.db")
    return str(request.getfixturevalue("postgres_url"))


def test_migrations_create_the_schema_on_postgres(postgres_url: str) -> None:
    database = open_database(postgres_url)
    try:
        assert database.dialect == "postgresql"
        assert schema_revision(database) == head_revision() is not None
        counts = Repository(database).table_counts()
        assert set(counts) >= {"pages", "lines", "words", "alternatives", "corrections"}
        assert not any(counts.values())
    finally:
        database.close()


def test_opening_twice_keeps_one_schema(postgres_url: str) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        assert schema_revision(first) == schema_revision(second) == head_revision()
    finally:
        first.close()
        second.close()


def test_plain_postgresql_urls_use_psycopg(postgres_url: str) -> None:
    database = open_database(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert database.engine.dialect.driver == "psycopg"
    finally:
        database.close()
