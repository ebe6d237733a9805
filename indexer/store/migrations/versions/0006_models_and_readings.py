"""Models trained in the home, the active model of each collection, and every machine reading.

`legajo adapt` fine-tunes a collection's model on its verified lines and registers the result
in ``models`` (where it is, its parent, what it was trained on, its CER before and after on
held-back lines); ``collections.active_model`` names the model that reads a collection (NULL:
the bundled one). `legajo reread` reads pages again in place and keeps each machine reading of
a line in ``line_readings``, with the model that made it.

Table definitions are frozen in this file, not taken from the ORM.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Applies this revision."""
    op.add_column("collections", sa.Column("active_model", sa.String(length=200), nullable=True))
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(length=1000), nullable=False),
        sa.Column("model_revision", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.String(length=1000), nullable=True),
        sa.Column("parent_revision", sa.String(length=200), nullable=True),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("training", sa.JSON(), nullable=False),
        sa.Column("cer_before", sa.Float(), nullable=True),
        sa.Column("cer_after", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_models_collection_id_collections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
    )
    op.create_index(op.f("ix_models_collection_id"), "models", ["collection_id"])
    op.create_table(
        "line_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("model_id", sa.String(length=1000), nullable=False),
        sa.Column("model_revision", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
            name=op.f("fk_line_readings_line_id_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["processing_runs.id"],
            name=op.f("fk_line_readings_run_id_processing_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_readings")),
    )
    op.create_index(op.f("ix_line_readings_line_id"), "line_readings", ["line_id"])


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_index(op.f("ix_line_readings_line_id"), table_name="line_readings")
    op.drop_table("line_readings")
    op.drop_index(op.f("ix_models_collection_id"), table_name="models")
    op.drop_table("models")
    op.drop_column("collections", "active_model")
