"""The IIIF routes under ``/iiif`` (every one read-only, for readers: `legajo.server.auth`).

==============================================  ==============================================
route                                           answer
==============================================  ==============================================
``GET /iiif/collection.json``                   a IIIF Collection: one manifest per collection
``GET /iiif/{collection}/manifest.json``        Presentation 3 manifest (`presentation`)
``GET /iiif/{collection}/annotations/{id}.json``  a page's transcription, one annotation a line
``GET /iiif/search/{collection}?q=``            Content Search 2 (`content_search`)
``GET /iiif/autocomplete/{collection}?q=``      Content Search 2 autocomplete
``GET /iiif/search1/{collection}?q=``           the same search in Content Search 1 (Mirador 4)
``GET /iiif/autocomplete1/{collection}?q=``     the same autocomplete in Content Search 1
``GET /iiif/image/{page_id}/info.json``, ...    Image API 3, level 1 (`image_routes`)
==============================================  ==============================================

Every answer carries ``Access-Control-Allow-Origin: *``, so viewers served from elsewhere can
read them, and is ``application/ld+json`` (with the API's context as ``profile``) when the
client asks for it, ``application/json`` otherwise.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from indexer.search.service import SearchResult
from indexer.spelling.normalize import word_keys
from legajo.server.auth import Reader
from legajo.server.context import Context, ServerContext
from legajo.server.iiif import content_search, image_routes
from legajo.server.iiif.ids import urls_for
from legajo.server.iiif.presentation import (
    build_collection_list,
    build_manifest,
    build_transcription,
)
from legajo.server.iiif.responses import CORS, iiif_json, not_found

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/iiif", tags=["iiif"])
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
SEARCH_MODE = "auto"
"""IIIF searches run in legajo's auto mode: alternatives, spelling variants, near misses."""
SEARCH_TIMEOUT_S = 10.0
AUTOCOMPLETE_LIMIT = 20
MAX_QUERY_CHARS = 500

Q = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="the query")]
ResultPage = Annotated[int, Query(ge=0, le=10_000, description="the page of results, from 0")]


def known_collection(context: ServerContext, collection: str) -> str:
    """The collection's name.

    Raises:
        ApiError: 404 if there is no such collection.
    """
    if collection not in context.repository.collections():
        raise not_found(f"no collection named {collection!r}")
    return collection


@router.get("/collection.json", summary="IIIF Collection of every collection's manifest")
def collection_list(request: Request, context: Context, _caller: Reader) -> Response:
    """A IIIF Collection listing one manifest per legajo collection."""
    body = build_collection_list(urls_for(context, request), context.repository.collections())
    return iiif_json(request, body, PRESENTATION_CONTEXT)


@router.get("/{collection}/manifest.json", summary="IIIF Presentation 3 manifest")
def manifest(collection: str, request: Request, context: Context, _caller: Reader) -> Response:
    """The manifest of a collection: one canvas per page."""
    name = known_collection(context, collection)
    pages = context.repository.pages(name)
    body = build_manifest(urls_for(context, request), name, pages)
    return iiif_json(request, body, PRESENTATION_CONTEXT)


@router.get(
    "/{collection}/annotations/{page_file}", summary="A page's transcription as annotations"
)
def transcription(
    collection: str, page_file: str, request: Request, context: Context, _caller: Reader
) -> Response:
    """The annotation page of a page's transcription (``{page_id}.json``)."""
    name = known_collection(context, collection)
    number, dot, suffix = page_file.partition(".")
    if suffix != "json" or not dot or not number.isdecimal() or len(number) > 18:
        raise not_found(f"no annotations {page_file!r}")
    try:
        page = context.repository.page_summary(int(number))
    except LookupError:
        raise not_found(f"no page {number}") from None
    if page.collection != name:
        raise not_found(f"page {page.id} is not in {name!r}")
    lines = context.repository.lines(page.id)
    body = build_transcription(urls_for(context, request), name, page.id, lines)
    return iiif_json(request, body, PRESENTATION_CONTEXT)


def run_search(context: ServerContext, collection: str, query: str, page: int) -> SearchResult:
    """One page of legajo's search over a collection (an empty one for an empty query).

    Raises:
        QuerySyntaxError: For a malformed query (400, by the app's error handlers).
        SearchTimeoutError: Past the time limit (503).
    """
    if not query.strip():
        return SearchResult(hits=(), total=0, elapsed_s=0.0, mode=SEARCH_MODE)
    size = content_search.PAGE_SIZE
    return context.search.search(
        query,
        mode=SEARCH_MODE,
        limit=size,
        offset=page * size,
        collection=collection,
        timeout_s=SEARCH_TIMEOUT_S,
    )


@router.get("/search/{collection}", summary="IIIF Content Search 2")
def search(
    collection: str,
    request: Request,
    context: Context,
    _caller: Reader,
    q: Q = "",
    page: ResultPage = 0,
) -> Response:
    """Searches a collection's lines; hits are annotations on the words' boxes."""
    name = known_collection(context, collection)
    result = run_search(context, name, q, page)
    body = content_search.search_page(urls_for(context, request), name, q, result, page)
    return iiif_json(request, body, content_search.SEARCH_2_CONTEXT)


@router.get("/search1/{collection}", summary="IIIF Content Search 1 (for Mirador 4)")
def search_v1(
    collection: str,
    request: Request,
    context: Context,
    _caller: Reader,
    q: Q = "",
    page: ResultPage = 0,
) -> Response:
    """The same search answered in Content Search 1."""
    name = known_collection(context, collection)
    result = run_search(context, name, q, page)
    body = content_search.search_list(urls_for(context, request), name, q, result, page)
    return iiif_json(request, body, content_search.SEARCH_1_CONTEXT)


def completions(context: ServerContext, collection: str, query: str) -> list[tuple[str, int]]:
    """The word forms of a collection that complete the query's (single) word.

    A prefix is looked up both as typed (lower case) and normalised like a word: normalising
    a word's beginning alone can change it ("am" reads as "an" before a consonant), and the
    forms that complete either are offered.
    """
    keys = word_keys(query)
    if len(keys) != 1:
        return []
    prefixes = {keys[0], query.strip().casefold()}
    found: dict[str, int] = {}
    with context.repository.search_reader(SEARCH_TIMEOUT_S) as reader:
        collection_id = reader.collection_id(collection)
        for prefix in sorted(prefixes):
            for form, count in reader.completions(
                prefix, collection_id=collection_id, limit=AUTOCOMPLETE_LIMIT
            ):
                found[form] = max(count, found.get(form, 0))
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:AUTOCOMPLETE_LIMIT]


@router.get("/autocomplete/{collection}", summary="IIIF Content Search 2 autocomplete")
def autocomplete(
    collection: str, request: Request, context: Context, _caller: Reader, q: Q = ""
) -> Response:
    """Word forms of the collection that start with the query, most frequent first."""
    name = known_collection(context, collection)
    body = content_search.terms_page(
        urls_for(context, request), name, q, completions(context, name, q)
    )
    return iiif_json(request, body, content_search.SEARCH_2_CONTEXT)


@router.get("/autocomplete1/{collection}", summary="IIIF Content Search 1 autocomplete")
def autocomplete_v1(
    collection: str, request: Request, context: Context, _caller: Reader, q: Q = ""
) -> Response:
    """The same completions answered in Content Search 1."""
    name = known_collection(context, collection)
    body = content_search.term_list(
        urls_for(context, request), name, q, completions(context, name, q)
    )
    return iiif_json(request, body, content_search.SEARCH_1_CONTEXT)


router.include_router(image_routes.router)

__all__ = ["CORS", "router"]
