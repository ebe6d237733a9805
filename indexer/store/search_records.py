"""The plain records `indexer.store.search_reader.SearchReader` returns, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.store.row_mapping import StoredLine


@dataclass(frozen=True, slots=True)
class LineWordMatch:
    """A line that may hold a word form (a `line_words` row with its line's context).

    Attributes:
        line_id: The line.
        form_id: The word form.
        probability: P(form occurs in the line).
        text_confidence: Confidence of the form in the current text, None when absent.
        variants: Whether the line's collection folds spelling variants.
    """

    line_id: int
    form_id: int
    probability: float
    text_confidence: float | None
    variants: bool


@dataclass(frozen=True, slots=True)
class BestLinesRequest:
    """One form's best lines, as `SearchReader.best_lines_of` reads them for several forms.

    Attributes:
        form_id: The word form.
        limit: Most lines returned.
        skip_collections: Leave out the lines of these collections.
        after: (value, line id) of the last line of the previous batch: the lines after it
            in the form's search order (value descending, then line id).
    """

    form_id: int
    limit: int
    skip_collections: tuple[int, ...] = ()
    after: tuple[float, int] | None = None


@dataclass(frozen=True, slots=True)
class LocatedLine:
    """A stored line with its page's file, frame and its place in reading order."""

    stored: StoredLine
    source_path: str
    frame: int
    position: int
    collection_id: int

    @property
    def verified(self) -> bool:
        """True when a person corrected or confirmed the line."""
        return self.stored.version > 1


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What the search filters look at in a line, without loading it.

    Attributes:
        collection_id: The line's collection.
        confidence: The recognizer's confidence in the line.
        verified: True when a person corrected or confirmed the line.
    """

    collection_id: int
    confidence: float
    verified: bool
