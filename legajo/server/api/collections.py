"""``/api/collections``: the collections with their counts, and each one's pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from legajo.server.api.limits import DEFAULT_LIMIT, MAX_LIMIT, MAX_NAME_CHARS, MAX_OFFSET
from legajo.server.api.schemas import CollectionOut, PageListAnswer, PageSummaryOut
from legajo.server.auth import Reader
from legajo.server.context import Context

router = APIRouter(tags=["collections"])


@router.get("/collections", response_model=list[CollectionOut], summary="list the collections")
def list_collections(context: Context, _caller: Reader) -> list[CollectionOut]:
    """Every collection, by name, with its pages, lines, words, mean confidence and errors."""
    return [CollectionOut.of(stats) for stats in context.repository.stats()]


@router.get(
    "/collections/{name}/pages", response_model=PageListAnswer, summary="list a collection's pages"
)
def list_pages(
    name: Annotated[str, Path(max_length=MAX_NAME_CHARS)],
    context: Context,
    _caller: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> PageListAnswer:
    """A collection's pages (indexed and failed frames), by path and frame; 404 if unknown."""
    context.repository.collection_id(name)
    pages = context.repository.pages(name)
    return PageListAnswer(
        collection=name,
        pages=[PageSummaryOut.of(page) for page in pages[offset : offset + limit]],
        total=len(pages),
        offset=offset,
        limit=limit,
    )
