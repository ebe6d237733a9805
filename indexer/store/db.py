"""Opening the database: engine, SQLite pragmas, write transactions, migrations.

`open_database(url)` returns a `Database` whose schema is at the latest Alembic revision:
migrations run automatically, under a lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory
lock) so that two processes opening a new database at once do not both create it.

SQLite runs in WAL mode (readers never block the writer), with foreign keys on and a busy
timeout, and every write transaction starts with ``BEGIN IMMEDIATE``: writers queue for the
lock up front instead of failing halfway with "database is locked".
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from indexer.errors import (
    DatabaseAccessError,
    DatabaseMissingError,
    DatabaseOpenError,
    DatabaseUrlError,
)

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 60.0
"""How long a SQLite writer waits for another writer's transaction before giving up."""

SQLITE_ANALYSIS_LIMIT = 0
"""Rows of each index ANALYZE reads (``PRAGMA analysis_limit``): 0, all of them. Sampled
statistics (2,000 and 20,000 rows tried) led the planner to opposite plans on the same data."""

_WRITE_OPTION = "legajo_write"
_MIGRATION_LOCK_KEY = 0x6C65_6761  # "lega": PostgreSQL advisory lock id for migrations


@dataclass(frozen=True, slots=True)
class Database:
    """An open database at the latest schema revision.

    Attributes:
        url: The URL, password hidden.
        engine: The SQLAlchemy engine.
    """

    url: str
    engine: Engine
    _read_sessions: sessionmaker[Session]
    _write_sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"`` (or another SQLAlchemy dialect name)."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end.

        Raises:
            DatabaseAccessError: If the database cannot be reached or stays locked.
        """
        try:
            with self._read_sessions() as session:
                yield session
        except OperationalError as error:
            raise DatabaseAccessError(f"database {self.url}: {error.orig or error}") from error

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for one write transaction: committed at the end, rolled back on error.

        Raises:
            DatabaseAccessError: If the database cannot be reached or stays locked (other
                database errors, such as constraint violations, pass through).
        """
        try:
            with self._write_sessions() as session, session.begin():
                yield session
        except OperationalError as error:
            raise DatabaseAccessError(f"database {self.url}: {error.orig or error}") from error

    def close(self) -> None:
        """Closes every pooled connection."""
        self.engine.dispose()

    def has_statistics(self) -> bool:
        """Whether the query planner has table statistics (always True but for SQLite)."""
        if self.dialect != "sqlite":
            return True
        with self.read() as session:
            found = session.execute(
                text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).first()
        return found is not None

    def refresh_statistics(self) -> None:
        """Brings the query planner's statistics up to date, after a bulk load or an index run.

        Without them SQLite drives a search filtered by collection from the collection's
        pages instead of the word index: 70x slower for a frequent word on 100,000 lines
        (`bench/api_latency.py`). It reads every index: 0.4 s for 100,000 lines.

        PostgreSQL's autovacuum analyzes a table once a tenth of it has changed, but only at
        its next round (a minute apart, longer on a busy server): searches right after a bulk
        load would be planned from an empty table's statistics. ANALYZE samples 30,000 rows
        per table, so it costs about the same on any size.

        Raises:
            DatabaseAccessError: If the database cannot be written (or stays locked).
        """
        started = time.perf_counter()
        with self.write() as session:
            if self.dialect == "sqlite":
                session.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
            session.execute(text("ANALYZE"))
        logger.debug("refreshed the planner's statistics in %.2f s", time.perf_counter() - started)


def parse_url(url: str) -> URL:
    """Parses a database URL, choosing psycopg 3 for plain ``postgresql://`` URLs.

    Raises:
        DatabaseUrlError: If the URL cannot be parsed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(f"not a database URL: {url!r} ({error})") from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Opens (and creates, for SQLite) a database and brings its schema up to date.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///legajo-data/legajo.db`` or
            ``postgresql://user@host/legajo``.
        migrate: Apply pending migrations (the default); False for tools that only inspect.

    Returns:
        The open database.

    Raises:
        DatabaseUrlError: If the URL is malformed or its driver is not installed.
        DatabaseOpenError: If the database cannot be reached or migrated.
    """
    parsed = parse_url(url)
    safe_url = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = _create_engine(parsed)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise DatabaseUrlError(f"cannot use database URL {safe_url}: {error}") from error
    database = Database(
        url=safe_url,
        engine=engine,
        _read_sessions=sessionmaker(engine, expire_on_commit=False),
        _write_sessions=sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        ),
    )
    if migrate:
        try:
            upgrade_schema(database)
        except SQLAlchemyError as error:
            engine.dispose()
            raise DatabaseOpenError(f"cannot open database {safe_url}: {error}") from error
    return database


def open_existing_database(url: str, *, upgrade: bool = True) -> Database:
    """Opens a database that already holds legajo's tables, for commands that only read.

    Nothing is created: no folder, no SQLite file, no schema. A legajo database of an older
    schema revision is brought up to date, as `open_database` does, unless `upgrade` is
    False.

    Args:
        url: SQLAlchemy URL, as for `open_database`.
        upgrade: Apply pending migrations; False refuses a database that needs them
            (a server that must write nothing).

    Returns:
        The open database.

    Raises:
        DatabaseUrlError: If the URL is malformed or its driver is not installed.
        DatabaseMissingError: If there is no such database: no SQLite file at the path (or
            an in-memory one), a file that is not a SQLite database, a PostgreSQL
            database that does not exist, or a database without legajo's tables.
        DatabaseOpenError: If the database cannot be reached or migrated, or without
            `upgrade` is not at the latest schema revision.
    """
    parsed = parse_url(url)
    safe_url = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not parsed.query.get("uri"):
        if parsed.database in (None, "", ":memory:"):
            raise DatabaseMissingError(f"database {safe_url} is in memory and holds nothing")
        if not Path(parsed.database).is_file():
            raise DatabaseMissingError(f"there is no database at {parsed.database}")
    database = open_database(url, migrate=False)
    try:
        try:
            revision = schema_revision(database)
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip()
            if "does not exist" in reason or "file is not a database" in reason:
                raise DatabaseMissingError(f"no database at {safe_url}: {reason}") from error
            raise DatabaseOpenError(f"cannot open database {safe_url}: {reason}") from error
        if revision is None:
            raise DatabaseMissingError(f"database {safe_url} holds no legajo tables")
        if not upgrade:
            latest = head_revision()
            if revision != latest:
                raise DatabaseOpenError(
                    f"database {safe_url} is at schema revision {revision}, not the latest "
                    f"({latest}); it is upgraded when it is opened for writing"
                )
            return database
        try:
            upgrade_schema(database)
        except SQLAlchemyError as error:
            raise DatabaseOpenError(f"cannot open database {safe_url}: {error}") from error
    except DatabaseOpenError:
        database.close()
        raise
    return database


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            _switch_to_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Puts the database in WAL mode (a persistent setting), retrying while others hold locks.

    Two connections converting a new database at once both hold a shared lock and want an
    exclusive one; SQLite then answers "database is locked" at once, without waiting for its
    busy timeout, so the wait has to happen here.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.2))


def upgrade_schema(database: Database) -> None:
    """Applies every pending Alembic migration, holding a lock against concurrent upgrades."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    engine = database.engine.execution_options(**{_WRITE_OPTION: True})
    with engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.debug("database %s is at the latest schema revision", database.url)


def schema_revision(database: Database) -> str | None:
    """The Alembic revision the database is at, None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The latest Alembic revision shipped with legajo."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    return ScriptDirectory.from_config(config).get_current_head()


def migrations_folder() -> Path:
    """The folder of legajo's Alembic scripts (shipped as package data)."""
    return Path(str(resources.files("indexer.store") / "migrations"))
