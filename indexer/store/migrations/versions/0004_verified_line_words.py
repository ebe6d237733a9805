"""Verified lines get the words of their verified text.

Since revision 0002, correcting or confirming a line replaces its words with the words of
the verified text, confidence 1 (`indexer.store.verified_words.verified_words`). Lines corrected
by earlier versions of legajo kept the recognizer's words, so their word boxes, word
confidences and review order still spoke of the machine reading. This revision rewrites
the words of every line whose version is above 1 the way a correction does today; a line
whose words already are its text's is written back unchanged. The word index of search
(`line_words`) already treated those lines as verified and is left as it is.

Table definitions are frozen in this file, not taken from the ORM.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:30:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger(__name__)

_BATCH_LINES = 500

_meta = sa.MetaData()
_lines = sa.Table(
    "lines",
    _meta,
    sa.Column("id", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("x0", sa.Integer),
    sa.Column("y0", sa.Integer),
    sa.Column("x1", sa.Integer),
    sa.Column("y1", sa.Integer),
)
_words = sa.Table(
    "words",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("line_id", sa.Integer),
    sa.Column("position", sa.Integer),
    sa.Column("text", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("x0", sa.Integer),
    sa.Column("y0", sa.Integer),
    sa.Column("x1", sa.Integer),
    sa.Column("y1", sa.Integer),
)


def upgrade() -> None:
    """Applies this revision."""
    from htr.document import Word
    from indexer.store.verified_words import verified_words

    connection = op.get_bind()
    verified = _lines.c.version > 1
    total = connection.scalar(sa.select(sa.func.count()).select_from(_lines).where(verified))
    if not total:
        return
    logger.info("giving %d verified lines the words of their verified text", total)
    last_id = 0
    while True:
        lines = connection.execute(
            sa.select(_lines)
            .where(verified, _lines.c.id > last_id)
            .order_by(_lines.c.id)
            .limit(_BATCH_LINES)
        ).all()
        if not lines:
            return
        last_id = lines[-1].id
        ids = [line.id for line in lines]
        words: dict[int, list[Word]] = {}
        for row in connection.execute(
            sa.select(_words).where(_words.c.line_id.in_(ids)).order_by(_words.c.position)
        ):
            box = (row.x0, row.y0, row.x1, row.y1)
            words.setdefault(row.line_id, []).append(Word(row.text, row.confidence, box))
        rows = [
            {
                "line_id": line.id,
                "position": position,
                "text": word.text,
                "confidence": word.confidence,
                "x0": word.bbox[0],
                "y0": word.bbox[1],
                "x1": word.bbox[2],
                "y1": word.bbox[3],
            }
            for line in lines
            for position, word in enumerate(
                verified_words(
                    line.text, words.get(line.id, []), (line.x0, line.y0, line.x1, line.y1)
                )
            )
        ]
        connection.execute(sa.delete(_words).where(_words.c.line_id.in_(ids)))
        if rows:
            connection.execute(sa.insert(_words), rows)


def downgrade() -> None:
    """Reverts this revision: nothing to undo (the recognizer's words are not kept)."""
