"""legajo's Python API: transcribe pages, and index, search, correct and export an archive.

    >>> import legajo
    >>> pages = legajo.transcribe("data/samples/foral_de_estremoz_1_1258_11.jpg")
    >>> with legajo.open(home="legajo-data") as archive:
    ...     archive.index(["data/samples"], collection="samples")
    ...     hits = archive.search("rey", limit=5)

Everything here is a thin layer over `htr` (recognition) and `indexer` (storage, search,
import and export), with the same defaults as the `legajo` command line: the bundled model,
the home folder of ``$LEGAJO_HOME`` or ``./legajo-data``, SQLite inside it unless a database
URL is given. Errors are `htr.errors.LegajoError` subclasses.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from htr.default_model import default_model_path
from htr.document import Page
from htr.reading import RecognizerSettings
from indexer.settings import resolve_storage

if TYPE_CHECKING:
    from PIL import Image

    from htr.images import PageImage
    from htr.recognizer import Recognizer
    from indexer.adaptation.adapt import AdaptReport
    from indexer.adaptation.reread import RereadReport
    from indexer.search.service import Hit, SearchService
    from indexer.store.repository import Repository, StoredLine
    from indexer.transfer.exporter import ExportReport
    from indexer.transfer.ingest import IndexReport

__all__ = ["Archive", "open", "transcribe"]

Layout = Literal["auto", "xml", "own"]
ExportFormatName = Literal["page", "alto", "txt", "json"]

_IN_MEMORY_SOURCE = Path("<image>")


def transcribe(
    source: str | Path | Image.Image,
    model: str | Path | Recognizer | None = None,
    *,
    layout: Layout = "auto",
    lines: bool = False,
    settings: RecognizerSettings | None = None,
) -> list[Page]:
    """Reads a page image (or every page of a PDF or multi-page TIFF).

    Args:
        source: An image or PDF file, or a PIL image already in memory.
        model: A checkpoint folder, a Hugging Face hub name, or a loaded recognizer;
            None means the bundled model. Loaded models are kept for the next call.
        layout: Where line polygons come from: a PAGE/ALTO file next to the image
            (``"xml"``), legajo's own segmentation (``"own"``), or the file when there is
            one (``"auto"``). An in-memory image has no file beside it: ``"auto"`` means
            ``"own"`` for it.
        lines: Treat the image as one text line.
        settings: Decoding settings (beams, n-best, batch size, device).

    Returns:
        One `Page` per page of the file, with lines, words (confidences, boxes) and
        alternative readings.

    Raises:
        ImageLoadError: If the file cannot be read as an image.
        ModelLoadError: If the model cannot be loaded.
        LayoutError: If a layout file asked for cannot be used.
    """
    from htr.images import PageImage, iter_page_images
    from htr.pipeline import LayoutMode, PipelineSettings, transcribe_page, transcribe_pages

    recognizer = _recognizer(model, settings)
    pages: Iterator[PageImage]
    if isinstance(source, (str, Path)):
        pages = iter_page_images(Path(source))
    else:
        layout = "own" if layout == "auto" else layout
        pages = iter([PageImage(_IN_MEMORY_SOURCE, 0, source.convert("RGB"))])
    pipeline = PipelineSettings(layout=LayoutMode(layout), whole_image=lines)
    if lines:  # one line per frame: read all frames in one batch
        return transcribe_pages(list(pages), recognizer, pipeline)
    return [transcribe_page(page, recognizer, pipeline) for page in pages]


def open(home: str | Path | None = None, db: str | None = None) -> Archive:
    """Opens (or creates) an archive: its database and its search index files.

    Args:
        home: The data folder; None means ``$LEGAJO_HOME`` or ``./legajo-data``.
        db: A SQLAlchemy database URL (SQLite or PostgreSQL); None means ``$LEGAJO_DB`` or
            SQLite ``<home>/legajo.db``.

    Returns:
        The archive; close it (or use it in a ``with`` block) when done.

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseOpenError: If the database cannot be opened or brought up to date.
    """
    from indexer.store.db import open_database
    from indexer.store.repository import Repository

    storage = resolve_storage(None if home is None else Path(home), db)
    return Archive(Repository(open_database(storage.database_url)), storage.home)


class Archive:
    """An open archive: index pages into it, search, correct and export them.

    Attributes:
        repository: The database layer (`indexer.store.repository.Repository`).
        home: The data folder, where the search index files are kept.
    """

    def __init__(self, repository: Repository, home: Path) -> None:
        self.repository = repository
        self.home = home
        self._search: SearchService | None = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the database."""
        self.repository.database.close()

    def index(
        self,
        paths: Iterable[str | Path],
        collection: str = "default",
        model: str | Path | Recognizer | None = None,
        *,
        layout: Layout = "auto",
        lines: bool = False,
        force: bool = False,
        settings: RecognizerSettings | None = None,
    ) -> IndexReport:
        """Transcribes image and PDF files (folders are walked) into a collection.

        Pages already indexed with the same content are skipped, so indexing the same folder
        again resumes an interrupted batch; a page another model read is not stored again
        (`reread` reads it in place). A file that fails is recorded (`Repository.failures`)
        and the others are indexed.

        Args:
            paths: Files and folders.
            collection: The collection the pages go to (created when missing).
            model: As for `transcribe`, or a model name of this home; None for the
                collection's active model (the bundled one unless `adapt` made another).
            layout: As for `transcribe`.
            lines: Treat every image as one text line.
            force: Transcribe again pages that are already indexed, in place.
            settings: Decoding settings.

        Returns:
            The batch's report: pages indexed, skipped and failed.

        Raises:
            InputPathError: If a path does not exist, or the paths hold no page image
                (`indexer.errors.NoInputError`).
            ModelLoadError: If the model cannot be loaded.
            DatabaseError: If the database fails (pages committed before are kept).
        """
        from htr.pipeline import LayoutMode, PipelineSettings
        from indexer.transfer.ingest import IndexSettings, find_inputs, index_paths

        files = [Path(path) for path in paths]
        inputs = find_inputs(files)
        index_settings = IndexSettings(
            collection=collection,
            pipeline=PipelineSettings(layout=LayoutMode(layout), whole_image=lines),
            force=force,
        )
        recognizer = self._collection_recognizer(collection, model, settings)
        return index_paths(files, self.repository, recognizer, index_settings, inputs=inputs)

    def adapt(
        self,
        collection: str,
        minutes: float | None = 20.0,
        *,
        steps: int | None = None,
        base: str | None = None,
        activate: bool = False,
    ) -> AdaptReport:
        """Fine-tunes a collection's model on its verified lines, as ``legajo adapt`` does.

        Args:
            collection: The collection.
            minutes: Training time budget.
            steps: Training step budget (instead of, or as well as, `minutes`).
            base: The model to start from (a model name of this home, ``legajo-default``,
                a path or a hub name); None for the collection's active model.
            activate: Make the new model the collection's even if it is not better.

        Returns:
            The new model, and the CER of the old and the new one on the held-back lines.

        Raises:
            UnknownCollectionError: If the collection does not exist.
            TrainingError: Too few verified lines, or training failed.
        """
        from indexer.adaptation.adapt import AdaptSettings, adapt_collection

        settings = AdaptSettings(
            collection, minutes=minutes, steps=steps, base=base, activate=activate
        )
        return adapt_collection(self.repository, self.home, settings)

    def reread(
        self,
        collection: str,
        model: str | Path | Recognizer | None = None,
        *,
        only_unverified: bool = False,
        settings: RecognizerSettings | None = None,
    ) -> RereadReport:
        """Reads a collection's pages again in place, as ``legajo reread`` does.

        Args:
            collection: The collection.
            model: A model name of this home, a path, a hub name or a recognizer; None for
                the collection's active model.
            only_unverified: Read only the lines nobody verified.
            settings: Decoding settings.

        Returns:
            Pages and lines read again, lines changed, confidence before and after.

        Raises:
            UnknownCollectionError: If the collection does not exist.
        """
        from indexer.adaptation.reread import reread_collection

        recognizer = self._collection_recognizer(collection, model, settings)
        return reread_collection(
            self.repository, recognizer, collection, only_unverified=only_unverified
        )

    def _collection_recognizer(
        self,
        collection: str,
        model: str | Path | Recognizer | None,
        settings: RecognizerSettings | None,
    ) -> Recognizer:
        """The recognizer `model` names (a home's model name too), else the collection's."""
        from indexer.adaptation.registry import reading_model
        from indexer.store.model_registry import ModelRegistry

        if model is not None and not isinstance(model, (str, Path)):
            return model
        registry = ModelRegistry(self.repository.database)
        name = None if model is None else str(model)
        return _recognizer(reading_model(registry, name, collection).source, settings)

    def search(
        self,
        query: str,
        mode: str = "auto",
        limit: int = 20,
        *,
        offset: int = 0,
        collection: str | None = None,
        min_confidence: float | None = None,
        timeout_s: float = 5.0,
    ) -> list[Hit]:
        """Finds the lines that answer a query, best first.

        Args:
            query: Words, ``"quoted phrases"``, ``OR``, ``-excluded`` terms, ``prefix*``.
            mode: ``auto`` (every reading, spelling variants and near misses), ``exact``
                (the best reading only), ``prob`` (every reading), ``fuzzy`` or
                ``semantic`` (by meaning).
            limit: Most hits returned.
            offset: Hits skipped first, for paging.
            collection: Only this collection.
            min_confidence: Only lines at least this confident (corrected lines always count).
            timeout_s: Time limit of the search.

        Returns:
            The hits (`indexer.search.service.Hit`): page, line id, text, score, box and
            the words that matched.

        Raises:
            QuerySyntaxError: If the query is malformed.
            UnknownCollectionError: If `collection` does not exist.
            SearchTimeoutError: If the search ran past `timeout_s`.
        """
        result = self._search_service().search(
            query,
            mode=mode,
            limit=limit,
            offset=offset,
            collection=collection,
            min_confidence=min_confidence,
            timeout_s=timeout_s,
        )
        return list(result.hits)

    def correct(
        self, line_id: int, text: str, editor: str, expected_version: int | None = None
    ) -> StoredLine:
        """Corrects a line: the new text is searchable at once, the old one kept in its history.

        Args:
            line_id: The line (`Hit.line_id`).
            text: The corrected text.
            editor: Who corrects it.
            expected_version: The line's version the editor saw (`StoredLine.version`); a
                line changed since then is not overwritten. None means its current version.

        Returns:
            The corrected line.

        Raises:
            LineNotFoundError: If there is no such line.
            StaleLineError: If the line changed since `expected_version`.
        """
        version = self.line(line_id).version if expected_version is None else expected_version
        return self.repository.correct_line(line_id, text, editor, version)

    def line(self, line_id: int) -> StoredLine:
        """The stored line with this id: its current text, version, words and readings.

        Raises:
            LineNotFoundError: If there is no such line.
        """
        return self.repository.line(line_id)

    def export(
        self, fmt: ExportFormatName, out: str | Path, collection: str | None = None
    ) -> ExportReport:
        """Writes every page (of a collection, or of all) as PAGE XML, ALTO, text or JSON.

        Args:
            fmt: ``"page"``, ``"alto"``, ``"txt"`` or ``"json"``.
            out: The folder to write to (created when missing).
            collection: Only this collection; None writes each collection to a subfolder.

        Returns:
            The files written.

        Raises:
            UnknownCollectionError: If `collection` does not exist.
            ExportPathError: If `out` cannot be written to.
        """
        from indexer.transfer.exporter import ExportFormat, export_pages

        return export_pages(self.repository, Path(out), ExportFormat(fmt), collection)

    def _search_service(self) -> SearchService:
        if self._search is None:
            from indexer.search.service import SearchService

            self._search = SearchService(self.repository, self.home)
        return self._search


def _recognizer(
    model: str | Path | Recognizer | None, settings: RecognizerSettings | None
) -> Recognizer:
    if model is not None and not isinstance(model, (str, Path)):
        return model
    name = str(default_model_path() if model is None else model)
    return _load_recognizer(name, settings or RecognizerSettings())


@functools.lru_cache(maxsize=2)
def _load_recognizer(name: str, settings: RecognizerSettings) -> Recognizer:
    from htr.recognizer import load_recognizer

    return load_recognizer(name, settings)
