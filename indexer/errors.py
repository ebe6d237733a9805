"""Errors raised by the indexer; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from htr.errors import LegajoError


class IndexerError(LegajoError):
    """Base class of the indexer's errors."""


class DatabaseUrlError(IndexerError):
    """A database URL (``--db`` or ``LEGAJO_DB``) cannot be parsed or names no known driver."""


class DatabaseOpenError(IndexerError):
    """The database could not be opened or brought up to date (migrations)."""


class UnknownCollectionError(IndexerError):
    """A collection name was asked for that the database does not hold."""


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


class DatabaseAccessError(IndexerError):
    """The database could not be read or written (unreachable, locked past the timeout)."""


class SearchTimeoutError(IndexerError):
    """A search ran past its time limit (``timeout_s``) and was stopped."""


class SemanticModelError(IndexerError):
    """A sentence model cannot be loaded, or does not match the semantic index it is used with."""


class TranscriptionImportError(IndexerError):
    """A PAGE or ALTO file cannot be imported: it holds no text, or names a missing frame."""


class ExportPathError(IndexerError):
    """The export folder cannot be used: the path names a file, not a folder."""


class ExportWriteError(IndexerError):
    """An export file could not be written (permissions, disk full)."""


class IndexFileError(IndexerError):
    """An index file is missing, unreadable, corrupt, or does not match its manifest."""


class OptionError(IndexerError):
    """Command-line options that only make sense together were given apart."""
