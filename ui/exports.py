"""Export downloads: one page, or a whole collection as a ZIP, in the formats of `legajo export`.

The pages are assembled and named by `indexer.transfer.exporter`, exactly as ``legajo export``
writes them to a folder; this module only packs them for the browser.
"""

from __future__ import annotations

import io
import zipfile

from indexer.store.orm import PAGE_INDEXED
from indexer.store.repository import PageSummary, Repository
from indexer.transfer.exporter import (
    SUFFIXES,
    ExportFormat,
    export_names,
    page_with_corrections,
    render_page,
)

MIME_TYPES = {
    ExportFormat.PAGE: "application/xml",
    ExportFormat.ALTO: "application/xml",
    ExportFormat.TEXT: "text/plain",
    ExportFormat.JSON: "application/json",
}


def export_page(repository: Repository, page_id: int, export_format: ExportFormat) -> bytes:
    """One stored page, its corrections as the main readings.

    Raises:
        LookupError: If there is no page with that id.
    """
    page, corrections = page_with_corrections(repository, page_id)
    return render_page(page, corrections, export_format)


def export_file_name(page: PageSummary, export_format: ExportFormat) -> str:
    """The download name of one page: its file's stem, the frame when not the first."""
    stem = page.source_path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0] or "page"
    frame = f"_p{page.frame + 1:03d}" if page.frame else ""
    return f"{stem}{frame}{SUFFIXES[export_format]}"


def export_collection(
    repository: Repository, collection: str, export_format: ExportFormat
) -> bytes:
    """Every indexed page of a collection, as a ZIP laid out as ``legajo export`` would."""
    pages = [p for p in repository.pages(collection) if p.status == PAGE_INDEXED]
    names, _ = export_names(pages, export_format, by_collection=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for page in pages:
            archive.writestr(
                names[page.id].as_posix(), export_page(repository, page.id, export_format)
            )
    return buffer.getvalue()
