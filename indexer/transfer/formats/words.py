"""What one line says in an export: its main reading, its other readings and its words.

Shared by the PAGE and ALTO writers so that both encode the same facts the same way:

- The **main reading** is the latest human correction of the line when there is one, else
  the machine reading (`Line.text`).
- The **other readings** follow, best first, each text once: for a corrected line the
  machine reading first (with the line confidence), then the recogniser's n-best
  alternatives (with their probabilities), leaving out any text already given.
- The **words** of a corrected line are the whitespace-separated words of the correction,
  verified, so their confidence is 1.0. They reuse the machine words' boxes when there are as
  many machine words as corrected words; otherwise the line's box is split among them in
  proportion to their character offsets (`indexer.store.verified_words`, which also gives a
  corrected line its stored words). An uncorrected line keeps its machine words.

Text is cleaned once here (`xml_text`) of the characters XML 1.0 cannot carry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from htr.document import Line, Page, Word
from htr.types import BBox, Point
from indexer.store.verified_words import verified_words

_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters outside XML 1.0's Char production (C0 controls, surrogates, U+FFFE/U+FFFF)."""


@dataclass(frozen=True, slots=True)
class LineCorrection:
    """The latest human correction of a line: in exports it becomes the line's main reading.

    Attributes:
        line_id: The corrected line's `Line.id`.
        text: The corrected text.
        editor: Who made the correction.
        when: When it was made (a naive time is taken as UTC).
    """

    line_id: str
    text: str
    editor: str
    when: datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """A reading of a line other than its main one.

    Attributes:
        text: The reading (cleaned for XML).
        confidence: The line confidence for the machine reading, the probability for an
            n-best alternative.
        rank: The alternative's rank in the n-best list, from 1; 0 for the machine reading of
            a corrected line.
    """

    text: str
    confidence: float
    rank: int


def xml_text(text: str) -> str:
    """Returns `text` without the characters that XML 1.0 cannot carry (escaping is lxml's)."""
    return _XML_ILLEGAL.sub("", text)


def correction_of(
    line: Line, corrections: Mapping[str, LineCorrection] | None
) -> LineCorrection | None:
    """The correction of `line` in `corrections`, if any."""
    if not corrections:
        return None
    return corrections.get(line.id)


def main_text(line: Line, correction: LineCorrection | None) -> str:
    """The line's main reading, cleaned for XML: the correction's text, else the machine's."""
    return xml_text(correction.text if correction is not None else line.text)


def other_readings(line: Line, correction: LineCorrection | None) -> list[Reading]:
    """The line's readings after the main one, best first, each text once (module docstring)."""
    seen = {main_text(line, correction)}
    readings: list[Reading] = []
    if correction is not None:
        machine = xml_text(line.text)
        if machine not in seen:
            seen.add(machine)
            readings.append(Reading(machine, unit_interval(line.confidence), 0))
    for rank, alternative in enumerate(line.alternatives, start=1):
        text = xml_text(alternative.text)
        if text not in seen:
            seen.add(text)
            readings.append(Reading(text, unit_interval(alternative.prob), rank))
    return readings


def export_words(line: Line, correction: LineCorrection | None) -> tuple[Word, ...]:
    """The words to write for a line (module docstring), texts cleaned for XML.

    Machine words whose text is empty once cleaned are left out.
    """
    if correction is None:
        words = (Word(xml_text(w.text), unit_interval(w.confidence), w.bbox) for w in line.words)
        return tuple(w for w in words if w.text)
    return verified_words(xml_text(correction.text), line.words, line.bbox)


def page_corrections(
    page: Page, corrections: Mapping[str, LineCorrection] | None
) -> list[LineCorrection]:
    """The corrections that apply to lines of `page`, in reading order."""
    found = (correction_of(line, corrections) for line in page.lines)
    return [c for c in found if c is not None]


def utc(when: datetime) -> datetime:
    """`when` as an aware UTC time (a naive time is taken as UTC)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def unit_interval(value: float) -> float:
    """A confidence clipped to [0, 1]; 0 for NaN."""
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


def format_confidence(value: float) -> str:
    """A confidence as a short decimal in [0, 1] (6 decimals at most, no exponent)."""
    text = f"{unit_interval(value):.6f}".rstrip("0").rstrip(".")
    return text or "0"


def clip_point(point: Point, width: int, height: int) -> Point:
    """A point moved inside the image (0..width-1, 0..height-1) when it lies outside."""
    x, y = point
    return (min(max(0, x), max(0, width - 1)), min(max(0, y), max(0, height - 1)))


def clip_box(box: BBox, width: int, height: int) -> BBox:
    """A box (x1, y1 exclusive) cut to the image, at least one pixel wide and high."""
    x0, y0, x1, y1 = box
    x0 = min(max(0, x0), max(0, width - 1))
    y0 = min(max(0, y0), max(0, height - 1))
    x1 = max(x0 + 1, min(x1, width))
    y1 = max(y0 + 1, min(y1, height))
    return (x0, y0, x1, y1)


def union_box(boxes: Sequence[BBox]) -> BBox:
    """The smallest box around some boxes (at least one)."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


class IdRegistry:
    """Hands out XML ``ID`` values, unique within one document.

    A wanted id that is not a valid XML name (``NCName``) is rewritten: characters that no
    name may hold become ``_`` and a prefix goes in front when it does not start with a
    letter or ``_``. A repeat gets ``_2``, ``_3``... appended.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()

    def claim(self, wanted: str, prefix: str) -> str:
        """Returns `wanted`, or the closest valid unused id, and marks it used."""
        candidate = wanted if _is_ncname(wanted) else _as_ncname(wanted, prefix)
        result, n = candidate, 1
        while result in self._used:
            n += 1
            result = f"{candidate}_{n}"
        self._used.add(result)
        return result


def _is_ncname(value: str) -> bool:
    if not value:
        return False
    try:
        etree.QName(value)  # lxml checks tag names with libxml2's own NCName rules
    except ValueError:
        return False
    return True


def _as_ncname(value: str, prefix: str) -> str:
    cleaned = "".join(c if _is_ncname(f"a{c}") else "_" for c in value)
    return cleaned if _is_ncname(cleaned) else f"{prefix}_{cleaned}"
