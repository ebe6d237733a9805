"""legajo's own ``Page@custom`` tag in PAGE XML, written by the export and read by the import.

PAGE has no attribute for the frame of a multi-page file (a TIFF frame, a PDF page), so
legajo's PAGE export (`indexer.transfer.formats.page_writer`) writes the 0-based frame of a
page past the first of its file as ``custom="frame {index:<frame>;}"``, and the import
(`indexer.transfer.importer`) reads it back. Both take the tag from here, so that neither
depends on the other.
"""

from __future__ import annotations

FRAME_CUSTOM_TAG = "frame"
"""The ``Page@custom`` tag that holds the frame of a page past the first of its file."""
