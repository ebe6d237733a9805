"""One PAGE XML or ALTO file with text, read as a verified transcription for `legajo import`.

`read_transcription` turns one file into an `ImportedPage`, a page ready to store (no
database); `find_image` finds its image; `stored_image_path` checks a stored imported page's
image again whenever it is opened. The batch that stores the pages, and decides whether a
page is new, replaces an older import or is unchanged, is `indexer.transfer.importer`.

What an imported page is:

- **Verified text.** The lines keep the file's geometry, ids, zones and word boxes; their
  text is the file's main reading (PAGE: the ``TextEquiv`` with the lowest ``index``;
  ALTO: the ``String`` contents), taken as human work: line and word confidences are 1.0
  and there are no alternative readings. The page's one processing step,
  ``transcription-import``, says which file it was imported from (``imported_from``), the
  file's format, creator and SHA-256.
- **Its image.** ``imageFilename`` (PAGE) or ``sourceImageInformation/fileName`` (ALTO) is
  looked for next to the XML file, then in the folder above when the XML lies in a ``page/``
  or ``alto/`` subfolder (the Transkribus and OCR-D layout); failing that, an image with the
  XML file's name (``X.xml`` or legajo's ``X.page.xml`` -> ``X.jpg``...) in the same places.
  **The image must lie inside the folders being imported** (`indexer.transfer.image_paths`):
  the folders given, the folder of each file given (and the folder above a ``page/`` or
  ``alto/`` one), and the ``--images-root`` folders, once resolved (symlinks followed). A
  file whose image leads anywhere else (an absolute path elsewhere, a ``..`` that climbs out,
  a symlink that leads out) fails, naming the image, and is not stored: storing its text with
  that path would either show the outside file or hide the refusal behind a page without
  its image. The folder that admitted the image is recorded in the import step
  (``image_root``), and `stored_image_path` checks it again whenever the image is opened.
  **A missing image does not stop the import**: the text is what makes the page searchable,
  and exports from Transkribus or eScriptorium often travel without their images. The page
  then records the image path it expected, and the report lists it.
- **Its frame.** Multi-page files (TIFF, PDF) have one PAGE or ALTO file per page: the frame
  comes from ALTO's ``Page@PHYSICAL_IMG_NR`` or from the ``Page@custom`` ``frame {index:N;}``
  that legajo's PAGE export writes, and only when the image is a multi-page file (many
  tools number ``PHYSICAL_IMG_NR`` across a whole book of single images).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep
from htr.errors import ImageLoadError
from htr.images import SUPPORTED_SUFFIXES, count_frames
from htr.layout.common import LayoutFile, parse_layout_xml, split_tag
from htr.layout.files import LayoutFormat, layout_format, read_layout_file
from indexer.errors import TranscriptionImportError
from indexer.store.records import IMPORT_MODEL as IMPORT_MODEL
from indexer.store.repository import SourceFile
from indexer.transfer.image_paths import (
    LAYOUT_SUBFOLDERS,
    check_inside_roots,
    find_root,
    import_image_roots,
)
from indexer.transfer.ingest import hash_file
from indexer.transfer.page_custom import FRAME_CUSTOM_TAG

logger = logging.getLogger(__name__)

IMPORT_STEP = "transcription-import"
"""`ProcessingStep.kind` of an imported page."""

IMAGE_ROOT_SETTING = "image_root"
"""The import step's setting that records the image root the page's image lies in (an empty
string when its image, missing, was expected outside every root)."""

_IMAGES_ROOT_HINT = "; to allow that folder, import with --images-root DIR"

MULTI_PAGE_SUFFIXES = frozenset({".tif", ".tiff", ".pdf"})
"""Image suffixes that may hold several pages, for images that cannot be opened."""

_EXPORT_STEM_SUFFIXES = (".page", ".alto")
"""What legajo's exports add to the image's stem (``X.page.xml``)."""
_FRAME_CUSTOM = re.compile(rf"\b{FRAME_CUSTOM_TAG}\s*\{{[^}}]*?\bindex\s*:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class ImportedPage:
    """One PAGE or ALTO file read for import.

    Attributes:
        page: The page: verified lines, the import step, the image path as `Page.image`.
        source: The image as the page's identity (path, content hash, size).
        image_found: False when the image was not found (`source` then hashes its path).
        xml_sha256: SHA-256 of the XML file, to recognise a file imported before.
        placeholder_sha256: The key the page has when its image is missing (the hash of the
            image path it expected), found or not.
    """

    page: Page
    source: SourceFile
    image_found: bool
    xml_sha256: str
    placeholder_sha256: str


def read_transcription(path: Path, image_roots: Sequence[Path] | None = None) -> ImportedPage:
    """Reads a PAGE XML or ALTO file as a verified transcription (module docstring).

    Args:
        path: The XML file.
        image_roots: The folders its image may lie in (`import_image_roots`); None means
            the roots of importing `path` alone.

    Returns:
        The page to store, its image's identity, and the file's hash.

    Raises:
        LayoutError: The file cannot be read, is not well-formed, is neither PAGE nor ALTO,
            or holds bad coordinates.
        TranscriptionImportError: The file holds no text, or names a frame its image lacks.
        ImageLoadError: The image exists but cannot be read.
        ImagePathRefusedError: The image lies outside `image_roots`.
    """
    path = path.resolve()
    roots = import_image_roots([path]) if image_roots is None else tuple(image_roots)
    layout = read_layout_file(path)
    if not any(line.text.strip() for line in layout.lines):
        raise TranscriptionImportError(
            f"{path}: no text in its {len(layout.lines)} lines; to transcribe them, index "
            "the image with `legajo index --layout xml`"
        )
    root = parse_layout_xml(path)
    namespace, _ = split_tag(root.tag)
    kind = layout_format(root.tag) or "page"
    image, expected = find_image(path, layout.image_filename, roots)
    frame = _frame(root, kind, image or expected, found=image is not None, path=path)
    xml_sha256 = hash_file(path).sha256
    placeholder = hashlib.sha256(f"missing image {expected}".encode()).hexdigest()
    if image is not None:
        source = hash_file(image)
    else:
        source = SourceFile(path=str(expected), sha256=placeholder, size_bytes=0)
    width, height = _page_size(layout, image, frame)
    step = ProcessingStep(
        IMPORT_STEP,
        SOFTWARE,
        settings={
            "imported_from": str(path),
            "format": _format_label(kind, namespace),
            "creator": _creator(root, kind),
            "sha256": xml_sha256,
            "image": "found" if image is not None else "missing",
            IMAGE_ROOT_SETTING: str(find_root(image or expected, roots) or ""),
        },
    )
    page = Page(
        image=source.path,
        frame=frame,
        width=width,
        height=height,
        lines=tuple(_verified(line) for line in layout.lines),
        steps=(step,),
    )
    return ImportedPage(page, source, image is not None, xml_sha256, placeholder)


def find_image(
    xml_path: Path, image_filename: str | None, image_roots: Sequence[Path] | None = None
) -> tuple[Path | None, Path]:
    """Finds the page image of a PAGE or ALTO file (see the module docstring for where).

    The first place that holds a file decides: when that file lies outside `image_roots`,
    it is refused, not skipped for the next place.

    Args:
        xml_path: The XML file, absolute.
        image_filename: The image as the file names it, if it does.
        image_roots: The folders the image may lie in; None means the roots of importing
            `xml_path` alone (its folder, and the one above a ``page/`` or ``alto/`` folder).

    Returns:
        The image (resolved), or None when it is not found; and the path to record for a
        missing image: where the file says it is, or the XML file itself when it names none.

    Raises:
        ImagePathRefusedError: If the image found lies outside `image_roots`.
    """
    roots = import_image_roots([xml_path]) if image_roots is None else image_roots
    folders = [xml_path.parent]
    if xml_path.parent.name.lower() in LAYOUT_SUBFOLDERS:
        folders.append(xml_path.parent.parent)
    candidates: list[Path] = []
    if image_filename:
        named = _local_name(image_filename)
        if named.is_absolute():
            candidates.append(named)
        else:
            candidates.append(xml_path.parent / named)
        candidates.extend(folder / named.name for folder in folders)
    stem = _image_stem(xml_path)
    for folder in folders:
        for suffix in sorted(SUPPORTED_SUFFIXES):
            candidates.extend((folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"))
    expected = _resolved_or_absolute(candidates[0]) if image_filename else xml_path
    for candidate in candidates:
        if candidate.is_file():
            image = check_inside_roots(
                candidate, roots, named_by=str(xml_path), hint=_IMAGES_ROOT_HINT
            )
            return image, expected
    return None, expected


def stored_image_path(image: str, steps: Sequence[ProcessingStep]) -> Path:
    """The file to open for a stored page's image, checked where a layout file named it.

    The image path of a page that `legajo import` stored came from a PAGE or ALTO file, so
    it is opened only while it still resolves (symlinks followed) inside the image root
    recorded with the import (``image_root``). Pages imported before that was recorded are
    held to the folders the importer looked in by name: the imported file's folder and the
    one above a ``page/`` or ``alto/`` folder (import the file again to record its root).
    Other pages (`legajo index`) keep the file that was named on the command line: their
    path is returned as stored.

    Args:
        image: The page's stored image path (`Page.image`, `PageSummary.source_path`).
        steps: The page's processing steps.

    Returns:
        The file to open: resolved for an imported page.

    Raises:
        ImagePathRefusedError: If an imported page's image lies outside its root.
    """
    imports = [step for step in steps if step.kind == IMPORT_STEP]
    if not imports:
        return Path(image)
    settings = imports[-1].settings
    imported_from = settings.get("imported_from")
    root = settings.get(IMAGE_ROOT_SETTING)
    roots: tuple[Path, ...] = ()
    if isinstance(root, str) and root:
        roots = (Path(root),)
    elif IMAGE_ROOT_SETTING not in settings and isinstance(imported_from, str):
        roots = import_image_roots([Path(imported_from)])
    source = imported_from if isinstance(imported_from, str) else "an imported page"
    return check_inside_roots(
        Path(image),
        roots,
        named_by=f"page imported from {source}",
        allowed="the folder its import allowed images in",
        hint="; import the file again (with --images-root DIR if its image lies elsewhere)",
    )


def _resolved_or_absolute(path: Path) -> Path:
    """`path` resolved; made absolute only when it cannot be resolved (a symlink loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _local_name(image_filename: str) -> Path:
    """The image path a file names, as a local path (URLs and Windows paths included)."""
    name = image_filename.strip()
    if "://" in name:
        name = unquote(urlparse(name).path)
    if "\\" in name or re.match(r"^[A-Za-z]:", name):
        return Path(PureWindowsPath(name).name)
    return Path(PurePosixPath(name))


def _image_stem(xml_path: Path) -> str:
    stem = xml_path.stem
    for suffix in _EXPORT_STEM_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _format_label(kind: LayoutFormat, namespace: str) -> str:
    """The file's format in words: ``"PAGE 2019-07-15"``, ``"ALTO v4"``."""
    if kind == "page":
        return f"PAGE {namespace.rstrip('/').rsplit('/', 1)[-1]}"
    version = re.search(r"ns-v(\d+)", namespace)
    return f"ALTO v{version.group(1)}" if version else "ALTO"


def _frame(root: Any, kind: LayoutFormat, image: Path, *, found: bool, path: Path) -> int:
    """The frame of the image that the file transcribes (see the module docstring)."""
    marker = _frame_marker(root, kind)
    if marker is None or marker == 0:
        return 0
    frames: int | None = None
    if found:
        try:
            frames = count_frames(image)
        except ImageLoadError as error:
            logger.info("cannot count the pages of %s: %s", image, error)
    if frames is None:
        if image.suffix.lower() not in MULTI_PAGE_SUFFIXES:
            return 0
    elif frames == 1:
        return 0
    elif marker >= frames:
        raise TranscriptionImportError(
            f"{path}: transcribes page {marker + 1} of {image}, which has {frames} pages"
        )
    return marker


def _frame_marker(root: Any, kind: LayoutFormat) -> int | None:
    """The 0-based frame the file names, if any: ALTO ``PHYSICAL_IMG_NR``, PAGE ``custom``."""
    namespace, _ = split_tag(root.tag)
    ns = f"{{{namespace}}}" if namespace else ""
    if kind == "alto":
        page = root.find(f"{ns}Layout/{ns}Page")
        value = page.get("PHYSICAL_IMG_NR") if page is not None else None
        try:
            number = int(float(value)) if value is not None else 0
        except ValueError:
            return None
        return number - 1 if number >= 1 else None
    page = root.find(f"{ns}Page")
    match = _FRAME_CUSTOM.search(page.get("custom") or "") if page is not None else None
    return int(match.group(1)) if match else None


def _creator(root: Any, kind: LayoutFormat) -> str | None:
    """Who made the file: PAGE ``Metadata/Creator``, ALTO ``processingSoftware``'s name."""
    namespace, _ = split_tag(root.tag)
    ns = f"{{{namespace}}}" if namespace else ""
    if kind == "page":
        text = root.findtext(f"{ns}Metadata/{ns}Creator")
    else:
        text = root.findtext(f".//{ns}processingSoftware/{ns}softwareName")
    return text.strip() if text and text.strip() else None


def _page_size(layout: LayoutFile, image: Path | None, frame: int) -> tuple[int, int]:
    """The page size: from the file, else from the image, else around the lines."""
    if layout.width and layout.height:
        return layout.width, layout.height
    if image is not None:
        try:
            with Image.open(image) as opened:
                opened.seek(frame)
                return opened.size
        except (OSError, ValueError, EOFError, Image.DecompressionBombError) as error:
            logger.info("cannot read the size of %s: %s", image, error)
    width = max((line.bbox[2] for line in layout.lines), default=1)
    height = max((line.bbox[3] for line in layout.lines), default=1)
    return layout.width or width, layout.height or height


def _verified(line: Line) -> Line:
    """A line as human work: confidence 1.0 for it and its words, no alternatives."""
    return replace(
        line,
        confidence=1.0,
        words=tuple(replace(word, confidence=1.0) for word in line.words),
        alternatives=(),
    )
