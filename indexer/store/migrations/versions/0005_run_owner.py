"""Processing runs record the process that runs them, so that interrupted runs can be told.

A run killed from outside (``kill -9``, a power cut) stayed ``running`` forever. Each run now
records the host name and process id of the process that runs it, and a heartbeat (when
that process last showed it was alive). The next run marks ``interrupted`` the runs whose
process is gone (`indexer.store.runs`). Runs recorded before this revision have neither
and are judged by their start time.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("host", sa.String(length=255)),
    ("pid", sa.Integer()),
    ("heartbeat_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Applies this revision."""
    for name, column_type in _COLUMNS:
        op.add_column("processing_runs", sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    """Reverts this revision.

    Plain ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 and later), not a batch copy of the
    table: dropping the old table with foreign keys on would set the pages' ``run_id`` to
    NULL.
    """
    for name, _ in reversed(_COLUMNS):
        op.drop_column("processing_runs", name)
