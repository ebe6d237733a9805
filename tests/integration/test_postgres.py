"""A throwaway PostgreSQL server for the ingest tests, and the database backends fixture.

`postgres_server` runs initdb into a temporary folder and starts the machine's PostgreSQL on a
Unix socket there (as the ``postgres`` user when the tests run as root, since PostgreSQL
refuses to run as root), and stops it at the end of the session. `database_url` parametrises
a test over SQLite and PostgreSQL; the ingest and crash-safety tests import it.

Without PostgreSQL binaries the PostgreSQL cases are skipped, except in CI (``CI`` set),
where `.ci/run` installs them and a missing server is a failure.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.settings import sqlite_url
from indexer.store.db import head_revision, open_database, schema_revision
from indexer.store.repository import Repository

_database_numbers = itertools.count()


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, None when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@dataclass
class PostgresServer:
    """A running throwaway server reachable through a Unix socket in `socket_dir`."""

    bin_dir: Path
    base: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(self.command(tool, *args), check=True, capture_output=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.base}&port={self.port}"

    def create_database(self) -> str:
        name = f"legajo_test_{os.getpid()}_{next(_database_numbers)}"
        self.run("createdb", "-h", str(self.base), "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def start(self) -> None:
        self.run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-k {self.base} -p {self.port} -c listen_addresses='' -c fsync=off"
        self.run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.base / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        subprocess.run(
            self.command("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
            capture_output=True,
            timeout=60,
            check=False,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    run_as = None
    base = Path(tempfile.mkdtemp(prefix="legajo-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        os.chown(base, user.pw_uid, user.pw_gid)
    server = PostgresServer(bin_dir, base, _free_port(), run_as)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        log = base / "server.log"
        details = log.read_text() if log.exists() else error.stderr.decode(errors="replace")
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {error}\n{details}")
    _server = server
    atexit.register(stop_shared_server)
    return server


def stop_shared_server() -> None:
    """Stops the shared server and deletes its files (idempotent)."""
    global _server
    if _server is not None:
        _server.stop()
        shutil.rmtree(_server.base, ignore_errors=True)
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
