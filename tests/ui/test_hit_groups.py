"""Hits by document and page: order, counts, facets and confidence bands."""

from __future__ import annotations

from indexer.search.hits import Hit, MatchedWord
from ui.hit_groups import (
    HIGH,
    LOW,
    MEDIUM,
    UNKNOWN,
    apply_facets,
    confidence_band,
    facet_counts,
    flatten,
    group_hits,
    hits_per_document,
    place_hits,
    word_confidence,
)
from ui.state import DOCUMENT_ORDER, RELEVANCE, SearchFacets

PAGE_IDS: dict[tuple[str, int], int] = {}


def hit(page: str, line_id: int, score: float, *confidences: float | None, frame: int = 0) -> Hit:
    words = tuple(MatchedWord("rey", None, c) for c in confidences)
    page_id = PAGE_IDS.setdefault((page, frame), len(PAGE_IDS) + 1)
    return Hit(page, frame, page_id, line_id, "el rey", score, (0, 0, 1, 1), words)


HITS = [
    hit("/a/folio_2.png", 20, 1.0, 0.615),
    hit("/a/folio_1.png", 12, 0.6, 0.9),
    hit("/a/folio_1.png", 11, 0.6, 0.3),
    hit("/b/folio_9.tif", 90, 0.5, frame=1),
    hit("/b/folio_9.tif", 95, 0.7, 0.95, 0.85, frame=0),
]


def test_a_hit_is_as_confident_as_its_weakest_word() -> None:
    assert word_confidence(HITS[4]) == 0.85
    assert word_confidence(HITS[3]) is None
    assert [confidence_band(c) for c in (0.9, 0.8, 0.615, 0.5, 0.49, None)] == [
        HIGH,
        HIGH,
        MEDIUM,
        MEDIUM,
        LOW,
        UNKNOWN,
    ]


def test_relevance_puts_the_documents_with_the_best_hits_together_first() -> None:
    groups = group_hits(place_hits(HITS, {}), RELEVANCE)
    # noisy-OR: folio_2 1.0; folio_1 1 - 0.4 * 0.4 = 0.84; folio_9 1 - 0.3 * 0.5 = 0.85
    assert [g.document for g in groups] == ["/a/folio_2.png", "/b/folio_9.tif", "/a/folio_1.png"]
    assert [g.hit_count for g in groups] == [1, 2, 2]
    assert [p.frame for p in groups[1].pages] == [0, 1]
    assert [p.hit.line_id for *_, p in flatten(groups)] == [20, 95, 90, 11, 12]
    assert hits_per_document(groups) == [
        ("/a/folio_2.png", 1),
        ("/b/folio_9.tif", 2),
        ("/a/folio_1.png", 2),
    ]


def test_document_order_follows_paths_frames_and_lines() -> None:
    groups = group_hits(place_hits(HITS, {}), DOCUMENT_ORDER)
    assert [g.document for g in groups] == ["/a/folio_1.png", "/a/folio_2.png", "/b/folio_9.tif"]
    assert [p.hit.line_id for *_, p in flatten(groups)] == [11, 12, 20, 95, 90]


def test_facets_count_and_filter() -> None:
    collections = {HITS[0].page_id: "cartas", HITS[3].page_id: "pleitos"}
    placed = place_hits(HITS, collections)
    counts = facet_counts(placed)
    assert counts.folders == {"/a": 3, "/b": 2}
    assert counts.bands == {HIGH: 2, MEDIUM: 1, LOW: 1, UNKNOWN: 1}
    assert counts.collections == {"": 3, "cartas": 1, "pleitos": 1}
    assert apply_facets(placed, SearchFacets()) == placed
    only = apply_facets(placed, SearchFacets(folders=("/a",), bands=(HIGH, LOW)))
    assert [p.hit.line_id for p in only] == [12, 11]
    assert apply_facets(placed, SearchFacets(collections=("nada",))) == []
