"""Alembic environment: runs on the connection `indexer.store.db.upgrade_schema` hands over.

Run standalone (``alembic -c ...``) it connects to ``sqlalchemy.url`` from the config instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from indexer.store.orm import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Runs the migrations on a live connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection handed over and no sqlalchemy.url configured")
    engine = create_engine(url)
    try:
        with engine.begin() as own_connection:
            _run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("legajo's migrations run online only")
run_migrations_online()
