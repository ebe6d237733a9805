"""What an evaluation measured: error counts, per-line readings, folder totals, calibration.

Plain frozen dataclasses with ``to_dict`` for ``legajo eval --json``, `score_line` (the error
counts of one line) and `confidence_report` (ECE and reliability tables of word
confidences). `htr.evaluate.evaluate` fills them; the module docstring there says what each
figure means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from htr.errors import LegajoError
from htr.metrics import (
    DEFAULT_BINS,
    ReliabilityBin,
    clean_text,
    ece_of_bins,
    edit_distance,
    normalise_for_cer,
    reliability_bins,
)

if TYPE_CHECKING:
    from htr.calibration import Calibration


class EvaluationError(LegajoError):
    """An evaluation cannot run at all: no ground truth folder, or no pages in it."""


@dataclass(frozen=True, slots=True)
class TextScores:
    """Error counts of a set of lines; rates are corpus-level (total edits / total length).

    Attributes:
        lines: Lines counted.
        reference_chars: Characters of their ground truth (NFC, whitespace collapsed).
        char_edits: Character edits between ground truth and reading.
        reference_words: Words of their ground truth.
        word_edits: Word edits between ground truth and reading.
        normalised_reference_chars: Characters of their normalised ground truth.
        normalised_char_edits: Character edits between the normalised texts.
    """

    lines: int = 0
    reference_chars: int = 0
    char_edits: int = 0
    reference_words: int = 0
    word_edits: int = 0
    normalised_reference_chars: int = 0
    normalised_char_edits: int = 0

    def __add__(self, other: TextScores) -> TextScores:
        return TextScores(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self))
        )

    @property
    def cer(self) -> float | None:
        """Character error rate on NFC text; None without reference characters."""
        return _ratio(self.char_edits, self.reference_chars)

    @property
    def wer(self) -> float | None:
        """Word error rate; None without reference words."""
        return _ratio(self.word_edits, self.reference_words)

    @property
    def normalised_cer(self) -> float | None:
        """Character error rate on normalised text; None without reference characters."""
        return _ratio(self.normalised_char_edits, self.normalised_reference_chars)

    def to_dict(self) -> dict[str, Any]:
        """Returns the counts and rates as JSON-ready data."""
        data: dict[str, Any] = dataclasses.asdict(self)
        data.update(cer=self.cer, wer=self.wer, normalised_cer=self.normalised_cer)
        return data


def score_line(reference: str, hypothesis: str) -> TextScores:
    """Counts the errors of one line.

    Args:
        reference: The ground truth, in any normal form.
        hypothesis: The reading.

    Returns:
        The scores of the line (``lines == 1``) on clean and on normalised text.
    """
    ref, hyp = clean_text(reference), clean_text(hypothesis)
    ref_norm, hyp_norm = normalise_for_cer(reference), normalise_for_cer(hypothesis)
    ref_words = ref.split()
    return TextScores(
        lines=1,
        reference_chars=len(ref),
        char_edits=edit_distance(ref, hyp),
        reference_words=len(ref_words),
        word_edits=edit_distance(ref_words, hyp.split()),
        normalised_reference_chars=len(ref_norm),
        normalised_char_edits=edit_distance(ref_norm, hyp_norm),
    )


@dataclass(frozen=True, slots=True)
class WordOutcome:
    """A hypothesis word, its raw confidence and whether it matches the ground truth.

    Attributes:
        text: The word as read (NFC).
        confidence: Its raw confidence.
        correct: Whether it equals the ground-truth word it is aligned to.
    """

    text: str
    confidence: float
    correct: bool


@dataclass(frozen=True, slots=True)
class LineEvaluation:
    """The reading of one ground-truth line and its errors.

    Attributes:
        image: The page image.
        line_id: The line's id in the XML.
        folder: The page's folder (manuscript).
        zone: The region type of the line, when known.
        main_zone: Whether it counts as a main-zone line.
        reference: The ground truth (clean NFC text).
        hypothesis: The reading (clean NFC text).
        confidence: The reading's line confidence.
        scores: The line's error counts.
        words: The hypothesis words with their outcomes.
    """

    image: str
    line_id: str
    folder: str
    zone: str | None
    main_zone: bool
    reference: str
    hypothesis: str
    confidence: float
    scores: TextScores
    words: tuple[WordOutcome, ...]

    def to_dict(self) -> dict[str, Any]:
        """Returns the line as JSON-ready data."""
        return {
            "image": self.image,
            "line_id": self.line_id,
            "folder": self.folder,
            "zone": self.zone,
            "main_zone": self.main_zone,
            "reference": self.reference,
            "hypothesis": self.hypothesis,
            "confidence": self.confidence,
            "char_edits": self.scores.char_edits,
            "reference_chars": self.scores.reference_chars,
            "cer": self.scores.cer,
            "words": [
                {"text": w.text, "confidence": w.confidence, "correct": w.correct}
                for w in self.words
            ],
        }


@dataclass(frozen=True, slots=True)
class PageFailure:
    """A page that could not be evaluated.

    Attributes:
        image: The page image.
        folder: Its folder (manuscript).
        reason: The error message (it names the file that failed).
    """

    image: str
    folder: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Returns the failure as JSON-ready data."""
        return {"image": self.image, "folder": self.folder, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class FolderReport:
    """The totals of one folder (manuscript).

    Attributes:
        folder: The folder's name.
        pages: Pages evaluated.
        pages_failed: Pages that could not be evaluated.
        empty_lines: Ground-truth lines without text (not read).
        main: Scores of the main-zone lines.
        all: Scores of all lines.
    """

    folder: str
    pages: int
    pages_failed: int
    empty_lines: int
    main: TextScores
    all: TextScores

    def to_dict(self) -> dict[str, Any]:
        """Returns the folder's totals as JSON-ready data."""
        return {
            "folder": self.folder,
            "pages": self.pages,
            "pages_failed": self.pages_failed,
            "empty_lines": self.empty_lines,
            "main_zone": self.main.to_dict(),
            "all_lines": self.all.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class ConfidenceReport:
    """How well word confidences predict which words are right.

    Attributes:
        words: Hypothesis words measured.
        accuracy: The share of them that are right.
        bins: Number of equal-width confidence bins.
        ece: Expected calibration error of the raw confidences (0 without words).
        reliability: Reliability table of the raw confidences.
        calibration: The calibration applied for the figures below, if any.
        calibrated_ece: ECE of the calibrated confidences, when a calibration was given.
        calibrated_reliability: Their reliability table (empty without a calibration).
    """

    words: int
    accuracy: float | None
    bins: int
    ece: float
    reliability: tuple[ReliabilityBin, ...]
    calibration: Calibration | None = None
    calibrated_ece: float | None = None
    calibrated_reliability: tuple[ReliabilityBin, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Returns the figures as JSON-ready data."""
        return {
            "words": self.words,
            "accuracy": self.accuracy,
            "bins": self.bins,
            "ece": self.ece,
            "reliability": [b.to_dict() for b in self.reliability],
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "calibrated_ece": self.calibrated_ece,
            "calibrated_reliability": [b.to_dict() for b in self.calibrated_reliability],
        }


def confidence_report(
    outcomes: Sequence[WordOutcome],
    *,
    calibration: Calibration | None = None,
    bins: int = DEFAULT_BINS,
) -> ConfidenceReport:
    """Measures the calibration of word confidences, raw and (optionally) calibrated.

    Args:
        outcomes: Words with raw confidences and outcomes.
        calibration: A calibration to measure too.
        bins: Number of equal-width bins.

    Returns:
        The ECE and reliability tables.
    """
    confidences = [w.confidence for w in outcomes]
    correct = [w.correct for w in outcomes]
    raw = tuple(reliability_bins(confidences, correct, bins))
    calibrated: tuple[ReliabilityBin, ...] = ()
    if calibration is not None:
        lengths = [len(w.text) for w in outcomes]
        mapped = calibration.apply_many(confidences, lengths).tolist() if confidences else []
        calibrated = tuple(reliability_bins(mapped, correct, bins))
    return ConfidenceReport(
        words=len(outcomes),
        accuracy=sum(correct) / len(correct) if correct else None,
        bins=bins,
        ece=ece_of_bins(raw),
        reliability=raw,
        calibration=calibration,
        calibrated_ece=ece_of_bins(calibrated) if calibration is not None else None,
        calibrated_reliability=calibrated,
    )


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Everything `evaluate` measured.

    Attributes:
        model_id: The recognizer's model.
        recognizer: Its provenance record (`ProcessingStep.to_dict`): model, revision, settings.
        gt_dirs: The ground-truth folders.
        pages: Pages evaluated.
        pages_failed: Pages that could not be read, with the reason.
        empty_lines: Ground-truth lines without text (not read).
        main: Totals of the main-zone lines.
        all: Totals of all lines.
        folders: Totals per folder, sorted by name.
        confidence: Calibration of the word confidences.
        lines: Every evaluated line, in page and reading order.
        seconds: Wall time of the whole evaluation.
        recognition_seconds: Time spent in `Recognizer.recognize`.
    """

    model_id: str
    recognizer: dict[str, Any]
    gt_dirs: tuple[str, ...]
    pages: int
    pages_failed: tuple[PageFailure, ...]
    empty_lines: int
    main: TextScores
    all: TextScores
    folders: tuple[FolderReport, ...]
    confidence: ConfidenceReport
    lines: tuple[LineEvaluation, ...]
    seconds: float
    recognition_seconds: float

    @property
    def lines_per_second(self) -> float | None:
        """Evaluated lines per second of recognition; None when nothing was read."""
        if self.recognition_seconds <= 0 or not self.all.lines:
            return None
        return self.all.lines / self.recognition_seconds

    @property
    def word_outcomes(self) -> list[WordOutcome]:
        """The hypothesis words of all evaluated lines, with raw confidences and outcomes."""
        return [word for line in self.lines for word in line.words]

    def with_calibration(self, calibration: Calibration | None) -> EvaluationReport:
        """Returns the report with its confidence figures measured under `calibration`."""
        confidence = confidence_report(
            self.word_outcomes, calibration=calibration, bins=self.confidence.bins
        )
        return dataclasses.replace(self, confidence=confidence)

    def to_dict(self) -> dict[str, Any]:
        """Returns the report as JSON-ready data (the output of ``legajo eval --json``)."""
        return {
            "model": self.model_id,
            "recognizer": self.recognizer,
            "gt_dirs": list(self.gt_dirs),
            "pages": self.pages,
            "pages_failed": [f.to_dict() for f in self.pages_failed],
            "empty_lines": self.empty_lines,
            "main_zone": self.main.to_dict(),
            "all_lines": self.all.to_dict(),
            "folders": [f.to_dict() for f in self.folders],
            "confidence": self.confidence.to_dict(),
            "seconds": self.seconds,
            "recognition_seconds": self.recognition_seconds,
            "lines_per_second": self.lines_per_second,
            "lines": [line.to_dict() for line in self.lines],
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
