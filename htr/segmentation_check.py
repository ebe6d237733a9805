"""The plausibility guard of our own line segmentation.

`segment_page_checked` guards against pathological pages (a texture, a screen or ruling
taken for the line period; a table cut into hundreds of fragments; thin lines across a huge
scan, which take minutes to read): it measures the result of `htr.segmentation` against
`PlausibilityLimits` (`check_segmentation`), segments an implausible page again with safer
settings (`safer_settings`), and says what is still wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from htr.document import Line
from htr.page_ink import as_grey
from htr.segmentation import SegmentationSettings, segment_page_with_spacing

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlausibilityLimits:
    """What the result of our own segmentation of a manuscript page looks like.

    Measured with `segment_page` on the 114 pages of ``../shared/data`` (HTRomance Medieval
    Spain and iForal: single pages, two-column spreads, glosses): 17 to 79 lines of the
    measured spacing fit the page height; at most 2.6 times that many lines were found (two
    columns with glosses); median line height 37 px and more; median line 4 to 28 times
    longer than high; at most 144 lines and 1,700 line heights of text per page. Each limit
    below lies at least half as far again beyond the worst real page (120 lines per page
    height against 79; the others about twice or more), and none of those pages is flagged.

    Attributes:
        max_lines: Most lines on a page.
        max_lines_per_height: Most lines of the measured spacing in the page height (a finer
            period is a texture, ruling or screen, not writing).
        max_page_heights_of_lines: Most lines, as a multiple of the lines of the measured
            spacing that fit the page height (columns times lines per column).
        min_line_height_px: Smallest median line height, in pixels of the page.
        max_median_aspect: Largest median ratio of line length to line height.
        max_reading_work: Most text to read, as the sum over lines of length / height: the
            recognizer's work grows with it (a page of thin lines across a wide scan).
        retry_lines_per_height: On the second try (`safer_settings`), the smallest line
            spacing is the page height divided by this.
    """

    max_lines: int = 400
    max_lines_per_height: float = 120.0
    max_page_heights_of_lines: float = 5.0
    min_line_height_px: float = 16.0
    max_median_aspect: float = 60.0
    max_reading_work: float = 4000.0
    retry_lines_per_height: float = 100.0


@dataclass(frozen=True, slots=True)
class CheckedSegmentation:
    """The result of `segment_page_checked`.

    Attributes:
        lines: The lines in reading order (see `segment_page`).
        spacing: The line spacing they were traced at, in pixels of the page; None when no
            line period was found (a blank page).
        problems: What is still implausible about them (see `check_segmentation`); empty
            for a plausible page.
        first_try: When the lines come from the second, safer try: how many lines the
            first try found and what was implausible about them; else None.
    """

    lines: list[Line]
    spacing: float | None
    problems: tuple[str, ...]
    first_try: tuple[int, tuple[str, ...]] | None = None

    @property
    def resegmented(self) -> bool:
        """Whether the lines come from the second, safer try."""
        return self.first_try is not None


def segment_page_checked(
    grey: np.ndarray,
    settings: SegmentationSettings | None = None,
    limits: PlausibilityLimits | None = None,
) -> CheckedSegmentation:
    """Segments a page like `segment_page`, checks the result, and retries with safer settings.

    When the lines found are implausible (see `check_segmentation`), the page is segmented
    again with `safer_settings` (a coarser smallest line spacing, longer shortest line). The
    retry is kept when it has fewer problems and no more lines than the first try (safer
    means less to read, never more); otherwise the first try is kept. What is still wrong is
    returned in `CheckedSegmentation.problems`, for the caller to report.

    Args:
        grey: The page as an 8-bit greyscale image (H x W); a 3-channel image is converted.
        settings: Parameters of the first try; the defaults suit manuscript scans.
        limits: What a plausible result looks like.

    Returns:
        The lines, the line spacing they were traced at, and the problems left.

    Raises:
        ValueError: If `grey` is not a 2-D (or 3-channel) image.
    """
    settings = settings or SegmentationSettings()
    limits = limits or PlausibilityLimits()
    page = as_grey(grey)
    size = (page.shape[1], page.shape[0])
    lines, spacing = segment_page_with_spacing(page, settings)
    problems = check_segmentation(lines, spacing, size, limits)
    if not problems:
        return CheckedSegmentation(lines, spacing, ())
    logger.info("implausible segmentation (%s); segmenting again, safer", "; ".join(problems))
    safer = safer_settings(settings, size, limits)
    retry_lines, retry_spacing = segment_page_with_spacing(page, safer)
    retry_problems = check_segmentation(retry_lines, retry_spacing, size, limits)
    if len(retry_problems) < len(problems) and len(retry_lines) <= len(lines):
        return CheckedSegmentation(
            retry_lines, retry_spacing, retry_problems, first_try=(len(lines), problems)
        )
    return CheckedSegmentation(lines, spacing, problems)


def check_segmentation(
    lines: Sequence[Line],
    spacing: float | None,
    size: tuple[int, int],
    limits: PlausibilityLimits | None = None,
) -> tuple[str, ...]:
    """Says what is implausible about the lines found on a page (nothing for a normal page).

    Args:
        lines: The lines found.
        spacing: The line spacing they were traced at, in pixels of the page (None if none).
        size: The page's (width, height) in pixels.
        limits: What a plausible result looks like.

    Returns:
        One short description per limit exceeded, e.g. ``"212 lines per page height (at
        most 150)"``; empty when the lines are plausible.
    """
    limits = limits or PlausibilityLimits()
    if not lines:
        return ()
    height = size[1]
    problems: list[str] = []
    if len(lines) > limits.max_lines:
        problems.append(f"{len(lines)} lines (at most {limits.max_lines})")
    if spacing:
        per_height = height / spacing
        if per_height > limits.max_lines_per_height:
            problems.append(
                f"a line spacing of {spacing:.1f} px fits {per_height:.1f} lines in the page "
                f"height (at most {limits.max_lines_per_height:g})"
            )
        elif len(lines) > limits.max_page_heights_of_lines * per_height:
            problems.append(
                f"{len(lines)} lines where {per_height:.0f} fit the page height "
                f"(at most {limits.max_page_heights_of_lines:g} times that)"
            )
    heights = np.array([max(1, y1 - y0) for _, y0, _, y1 in (line.bbox for line in lines)])
    lengths = np.array([max(1, x1 - x0) for x0, _, x1, _ in (line.bbox for line in lines)])
    median_height = float(np.median(heights))
    if median_height < limits.min_line_height_px:
        problems.append(
            f"median line height {median_height:.0f} px (at least {limits.min_line_height_px:g})"
        )
    aspects = lengths / heights
    median_aspect = float(np.median(aspects))
    if median_aspect > limits.max_median_aspect:
        problems.append(
            f"lines {median_aspect:.0f} times longer than high (median; at most "
            f"{limits.max_median_aspect:g})"
        )
    work = float(aspects.sum())
    if work > limits.max_reading_work:
        problems.append(
            f"{work:.0f} line heights of text to read (at most {limits.max_reading_work:g})"
        )
    return tuple(problems)


def safer_settings(
    settings: SegmentationSettings, size: tuple[int, int], limits: PlausibilityLimits
) -> SegmentationSettings:
    """Settings for a second try on a page whose first segmentation was implausible.

    The smallest line spacing taken for text becomes a fraction of the page height
    (`PlausibilityLimits.retry_lines_per_height` lines per page height at most), so that a
    fine texture, ruling or screen does not set the line period, and lines must be twice
    as long.

    Args:
        settings: The settings of the first try.
        size: The page's (width, height) in pixels.
        limits: The plausibility limits.

    Returns:
        The safer settings.
    """
    width, height = size
    coarse_height = height * min(1.0, settings.coarse_long_side_px / max(width, height))
    return replace(
        settings,
        min_line_spacing_px=max(
            settings.min_line_spacing_px, coarse_height / limits.retry_lines_per_height
        ),
        min_line_length=2.0 * settings.min_line_length,
    )
