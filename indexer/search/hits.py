"""What a search returns: hits, their matched words, and the result of one query.

`matched_words` marks the words of a hit line whose normalised form the query accepted: the
line's own words, or, when the match came from another n-best reading, that reading's words
with the probability that the line holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from htr.confidence import word_spans
from htr.types import BBox
from indexer.spelling.normalize import word_keys
from indexer.store.search_reader import LocatedLine
from indexer.store.word_index import FORM_SETTINGS, line_readings


@dataclass(frozen=True, slots=True)
class MatchedWord:
    """A word of a hit line that matched the query.

    Attributes:
        text: The word as it stands in the line (or in the reading that matched).
        bbox: Its box in page pixels, None when the word comes from a reading whose words
            cannot be placed.
        confidence: The word's confidence (1 for a corrected line); for a word found only in
            another reading, the probability that the line holds it.
    """

    text: str
    bbox: BBox | None
    confidence: float | None

    def to_json(self) -> dict[str, Any]:
        """The word as JSON-ready data."""
        return {
            "text": self.text,
            "bbox": None if self.bbox is None else list(self.bbox),
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """One line that answers a query.

    Attributes:
        page: The page's source file, as indexed.
        frame: The page within the file.
        page_id: Database id of the page.
        line_id: Database id of the line (the first line of a semantic window).
        text: The line's current text (a window's lines joined by spaces).
        score: In [0, 1], higher is better (see `indexer.search.service`).
        bbox: The line's box (x0, y0, x1, y1) in page pixels.
        words: The words that matched, in reading order.
    """

    page: str
    frame: int
    page_id: int
    line_id: int
    text: str
    score: float
    bbox: BBox
    words: tuple[MatchedWord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The hit in the ``legajo search --json`` shape."""
        return {
            "page": self.page,
            "frame": self.frame,
            "page_id": self.page_id,
            "line_id": self.line_id,
            "text": self.text,
            "score": self.score,
            "bbox": list(self.bbox),
            "words": [word.to_json() for word in self.words],
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The answer to one query.

    Attributes:
        hits: The hits from `offset` on, at most `limit`, best first.
        total: How many lines matched in all; for a one-word query counted up to
            `indexer.search.matching.TOTAL_LIMIT`, for several single words up to
            `indexer.search.matching.SEVERAL_TOTAL_LIMIT` or one more than
            ``offset + limit`` (a total equal to the cap means at least that many); for a
            lone phrase, among the lines scored (`indexer.search.matching.Matcher.phrase`);
            for semantic search, among the passages retrieved.
        elapsed_s: Wall-clock seconds the search took.
        mode: The mode used.
    """

    hits: tuple[Hit, ...]
    total: int
    elapsed_s: float
    mode: str


def matched_words(
    located: LocatedLine, accepted: Mapping[str, float], *, exact: bool
) -> tuple[MatchedWord, ...]:
    """The words of a hit line whose normalised form the query accepted (module docstring).

    Args:
        located: The hit line.
        accepted: The normalised forms the query accepted (with their weights).
        exact: Whether the search was in exact mode: then only the line's own words count.

    Returns:
        The matched words, in reading order; empty when none can be told.
    """
    line = located.stored.line
    # A verified line's stored words are its text's, confidence 1 (`Repository.correct_line`).
    matched = tuple(
        MatchedWord(word.text, word.bbox, word.confidence)
        for word in line.words
        if any(key in accepted for key in word_keys(word.text, FORM_SETTINGS))
    )
    if matched or exact or located.verified:
        return matched
    readings = sorted(
        line_readings(line.text, line.alternatives, verified=False), key=lambda r: -r[1]
    )
    for reading, _ in readings:
        spans = word_spans(reading)
        found = []
        for index, (start, end) in enumerate(spans):
            word = reading[start:end]
            keys = [k for k in word_keys(word, FORM_SETTINGS) if k in accepted]
            if not keys:
                continue
            probability = sum(
                prob for other, prob in readings if keys[0] in word_keys(other, FORM_SETTINGS)
            )
            box = line.words[index].bbox if len(spans) == len(line.words) else None
            found.append(MatchedWord(word, box, min(1.0, probability)))
        if found:
            return tuple(found)
    return ()
