"""Training lines from the database: every stored line whose text a person verified.

A line is verified when

- it was **corrected** (it has a `CorrectionRow`): its text is the latest correction;
- or its page was **imported** by `legajo import` (`indexer.importer`): the page's model key
  is `IMPORT_MODEL` *and* its processing steps include an `IMPORT_STEP`. The model key alone
  could also be a model's path (``--model import``); the step is what the importer writes.

Each line is cut from its page image on disk (the page's file and frame, with the stored
polygon) by `htr.training_data.line_samples`, exactly as PAGE/ALTO ground truth is, and names
the folder of its page image as its source, so that the train/validation split keeps a
manuscript on one side. A page whose image is missing, unreadable, or whose content changed
since it was stored (another SHA-256: the polygons no longer fit) is skipped with a warning
naming the file; the model card counts the skipped pages.

`DatabaseLineSource` is the `htr.training_data.LineSetReader` that ``legajo train --from-db``
hands to `htr.train` (`indexer.train_cli`). The query is written here, on a read session of
`Repository.database`, rather than in `indexer.repository`, to keep the training source in
one module; it only reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from sqlalchemy import and_, exists, or_, select

from htr.document import Line
from htr.errors import ImageLoadError
from htr.images import PageImage, iter_page_images
from htr.line_processor import DEFAULT_HEIGHT, DEFAULT_MAX_WIDTH
from htr.train import TrainingError
from htr.training_data import LineSample, LineSet, line_samples
from indexer.importer import IMPORT_MODEL, IMPORT_STEP
from indexer.ingest import hash_file
from indexer.orm import PAGE_INDEXED, CollectionRow, CorrectionRow, LineRow, PageRow
from indexer.repository import Repository

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VerifiedLine:
    """A stored line whose text a person verified, with the page image it is cut from.

    Attributes:
        source_path: The page's file, as it was indexed or imported.
        frame: The page's frame in that file.
        sha256: The file's content hash when it was stored; None when it cannot be checked
            (a page imported while its image was missing is keyed by a placeholder).
        line: The line: stored geometry and zone, `Line.text` the verified text.
        corrected: True for a corrected line, False for an imported one never corrected.
    """

    source_path: str
    frame: int
    sha256: str | None
    line: Line
    corrected: bool


@dataclass(frozen=True, slots=True, repr=False)
class DatabaseLineSource:
    """Reads the verified lines of a database as a `LineSet` (a `LineSetReader`).

    The database is closed (its pooled connections) once the lines are read.

    Attributes:
        repository: The open database.
        collection: Only this collection; None for every collection.
    """

    repository: Repository
    collection: str | None = None

    def __call__(self, height: int) -> LineSet:
        """Reads the lines at `height` pixels (see `read_verified_lines`)."""
        try:
            return read_verified_lines(self.repository, self.collection, height=height)
        finally:
            self.repository.database.close()

    def __repr__(self) -> str:
        return (
            f"DatabaseLineSource({self.repository.database.url!r}, collection={self.collection!r})"
        )


def read_verified_lines(
    repository: Repository,
    collection: str | None = None,
    *,
    height: int = DEFAULT_HEIGHT,
    max_width: int = DEFAULT_MAX_WIDTH,
) -> LineSet:
    """Cuts every verified line of the database (or of one collection) from its page image.

    Args:
        repository: The database.
        collection: Only this collection; None for every collection.
        height: Line height (the model's input height).
        max_width: Widest line.

    Returns:
        The lines, file by file (corrected ones first), with a description for the model
        card: how many corrected and imported lines, the database (password hidden),
        the collection, and the pages skipped.

    Raises:
        UnknownCollectionError: If `collection` does not exist.
        DatabaseAccessError: If the database cannot be read.
        TrainingError: If there is no verified line, or none could be cut from its image.
    """
    where = f"database {repository.database.url}" + (
        f", collection {collection}" if collection is not None else ", every collection"
    )
    found = verified_lines(repository, collection)
    if not found:
        raise TrainingError(
            f"no verified lines in {where}: correct lines in the workbench (legajo ui) or "
            "import transcriptions (legajo import) first"
        )
    samples: list[LineSample] = []
    corrected = imported = skipped = 0
    for path, page_lines in _by_file(found):
        cut = _cut_file(path, page_lines, height, max_width)
        skipped += cut.skipped_pages
        samples.extend(cut.corrected + cut.imported)
        corrected += len(cut.corrected)
        imported += len(cut.imported)
    if not samples:
        raise TrainingError(
            f"none of the {len(found)} verified lines in {where} could be cut: their page "
            "images are missing, unreadable or changed (see the warnings)"
        )
    description = (
        f"{corrected} corrected lines and {imported} lines of imported transcriptions from {where}"
    )
    if skipped:
        pages = "1 page" if skipped == 1 else f"{skipped} pages"
        description += f" ({pages} skipped: image missing, unreadable or changed)"
    logger.info("%s", description)
    return LineSet(tuple(samples), description)


def verified_lines(repository: Repository, collection: str | None = None) -> list[VerifiedLine]:
    """The verified lines of the database (see the module docstring), without their images.

    Args:
        repository: The database.
        collection: Only this collection; None for every collection.

    Returns:
        The lines in collection, file, frame and reading order.

    Raises:
        UnknownCollectionError: If `collection` does not exist.
        DatabaseAccessError: If the database cannot be read.
    """
    if collection is not None:
        repository.collection_id(collection)
    latest = (
        select(CorrectionRow.new_text)
        .where(CorrectionRow.line_id == LineRow.id)
        .order_by(CorrectionRow.version.desc(), CorrectionRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    is_import_model = and_(
        PageRow.model_id == IMPORT_MODEL.model_id,
        PageRow.model_revision == IMPORT_MODEL.revision,
    )
    query = (
        select(LineRow, PageRow.source_path, PageRow.frame, PageRow.sha256, PageRow.steps, latest)
        .join(PageRow, PageRow.id == LineRow.page_id)
        .join(CollectionRow, CollectionRow.id == PageRow.collection_id)
        .where(PageRow.status == PAGE_INDEXED)
        .where(or_(exists().where(CorrectionRow.line_id == LineRow.id), is_import_model))
        .order_by(
            CollectionRow.name, PageRow.source_path, PageRow.frame, PageRow.id, LineRow.position
        )
    )
    if collection is not None:
        query = query.where(CollectionRow.name == collection)
    found: list[VerifiedLine] = []
    with repository.database.read() as session:
        for row, source_path, frame, sha256, steps, correction in session.execute(query):
            import_steps = [s for s in steps or () if s.get("kind") == IMPORT_STEP]
            if correction is None and not import_steps:
                continue  # a model called "import", not an imported page
            image_missing = any(
                (s.get("settings") or {}).get("image") == "missing" for s in import_steps
            )
            found.append(
                VerifiedLine(
                    source_path=source_path,
                    frame=frame,
                    sha256=None if image_missing else sha256,
                    line=_line(row, row.text if correction is None else correction),
                    corrected=correction is not None,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class _CutFile:
    corrected: list[LineSample]
    imported: list[LineSample]
    skipped_pages: int


def _cut_file(path: str, lines: Sequence[VerifiedLine], height: int, max_width: int) -> _CutFile:
    """Cuts the verified lines of one file, page by page; unusable pages are skipped."""
    by_frame: dict[int, list[VerifiedLine]] = {}
    for verified in lines:
        by_frame.setdefault(verified.frame, []).append(verified)
    corrected: list[LineSample] = []
    imported: list[LineSample] = []
    source = str(Path(path).resolve().parent)
    done: set[int] = set()
    try:
        _check_unchanged(path, {v.sha256 for v in lines if v.sha256 is not None})
        for page in _frames(path, set(by_frame)):
            done.add(page.frame)
            for is_corrected, target in ((True, corrected), (False, imported)):
                chosen = [v.line for v in by_frame[page.frame] if v.corrected is is_corrected]
                target.extend(
                    line_samples(page.image, chosen, source, height=height, max_width=max_width)
                )
    except ImageLoadError as error:
        left = sorted(set(by_frame) - done)
        logger.warning(
            "skipped %d verified lines of %s (frames %s): %s",
            sum(len(by_frame[frame]) for frame in left),
            path,
            ", ".join(map(str, left)),
            error,
        )
        return _CutFile(corrected, imported, len(left))
    missing = sorted(set(by_frame) - done)
    if missing:
        logger.warning("skipped frames %s of %s: the file has fewer pages now", missing, path)
    return _CutFile(corrected, imported, len(missing))


def _check_unchanged(path: str, hashes: set[str]) -> None:
    """Checks that a file's content is (one of) the content(s) it was stored with.

    Raises:
        ImageLoadError: If the file cannot be read, or its SHA-256 is none of `hashes`.
    """
    if not hashes:
        return
    if hash_file(Path(path)).sha256 not in hashes:
        raise ImageLoadError(
            f"{path} changed since it was stored (another SHA-256): the stored line "
            "polygons may not fit it"
        )


def _frames(path: str, wanted: set[int]) -> Iterator[PageImage]:
    """The wanted pages of a file, in file order; stops reading after the last one."""
    last = max(wanted)
    pages = iter_page_images(path)
    try:
        for page in pages:
            if page.frame in wanted:
                yield page
            if page.frame >= last:
                break
    finally:
        pages.close()


def _by_file(lines: Sequence[VerifiedLine]) -> Iterator[tuple[str, list[VerifiedLine]]]:
    for path, group in groupby(lines, key=lambda v: v.source_path):
        yield path, list(group)


def _line(row: LineRow, text: str) -> Line:
    return Line(
        id=row.line_key,
        bbox=(row.x0, row.y0, row.x1, row.y1),
        polygon=tuple((int(p[0]), int(p[1])) for p in row.polygon),
        text=text,
        zone=row.zone,
    )
