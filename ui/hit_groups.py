"""Search hits by document and page, with facets: what the search page's reading room shows.

A document is a page image file as indexed (`Hit.page`); its pages are its frames (one for
most images, several for a multi-page TIFF). Hits are placed (`place_hits`) with their
collection, folder and confidence band, filtered by facets (`apply_facets`) and grouped
(`group_hits`) in one of two orders:

- relevance: documents, and pages within them, by the noisy-OR of their hits' scores
  (``1 - prod(1 - score)``, as `indexer.store.word_index.page_relevance` ranks a page),
  best first; hits within a page best first;
- document order: documents by path, pages by frame, hits by line id (lines are stored in
  reading order, so their ids follow it).

A hit's confidence band comes from its weakest matched word (`word_confidence`): the score
may be high while a word was read with little confidence, and the band shows that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from ui.state import DOCUMENT_ORDER, SearchFacets
from ui.text import DOUBTFUL_BELOW

if TYPE_CHECKING:
    from indexer.search.hits import Hit

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
UNKNOWN = "unknown"
BANDS = (HIGH, MEDIUM, LOW, UNKNOWN)
"""Confidence bands of a hit's matched words; unknown when no word matched (by meaning)."""
HIGH_FROM = 0.8
"""Words read with at least this confidence are in the high band."""
MEDIUM_FROM = DOUBTFUL_BELOW
"""Words below this are doubtful (marked in transcripts): the low band."""


@dataclass(frozen=True, slots=True)
class PlacedHit:
    """A hit with what the facets look at.

    Attributes:
        hit: The hit (`indexer.search.hits.Hit`).
        collection: Its page's collection ("" when unknown).
        folder: The folder of its page file.
        confidence: Its weakest matched word's confidence; None when no word matched.
        band: The band of `confidence` (`BANDS`).
    """

    hit: Hit
    collection: str
    folder: str
    confidence: float | None
    band: str


@dataclass(frozen=True, slots=True)
class PageGroup:
    """The hits on one page (a frame of a document), in the chosen order."""

    page_id: int
    frame: int
    hits: tuple[PlacedHit, ...]


@dataclass(frozen=True, slots=True)
class DocumentGroup:
    """The hits in one document, by page.

    Attributes:
        document: The page file's path, as indexed.
        folder: Its folder.
        relevance: The noisy-OR of its hits' scores.
        pages: Its pages with hits, in the chosen order.
    """

    document: str
    folder: str
    relevance: float
    pages: tuple[PageGroup, ...]

    @property
    def hit_count(self) -> int:
        """How many hits the document holds."""
        return sum(len(page.hits) for page in self.pages)


@dataclass(frozen=True, slots=True)
class FacetCounts:
    """How many hits each facet value has, most first (bands in `BANDS` order)."""

    collections: dict[str, int]
    folders: dict[str, int]
    bands: dict[str, int]


def word_confidence(hit: Hit) -> float | None:
    """The lowest confidence among a hit's matched words; None when none is known."""
    known = [w.confidence for w in hit.words if w.confidence is not None]
    return min(known) if known else None


def confidence_band(confidence: float | None) -> str:
    """The band (`BANDS`) of a word confidence."""
    if confidence is None:
        return UNKNOWN
    if confidence >= HIGH_FROM:
        return HIGH
    return MEDIUM if confidence >= MEDIUM_FROM else LOW


def folder_of(document: str) -> str:
    """The folder of a page file's path, as indexed."""
    return str(PurePath(document).parent)


def place_hits(hits: Iterable[Hit], collection_of: Mapping[int, str]) -> list[PlacedHit]:
    """The hits with their collection (by page id), folder and confidence band."""
    placed = []
    for hit in hits:
        confidence = word_confidence(hit)
        placed.append(
            PlacedHit(
                hit,
                collection_of.get(hit.page_id, ""),
                folder_of(hit.page),
                confidence,
                confidence_band(confidence),
            )
        )
    return placed


def facet_counts(placed: Sequence[PlacedHit]) -> FacetCounts:
    """How many of the hits each collection, folder and band holds."""
    bands = Counter(p.band for p in placed)
    return FacetCounts(
        collections=_most_first(Counter(p.collection for p in placed)),
        folders=_most_first(Counter(p.folder for p in placed)),
        bands={band: bands[band] for band in BANDS if bands[band]},
    )


def apply_facets(placed: Sequence[PlacedHit], facets: SearchFacets) -> list[PlacedHit]:
    """The hits that every facet with a choice accepts (an empty choice accepts all)."""
    return [
        p
        for p in placed
        if (not facets.collections or p.collection in facets.collections)
        and (not facets.folders or p.folder in facets.folders)
        and (not facets.bands or p.band in facets.bands)
    ]


def group_hits(placed: Sequence[PlacedHit], sort: str) -> list[DocumentGroup]:
    """The hits by document and page, in relevance or document order (module docstring)."""
    by_document: dict[str, dict[tuple[int, int], list[PlacedHit]]] = {}
    for p in placed:
        pages = by_document.setdefault(p.hit.page, {})
        pages.setdefault((p.hit.frame, p.hit.page_id), []).append(p)
    documents = []
    for document, pages in by_document.items():
        page_groups = [
            PageGroup(page_id, frame, tuple(_order_hits(hits, sort)))
            for (frame, page_id), hits in pages.items()
        ]
        if sort == DOCUMENT_ORDER:
            page_groups.sort(key=lambda g: (g.frame, g.page_id))
        else:
            page_groups.sort(key=lambda g: (-_noisy_or(g.hits), g.frame, g.page_id))
        all_hits = [h for g in page_groups for h in g.hits]
        documents.append(
            DocumentGroup(document, folder_of(document), _noisy_or(all_hits), tuple(page_groups))
        )
    if sort == DOCUMENT_ORDER:
        documents.sort(key=lambda d: (d.folder, d.document))
    else:
        documents.sort(key=lambda d: (-d.relevance, d.document))
    return documents


def flatten(groups: Sequence[DocumentGroup]) -> list[tuple[DocumentGroup, PageGroup, PlacedHit]]:
    """Every hit of the groups in order, with its document and page (for paging through)."""
    return [(d, p, h) for d in groups for p in d.pages for h in p.hits]


def hits_per_document(groups: Sequence[DocumentGroup]) -> list[tuple[str, int]]:
    """Each document's path and hit count, in the groups' order."""
    return [(d.document, d.hit_count) for d in groups]


def _order_hits(hits: list[PlacedHit], sort: str) -> list[PlacedHit]:
    if sort == DOCUMENT_ORDER:
        return sorted(hits, key=lambda p: p.hit.line_id)
    return sorted(hits, key=lambda p: (-p.hit.score, p.hit.line_id))


def _noisy_or(hits: Iterable[PlacedHit]) -> float:
    miss = 1.0
    for p in hits:
        miss *= 1.0 - min(1.0, max(0.0, p.hit.score))
    return 1.0 - miss


def _most_first(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
