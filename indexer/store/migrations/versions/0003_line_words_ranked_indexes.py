"""Ranked indexes on line_words: a form's most likely lines are read straight off the index.

The indexes of 0002 ordered a form's rows by probability (or text confidence) only, so the
search's ``ORDER BY probability DESC, line_id LIMIT n`` had to sort every tied row: for a
frequent word, hundreds of thousands of rows share a probability of 1. Ordering the index
by (form, probability descending, line id) lets the database stop after ``n`` rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RANKED = {
    "ix_line_words_form_probability": "probability",
    "ix_line_words_form_text_confidence": "text_confidence",
}


def upgrade() -> None:
    """Applies this revision."""
    for name, column in _RANKED.items():
        op.drop_index(name, table_name="line_words")
        op.create_index(
            name, "line_words", ["form_id", sa.text(f"{column} DESC"), "line_id"], unique=False
        )


def downgrade() -> None:
    """Reverts this revision."""
    for name, column in _RANKED.items():
        op.drop_index(name, table_name="line_words")
        op.create_index(name, "line_words", ["form_id", column], unique=False)
