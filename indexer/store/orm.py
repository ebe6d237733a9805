"""Database rows (SQLAlchemy 2 typed ORM), named ``...Row`` to keep them apart from domain objects.

Only `indexer.store` uses them; everything else sees `htr.document`.

The search tables (migration 0002) are derived from the lines: `WordFormRow` holds every
distinct normalised word form met in any reading, `LineWordRow` the probability that a form
occurs in a line (`indexer.store.word_index`), and `SearchChangeRow` is the change feed the FAISS
indexes follow (one row per line stored, corrected or deleted).

A page is one frame of one file, identified within its collection by the file's content hash,
the frame, and the model (id and revision) that read it: the unique constraint
``uq_pages_content_model`` is what makes indexing idempotent and safe with two writers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PAGE_INDEXED = "indexed"
"""`PageRow.status` of a page whose lines are stored."""
PAGE_FAILED = "failed"
"""`PageRow.status` of a frame that could not be read or transcribed (see `PageRow.error`)."""

CHANGE_UPSERT, CHANGE_DELETE = "upsert", "delete"
"""`SearchChangeRow.kind` values: a line was stored or corrected, or it was deleted."""

RUN_RUNNING, RUN_FINISHED, RUN_ABORTED = "running", "finished", "aborted"
"""`ProcessingRunRow.status` values; a run killed from outside stays ``running`` with no
``finished_at`` until the next run finds its process gone and marks it `RUN_INTERRUPTED`."""
RUN_INTERRUPTED = "interrupted"
"""`ProcessingRunRow.status` of a run whose process ended without recording its end
(``kill -9``, a power cut); see `indexer.store.runs`."""


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (needed by migrations)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class CollectionRow(Base):
    """A named set of pages (``--collection``)."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    variants: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether search folds early-modern spelling variants for this collection."""
    active_model: Mapped[str | None] = mapped_column(String(200))
    """The `ModelRow.name` that reads this collection's pages; None for the bundled model
    (migration 0006)."""


class ProcessingRunRow(Base):
    """One `legajo index` invocation: which model, which settings, which software, when."""

    __tablename__ = "processing_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    model_id: Mapped[str] = mapped_column(String(1000))
    model_revision: Mapped[str] = mapped_column(String(200))
    software: Mapped[str] = mapped_column(String(100))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=RUN_RUNNING)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    host: Mapped[str | None] = mapped_column(String(255))
    """The host name of the machine whose process runs it (migration 0005)."""
    pid: Mapped[int | None] = mapped_column(Integer)
    """The process id of that process on that host."""
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When the process last showed it was alive (at most every minute while it works)."""


class ModelRow(Base):
    """A model trained in this home (`legajo adapt`), with where it came from and how good it is.

    Attributes:
        name: The name people use (``legajo models activate NAME``).
        path: The checkpoint folder.
        model_id: The model id pages read by it record (`PageRow.model_id`).
        model_revision: Its revision (a digest of its weights).
        parent_id: The model id of the model it was fine-tuned from.
        parent_revision: That model's revision.
        collection_id: The collection whose verified lines it was trained on.
        minutes: Wall-clock minutes of the training.
        training: What it was trained and measured on (lines, pages held back, settings).
        cer_before: CER of the parent model on the held-back lines.
        cer_after: CER of this model on the same lines.
    """

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    model_id: Mapped[str] = mapped_column(String(1000))
    model_revision: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(1000))
    parent_revision: Mapped[str | None] = mapped_column(String(200))
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collections.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    minutes: Mapped[float] = mapped_column(Float)
    training: Mapped[dict[str, Any]] = mapped_column(JSON)
    cer_before: Mapped[float | None] = mapped_column(Float)
    cer_after: Mapped[float | None] = mapped_column(Float)


class PageRow(Base):
    """One frame of one input file, read by one model."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint(
            "collection_id",
            "sha256",
            "frame",
            "model_id",
            "model_revision",
            name="uq_pages_content_model",
        ),
        Index("ix_pages_collection_source", "collection_id", "source_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="SET NULL"), index=True
    )
    source_path: Mapped[str] = mapped_column(Text)
    frame: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    model_id: Mapped[str] = mapped_column(String(1000))
    model_revision: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    indexed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    lines: Mapped[list[LineRow]] = relationship(
        back_populates="page",
        order_by="LineRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class LineRow(Base):
    """One text line of a page; `version` grows with every correction (optimistic locking)."""

    __tablename__ = "lines"
    __table_args__ = (UniqueConstraint("page_id", "position", name="uq_lines_page_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    line_key: Mapped[str] = mapped_column(String(200))
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    polygon: Mapped[list[Any]] = mapped_column(JSON)
    baseline: Mapped[list[Any]] = mapped_column(JSON)
    zone: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    machine_text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)

    page: Mapped[PageRow] = relationship(back_populates="lines")
    words: Mapped[list[WordRow]] = relationship(
        order_by="WordRow.position", cascade="all, delete-orphan", passive_deletes=True
    )
    alternatives: Mapped[list[AlternativeRow]] = relationship(
        order_by="AlternativeRow.rank", cascade="all, delete-orphan", passive_deletes=True
    )


class WordRow(Base):
    """One word of a line's current text.

    The recognizer's words until a person corrects or confirms the line; from then on the
    words of the verified text, confidence 1 (`indexer.store.repository.Repository.correct_line`).
    """

    __tablename__ = "words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)


class AlternativeRow(Base):
    """One of the n best readings of a line (rank 0 is the best)."""

    __tablename__ = "alternatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    prob: Mapped[float] = mapped_column(Float)


class CorrectionRow(Base):
    """A human correction of a line: never overwritten, the latest one is the line's text.

    A row whose `new_text` equals its `old_text` is a confirmation: a person checked the line
    and found it right.
    """

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), index=True)
    old_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    editor: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class LineReadingRow(Base):
    """One machine reading of a line, by one model: a line reread by another model keeps both.

    Written by `legajo reread` (`indexer.store.rereading`): the reading a line had before its
    first reread is recorded then, with the model and time of its page's indexing.
    """

    __tablename__ = "line_readings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    model_id: Mapped[str] = mapped_column(String(1000))
    model_revision: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class FileErrorRow(Base):
    """An input file (or one frame of it) that could not be indexed, with the reason.

    Only the latest failure of a file/frame is kept; it is deleted once the file is indexed.
    """

    __tablename__ = "file_errors"
    __table_args__ = (Index("ix_file_errors_collection_source", "collection_id", "source_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("processing_runs.id", ondelete="SET NULL"), index=True
    )
    source_path: Mapped[str] = mapped_column(Text)
    frame: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class WordFormRow(Base):
    """A distinct normalised word form, from any reading of any line (never deleted).

    Attributes:
        form: The form as `indexer.spelling.normalize.word_keys` gives it without variant folding.
        variant_key: The form with early-modern spelling variants folded (same as `form`
            when no rule applies): forms sharing it are spelling variants of each other.
    """

    __tablename__ = "word_forms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form: Mapped[str] = mapped_column(Text, unique=True)
    variant_key: Mapped[str] = mapped_column(Text, index=True)


class LineWordRow(Base):
    """The probability that a word form occurs in a line (see `indexer.store.word_index`).

    Attributes:
        probability: P(form occurs in the line) over the line's n-best readings; 1 for
            a corrected line's words.
        text_confidence: How sure the recognizer is of the form where it occurs in the
            line's current text (the best matching word's confidence, 1 for a corrected
            line); None when the current text does not contain the form.
    """

    __tablename__ = "line_words"

    line_id: Mapped[int] = mapped_column(
        ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("word_forms.id"), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    text_confidence: Mapped[float | None] = mapped_column(Float)


# A form's lines in search order (value descending, then line id), so that reading its best
# lines stops after a few rows even when thousands tie (migration 0003).
Index(
    "ix_line_words_form_probability",
    LineWordRow.form_id,
    LineWordRow.probability.desc(),
    LineWordRow.line_id,
)
Index(
    "ix_line_words_form_text_confidence",
    LineWordRow.form_id,
    LineWordRow.text_confidence.desc(),
    LineWordRow.line_id,
)


class SearchChangeRow(Base):
    """One entry of the change feed: a line stored, corrected or deleted.

    Ids only grow (AUTOINCREMENT on SQLite; on PostgreSQL writers take an advisory lock
    before writing, so ids become visible in order). `line_id` has no foreign key: the
    line of a ``delete`` entry is gone.
    """

    __tablename__ = "search_changes"
    __table_args__ = (Index("ix_search_changes_line_id", "line_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AccountRow(Base):
    """A person who may use the workbench and the HTTP API (migration 0007).

    Attributes:
        role: ``viewer``, ``editor`` or ``admin`` (`indexer.accounts.roles.Role`).
        password_hash: The argon2id hash of the password (PHC string); never the password.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now
    )


class AccountTokenRow(Base):
    """An API token of an account: only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
