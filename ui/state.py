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
"""The editor's name (the sidebar's text box); corrections need it when there are no accounts."""
ACCOUNT = "account"
"""The `indexer.accounts.Account` logged in to this session (never its password)."""
FLASH = "flash"
"""A message to show once, at the top of the next run (after a save and rerun)."""
SEARCH_VIEW = "search.view"
"""The `SearchView` on the search page: the last submitted request and how its hits show."""
SEARCH_URL = "search.url"
"""The search page's query parameters as the page last wrote or read them (`ui.search_url`)."""
SEARCH_GENERATION = "search.generation"
"""Bumped whenever a new view replaces the old one, so the result widgets start afresh."""
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


RELEVANCE = "relevance"
DOCUMENT_ORDER = "document"
SORTS = (RELEVANCE, DOCUMENT_ORDER)
"""How hits are ordered: best documents first, or documents by path and lines by position."""


@dataclass(frozen=True, slots=True)
class SearchFacets:
    """Which of a search's hits are shown; an empty choice shows them all.

    Attributes:
        collections: Only hits in these collections.
        folders: Only hits whose page file lies in these folders.
        bands: Only hits whose matched words fall in these confidence bands
            (`ui.hit_groups.BANDS`).
    """

    collections: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchView:
    """Everything the search page shows, as a link can carry it (`ui.search_url`).

    Attributes:
        request: The submitted search.
        results_page: The page of results shown, from 1.
        sort: One of `SORTS`.
        facets: Which hits are shown.
        selected: The line id of the hit picked out, if any.
    """

    request: SearchRequest
    results_page: int = 1
    sort: str = RELEVANCE
    facets: SearchFacets = SearchFacets()
    selected: int | None = None


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
