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

The figures are the dataclasses of `htr.evaluation_report` (`EvaluationReport` and its
parts). A page whose image or XML cannot be read is recorded in
`EvaluationReport.pages_failed` (file and reason) and skipped. ``legajo eval``
(`legajo.cli.training`) prints the report as a table or as JSON, draws the reliability diagram
(`htr.reliability_diagram.save_reliability_diagram`) and can fit a calibration on the
evaluated words (`htr.calibration.fit_and_save_calibration`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from htr.errors import ImageLoadError, LayoutError
from htr.evaluation_report import (
    EvaluationError,
    EvaluationReport,
    FolderReport,
    LineEvaluation,
    PageFailure,
    TextScores,
    WordOutcome,
    confidence_report,
    score_line,
)
from htr.layout.files import find_layout_file
from htr.metrics import DEFAULT_BINS, align_words, clean_text, nfc

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


def _relative_name(folder: Path, base: Path) -> str:
    try:
        return folder.relative_to(base).as_posix() or folder.name
    except ValueError:
        return folder.as_posix()


def raw_confidence_settings(settings: RecognizerSettings) -> RecognizerSettings:
    """Returns `settings` asking for raw word confidences.

    Evaluation measures and fits calibration on raw confidences, so the recognizer must not
    apply a stored calibration by itself.
    """
    return dataclasses.replace(settings, calibrated=False)
