"""Layout files of page images: find the PAGE XML or ALTO file next to an image, read it.

`read_layout_file` looks at the root element and hands the file to `htr.layout.pagexml` or
`htr.layout.alto`. Both return a `htr.layout.common.LayoutFile`: the page size and the text
lines in reading order, with absolute integer pixel coordinates (see `htr.types`). Every
problem with an input file is raised as `LayoutError`, whose message names the file.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Literal

from lxml import etree

from htr.errors import LayoutError
from htr.layout.alto import read_alto
from htr.layout.common import (
    ALTO_NAMESPACES,
    LayoutFile,
    parse_layout_xml,
    split_tag,
)
from htr.layout.pagexml import read_page_xml

logger = logging.getLogger(__name__)

LayoutFormat = Literal["page", "alto"]

_PAGE_ROOT = "PcGts"
_ALTO_ROOT = "alto"
_PAGE_NAMESPACE_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"
_LAYOUT_SUBFOLDERS = ("page", "alto")
"""Subfolders next to an image where Transkribus and OCR-D exports put the layout files."""


def read_layout_file(path: Path) -> LayoutFile:
    """Reads a PAGE XML or ALTO file, whichever the root element says it is.

    Args:
        path: The XML file.

    Returns:
        The page size, image name and lines of the file.

    Raises:
        LayoutError: The file cannot be read, is not well-formed XML, is neither PAGE nor
            ALTO, or holds bad coordinates.
    """
    kind = sniff_layout_format(path)
    if kind == "page":
        return read_page_xml(path)
    if kind == "alto":
        return read_alto(path)
    root = parse_layout_xml(path)  # raises the precise error for unreadable or malformed files
    raise LayoutError(
        f"{path}: root element {root.tag!r} is neither PAGE XML (PcGts) nor ALTO (alto)"
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
        The layout file, or None when there is none.
    """
    stem = image_path.stem
    folders = [image_path.parent, *(image_path.parent / sub for sub in _LAYOUT_SUBFOLDERS)]
    for folder in folders:
        for suffix in _xml_suffixes():
            candidate = folder / f"{stem}{suffix}"
            if candidate == image_path or not candidate.is_file():
                continue
            if sniff_layout_format(candidate) is not None:
                return candidate
            logger.debug("%s is not a PAGE or ALTO file; not used for %s", candidate, image_path)
    return None


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
        ``"page"`` for a PAGE ``PcGts`` root in any PAGE content namespace, ``"alto"`` for an
        ``alto`` root in a known ALTO namespace, else None.
    """
    namespace, local = split_tag(tag)
    if local == _PAGE_ROOT and namespace.startswith(_PAGE_NAMESPACE_PREFIX):
        return "page"
    if local == _ALTO_ROOT and namespace in ALTO_NAMESPACES:
        return "alto"
    return None


def _xml_suffixes() -> list[str]:
    """Returns ``.xml`` in every letter case, ``.xml`` first and ``.XML`` second."""
    spellings = ["".join(letters) for letters in itertools.product("xX", "mM", "lL")]
    spellings.sort(key=lambda s: (s != "xml", s != "XML", s))
    return [f".{s}" for s in spellings]
