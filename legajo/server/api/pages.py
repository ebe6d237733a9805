"""``GET /api/pages/{page_id}``: a page with its lines, words, confidences and readings."""

from __future__ import annotations

from fastapi import APIRouter

from htr.document import Page
from legajo.server.api.schemas import LineOut, PageOut
from legajo.server.auth import Reader
from legajo.server.context import Context, ServerContext
from legajo.server.errors import ApiError

router = APIRouter(tags=["pages"])


def load_page(context: ServerContext, page_id: int) -> Page:
    """A stored page.

    Raises:
        ApiError: 404 if there is no page with that id.
    """
    try:
        return context.repository.load_page(page_id)
    except LookupError:
        raise ApiError(404, "not_found", f"no page with id {page_id}") from None


@router.get("/pages/{page_id}", response_model=PageOut, summary="read a page")
def read_page(page_id: int, context: Context, _caller: Reader) -> PageOut:
    """A page and its lines in reading order.

    Each line has its id and version (for corrections), its words with confidences and
    boxes, and the recognizer's n-best readings.
    """
    page = load_page(context, page_id)
    return PageOut(
        id=page_id,
        source_path=page.image,
        frame=page.frame,
        width=page.width,
        height=page.height,
        lines=[LineOut.of(line) for line in context.repository.lines(page_id)],
    )
