"""IIIF Image API 3 (level 1) routes: ``/iiif/image/{page_id}/...`` (`image_api`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from indexer.store.repository import PageSummary
from legajo.server.auth import Reader
from legajo.server.context import Context, ServerContext
from legajo.server.iiif.ids import urls_for
from legajo.server.iiif.image_api import (
    IMAGE_CONTEXT,
    ImageRequestError,
    image_info,
    page_identifier,
    parse_request,
    render,
)
from legajo.server.iiif.image_cache import CACHE_FOLDER, DerivativeCache
from legajo.server.iiif.responses import CORS, bad_request, iiif_json, not_found
from ui.images import PageImageUnavailableError, load_page_image

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/image", tags=["iiif"])
CACHE_HEADER = "X-Legajo-Cache"
"""``hit`` when an image came from the derivative cache, ``miss`` when it was rendered."""
_caches: dict[Path, DerivativeCache] = {}


def derivative_cache(context: ServerContext) -> DerivativeCache:
    """The derivative cache of the server's home (one per home and process)."""
    root = Path(context.storage.home) / CACHE_FOLDER
    if root not in _caches:
        _caches[root] = DerivativeCache(root)
    return _caches[root]


def stored_page(context: ServerContext, identifier: str) -> PageSummary:
    """The indexed page an identifier names.

    Raises:
        ApiError: 404 if it names none (a malformed identifier included).
    """
    page_id = page_identifier(identifier)
    if page_id is None:
        raise not_found(f"no image {identifier!r}")
    try:
        page = context.repository.page_summary(page_id)
    except LookupError:
        raise not_found(f"no image {identifier!r}") from None
    if page.width <= 0 or page.height <= 0:
        raise not_found(f"page {page_id} has no image (it failed to index)")
    return page


@router.get("/{identifier}", include_in_schema=False)
def image_base(identifier: str, request: Request, context: Context, _caller: Reader) -> Response:
    """The base URI of an image service redirects to its ``info.json``."""
    page = stored_page(context, identifier)
    target = f"{urls_for(context, request).image_service(page.id)}/info.json"
    return RedirectResponse(target, status_code=303, headers=CORS)


@router.get("/{identifier}/info.json", summary="IIIF Image API 3 information (level 1)")
def image_information(
    identifier: str, request: Request, context: Context, _caller: Reader
) -> Response:
    """The ``info.json`` of a page image's service."""
    page = stored_page(context, identifier)
    service = urls_for(context, request).image_service(page.id)
    return iiif_json(request, image_info(service, page.width, page.height), IMAGE_CONTEXT)


@router.get(
    "/{identifier}/{region}/{size}/{rotation}/{quality_format}",
    summary="IIIF Image API 3 image request",
    response_class=Response,
)
async def image(
    identifier: str,
    region: str,
    size: str,
    rotation: str,
    quality_format: str,
    context: Context,
    _caller: Reader,
) -> Response:
    """A region of a page image, scaled, in a quality and format (`image_api`)."""
    page = stored_page(context, identifier)
    try:
        wanted = parse_request(region, size, rotation, quality_format, page.width, page.height)
    except ImageRequestError as error:
        raise bad_request(str(error)) from None
    cache = derivative_cache(context)
    headers = dict(CORS)
    cached = cache.get(page.id, page.sha256, wanted.canonical)
    if cached is not None:
        return Response(
            cached, media_type=wanted.media_type, headers={**headers, CACHE_HEADER: "hit"}
        )

    def rendered() -> bytes:
        data = render(load_page_image(context.repository, page.id), wanted)
        cache.put(page.id, page.sha256, wanted.canonical, data)
        return data

    try:  # decoding and scaling take a while: off the event loop
        data = await asyncio.to_thread(rendered)
    except PageImageUnavailableError as error:  # where the file is, is for the log only
        logger.warning("page %d: %s", page.id, error)
        raise not_found(f"the image of page {page.id} is unavailable") from None
    except LookupError:
        raise not_found(f"no image {identifier!r}") from None
    return Response(data, media_type=wanted.media_type, headers={**headers, CACHE_HEADER: "miss"})
