"""The words a line gets once a person verified its text (pure: no database).

When a person corrects or confirms a line, its words become the whitespace-separated words
of the verified text, confidence 1.0. They reuse the line's earlier word boxes when there
are as many earlier words as verified words; otherwise the line's box is split among them
in proportion to their character offsets.

`indexer.store.repository.Repository.correct_line` stores these words, migration 0004 gave
them to lines corrected before, and the exports (`indexer.transfer.formats.words`) write
them for a corrected line, so that all three agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from htr.confidence import word_spans
from htr.document import Word
from htr.types import BBox


def verified_words(text: str, words: Sequence[Word], line_box: BBox) -> tuple[Word, ...]:
    """The words of a text a person wrote or confirmed for a line (module docstring).

    Args:
        text: The corrected (or confirmed) text.
        words: The line's words before it: their boxes are kept when there are as many.
        line_box: The line's box, split among the words otherwise.

    Returns:
        The whitespace-separated words of `text`, confidence 1.0.
    """
    spans = word_spans(text)
    if not spans:
        return ()
    if len(spans) == len(words):
        boxes = [w.bbox for w in words]
    else:
        boxes = _proportional_boxes(line_box, spans, len(text))
    return tuple(
        Word(text[start:end], 1.0, box) for (start, end), box in zip(spans, boxes, strict=True)
    )


def _proportional_boxes(
    line_box: BBox, spans: Sequence[tuple[int, int]], length: int
) -> list[BBox]:
    """Splits a line box among words by their character offsets in the line text."""
    x0, y0, x1, y1 = line_box
    scale = (x1 - x0) / max(1, length)
    boxes = []
    for start, end in spans:
        left = x0 + math.floor(start * scale)
        right = max(left + 1, min(x1, x0 + math.ceil(end * scale)))
        boxes.append((left, y0, right, y1))
    return boxes
