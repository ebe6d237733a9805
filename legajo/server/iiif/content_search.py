"""IIIF Content Search over a collection, from legajo's own search (auto mode by default).

`search_page` answers Content Search 2: an ``AnnotationPage`` whose items are one
annotation per matched word, targeting its canvas with the word's box (``#xywh=``), the word
as it stands in the line as body, and its confidence (``legajo:confidence``: the word's
confidence, or the probability that the line holds it when it matched in another n-best
reading); ``annotations`` adds one ``contextualizing`` annotation per item, the words around
it as a ``TextQuoteSelector``. A hit whose words have no boxes (a semantic hit, or words of
a reading that cannot be placed) is one annotation over the line's box, with the matched
words (the line's text for a semantic hit).

`search_list` answers the same search in Content Search 1 (``resources`` and ``hits``), the
version Mirador 4 reads. `terms_page` and `term_list` answer autocomplete (2 and 1) from the
word index (`indexer.store.search_reader.SearchReader.completions`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from htr.types import BBox
from indexer.search.service import Hit, SearchResult
from legajo.server.iiif.ids import IiifUrls
from legajo.server.iiif.presentation import xywh

logger = logging.getLogger(__name__)

SEARCH_2_CONTEXT = "http://iiif.io/api/search/2/context.json"
SEARCH_1_CONTEXT = "http://iiif.io/api/search/1/context.json"
PRESENTATION_2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
LEGAJO_TERMS = {
    "legajo": "https://github.com/legajo-project/legajo/ns#",
    "confidence": "legajo:confidence",
    "score": "legajo:score",
}
"""The JSON-LD terms legajo adds to search results: a word's confidence, a line's score."""
CONTEXT_CHARS = 40
"""Characters of the line before and after a match, in a hit's context."""
PAGE_SIZE = 50
"""Matching lines per page of results."""


@dataclass(frozen=True, slots=True)
class HitMark:
    """One place a hit is shown on its canvas: a matched word, or the whole line.

    Attributes:
        id: The annotation's id.
        canvas: The canvas's id.
        box: Where, in page pixels.
        text: The matched text.
        confidence: The word's confidence; None when unknown.
        before: The line's text before the match (at most `CONTEXT_CHARS`).
        after: The line's text after it.
    """

    id: str
    canvas: str
    box: BBox
    text: str
    confidence: float | None
    before: str
    after: str


def _context(line: str, word: str, start: int) -> tuple[str, str, int]:
    """(before, after, where the next search starts) around `word` in `line`."""
    found = line.find(word, start) if word else -1
    if found < 0:
        return "", "", start
    end = found + len(word)
    return line[max(0, found - CONTEXT_CHARS) : found], line[end : end + CONTEXT_CHARS], end


def hit_marks(urls: IiifUrls, collection: str, hit: Hit, search_id: str) -> list[HitMark]:
    """The places of one hit: its matched words with boxes, or else its line."""
    canvas = urls.canvas(collection, hit.page_id)
    marks: list[HitMark] = []
    start = 0
    for number, word in enumerate(hit.words):
        if word.bbox is None:
            continue
        before, after, start = _context(hit.text, word.text, start)
        marks.append(
            HitMark(
                id=f"{search_id}/line/{hit.line_id}/word/{number}",
                canvas=canvas,
                box=word.bbox,
                text=word.text,
                confidence=word.confidence,
                before=before,
                after=after,
            )
        )
    if marks:
        return marks
    # no word can be placed (a semantic hit, or words of another reading): the line shows
    words = [word for word in hit.words if word.text]
    confidences = [word.confidence for word in words if word.confidence is not None]
    return [
        HitMark(
            id=f"{search_id}/line/{hit.line_id}",
            canvas=canvas,
            box=hit.bbox,
            text=" ".join(word.text for word in words) or hit.text,
            confidence=max(confidences) if confidences else None,
            before="",
            after="",
        )
    ]


def _query_url(base: str, query: str, **extra: int) -> str:
    return f"{base}?{urlencode({'q': query, **extra})}"


def search_page(
    urls: IiifUrls, collection: str, query: str, result: SearchResult, page: int
) -> dict[str, Any]:
    """A Content Search 2 ``AnnotationPage`` of one page of results.

    Args:
        urls: Where the resources live.
        collection: The collection searched.
        query: The query as given.
        result: The search's result for this page (`PAGE_SIZE` lines from ``page * PAGE_SIZE``).
        page: The page number, from 0.
    """
    search_id = urls.search(collection)
    items: list[dict[str, Any]] = []
    context_items: list[dict[str, Any]] = []
    for hit in result.hits:
        for mark in hit_marks(urls, collection, hit, search_id):
            item: dict[str, Any] = {
                "id": mark.id,
                "type": "Annotation",
                "motivation": "supplementing",
                "body": {"type": "TextualBody", "value": mark.text, "format": "text/plain"},
                "target": f"{mark.canvas}#{xywh(mark.box)}",
                "score": round(hit.score, 6),
            }
            if mark.confidence is not None:
                item["confidence"] = round(mark.confidence, 6)
            items.append(item)
            context_items.append(
                {
                    "id": f"{mark.id}/context",
                    "type": "Annotation",
                    "motivation": "contextualizing",
                    "target": {
                        "type": "SpecificResource",
                        "source": {"id": mark.id, "type": "Annotation"},
                        "selector": [
                            {
                                "type": "TextQuoteSelector",
                                "prefix": mark.before,
                                "exact": mark.text,
                                "suffix": mark.after,
                            }
                        ],
                    },
                }
            )
    page_id = _query_url(search_id, query, page=page) if page else _query_url(search_id, query)
    answer: dict[str, Any] = {
        "@context": [SEARCH_2_CONTEXT, LEGAJO_TERMS],
        "id": page_id,
        "type": "AnnotationPage",
        "partOf": {
            "id": _query_url(search_id, query),
            "type": "AnnotationCollection",
            "total": result.total,
        },
        "startIndex": page * PAGE_SIZE,
        "items": items,
    }
    if (page + 1) * PAGE_SIZE < result.total:
        answer["next"] = {
            "id": _query_url(search_id, query, page=page + 1),
            "type": "AnnotationPage",
        }
    if context_items:
        answer["annotations"] = [{"type": "AnnotationPage", "items": context_items}]
    return answer


def search_list(
    urls: IiifUrls, collection: str, query: str, result: SearchResult, page: int
) -> dict[str, Any]:
    """The same results as a Content Search 1 ``sc:AnnotationList`` (one hit per line)."""
    search_id = urls.search_v1(collection)
    resources: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    for hit in result.hits:
        marks = hit_marks(urls, collection, hit, search_id)
        for mark in marks:
            resource: dict[str, Any] = {
                "@id": mark.id,
                "@type": "oa:Annotation",
                "motivation": "sc:painting",
                "resource": {"@type": "cnt:ContentAsText", "chars": mark.text},
                "on": f"{mark.canvas}#{xywh(mark.box)}",
            }
            if mark.confidence is not None:
                resource["confidence"] = round(mark.confidence, 6)
            resources.append(resource)
        hits.append(
            {
                "@type": "search:Hit",
                "annotations": [mark.id for mark in marks],
                "match": " … ".join(mark.text for mark in marks),
                "before": marks[0].before,
                "after": marks[-1].after,
            }
        )
    answer: dict[str, Any] = {
        "@context": [PRESENTATION_2_CONTEXT, SEARCH_1_CONTEXT, LEGAJO_TERMS],
        "@id": _query_url(search_id, query, page=page) if page else _query_url(search_id, query),
        "@type": "sc:AnnotationList",
        "within": {"@type": "sc:Layer", "total": result.total},
        "startIndex": page * PAGE_SIZE,
        "resources": resources,
        "hits": hits,
    }
    if (page + 1) * PAGE_SIZE < result.total:
        answer["next"] = _query_url(search_id, query, page=page + 1)
    return answer


def terms_page(
    urls: IiifUrls, collection: str, prefix: str, terms: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """A Content Search 2 autocomplete answer (``TermPage``): forms with their line counts."""
    return {
        "@context": SEARCH_2_CONTEXT,
        "id": _query_url(urls.autocomplete(collection), prefix),
        "type": "TermPage",
        "items": [
            {
                "value": form,
                "total": count,
                "service": [
                    {"id": _query_url(urls.search(collection), form), "type": "SearchService2"}
                ],
            }
            for form, count in terms
        ],
    }


def term_list(
    urls: IiifUrls, collection: str, prefix: str, terms: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    """The same completions as a Content Search 1 ``search:TermList``."""
    return {
        "@context": SEARCH_1_CONTEXT,
        "@id": _query_url(urls.autocomplete_v1(collection), prefix),
        "@type": "search:TermList",
        "terms": [
            {"match": form, "url": _query_url(urls.search_v1(collection), form), "count": count}
            for form, count in terms
        ],
    }
