"""`legajo import`: PAGE XML and ALTO files with text, stored as verified transcriptions.

`read_transcription` turns one file into a page ready to store (no database);
`import_paths` is the batch entry point that `legajo import` (`legajo.cli.archive`) drives.

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
- **Its identity.** A page is the frame of an image in a collection, as for `legajo index`:
  the image's content hash and frame, with the model key `IMPORT_MODEL`. A page imported
  without its image is keyed by the hash of the image path it expected instead, and keeps
  that key when a later import finds the image, so that it is replaced rather than doubled.
  So importing the same file twice stores nothing new (``unchanged``), and importing a newer
  transcription of the same image replaces the older one (``replaced``) instead of adding a
  second page. A page whose lines were corrected in
  legajo since is not replaced, and the file is reported as failed so that no correction is
  lost silently. Pages that a model transcribed (`legajo index`) are kept apart: an image
  both indexed and imported has two pages, which the report counts (``also indexed``).
- **Its frame.** Multi-page files (TIFF, PDF) have one PAGE or ALTO file per page: the frame
  comes from ALTO's ``Page@PHYSICAL_IMG_NR`` or from the ``Page@custom`` ``frame {index:N;}``
  that legajo's PAGE export writes, and only when the image is a multi-page file (many
  tools number ``PHYSICAL_IMG_NR`` across a whole book of single images).

Failures (a malformed or truncated XML file, a file that is neither PAGE nor ALTO, a file
without any text, a dangling symbolic link or a folder that cannot be listed) are named in
the report and never stop the batch; paths that hold no XML file at all are refused. They
are not stored in the database: `legajo errors` lists files that could not be indexed.
Well-formed XML files that are neither PAGE nor ALTO met while walking a folder (METS files,
Transkribus' ``doc.xml``) are ignored, not failed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote, urlparse

from PIL import Image

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep
from htr.errors import ImageLoadError, LayoutError, LegajoError
from htr.images import SUPPORTED_SUFFIXES, count_frames
from htr.layout.common import LayoutFile, parse_layout_xml, split_tag
from htr.layout.files import (
    LayoutFormat,
    layout_format,
    read_layout_file,
    sniff_layout_format,
)
from indexer.errors import ImagePathRefusedError, TranscriptionImportError, UnreadableEntryError
from indexer.store.orm import PAGE_INDEXED, RUN_ABORTED, RUN_FINISHED
from indexer.store.repository import (
    DEFAULT_COLLECTION,
    ModelKey,
    Repository,
    SourceFile,
    StoreOutcome,
)
from indexer.transfer.image_paths import (
    LAYOUT_SUBFOLDERS,
    check_inside_roots,
    find_root,
    import_image_roots,
)
from indexer.transfer.ingest import hash_file
from indexer.transfer.inputs import walk_inputs
from indexer.transfer.page_custom import FRAME_CUSTOM_TAG

logger = logging.getLogger(__name__)

IMPORT_MODEL = ModelKey("import")
"""The model key of imported pages: they were read by people, not by a model."""

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


class ImportOutcome(StrEnum):
    """What happened to one input file."""

    IMPORTED = "imported"
    REPLACED = "replaced"
    """Imported over an older import of the same image and frame."""
    UNCHANGED = "unchanged"
    """The same file was imported before: nothing written."""
    FAILED = "failed"
    IGNORED = "ignored"
    """A well-formed XML file of another kind, met while walking a folder."""


@dataclass(frozen=True, slots=True)
class ImportInput:
    """A file to import.

    Attributes:
        path: The XML file.
        named: True when given on the command line, False when found in a folder (where
            XML files of other kinds are ignored rather than failed).
        error: Why the entry cannot be read at all (a dangling symbolic link, a folder
            that cannot be listed: `indexer.transfer.inputs`); it is then a failure.
    """

    path: Path
    named: bool
    error: UnreadableEntryError | None = None


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


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """A file that could not be imported, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class MissingImage:
    """A page imported without its image: the XML file and the image path it expected."""

    xml_path: str
    image_path: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of an import batch.

    Attributes:
        run_id: The processing run recorded for it.
        files: Input files considered (ignored ones included).
        imported: Pages stored (replaced ones included).
        replaced: Of those, pages that replaced an older import of the same image and frame.
        unchanged: Files imported before, with the same content: nothing written.
        ignored: Well-formed XML files of other kinds found in folders.
        also_indexed: Imported pages whose image is also transcribed by a model in the
            collection (two pages for one image).
        failures: Every file that could not be imported, in input order.
        missing_images: Pages imported without their image.
        seconds: Wall-clock time of the batch.
    """

    run_id: int
    files: int
    imported: int
    replaced: int
    unchanged: int
    ignored: int
    also_indexed: int
    failures: tuple[ImportFailure, ...]
    missing_images: tuple[MissingImage, ...]
    seconds: float

    @property
    def failed(self) -> int:
        """Number of files that failed."""
        return len(self.failures)


ImportProgress = Callable[[Path, ImportOutcome], None]


def find_import_inputs(paths: Sequence[Path]) -> list[ImportInput]:
    """Lists the files to import: files as given, ``*.xml`` of folders (recursive), sorted.

    Dangling links and folders that cannot be listed are inputs too, which fail in their
    turn (`indexer.transfer.inputs`).

    Raises:
        InputPathError: If a path does not exist.
        NoInputError: If the paths hold no XML file (and no unreadable entry).
    """
    entries = walk_inputs(paths, _is_xml_name, what="XML files")
    return [ImportInput(entry.path, entry.named, entry.error) for entry in entries]


def import_paths(
    paths: Sequence[Path],
    repository: Repository,
    collection: str = DEFAULT_COLLECTION,
    on_progress: ImportProgress | None = None,
    images_roots: Sequence[Path] = (),
) -> ImportReport:
    """Imports PAGE XML and ALTO files and folders into a collection (module docstring).

    Args:
        paths: Files and folders (walked recursively for ``*.xml``).
        repository: Where pages are stored.
        collection: The collection the pages go to (created when new).
        on_progress: Called after each file with its outcome.
        images_roots: Folders outside `paths` whose images the files may name
            (``--images-root``).

    Returns:
        What was imported, replaced, left unchanged, ignored and failed.

    Raises:
        InputPathError: If a path does not exist, or an images root is not a folder
            (nothing is imported).
    """
    started = time.perf_counter()
    inputs = find_import_inputs(paths)
    roots = import_image_roots(paths, images_roots)
    collection_id = repository.ensure_collection(collection)
    run_id = repository.start_run(
        collection_id, "import", ProcessingStep(IMPORT_STEP, SOFTWARE), {"files": len(inputs)}
    )
    batch = _ImportBatch(repository, collection, collection_id, run_id, roots)
    status = RUN_ABORTED
    try:
        for item in inputs:
            outcome = batch.import_file(item)
            repository.beat_run(run_id)
            if on_progress is not None:
                on_progress(item.path, outcome)
        status = RUN_FINISHED
    finally:
        try:
            repository.finish_run(run_id, status)
        except Exception:  # never hide the error that ended the batch behind this one
            logger.exception("could not record the end of run %d", run_id)
    counts = batch.counts
    return ImportReport(
        run_id=run_id,
        files=len(inputs),
        imported=counts[ImportOutcome.IMPORTED] + counts[ImportOutcome.REPLACED],
        replaced=counts[ImportOutcome.REPLACED],
        unchanged=counts[ImportOutcome.UNCHANGED],
        ignored=counts[ImportOutcome.IGNORED],
        also_indexed=batch.also_indexed,
        failures=tuple(batch.failures),
        missing_images=tuple(batch.missing_images),
        seconds=time.perf_counter() - started,
    )


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


class _ImportBatch:
    """The state of one `import_paths` call."""

    def __init__(
        self,
        repository: Repository,
        collection: str,
        collection_id: int,
        run_id: int,
        image_roots: Sequence[Path],
    ) -> None:
        self.repository = repository
        self.image_roots = tuple(image_roots)
        self.collection_id = collection_id
        self.run_id = run_id
        self.counts = dict.fromkeys(ImportOutcome, 0)
        self.failures: list[ImportFailure] = []
        self.missing_images: list[MissingImage] = []
        self.also_indexed = 0
        self.imported_pages: dict[tuple[str, int], int] = {}
        self.indexed_by_model: set[tuple[str, int]] = set()
        for summary in repository.pages(collection):
            if summary.status != PAGE_INDEXED:
                continue
            key = (summary.sha256, summary.frame)
            if summary.model == IMPORT_MODEL:
                self.imported_pages[key] = summary.id
            else:
                self.indexed_by_model.add(key)
        self.batch_states: dict[tuple[str, int], tuple[str, str]] = {}
        """(XML hash, image path) of the pages stored by this batch, by page key."""

    def import_file(self, item: ImportInput) -> ImportOutcome:
        """Imports one file; failures are recorded, never raised (database errors are)."""
        if item.error is not None:  # a dangling link, a folder that cannot be listed
            return self._fail(item.path, item.error)
        path = item.path.resolve()
        if not item.named and sniff_layout_format(path) is None and _well_formed(path):
            logger.info("%s is neither PAGE nor ALTO: ignored", path)
            return self._count(ImportOutcome.IGNORED)
        try:
            imported = read_transcription(path, self.image_roots)
        except LegajoError as error:
            return self._fail(path, error)
        except Exception as error:  # one odd file must not end a batch of thousands
            logger.exception("unexpected error on %s", path)
            return self._fail(path, error)
        also_indexed = (imported.source.sha256, imported.page.frame) in self.indexed_by_model
        imported = self._keep_placeholder_key(imported)
        key = (imported.source.sha256, imported.page.frame)
        state = (imported.xml_sha256, imported.source.path)
        if self._stored_state(key) == state:
            return self._count(ImportOutcome.UNCHANGED)
        if key in self.batch_states:
            logger.warning(
                "%s transcribes the same image as a file imported before it in this batch "
                "(%s [frame %d]): it replaces it",
                path,
                imported.source.path,
                imported.page.frame,
            )
        outcome = self.repository.store_page(
            self.collection_id,
            self.run_id,
            imported.source,
            imported.page,
            IMPORT_MODEL,
            replace=True,
        )
        if outcome is StoreOutcome.KEPT_CORRECTED:
            return self._fail(
                path,
                TranscriptionImportError(
                    f"{path}: not imported: the page of {imported.source.path} was corrected "
                    "in legajo since it was imported, and replacing it would lose those "
                    "corrections"
                ),
            )
        self.batch_states[key] = state
        if outcome is StoreOutcome.ALREADY_PRESENT:  # stored meanwhile by another process
            return self._count(ImportOutcome.UNCHANGED)
        if not imported.image_found:
            self.missing_images.append(MissingImage(str(path), imported.source.path))
        if also_indexed:
            self.also_indexed += 1
        if outcome is StoreOutcome.REPLACED:
            return self._count(ImportOutcome.REPLACED)
        return self._count(ImportOutcome.IMPORTED)

    def _keep_placeholder_key(self, imported: ImportedPage) -> ImportedPage:
        """Keys a page by its placeholder when it was imported before without its image."""
        frame = imported.page.frame
        known = self.imported_pages.keys() | self.batch_states.keys()
        if not imported.image_found or (imported.source.sha256, frame) in known:
            return imported
        if (imported.placeholder_sha256, frame) not in known:
            return imported
        logger.info("%s: found now, replaces the page imported without it", imported.source.path)
        source = replace(imported.source, sha256=imported.placeholder_sha256)
        return replace(imported, source=source)

    def _stored_state(self, key: tuple[str, int]) -> tuple[str, str] | None:
        """(XML hash, image path) of the import stored under a page key, if there is one."""
        if key in self.batch_states:
            return self.batch_states[key]
        page_id = self.imported_pages.get(key)
        if page_id is None:
            return None
        page = self.repository.load_page(page_id)
        imports = [s.settings for s in page.steps if s.kind == IMPORT_STEP]
        if not imports:
            return None
        if IMAGE_ROOT_SETTING not in imports[-1] and not _opens(page):
            return None  # imported by an older legajo from outside its folders: record the root
        return str(imports[-1].get("sha256")), page.image

    def _fail(self, path: Path, error: Exception) -> ImportOutcome:
        reason = str(error) or type(error).__name__
        prefix = f"{path}: "
        if reason.startswith(prefix):  # the readers' messages name the file already
            reason = reason[len(prefix) :]
        logger.info("%s: %s", path, reason)
        self.failures.append(ImportFailure(str(path), reason))
        return self._count(ImportOutcome.FAILED)

    def _count(self, outcome: ImportOutcome) -> ImportOutcome:
        self.counts[outcome] += 1
        return outcome


def _is_xml_name(path: Path) -> bool:
    return path.suffix.lower() == ".xml" and not path.name.startswith(".")


def _opens(page: Page) -> bool:
    """True when `stored_image_path` lets a stored page's image be opened."""
    try:
        stored_image_path(page.image, page.steps)
    except ImagePathRefusedError:
        return False
    return True


def _well_formed(path: Path) -> bool:
    try:
        parse_layout_xml(path)
    except LayoutError:
        return False
    return True


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
