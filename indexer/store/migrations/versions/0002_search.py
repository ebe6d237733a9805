"""Search: word forms, per-line word probabilities, the change feed, per-collection variants.

Lines stored before this revision are indexed here (`indexer.store.word_index`), so an existing
database is searchable at once. The backfill uses table definitions frozen in this file,
not the ORM, so that later revisions of the ORM cannot break it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger(__name__)

_BATCH_LINES = 500


def upgrade() -> None:
    """Applies this revision."""
    # A plain ADD COLUMN: rebuilding "collections" (SQLite batch mode) would cascade-delete
    # every page, since SQLite deletes the rows of a dropped parent table.
    op.add_column(
        "collections", sa.Column("variants", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.create_table(
        "word_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("variant_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_word_forms")),
        sa.UniqueConstraint("form", name=op.f("uq_word_forms_form")),
    )
    with op.batch_alter_table("word_forms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_word_forms_variant_key"), ["variant_key"], unique=False
        )
    op.create_table(
        "line_words",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("text_confidence", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_id"], ["word_forms.id"], name=op.f("fk_line_words_form_id_word_forms")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_line_words_line_id_lines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("line_id", "form_id", name=op.f("pk_line_words")),
    )
    with op.batch_alter_table("line_words", schema=None) as batch_op:
        batch_op.create_index(
            "ix_line_words_form_probability", ["form_id", "probability"], unique=False
        )
        batch_op.create_index(
            "ix_line_words_form_text_confidence", ["form_id", "text_confidence"], unique=False
        )
    op.create_table(
        "search_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_changes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.create_index("ix_search_changes_line_id", ["line_id"], unique=False)
    _index_existing_lines()


def downgrade() -> None:
    """Reverts this revision."""
    op.drop_table("search_changes")
    with op.batch_alter_table("line_words", schema=None) as batch_op:
        batch_op.drop_index("ix_line_words_form_text_confidence")
        batch_op.drop_index("ix_line_words_form_probability")
    op.drop_table("line_words")
    with op.batch_alter_table("word_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_word_forms_variant_key"))
    op.drop_table("word_forms")
    if op.get_bind().dialect.name == "sqlite":  # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35)
        op.execute("ALTER TABLE collections DROP COLUMN variants")
    else:
        op.drop_column("collections", "variants")


_meta = sa.MetaData()
_lines = sa.Table(
    "lines",
    _meta,
    sa.Column("id", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("version", sa.Integer),
)
_words = sa.Table(
    "words",
    _meta,
    sa.Column("line_id", sa.Integer),
    sa.Column("position", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("confidence", sa.Float),
)
_alternatives = sa.Table(
    "alternatives",
    _meta,
    sa.Column("line_id", sa.Integer),
    sa.Column("rank", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("prob", sa.Float),
)
_forms = sa.Table(
    "word_forms",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("form", sa.Text),
    sa.Column("variant_key", sa.Text),
)
_line_words = sa.Table(
    "line_words",
    _meta,
    sa.Column("line_id", sa.Integer),
    sa.Column("form_id", sa.Integer),
    sa.Column("probability", sa.Float),
    sa.Column("text_confidence", sa.Float),
)


def _index_existing_lines() -> None:
    """Writes the word index of every line stored before this revision."""
    from htr.document import Alternative, Word
    from indexer.store.word_index import line_forms, variant_key

    connection = op.get_bind()
    total = connection.scalar(sa.select(sa.func.count()).select_from(_lines)) or 0
    if not total:
        return
    logger.info("indexing the words of %d stored lines for search", total)
    form_ids: dict[str, int] = {}
    last_id = 0
    while True:
        lines = connection.execute(
            sa.select(_lines).where(_lines.c.id > last_id).order_by(_lines.c.id).limit(_BATCH_LINES)
        ).all()
        if not lines:
            return
        last_id = lines[-1].id
        ids = [line.id for line in lines]
        words: dict[int, list[Word]] = {}
        for row in connection.execute(
            sa.select(_words).where(_words.c.line_id.in_(ids)).order_by(_words.c.position)
        ):
            words.setdefault(row.line_id, []).append(Word(row.text, row.confidence, (0, 0, 0, 0)))
        alternatives: dict[int, list[Alternative]] = {}
        for row in connection.execute(
            sa.select(_alternatives)
            .where(_alternatives.c.line_id.in_(ids))
            .order_by(_alternatives.c.rank)
        ):
            alternatives.setdefault(row.line_id, []).append(Alternative(row.text, row.prob))
        rows = []
        for line in lines:
            forms = line_forms(
                line.text,
                alternatives.get(line.id, []),
                words.get(line.id, []),
                line.confidence,
                verified=line.version > 1,
            )
            for form, stats in forms.items():
                if form not in form_ids:
                    form_ids[form] = connection.execute(
                        sa.insert(_forms)
                        .values(form=form, variant_key=variant_key(form))
                        .returning(_forms.c.id)
                    ).scalar_one()
                rows.append(
                    {
                        "line_id": line.id,
                        "form_id": form_ids[form],
                        "probability": stats.probability,
                        "text_confidence": stats.text_confidence,
                    }
                )
        if rows:
            connection.execute(sa.insert(_line_words), rows)
