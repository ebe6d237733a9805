"""Errors raised by the indexer; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path

from htr.errors import ImageLoadError, LegajoError


class IndexerError(LegajoError):
    """Base class of the indexer's errors."""


class DatabaseUrlError(IndexerError):
    """A database URL (``--db`` or ``LEGAJO_DB``) cannot be parsed or names no known driver."""


class DatabaseOpenError(IndexerError):
    """The database could not be opened or brought up to date (migrations)."""


class DatabaseMissingError(DatabaseOpenError):
    """A command that only reads was given a home folder or database that does not exist.

    A SQLite file that is not there, a PostgreSQL database that does not exist, or a
    database without legajo's tables: reading commands refuse it rather than create it.
    """


class UnknownCollectionError(IndexerError):
    """A collection name was asked for that the database does not hold."""


class UnknownModelError(IndexerError):
    """A model name was asked for that the home's model registry does not hold."""


class LineNotFoundError(IndexerError):
    """A line id was asked for that the database does not hold."""


class StaleLineError(IndexerError):
    """A correction was based on an older version of the line than the stored one.

    Attributes:
        line_id: The line.
        expected_version: The version the editor started from.
        current_version: The version in the database now.
    """

    def __init__(self, line_id: int, expected_version: int, current_version: int) -> None:
        super().__init__(
            f"line {line_id} was changed meanwhile (version {current_version}, "
            f"the correction was made on version {expected_version}); reload it and retry"
        )
        self.line_id = line_id
        self.expected_version = expected_version
        self.current_version = current_version


class PageHasCorrectionsError(IndexerError):
    """A page holds human corrections and would lose them if it were re-transcribed."""


class InputPathError(IndexerError):
    """A path given to the indexer does not exist."""


class NoInputError(InputPathError):
    """The paths given exist but hold nothing to work on (a folder without page images)."""


class UnreadableEntryError(IndexerError):
    """An entry met while walking a folder cannot be read.

    A dangling (or looping) symbolic link, a folder that cannot be listed, or something that
    is neither a file nor a folder (a FIFO, a device) under a page image's name.
    """


class DatabaseAccessError(IndexerError):
    """The database could not be read or written (unreachable, locked past the timeout)."""


class SearchTimeoutError(IndexerError):
    """A search ran past its time limit (``timeout_s``) and was stopped."""


class SemanticModelError(IndexerError):
    """A sentence model cannot be loaded, or does not match the semantic index it is used with."""


class TranscriptionImportError(IndexerError):
    """A PAGE or ALTO file cannot be imported: it holds no text, or names a missing frame."""


class ImagePathRefusedError(ImageLoadError):
    """A page image path resolves outside the folders it may come from; it is never opened.

    An `ImageLoadError`, so that callers which skip unreadable images (training, the
    workbench) skip a refused one too.

    Attributes:
        path: The path as named or stored.
        resolved: Where it leads, symlinks followed.
        roots: The folders it had to lie in (empty when none is known).
    """

    def __init__(
        self, message: str, path: Path, resolved: Path, roots: tuple[Path, ...] = ()
    ) -> None:
        super().__init__(message)
        self.path = path
        self.resolved = resolved
        self.roots = roots


class ExportPathError(IndexerError):
    """The export folder cannot be used: the path names a file, not a folder."""


class ExportWriteError(IndexerError):
    """An export file could not be written (permissions, disk full)."""


class IndexFileError(IndexerError):
    """An index file is missing, unreadable, corrupt, or does not match its manifest."""


class OptionError(IndexerError):
    """Command-line options that only make sense together were given apart."""


class RayUnavailableError(IndexerError):
    """The Ray engine was asked for and Ray is not installed (``pip install 'legajo[ray]'``)."""


class RayClusterError(IndexerError):
    """The Ray cluster cannot be reached, or its workers cannot load the model or the database."""


class WorkerLostError(IndexerError):
    """A file's Ray task failed on every try (its worker died, or the task raised)."""
