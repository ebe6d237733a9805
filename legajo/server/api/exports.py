"""Exports: one page, or a collection as a ZIP, in the formats of ``legajo export``.

The files are those ``legajo export`` writes (and the workbench's downloads): the pages are
assembled by `indexer.transfer.exporter`, the ZIP packed by `ui.exports`.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from indexer.transfer.exporter import SUFFIXES, ExportFormat, page_with_corrections, render_page
from legajo.server.api.limits import MAX_NAME_CHARS
from legajo.server.api.schemas import ExportFormatName
from legajo.server.auth import Reader
from legajo.server.context import Context
from legajo.server.errors import ApiError
from ui.exports import MIME_TYPES, export_collection

router = APIRouter(tags=["exports"])

FormatQuery = Annotated[ExportFormatName, Query(alias="format", description="the file format")]

_FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the file"}
}


@router.get(
    "/pages/{page_id}/export",
    response_class=Response,
    responses=_FILE_ANSWERS,
    summary="export a page",
)
def export_page(
    page_id: int,
    context: Context,
    _caller: Reader,
    file_format: FormatQuery = ExportFormatName.PAGE,
) -> Response:
    """One page as PAGE XML, ALTO, plain text or JSON; corrections are the main readings."""
    export_format = ExportFormat(file_format.value)
    try:
        page, corrections = page_with_corrections(context.repository, page_id)
    except LookupError:
        raise ApiError(404, "not_found", f"no page with id {page_id}") from None
    stem = PurePath(page.image.replace("\\", "/")).stem or "page"
    frame = f"_p{page.frame + 1:03d}" if page.frame else ""
    return _download(
        render_page(page, corrections, export_format),
        MIME_TYPES[export_format],
        f"{stem}{frame}{SUFFIXES[export_format]}",
    )


@router.get(
    "/collections/{name}/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "a ZIP"}},
    summary="export a collection",
)
def export_collection_zip(
    name: Annotated[str, Path(max_length=MAX_NAME_CHARS)],
    context: Context,
    _caller: Reader,
    file_format: FormatQuery = ExportFormatName.PAGE,
) -> Response:
    """Every indexed page of a collection in one ZIP, laid out as ``legajo export`` does."""
    context.repository.collection_id(name)
    export_format = ExportFormat(file_format.value)
    data = export_collection(context.repository, name, export_format)
    return _download(data, "application/zip", f"{name}-{export_format.value}.zip")


def _download(data: bytes, media_type: str, file_name: str) -> Response:
    """A file answer; text types say they are UTF-8."""
    if media_type.startswith("text/") or media_type.endswith("/xml"):
        media_type = f"{media_type}; charset=utf-8"
    ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in file_name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})
