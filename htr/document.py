"""The document model: a page is lines, a line is words, all as frozen dataclasses.

Coordinates are absolute integer pixels of the page image (see `htr.types`). Every object has a
`to_dict` / `from_dict` pair; `Page.to_json` and `Page.from_json` round-trip a whole page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from htr.types import BBox, Point, Polygon

SettingValue = str | int | float | bool | None


def _bbox(value: Sequence[Any]) -> BBox:
    x0, y0, x1, y1 = (int(v) for v in value)
    return (x0, y0, x1, y1)


def _points(value: Sequence[Sequence[Any]]) -> tuple[Point, ...]:
    return tuple((int(p[0]), int(p[1])) for p in value)


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a line.

    Attributes:
        text: The word as read.
        confidence: Probability in [0, 1] that the word is read exactly right
            (see `htr.confidence.word_confidence`).
        bbox: The word's box, inside its line's box.
    """

    text: str
    confidence: float
    bbox: BBox

    def to_dict(self) -> dict[str, Any]:
        """Returns the word as JSON-ready data."""
        return {"text": self.text, "confidence": self.confidence, "bbox": list(self.bbox)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        """Builds a word from `to_dict` output."""
        return cls(str(data["text"]), float(data["confidence"]), _bbox(data["bbox"]))


@dataclass(frozen=True, slots=True)
class Alternative:
    """One whole-line reading among the recognizer's n best.

    Attributes:
        text: The reading.
        prob: Its probability, normalised over the n-best list of its line.
    """

    text: str
    prob: float

    def to_dict(self) -> dict[str, Any]:
        """Returns the reading as JSON-ready data."""
        return {"text": self.text, "prob": self.prob}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alternative:
        """Builds a reading from `to_dict` output."""
        return cls(str(data["text"]), float(data["prob"]))


@dataclass(frozen=True, slots=True)
class ProcessingStep:
    """Provenance: one step that produced or changed a page.

    Attributes:
        kind: What the step did: ``"segmentation"``, ``"layout-import"`` or ``"recognition"``.
        software: Name and version of the software, e.g. ``"legajo 0.1.0"``.
        model_id: Model name or path, for steps that used a model.
        model_revision: Model revision (commit hash or content hash), when known.
        settings: The settings that influence the result.
    """

    kind: str
    software: str
    model_id: str | None = None
    model_revision: str | None = None
    settings: Mapping[str, SettingValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Returns the step as JSON-ready data."""
        return {
            "kind": self.kind,
            "software": self.software,
            "model_id": self.model_id,
            "model_revision": self.model_revision,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessingStep:
        """Builds a step from `to_dict` output."""
        return cls(
            kind=str(data["kind"]),
            software=str(data["software"]),
            model_id=data.get("model_id"),
            model_revision=data.get("model_revision"),
            settings=dict(data.get("settings") or {}),
        )


@dataclass(frozen=True, slots=True)
class Line:
    """One text line of a page.

    Attributes:
        id: Identifier, unique within the page (taken from PAGE/ALTO when imported).
        bbox: The line's box.
        polygon: The line's outline.
        baseline: Points of the baseline, left to right; empty when unknown.
        text: The best reading (empty before recognition, or when recognition failed).
        confidence: Mean of the word confidences: the expected share of words read right;
            0 for a line without words.
        words: The words of `text`, in order.
        alternatives: The n-best readings, best first, probabilities summing to 1.
        zone: Layout zone type of the line's region (e.g. ``"MainZone"``), when known.
    """

    id: str
    bbox: BBox
    polygon: Polygon
    baseline: tuple[Point, ...] = ()
    text: str = ""
    confidence: float = 0.0
    words: tuple[Word, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    zone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the line as JSON-ready data."""
        return {
            "id": self.id,
            "text": self.text,
            "confidence": self.confidence,
            "bbox": list(self.bbox),
            "polygon": [list(p) for p in self.polygon],
            "baseline": [list(p) for p in self.baseline],
            "zone": self.zone,
            "words": [w.to_dict() for w in self.words],
            "alternatives": [a.to_dict() for a in self.alternatives],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Line:
        """Builds a line from `to_dict` output."""
        return cls(
            id=str(data["id"]),
            bbox=_bbox(data["bbox"]),
            polygon=_points(data["polygon"]),
            baseline=_points(data.get("baseline") or ()),
            text=str(data.get("text", "")),
            confidence=float(data.get("confidence", 0.0)),
            words=tuple(Word.from_dict(w) for w in data.get("words") or ()),
            alternatives=tuple(Alternative.from_dict(a) for a in data.get("alternatives") or ()),
            zone=data.get("zone"),
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page image (one frame of a multi-page file) and its lines in reading order.

    Attributes:
        image: Path of the source file, as given.
        frame: Index of the page within the file (TIFF frame, PDF page), from 0.
        width: Width of the page image in pixels.
        height: Height of the page image in pixels.
        lines: The lines in reading order.
        steps: The processing steps that produced the page, oldest first.
    """

    image: str
    frame: int
    width: int
    height: int
    lines: tuple[Line, ...] = ()
    steps: tuple[ProcessingStep, ...] = ()

    @property
    def text(self) -> str:
        """The page's best reading, one line per text line."""
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        """Returns the page as JSON-ready data."""
        return {
            "image": self.image,
            "frame": self.frame,
            "width": self.width,
            "height": self.height,
            "lines": [line.to_dict() for line in self.lines],
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Page:
        """Builds a page from `to_dict` output."""
        return cls(
            image=str(data["image"]),
            frame=int(data["frame"]),
            width=int(data["width"]),
            height=int(data["height"]),
            lines=tuple(Line.from_dict(line) for line in data.get("lines") or ()),
            steps=tuple(ProcessingStep.from_dict(s) for s in data.get("steps") or ()),
        )

    def to_json(self, indent: int | None = None) -> str:
        """Serialises the page to JSON (UTF-8 text, non-ASCII kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Page:
        """Parses a page from `to_json` output."""
        return cls.from_dict(json.loads(text))
