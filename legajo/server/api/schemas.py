"""The JSON shapes of the API: requests and answers, as pydantic models (``/docs`` shows them).

Boxes are ``[x0, y0, x1, y1]`` and points ``[x, y]``, in integer pixels of the stored page
image, as everywhere in legajo. Confidences lie in [0, 1].
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from htr.document import Alternative, Word
from indexer.accounts import Account
from indexer.search.hits import MatchedWord
from indexer.store.repository import CollectionStats, MachineReading, PageSummary, StoredLine
from legajo.server.api.limits import MAX_EDITOR_CHARS, MAX_LINE_CHARS
from ui.corrections import LineVersion


class SearchMode(StrEnum):
    """How words are matched (`indexer.search.service`)."""

    AUTO = "auto"
    EXACT = "exact"
    PROB = "prob"
    FUZZY = "fuzzy"
    SEMANTIC = "semantic"


class ExportFormatName(StrEnum):
    """The export formats of ``legajo export``."""

    PAGE = "page"
    ALTO = "alto"
    TXT = "txt"
    JSON = "json"


class WordOut(BaseModel):
    """A word of a line."""

    text: str
    confidence: float | None = Field(
        description="probability that the word is read right (1 for a corrected line)"
    )
    bbox: list[int] | None = Field(description="[x0, y0, x1, y1]; null when it cannot be placed")

    @classmethod
    def of(cls, word: Word | MatchedWord) -> WordOut:
        """The word as the API shows it."""
        return cls(
            text=word.text,
            confidence=word.confidence,
            bbox=None if word.bbox is None else list(word.bbox),
        )


class AlternativeOut(BaseModel):
    """One of the recognizer's n-best readings of a whole line."""

    text: str
    prob: float

    @classmethod
    def of(cls, alternative: Alternative) -> AlternativeOut:
        """The reading as the API shows it."""
        return cls(text=alternative.text, prob=alternative.prob)


class HitOut(BaseModel):
    """A line that answers the query."""

    line_id: int = Field(description="the line's id (for GET and PUT /api/lines/{line_id})")
    version: int = Field(description="the line's version now: send it back with a correction")
    page_id: int
    page: str = Field(description="the page's source file, as indexed")
    frame: int = Field(description="the page within its file, from 0")
    text: str = Field(description="the line's current text (a semantic hit: its passage)")
    score: float = Field(description="in [0, 1], higher is better")
    bbox: list[int]
    words: list[WordOut] = Field(description="the words that matched, in reading order")


class SearchAnswer(BaseModel):
    """One page of the hits of a query."""

    query: str
    mode: SearchMode
    hits: list[HitOut]
    total: int = Field(description="lines that matched in all (capped: see the search docs)")
    offset: int
    limit: int
    elapsed_s: float


class CollectionOut(BaseModel):
    """A collection and what it holds."""

    name: str
    pages: int
    lines: int
    words: int
    mean_confidence: float | None
    errors: int = Field(description="files or frames that failed and were not indexed since")

    @classmethod
    def of(cls, stats: CollectionStats) -> CollectionOut:
        """The collection's counts as the API shows them."""
        return cls(
            name=stats.collection,
            pages=stats.pages,
            lines=stats.lines,
            words=stats.words,
            mean_confidence=stats.mean_confidence,
            errors=stats.errors,
        )


class PageSummaryOut(BaseModel):
    """A stored page without its lines."""

    id: int
    collection: str
    source_path: str
    frame: int
    status: str = Field(description="indexed, or the reason it is not")
    error: str | None
    line_count: int
    model_id: str
    model_revision: str

    @classmethod
    def of(cls, page: PageSummary) -> PageSummaryOut:
        """The page summary as the API shows it."""
        return cls(
            id=page.id,
            collection=page.collection,
            source_path=page.source_path,
            frame=page.frame,
            status=page.status,
            error=page.error,
            line_count=page.line_count,
            model_id=page.model.model_id,
            model_revision=page.model.revision,
        )


class PageListAnswer(BaseModel):
    """One page of a collection's pages, by path and frame."""

    collection: str
    pages: list[PageSummaryOut]
    total: int
    offset: int
    limit: int


class LineOut(BaseModel):
    """A line as stored now."""

    id: int = Field(description="the line's database id")
    key: str = Field(description="the line's id within its page (from PAGE/ALTO when imported)")
    page_id: int
    version: int = Field(description="1 for the machine reading, one more per correction")
    text: str = Field(description="the current text: the latest correction, else the reading")
    machine_text: str = Field(description="what the latest model read")
    confidence: float = Field(description="mean word confidence of the current text")
    corrected: bool = Field(description="a person corrected or confirmed the line")
    bbox: list[int]
    polygon: list[list[int]]
    baseline: list[list[int]]
    zone: str | None
    words: list[WordOut]
    alternatives: list[AlternativeOut] = Field(description="the n-best readings, best first")

    @classmethod
    def of(cls, stored: StoredLine) -> LineOut:
        """The stored line as the API shows it."""
        line = stored.line
        return cls(
            id=stored.id,
            key=line.id,
            page_id=stored.page_id,
            version=stored.version,
            text=line.text,
            machine_text=stored.machine_text,
            confidence=line.confidence,
            corrected=stored.version > 1,
            bbox=list(line.bbox),
            polygon=[list(p) for p in line.polygon],
            baseline=[list(p) for p in line.baseline],
            zone=line.zone,
            words=[WordOut.of(w) for w in line.words],
            alternatives=[AlternativeOut.of(a) for a in line.alternatives],
        )


class VersionOut(BaseModel):
    """One version of a line's text: the machine reading (1), then each correction."""

    version: int
    text: str
    editor: str | None = Field(description="the account that wrote it; null for version 1")
    created_at: dt.datetime | None
    confirmed: bool = Field(description="the editor confirmed the text as it was")

    @classmethod
    def of(cls, version: LineVersion) -> VersionOut:
        """The version as the API shows it."""
        return cls(
            version=version.version,
            text=version.text,
            editor=version.editor,
            created_at=version.when,
            confirmed=version.confirmed,
        )


class ReadingOut(BaseModel):
    """A machine reading of a line kept by ``legajo reread``."""

    text: str
    confidence: float
    model_id: str
    model_revision: str
    run_id: int | None
    created_at: dt.datetime

    @classmethod
    def of(cls, reading: MachineReading) -> ReadingOut:
        """The reading as the API shows it."""
        return cls(
            text=reading.text,
            confidence=reading.confidence,
            model_id=reading.model.model_id,
            model_revision=reading.model.revision,
            run_id=reading.run_id,
            created_at=reading.created_at,
        )


class LineDetail(LineOut):
    """A line with its history."""

    history: list[VersionOut] = Field(description="every version of the text, oldest first")
    readings: list[ReadingOut] = Field(description="machine readings kept by rereads")


class PageOut(BaseModel):
    """A page with its lines in reading order."""

    id: int
    source_path: str
    frame: int
    width: int
    height: int
    lines: list[LineOut]


class LineCorrection(BaseModel):
    """A correction of a line's text."""

    text: str = Field(max_length=MAX_LINE_CHARS, description="the corrected text, one line")
    version: int = Field(ge=1, description="the line's version the editor saw")
    editor: str | None = Field(
        default=None,
        max_length=MAX_EDITOR_CHARS,
        description="who corrects: only on a server without accounts (default anonymous); "
        "with accounts the account's name is recorded and this is ignored",
    )

    @field_validator("text")
    @classmethod
    def _one_line(cls, text: str) -> str:
        if "\n" in text or "\r" in text:
            raise ValueError("a line's text may not hold a line break")
        return text


class LineConfirmation(BaseModel):
    """A confirmation that a line's current text is right."""

    version: int = Field(ge=1, description="the line's version the editor saw")
    editor: str | None = Field(
        default=None,
        max_length=MAX_EDITOR_CHARS,
        description="as for a correction",
    )


class StatsTotals(BaseModel):
    """Counts over every collection."""

    collections: int
    pages: int
    lines: int
    words: int
    errors: int
    corrections: int


class StatsAnswer(BaseModel):
    """What the archive holds."""

    totals: StatsTotals
    collections: list[CollectionOut]


class HealthAnswer(BaseModel):
    """The server is up and its database answers."""

    status: str
    version: str


class CallerOut(BaseModel):
    """Who the server takes the caller for."""

    name: str | None = Field(description="the account; null when anonymous")
    role: str
    accounts: bool = Field(description="whether the server has accounts")
    read_only: bool


class AccountOut(BaseModel):
    """An account (admins only)."""

    name: str
    role: str
    created_at: dt.datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        """The account as the API shows it."""
        return cls(name=account.name, role=account.role.value, created_at=account.created_at)
