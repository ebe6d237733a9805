"""Training lines from the database: every stored line whose text a person verified.

A line is verified when

- it was **corrected** (it has a `CorrectionRow`): its text is the latest correction;
- or its page was **imported** by `legajo import` (`indexer.transfer.importer`): the page's
  model key is `IMPORT_MODEL` *and* its processing steps include an `IMPORT_STEP`. The model
  key alone could also be a model's path (``--model import``); the step is what the importer
  writes.

Each line is cut from its page image on disk (the page's file and frame, with the stored
polygon) by `htr.training.data.line_samples`, exactly as PAGE/ALTO ground truth is, and names
the folder of its page image as its source, so that the train/validation split keeps a
manuscript on one side. A page whose image is missing, unreadable, or whose content changed
since it was stored (another SHA-256: the polygons no longer fit) is skipped with a warning
naming the file; the model card counts the skipped pages. So is an imported page whose image
lies outside the folder its import allowed (`indexer.transfer.importer.stored_image_path`):
its image path came from a PAGE or ALTO file, and is never opened there.

`DatabaseLineSource` is the `htr.training.data.LineSetReader` that ``legajo train --from-db``
hands to `htr.training.trainer`. The lines come from
`indexer.store.repository.Repository.verified_lines`, given the importer's model key and step kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from htr.errors import ImageLoadError
from htr.line_processor import DEFAULT_HEIGHT, DEFAULT_MAX_WIDTH
from htr.pipeline import stored_pdf_dpi
from htr.training.config import TrainingError
from htr.training.data import LineSample, LineSet, line_samples
from indexer.errors import ImagePathRefusedError
from indexer.store.repository import Repository, VerifiedLine
from indexer.transfer.stored_images import check_unchanged, stored_frames
from indexer.transfer.transcriptions import IMPORT_MODEL, IMPORT_STEP, stored_image_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, repr=False)
class DatabaseLineSource:
    """Reads the verified lines of a database as a `LineSet` (a `LineSetReader`).

    The database is closed (its pooled connections) once the lines are read.

    Attributes:
        repository: The open database.
        collection: Only this collection; None for every collection.
        keep: Only the lines it says yes to (e.g. the pages a fine-tune trains on); None
            for every line.
        label: What the kept lines are, for the description (e.g. ``"held back"``).
    """

    repository: Repository
    collection: str | None = None
    keep: Callable[[VerifiedLine], bool] | None = None
    label: str = ""

    def __call__(self, height: int) -> LineSet:
        """Reads the lines at `height` pixels (see `read_verified_lines`)."""
        try:
            return read_verified_lines(
                self.repository, self.collection, height=height, keep=self.keep, label=self.label
            )
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
    keep: Callable[[VerifiedLine], bool] | None = None,
    label: str = "",
) -> LineSet:
    """Cuts every verified line of the database (or of one collection) from its page image.

    Args:
        repository: The database.
        collection: Only this collection; None for every collection.
        height: Line height (the model's input height).
        max_width: Widest line.
        keep: Only the lines it says yes to; None for every verified line.
        label: What the kept lines are (``"held back"``), for the description.

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
    found = repository.verified_lines(
        collection, import_model=IMPORT_MODEL, import_step=IMPORT_STEP
    )
    if keep is not None:
        found = [verified for verified in found if keep(verified)]
    if not found:
        raise TrainingError(
            f"no verified lines in {where}: correct lines in the workbench (legajo ui) or "
            "import transcriptions (legajo import) first"
        )
    samples: list[LineSample] = []
    corrected = imported = skipped = 0
    for path, page_lines in _by_file(found):
        opened, allowed, refused_pages = _allowed_lines(path, page_lines)
        skipped += refused_pages
        if opened is None:
            continue
        cut = _cut_file(opened, allowed, height, max_width)
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
    if label:
        description = f"{label}: {description}"
    if skipped:
        pages = "1 page" if skipped == 1 else f"{skipped} pages"
        description += f" ({pages} skipped: image missing, unreadable or changed)"
    logger.info("%s", description)
    return LineSet(tuple(samples), description)


def _allowed_lines(
    path: str, lines: Sequence[VerifiedLine]
) -> tuple[str | None, list[VerifiedLine], int]:
    """Keeps the lines whose page may open `path` (`stored_image_path`); warns about the rest.

    Returns:
        The file to open (None when no line may), the lines kept, and how many pages
        (frames) were refused.
    """
    opened: str | None = None
    allowed: list[VerifiedLine] = []
    refused: dict[int, ImagePathRefusedError] = {}
    for verified in lines:
        try:
            checked = stored_image_path(path, verified.steps)
        except ImagePathRefusedError as error:
            refused.setdefault(verified.frame, error)
            continue
        opened = opened or str(checked)
        allowed.append(verified)
    for frame, refusal in sorted(refused.items()):
        logger.warning("skipped the verified lines of %s [frame %d]: %s", path, frame, refusal)
    return opened, allowed, len(refused)


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
        check_unchanged(path, {h for v in lines if (h := _checkable_sha256(v)) is not None})
        dpis = {frame: stored_pdf_dpi(group[0].steps) for frame, group in by_frame.items()}
        for page in stored_frames(path, dpis):
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


def _by_file(lines: Sequence[VerifiedLine]) -> Iterator[tuple[str, list[VerifiedLine]]]:
    for path, group in groupby(lines, key=lambda v: v.source_path):
        yield path, list(group)


def _checkable_sha256(verified: VerifiedLine) -> str | None:
    """The content hash to check a line's file against; None when it cannot be checked.

    A page imported while its image was missing is keyed by a placeholder hash, not the
    image's (its import step says ``image: missing``).
    """
    image_missing = any(
        step.kind == IMPORT_STEP and step.settings.get("image") == "missing"
        for step in verified.steps
    )
    return None if image_missing else verified.sha256
