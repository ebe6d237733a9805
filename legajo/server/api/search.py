"""``GET /api/search``: the lines that answer a query, one page of hits at a time."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Annotated

from fastapi import APIRouter, Query

from indexer.errors import SearchTimeoutError
from indexer.search.hits import Hit
from legajo.server.api.limits import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_NAME_CHARS,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    SEARCH_TIMEOUT_S,
)
from legajo.server.api.schemas import HitOut, SearchAnswer, SearchMode, WordOut
from legajo.server.auth import Reader
from legajo.server.context import Context, ServerContext

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchAnswer, summary="search the lines")
def search_lines(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description='words, "quoted phrases", OR, -excluded, prefix*',
        ),
    ],
    context: Context,
    _caller: Reader,
    mode: Annotated[SearchMode, Query(description="how words are matched")] = SearchMode.AUTO,
    collection: Annotated[
        str | None, Query(max_length=MAX_NAME_CHARS, description="only this collection")
    ] = None,
    min_confidence: Annotated[
        float | None, Query(ge=0.0, le=1.0, description="only lines at least this confident")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SearchAnswer:
    """Searches every line (or one collection's), best hits first.

    Each hit carries the line's current ``version``, to send back with a correction
    (``PUT /api/lines/{line_id}``). The search and the reading of the versions share one
    time limit; past it the answer is 503 ``search_timeout``. A malformed query is 400
    ``bad_query``.
    """
    started = time.monotonic()
    result = context.search.search(
        q,
        mode=mode.value,
        limit=limit,
        offset=offset,
        collection=collection,
        min_confidence=min_confidence,
        timeout_s=SEARCH_TIMEOUT_S,
    )
    left = SEARCH_TIMEOUT_S - (time.monotonic() - started)
    versions = _versions(context, [hit.line_id for hit in result.hits], left)
    hits = [_hit(hit, versions[hit.line_id]) for hit in result.hits if hit.line_id in versions]
    return SearchAnswer(
        query=q,
        mode=SearchMode(result.mode),
        hits=hits,
        total=result.total,
        offset=offset,
        limit=limit,
        elapsed_s=time.monotonic() - started,
    )


def _versions(
    context: ServerContext, line_ids: Collection[int], timeout_s: float
) -> dict[int, int]:
    """The current version of each line, read within what is left of the time limit."""
    if not line_ids:
        return {}
    if timeout_s <= 0:
        raise SearchTimeoutError("the search ran past its time limit")
    with context.repository.search_reader(timeout_s) as reader:
        located = reader.located_lines(line_ids)
    return {line_id: line.stored.version for line_id, line in located.items()}


def _hit(hit: Hit, version: int) -> HitOut:
    return HitOut(
        line_id=hit.line_id,
        version=version,
        page_id=hit.page_id,
        page=hit.page,
        frame=hit.frame,
        text=hit.text,
        score=hit.score,
        bbox=list(hit.bbox),
        words=[WordOut.of(word) for word in hit.words],
    )
