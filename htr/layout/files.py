"""Layout files of page images: find the PAGE XML or ALTO file next to an image, read it.

`read_layout_file` looks at the root element and hands the file to `htr.layout.pagexml` or
`htr.layout.alto`. Both return a `htr.layout.common.LayoutFile`: the page size and the text
lines in reading order, with absolute integer pixel coordinates (see `htr.types`). Every
problem with an input file is raised as `LayoutError`, whose message names the file.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lxml import etree

from htr.errors import LayoutError
from htr.layout.alto import read_alto
from htr.layout.common import (
    ALTO_NAMESPACES,
    PAGE_NAMESPACE_PREFIX,
    LayoutFile,
    alto_namespace,
    is_page_namespace_family,
    parse_layout_xml,
    split_tag,
)
from htr.layout.pagexml import read_page_xml

logger = logging.getLogger(__name__)

LayoutFormat = Literal["page", "alto"]

_PAGE_ROOT = "PcGts"
_ALTO_ROOT = "alto"
_LAYOUT_SUBFOLDERS = ("page", "alto")
"""Subfolders next to an image where Transkribus and OCR-D exports put the layout files."""


@dataclass(frozen=True, slots=True)
class RejectedLayoutFile:
    """A file with an image's name and an XML suffix that is no usable PAGE or ALTO file.

    Attributes:
        path: The file.
        reason: Why it is not used, starting with the file's name (e.g. that it is an HTML
            page, declares XML entities, or has a root element of another kind).
    """

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class LayoutSearch:
    """What `search_layout_file` found next to a page image.

    Attributes:
        found: The PAGE or ALTO file of the image, or None.
        rejected: The files looked at before (or instead of) it that carry the image's name
            but are not PAGE or ALTO, in the order they were looked at.
    """

    found: Path | None
    rejected: tuple[RejectedLayoutFile, ...] = ()


def read_layout_file(path: Path) -> LayoutFile:
    """Reads a PAGE XML or ALTO file, whichever the root element says it is.

    Args:
        path: The XML file.

    Returns:
        The page size, image name and lines of the file.

    Raises:
        LayoutError: The file cannot be read, is HTML or not well-formed XML, declares XML
            entities, is neither PAGE nor ALTO, or holds bad coordinates.
    """
    kind = sniff_layout_format(path)
    if kind == "page":
        return read_page_xml(path)
    if kind == "alto":
        return read_alto(path)
    root = parse_layout_xml(path)  # raises the precise error for unreadable or malformed files
    raise LayoutError(
        f"{path}: root element {root.tag!r} is neither PAGE XML (PcGts) nor ALTO (alto)"
        f"{_root_hint(root.tag)}"
    )


def find_layout_file(image_path: Path) -> Path | None:
    """Finds the PAGE XML or ALTO file that belongs to a page image.

    Looks for an XML file with the image's stem (``X.jpg`` -> ``X.xml``, suffix in any case)
    next to the image, then in its ``page/`` and ``alto/`` subfolders, in that order; ``X.xml``
    comes before ``X.XML`` and other spellings. Only files whose root element is PAGE or ALTO
    count. Files of another name, such as ``X.chocomufin.xml``, are never picked.

    Args:
        image_path: The page image.

    Returns:
        The layout file, or None when there is none (`search_layout_file` says why).
    """
    return search_layout_file(image_path, explain=False).found


def search_layout_file(image_path: Path, *, explain: bool = True) -> LayoutSearch:
    """Looks for the PAGE XML or ALTO file of a page image, as `find_layout_file` does.

    Args:
        image_path: The page image.
        explain: Say why each file with the image's name that is not PAGE or ALTO was passed
            over (this reads such files whole); when False, `LayoutSearch.rejected` is empty.

    Returns:
        The file found, if any, and the files passed over with their reasons.
    """
    stem = image_path.stem
    folders = [image_path.parent, *(image_path.parent / sub for sub in _LAYOUT_SUBFOLDERS)]
    rejected: list[RejectedLayoutFile] = []
    for folder in folders:
        for suffix in _xml_suffixes():
            candidate = folder / f"{stem}{suffix}"
            if candidate == image_path or not candidate.is_file():
                continue
            if sniff_layout_format(candidate) is not None:
                return LayoutSearch(candidate, tuple(rejected))
            logger.debug("%s is not a PAGE or ALTO file; not used for %s", candidate, image_path)
            if explain:
                rejected.append(RejectedLayoutFile(candidate, _why_not_layout(candidate)))
    return LayoutSearch(None, tuple(rejected))


def _why_not_layout(path: Path) -> str:
    """The reason a file the sniffer passed over is not a layout file, from the full reader."""
    try:
        read_layout_file(path)
    except LayoutError as error:
        return str(error)
    return f"{path}: not recognised as PAGE XML or ALTO from its first element"


def _root_hint(tag: str) -> str:
    """What is wrong with a root element that is neither PAGE nor ALTO, when that is clear."""
    namespace, local = split_tag(tag)
    if local.lower() == "html":
        return " but an HTML page"
    if local == _PAGE_ROOT:
        return (
            f"; its namespace {namespace!r} is not a PAGE content namespace "
            f"({PAGE_NAMESPACE_PREFIX}<version>)"
        )
    if local == _ALTO_ROOT:
        known = ", ".join(repr(ns) for ns in ALTO_NAMESPACES)
        return f"; its namespace {namespace!r} is not an ALTO namespace ({known})"
    return ""


def sniff_layout_format(path: Path) -> LayoutFormat | None:
    """Says whether a file is PAGE or ALTO by reading no more than its root element.

    Args:
        path: Any file.

    Returns:
        ``"page"`` or ``"alto"``, or None when the file is neither or cannot be read.
    """
    try:
        events = etree.iterparse(
            str(path),
            events=("start",),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            load_dtd=False,
        )
        for _event, element in events:
            return layout_format(element.tag)
    except (OSError, etree.XMLSyntaxError) as error:
        logger.debug("cannot read the root element of %s: %s", path, error)
    return None


def layout_format(tag: str) -> LayoutFormat | None:
    """Says which layout format a root element's qualified tag belongs to.

    Args:
        tag: The tag in lxml's ``{namespace}local`` form.

    Returns:
        ``"page"`` for a PAGE ``PcGts`` root in any PAGE content namespace (``https://`` and
        a trailing slash accepted, see `htr.layout.common.page_namespace`), ``"alto"`` for an
        ``alto`` root in a known ALTO namespace, else None.
    """
    namespace, local = split_tag(tag)
    if local == _PAGE_ROOT and is_page_namespace_family(namespace):
        return "page"
    if local == _ALTO_ROOT and alto_namespace(namespace) is not None:
        return "alto"
    return None


def _xml_suffixes() -> list[str]:
    """Returns ``.xml`` in every letter case, ``.xml`` first and ``.XML`` second."""
    spellings = ["".join(letters) for letters in itertools.product("xX", "mM", "lL")]
    spellings.sort(key=lambda s: (s != "xml", s != "XML", s))
    return [f".{s}" for s in spellings]
