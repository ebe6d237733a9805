"""Exports of a page: PAGE XML 2019, ALTO 4.4, plain text and JSON.

Pure functions from domain objects (`htr.document.Page` and the latest human correction of
each line, `LineCorrection`) to bytes or text; no database. The latest correction of a line
is its main reading in every format; the machine readings stay beside it where the format
can hold them. See `indexer.transfer.formats.words` for what a line says in an export, and each
writer's module for where it goes in its format.
"""

from indexer.transfer.formats.alto_writer import ALTO_SCHEMA_VERSION, ALTO_V4_NAMESPACE, write_alto
from indexer.transfer.formats.page_writer import PAGE_2019_NAMESPACE, write_page_xml
from indexer.transfer.formats.text_writer import write_json, write_text
from indexer.transfer.formats.words import LineCorrection

__all__ = [
    "ALTO_SCHEMA_VERSION",
    "ALTO_V4_NAMESPACE",
    "PAGE_2019_NAMESPACE",
    "LineCorrection",
    "write_alto",
    "write_json",
    "write_page_xml",
    "write_text",
]
