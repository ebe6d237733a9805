"""Evaluation of a recognizer on ground-truth folders: CER, WER, word-confidence calibration.

`evaluate` walks folders for page images (``.jpg``, ``.jpeg``, ``.png``, ``.tif``, ``.tiff``)
that have a PAGE or ALTO file (`htr.layout.files.find_layout_file`), cuts each transcribed
line exactly as ``legajo transcribe`` does (`htr.pipeline.find_lines` with the XML layout,
then `htr.line_images.crop_line`), reads all lines of a page in one `Recognizer.recognize`
call and compares the readings with the ground truth (`htr.metrics`):

- **CER** and **WER** on NFC text with whitespace collapsed (`htr.metrics.clean_text`), and
  **normalised CER** on `htr.metrics.normalise_for_cer` text. Totals are corpus-level:
  total edits / total reference characters (or words), over all lines of a folder or of the
  whole evaluation, so a long line weighs more than a short one.
- Each figure for **main-zone lines** and for **all lines**. A line is a main-zone line when
  its region is the SegmOnto ``MainZone`` (or a subtype such as ``MainZone:column``), a
  generic body-text region (PAGE ``paragraph``, ``text``, ``default``), or of unknown type;
  margins, numbering, running titles, drop capitals, quire marks, headers and footers are not.
- **Folders**: a page belongs to its image's parent folder (one manuscript, in the shared
  data), named relative to the parent of the ground-truth folder it was found under.
- Lines whose ground truth is empty are not read; they are counted (``empty_lines``).
- **Word-confidence calibration**: each hypothesis word is aligned to the ground-truth words
  (`htr.metrics.align_words`) and counts as right when it equals its aligned word exactly
  (NFC). The expected calibration error and the reliability table are computed over the
  words of all evaluated lines, from the raw confidences and, when a `Calibration` is given,
  from the calibrated ones. The recognizer must return raw (uncalibrated) confidences.
- **Speed**: ``seconds`` is the whole evaluation, ``recognition_seconds`` the time spent in
  `Recognizer.recognize`; lines/s = evaluated lines / recognition seconds.

A page whose image or XML cannot be read is recorded in `EvaluationReport.pages_failed`
(file and reason) and skipped. ``legajo eval`` (`add_eval_command`) prints the report as a
table or as JSON, draws the reliability diagram (`save_reliability_diagram`) and can fit a
calibration on the evaluated words (`htr.calibration.fit_and_save_calibration`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr.errors import ImageLoadError, LayoutError, LegajoError
from htr.layout.files import find_layout_file
from htr.metrics import (
    DEFAULT_BINS,
    ReliabilityBin,
    align_words,
    clean_text,
    ece_of_bins,
    edit_distance,
    nfc,
    normalise_for_cer,
    reliability_bins,
)

if TYPE_CHECKING:
    from htr.calibration import Calibration
    from htr.recognizer import Recognizer, RecognizerSettings

logger = logging.getLogger(__name__)

PAGE_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})
"""Image files `find_ground_truth_pages` looks at (any letter case)."""
MAIN_ZONE_TYPES = frozenset({"MainZone", "paragraph", "text", "default"})
"""Region types whose lines are main text (SegmOnto subtypes ``MainZone:x`` included)."""

ProgressCallback = Callable[[int, int, Path], None]
"""Called after each page with (pages done, pages in all, the page image)."""


class EvaluationError(LegajoError):
    """An evaluation cannot run at all: no ground truth folder, or no pages in it."""


def is_main_zone(zone: str | None) -> bool:
    """Tells whether a line of region type `zone` is main text (see the module docstring)."""
    if zone is None:
        return True
    return zone in MAIN_ZONE_TYPES or zone.split(":")[0].split("#")[0] == "MainZone"


@dataclass(frozen=True, slots=True)
class GroundTruthPage:
    """A page image with its PAGE or ALTO file.

    Attributes:
        image: The page image.
        layout: Its PAGE or ALTO file.
        folder: Its manuscript: the image's folder, relative to the parent of the
            ground-truth folder it was found under.
    """

    image: Path
    layout: Path
    folder: str


def find_ground_truth_pages(gt_dirs: Sequence[Path]) -> list[GroundTruthPage]:
    """Finds the page images with ground truth under some folders, recursively.

    Args:
        gt_dirs: Folders to walk (a page image file is taken as it is).

    Returns:
        The pages, folder by folder in the order given, sorted by path within each; an image
        reachable from two folders is listed once. Images without a PAGE/ALTO file are left
        out (logged).

    Raises:
        EvaluationError: A folder does not exist.
    """
    pages: list[GroundTruthPage] = []
    seen: set[Path] = set()
    without = 0
    for gt_dir in gt_dirs:
        if gt_dir.is_file():
            images = [gt_dir] if gt_dir.suffix.lower() in PAGE_IMAGE_SUFFIXES else []
            base = gt_dir.parent.parent
        elif gt_dir.is_dir():
            images = sorted(p for p in gt_dir.rglob("*") if p.suffix.lower() in PAGE_IMAGE_SUFFIXES)
            base = gt_dir.parent
        else:
            raise EvaluationError(f"{gt_dir}: no such ground-truth folder")
        for image in images:
            key = image.resolve()
            if key in seen or not image.is_file():
                continue
            seen.add(key)
            layout = find_layout_file(image)
            if layout is None:
                without += 1
                logger.debug("%s has no PAGE or ALTO file; not evaluated", image)
                continue
            folder = _relative_name(image.parent, base)
            pages.append(GroundTruthPage(image=image, layout=layout, folder=folder))
    if without:
        logger.info("%d images without a PAGE or ALTO file were left out", without)
    return pages


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
        mapped = calibration.apply_many(confidences).tolist() if confidences else []
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


def evaluate(
    recognizer: Recognizer,
    gt_dirs: Sequence[Path],
    *,
    calibration: Calibration | None = None,
    progress: ProgressCallback | None = None,
    limit_pages: int | None = None,
    bins: int = DEFAULT_BINS,
) -> EvaluationReport:
    """Reads every ground-truth line under some folders and measures the errors.

    Args:
        recognizer: The recognizer; its word confidences must be raw (uncalibrated).
        gt_dirs: Folders with page images and their PAGE/ALTO files (walked recursively).
        calibration: A word-confidence calibration to measure besides the raw confidences.
        progress: Called after each page (see `ProgressCallback`).
        limit_pages: Evaluate only the first N pages found (in folder and path order).
        bins: Bins of the ECE and reliability tables.

    Returns:
        The report; see the module docstring for what each figure means.

    Raises:
        EvaluationError: A folder does not exist or none holds a page with ground truth.
        ValueError: `limit_pages` or `bins` is below 1.
    """
    if limit_pages is not None and limit_pages < 1:
        raise ValueError(f"limit_pages must be at least 1, not {limit_pages}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    started = time.perf_counter()
    pages = find_ground_truth_pages(gt_dirs)
    if not pages:
        raise EvaluationError(
            "no page images with a PAGE or ALTO file under " + ", ".join(str(d) for d in gt_dirs)
        )
    if limit_pages is not None:
        pages = pages[:limit_pages]
    lines: list[LineEvaluation] = []
    failures: list[PageFailure] = []
    empty_by_folder: dict[str, int] = {}
    pages_by_folder: dict[str, int] = {}
    recognition_seconds = 0.0
    for done, page in enumerate(pages, start=1):
        try:
            page_lines, empty, seconds = _evaluate_page(page, recognizer)
        except (ImageLoadError, LayoutError) as error:
            logger.warning("page skipped: %s", error)
            failures.append(PageFailure(str(page.image), page.folder, str(error)))
        else:
            lines.extend(page_lines)
            empty_by_folder[page.folder] = empty_by_folder.get(page.folder, 0) + empty
            pages_by_folder[page.folder] = pages_by_folder.get(page.folder, 0) + 1
            recognition_seconds += seconds
        if progress is not None:
            progress(done, len(pages), page.image)
    folders = _folder_reports(lines, failures, pages_by_folder, empty_by_folder)
    report = EvaluationReport(
        model_id=recognizer.model_id,
        recognizer=recognizer.processing_step().to_dict(),
        gt_dirs=tuple(str(d) for d in gt_dirs),
        pages=sum(pages_by_folder.values()),
        pages_failed=tuple(failures),
        empty_lines=sum(empty_by_folder.values()),
        main=_total(line.scores for line in lines if line.main_zone),
        all=_total(line.scores for line in lines),
        folders=folders,
        confidence=confidence_report(
            [w for line in lines for w in line.words], calibration=calibration, bins=bins
        ),
        lines=tuple(lines),
        seconds=0.0,
        recognition_seconds=recognition_seconds,
    )
    return dataclasses.replace(report, seconds=time.perf_counter() - started)


def _evaluate_page(
    page: GroundTruthPage, recognizer: Recognizer
) -> tuple[list[LineEvaluation], int, float]:
    """Reads the ground-truth lines of one page.

    Returns:
        The evaluated lines, the number of empty ground-truth lines, and the seconds spent
        recognising.

    Raises:
        ImageLoadError: The image cannot be read.
        LayoutError: The XML cannot be read.
    """
    from htr.images import iter_page_images
    from htr.line_images import crop_line
    from htr.pipeline import LayoutMode, PipelineSettings, find_lines

    frames = iter_page_images(page.image)
    try:
        first = next(frames, None)
    finally:
        frames.close()
    if first is None:
        raise ImageLoadError(f"{page.image}: the file holds no page")
    gt_lines, _ = find_lines(first, PipelineSettings(layout=LayoutMode.XML))
    with_text = [line for line in gt_lines if line.text.strip()]
    crops = [crop_line(first.image, line) for line in with_text]
    started = time.perf_counter()
    readings = recognizer.recognize(crops) if crops else []
    seconds = time.perf_counter() - started
    evaluated = []
    for line, reading in zip(with_text, readings, strict=True):
        reference_words = clean_text(line.text).split()
        hypothesis_words = [nfc(w.text) for w in reading.words]
        matches = align_words(reference_words, hypothesis_words)
        evaluated.append(
            LineEvaluation(
                image=str(page.image),
                line_id=line.id,
                folder=page.folder,
                zone=line.zone,
                main_zone=is_main_zone(line.zone),
                reference=clean_text(line.text),
                hypothesis=clean_text(reading.text),
                confidence=reading.confidence,
                scores=score_line(line.text, reading.text),
                words=tuple(
                    WordOutcome(text, word.confidence, match.correct)
                    for text, word, match in zip(
                        hypothesis_words, reading.words, matches, strict=True
                    )
                ),
            )
        )
    logger.debug("%s: %d lines read in %.2f s", page.image, len(evaluated), seconds)
    return evaluated, len(gt_lines) - len(with_text), seconds


def _folder_reports(
    lines: Sequence[LineEvaluation],
    failures: Sequence[PageFailure],
    pages: dict[str, int],
    empty: dict[str, int],
) -> tuple[FolderReport, ...]:
    names = sorted({*pages, *(f.folder for f in failures)})
    return tuple(
        FolderReport(
            folder=name,
            pages=pages.get(name, 0),
            pages_failed=sum(1 for f in failures if f.folder == name),
            empty_lines=empty.get(name, 0),
            main=_total(x.scores for x in lines if x.folder == name and x.main_zone),
            all=_total(x.scores for x in lines if x.folder == name),
        )
        for name in names
    )


def _total(scores: Iterable[TextScores]) -> TextScores:
    return sum(scores, TextScores())


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _relative_name(folder: Path, base: Path) -> str:
    try:
        return folder.relative_to(base).as_posix() or folder.name
    except ValueError:
        return folder.as_posix()


# --- reliability diagram -------------------------------------------------------------------

_PANEL = 440
_MARGIN = 56
_BAR = (70, 110, 190)
_GAP = (220, 80, 60)
_INK = (30, 30, 30)
_GRID = (215, 215, 215)


def save_reliability_diagram(report: EvaluationReport, path: Path) -> Path:
    """Draws the reliability diagram of a report's word confidences as a PNG.

    One panel for the raw confidences and, when the report was measured with a calibration,
    a second one for the calibrated confidences. Each bar is one confidence bin: its height
    is the share of the bin's words that are right, its number the word count; the red
    outline reaches the bin's mean confidence, so a red gap above a bar is overconfidence.
    A calibrated model has its bars on the diagonal.

    Args:
        report: An evaluation report.
        path: The PNG to write.

    Returns:
        `path`.

    Raises:
        EvaluationError: The file cannot be written.
    """
    from PIL import Image, ImageDraw

    panels = [("raw word confidence", report.confidence.reliability, report.confidence.ece)]
    confidence = report.confidence
    if confidence.calibration is not None and confidence.calibrated_ece is not None:
        panels.append(
            (
                f"calibrated ({confidence.calibration.describe()})",
                confidence.calibrated_reliability,
                confidence.calibrated_ece,
            )
        )
    image = Image.new("RGB", (_PANEL * len(panels), _PANEL + 50), "white")
    draw = ImageDraw.Draw(image)
    for k, (title, table, ece) in enumerate(panels):
        _draw_panel(draw, k * _PANEL, title, table, ece, confidence.words)
    try:
        image.save(path, format="PNG")
    except (OSError, ValueError) as error:
        raise EvaluationError(f"{path}: cannot write the reliability diagram: {error}") from error
    return path


def _draw_panel(
    draw: Any,
    left: int,
    title: str,
    table: Sequence[ReliabilityBin],
    ece: float,
    words: int,
) -> None:
    font = _font(12)
    small = _font(10)
    size = _PANEL - _MARGIN - 20
    x0, y0 = left + _MARGIN, 64
    y1 = y0 + size

    def x_at(value: float) -> float:
        return x0 + value * size

    def y_at(value: float) -> float:
        return y1 - value * size

    draw.text((left + 10, 6), title, fill=_INK, font=font)
    draw.text((left + 10, 24), f"ECE {ece:.3f} over {words} words", fill=_INK, font=font)
    for tick in range(6):
        value = tick / 5
        draw.line([(x_at(value), y0), (x_at(value), y1)], fill=_GRID)
        draw.line([(x0, y_at(value)), (x0 + size, y_at(value))], fill=_GRID)
        draw.text((x_at(value) - 8, y1 + 4), f"{value:.1f}", fill=_INK, font=small)
        draw.text((x0 - 28, y_at(value) - 6), f"{value:.1f}", fill=_INK, font=small)
    for b in table:
        if not b.count:
            continue
        left_x, right_x = x_at(b.lower) + 1, x_at(b.upper) - 1
        draw.rectangle([left_x, y_at(b.accuracy), right_x, y1], fill=_BAR)
        top, bottom = sorted((y_at(b.accuracy), y_at(b.mean_confidence)))
        draw.rectangle([left_x, top, right_x, bottom], outline=_GAP, width=2)
        label = str(b.count)
        draw.text(((left_x + right_x) / 2 - 3 * len(label), top - 13), label, fill=_INK, font=small)
    draw.line([(x0, y1), (x0 + size, y0)], fill=_INK, width=1)
    draw.rectangle([x0, y0, x0 + size, y1], outline=_INK)
    draw.text((x0 + size / 2 - 40, y1 + 18), "confidence", fill=_INK, font=font)
    draw.text((left + 10, y0 - 22), "accuracy", fill=_INK, font=font)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def raw_confidence_settings(settings: RecognizerSettings) -> RecognizerSettings:
    """Returns `settings` asking for raw word confidences.

    Evaluation measures and fits calibration on raw confidences, so the recognizer must not
    apply a stored calibration by itself.
    """
    return dataclasses.replace(settings, calibrated=False)
