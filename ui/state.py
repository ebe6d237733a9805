"""Session-state keys of the workbench, and the small values some of them hold.

Keys of widgets that must keep their value across pages (language, editor) belong to widgets
drawn on every run, in the sidebar; the other keys hold plain values set by the pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.store.repository import ReviewItem

LANGUAGE = "language"
"""The interface language (the sidebar's language switch)."""
EDITOR = "editor"
"""The editor's name (the sidebar's text box); corrections need it."""
FLASH = "flash"
"""A message to show once, at the top of the next run (after a save and rerun)."""
SEARCH_REQUEST = "search.request"
"""The last submitted `SearchRequest`."""
SEARCH_OFFSET = "search.offset"
"""The first hit shown (pagination)."""
CONFLICT = "correct.conflict"
"""A `Conflict`: a correction refused because the line changed meanwhile."""
REVIEW = "review.session"
"""The `ReviewSession` under way."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A submitted search.

    Attributes:
        query: The query text.
        mode: ``auto``, ``exact``, ``prob``, ``fuzzy`` or ``semantic``.
        collection: Only this collection; None for all.
        min_confidence: Only hits whose matched words reach this confidence; None for all.
    """

    query: str
    mode: str = "auto"
    collection: str | None = None
    min_confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """An editor's text that could not be saved because someone saved the line first.

    Attributes:
        line_id: The line.
        mine: The text the editor submitted; kept until they decide.
        based_on: The version the editor had started from.
    """

    line_id: int
    mine: str
    based_on: int


@dataclass(slots=True)
class ReviewSession:
    """Progress through a collection's review queue.

    Attributes:
        collection: The collection.
        items: The queue, most doubtful first, as it was when the review started.
        position: Index of the line shown.
        reviewed: Lines confirmed or corrected in this session.
        corrected: Of those, the lines whose text was changed.
    """

    collection: str
    items: list[ReviewItem] = field(default_factory=list)
    position: int = 0
    reviewed: int = 0
    corrected: int = 0
