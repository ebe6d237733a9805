"""Classical text-line segmentation of a page image with OpenCV and numpy.

`segment_page` turns a greyscale page into text lines in reading order. It works at a reduced
resolution chosen so that one line spacing spans about `SegmentationSettings.target_spacing_px`
pixels, which makes every other size scale-free. The spacing is the period of the
autocorrelation of row profiles of vertical strips of a thumbnail (strips weighted by their
ink, so a blank half of a spread adds no noise; a clear peak at half the chosen period wins,
so lines alternating in length or ink do not double it).

1. The background (shading, yellowed parchment) is estimated with a large grey closing and
   divided out; the result is thresholded (Otsu, capped so that faint bleed-through stays
   background).
2. Long ruled lines are removed by morphological opening; tiny specks, page borders and very
   large components (initials, decoration, stains) are dropped. Ink dropped as oversized is
   thresholded again, darker, and its normal-sized pieces come back: text that a stain or
   dark parchment had glued into one blob.
3. The page is cut into columns at gutters (runs of pixel columns with far less ink than the
   text on both sides). A column of clearly smaller writing (glosses) gets its own, finer
   line spacing. In each column the ink is smeared with an anisotropic Gaussian (wide along
   the line, narrow across); the ridges of that map are the centres of the text lines.
   Ridge pieces that continue each other are joined, parallel duplicates merged.
4. If the long ridges agree on a skew of the page, the ink is rotated level and step 3 runs
   again (unless that loses a gutter); outlines are rotated back.
5. Each line gets its horizontal extent from the ink along its ridge, its outline from the
   ridge offset by fixed fractions of the local line spacing, and its baseline just below
   the ridge. Lines shorter than `min_line_length`, with little ink, or with too few strokes
   (shaded page edges, stains) go.
6. Reading order: columns (and so the pages of a spread) from left to right, lines from top
   to bottom within a column.

`htr.segmentation_check` guards against pathological pages (implausible results are
segmented again with safer settings, see `htr.segmentation_check.segment_page_checked`).

Steps 1 and 2 and the measuring of line spacing and glyph height live in `htr.page_ink`;
this module holds the settings, the columns, the ridge tracing and the building of lines.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from htr.document import Line
from htr.page_ink import (
    as_grey,
    clean_ink,
    estimate_page_spacing,
    estimate_spacing,
    median_glyph_height,
    normalise_and_threshold,
    odd_size,
    resize,
    scan_border,
    split_oversized,
)
from htr.types import BBox, Point, Polygon, UInt8Image

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SegmentationSettings:
    """Parameters of `segment_page`.

    Sizes are fractions of the estimated line spacing (the distance between the centres of
    two consecutive lines), never fixed pixels, unless their name ends in ``_px``.

    Attributes:
        coarse_long_side_px: Long side of the thumbnail on which the line spacing is first
            estimated.
        target_spacing_px: Line spacing, in pixels of the working image, that the page is
            resized to (never enlarged beyond full resolution).
        max_working_long_side_px: Upper bound of the working image's long side (speed).
        min_line_spacing_px: Smallest line spacing, in pixels of the coarse thumbnail, taken
            for text; a page with a finer period is treated as blank.
        ink_threshold_cap: Highest threshold on the background-normalised image (1 = paper):
            pixels lighter than this are never ink, whatever Otsu says.
        min_ink_contrast: Smallest gap between paper and ink, as a fraction of the paper
            level, for a page to have any ink at all.
        rule_length: Length of the opening that finds ruled lines (horizontal and vertical).
        max_component_height: Components taller than this are decoration or initials.
        max_component_width: Components wider than this are rulings or borders.
        min_component_size: Components whose width and height are both below this are noise.
        smear_sigma_x: Gaussian sigma along the lines.
        smear_sigma_y: Gaussian sigma across the lines.
        ridge_threshold: A ridge must reach this fraction of the page's strong ink level.
        min_line_length: Shortest line, measured along the ridge.
        min_ink_cover: Smallest share of a line's length with ink near its centre.
        min_stroke_rate: Fewest ink runs per spacing of length near a line's centre
            (writing has several; shaded page edges and stains one long one).
        join_gap: Largest horizontal gap between two ridge pieces that are joined.
        join_drift: Largest vertical offset between two ridge pieces that are joined.
        box_above: Outline top, above the ridge.
        box_below: Outline bottom, below the ridge.
        box_pad_x: Outline margin left and right of the ink.
        baseline_below: Baseline, below the ridge.
        gutter_ink: A pixel column belongs to a gutter when its (smoothed) ink count is below
            this fraction of the ink count of the text on both sides.
        gutter_reach: How far left and right of a pixel column that text is looked for.
        gutter_width: Narrowest run of empty pixel columns that splits the page into columns.
        baseline_points: Number of points of each baseline.
        outline_points: Number of points along each side of an outline.
        min_skew: Smallest page skew, in degrees, that is corrected (the lines are traced
            again on the deskewed page); also how closely the lines must agree on it.
        max_skew: Largest page skew, in degrees, that is corrected.
        skew_min_length: Shortest traced line whose slope counts towards the page skew.
        resplit_passes: Rounds in which ink discarded as oversized (text glued together by
            stains or dark parchment) is thresholded again, darker, to recover its text.
        resplit_factor: Each such round's threshold is at most this fraction of the last.
        fine_text_ratio: A column (e.g. of glosses) whose line period and glyph height are
            both below this fraction of the page's is segmented at its own, finer spacing.
        min_fine_spacing: Smallest spacing a column may get that way, as a fraction of the
            page's.
    """

    coarse_long_side_px: int = 1200
    target_spacing_px: float = 24.0
    max_working_long_side_px: int = 3000
    min_line_spacing_px: float = 5.0
    ink_threshold_cap: float = 0.82
    min_ink_contrast: float = 0.12
    rule_length: float = 4.0
    max_component_height: float = 2.6
    max_component_width: float = 30.0
    min_component_size: float = 0.12
    smear_sigma_x: float = 1.0
    smear_sigma_y: float = 0.2
    ridge_threshold: float = 0.25
    min_line_length: float = 3.0
    min_ink_cover: float = 0.5
    min_stroke_rate: float = 1.0
    join_gap: float = 1.5
    join_drift: float = 0.35
    box_above: float = 0.62
    box_below: float = 0.52
    box_pad_x: float = 0.22
    baseline_below: float = 0.2
    gutter_ink: float = 0.3
    gutter_width: float = 0.3
    gutter_reach: float = 8.0
    baseline_points: int = 8
    outline_points: int = 12
    min_skew: float = 0.5
    max_skew: float = 5.0
    skew_min_length: float = 5.0
    resplit_passes: int = 2
    resplit_factor: float = 0.85
    fine_text_ratio: float = 0.8
    min_fine_spacing: float = 0.3


@dataclass(slots=True)
class _Ridge:
    """A traced line centre at working resolution: one y per x in ``[x0, x0 + len(ys))``."""

    x0: int
    ys: npt.NDArray[np.float64]
    column: int = 0
    spacing: float = 0.0

    @property
    def x1(self) -> int:
        return self.x0 + len(self.ys)


def segment_page(grey: np.ndarray, settings: SegmentationSettings | None = None) -> list[Line]:
    """Finds the text lines of a page image.

    Args:
        grey: The page as an 8-bit greyscale image (H x W); a 3-channel image is converted.
        settings: Parameters; the defaults suit full-resolution manuscript scans.

    Returns:
        The lines in reading order (columns and pages left to right, lines top to bottom),
        with ids ``l0, l1, ...``, empty text, and coordinates in pixels of `grey`.

    Raises:
        ValueError: If `grey` is not a 2-D (or 3-channel) image.
    """
    return _segment(as_grey(grey), settings or SegmentationSettings())[0]


def segment_page_with_spacing(
    grey: np.ndarray, settings: SegmentationSettings | None = None
) -> tuple[list[Line], float | None]:
    """`segment_page`, and the line spacing the lines were traced at, in pixels of `grey`.

    The spacing is None when no line period was found (a blank page).
    """
    return _segment(as_grey(grey), settings or SegmentationSettings())


def _segment(page: UInt8Image, settings: SegmentationSettings) -> tuple[list[Line], float | None]:
    """`segment_page` on a greyscale page; also returns the line spacing at full resolution."""
    height, width = page.shape
    if min(height, width) < 16:
        return [], None

    full_spacing = estimate_page_spacing(page, settings)
    if full_spacing is None:
        logger.debug("no line period found; page treated as blank")
        return [], None
    scale = min(1.0, settings.target_spacing_px / full_spacing)
    scale = min(scale, settings.max_working_long_side_px / max(height, width))
    work = resize(page, scale)
    spacing = full_spacing * scale
    logger.debug("line spacing %.1f px at full resolution, working scale %.3f", full_spacing, scale)

    ink, norm, threshold = normalise_and_threshold(
        work, odd_size(3.0 * spacing), scan_border(work, spacing), settings
    )
    raw_ink = ink > 0
    ink = clean_ink(ink, spacing, settings)
    recovered = split_oversized(raw_ink, ink > 0, norm, threshold, spacing, settings)
    # Columns come from the ink as first cleaned: recovered ink may hold pieces of the shadow
    # of a binding or a stain that would bridge a gutter.
    columns = _text_columns(ink, spacing, settings)
    ridges = _trace_ridges(ink | recovered, columns, spacing, settings)
    angle = _ridge_skew(ridges, spacing, settings)
    to_work = None
    if angle != 0.0:
        # A skewed page hides its gutters and splits its lines: trace again, deskewed, unless
        # that loses a gutter (sloping writing between ruled upright columns).
        straight, back = _rotate(ink, angle)
        straight_columns = _text_columns(straight, spacing, settings)
        if len(straight_columns) >= len(columns):
            logger.debug("page skew %.2f degrees corrected", angle)
            ink, recovered, to_work = straight, _rotate(recovered, angle)[0], back
            columns = straight_columns
            ridges = _trace_ridges(ink | recovered, columns, spacing, settings)
    ink = ink | recovered
    lines = _build_lines(ridges, ink, spacing, scale, (width, height), settings, to_work)
    return _reading_order(lines), full_spacing


def _ridge_skew(ridges: list[_Ridge], spacing: float, settings: SegmentationSettings) -> float:
    """The page's skew in degrees, from the slopes of the long traced ridges, or 0 if small.

    Ridges longer than `skew_min_length` spacings each give a least-squares slope; their
    length-weighted median is the skew. It is corrected only when it lies between `min_skew`
    and `max_skew` degrees and the ridges agree on it (most within `min_skew` of it).
    """
    slopes: list[float] = []
    weights: list[float] = []
    for ridge in ridges:
        if len(ridge.ys) < settings.skew_min_length * spacing:
            continue
        xs = np.arange(len(ridge.ys), dtype=np.float64)
        slopes.append(math.degrees(math.atan(float(np.polyfit(xs, ridge.ys, 1)[0]))))
        weights.append(float(len(ridge.ys)))
    if len(slopes) < 3:
        return 0.0
    order = np.argsort(slopes)
    angles = np.asarray(slopes)[order]
    cumulative = np.cumsum(np.asarray(weights)[order])
    angle = float(angles[np.searchsorted(cumulative, cumulative[-1] / 2)])
    if not settings.min_skew <= abs(angle) <= settings.max_skew:
        return 0.0
    agree = np.abs(np.asarray(slopes) - angle) <= settings.min_skew
    if float(np.asarray(weights)[agree].sum()) < 0.5 * cumulative[-1]:
        return 0.0
    return angle


def _rotate(image: UInt8Image, angle: float) -> tuple[UInt8Image, npt.NDArray[np.float64]]:
    """Rotates `image` by `angle` degrees on a canvas that holds all of it.

    Returns:
        The rotated image and the 2 x 3 affine matrix from its coordinates back to `image`'s.
    """
    height, width = image.shape
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)), abs(math.sin(rad))
    new_w = math.ceil(width * cos + height * sin)
    new_h = math.ceil(height * cos + width * sin)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    matrix[0, 2] += (new_w - width) / 2
    matrix[1, 2] += (new_h - height) / 2
    rotated = cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_NEAREST)
    back = np.asarray(cv2.invertAffineTransform(matrix), dtype=np.float64)
    return np.asarray(rotated, dtype=np.uint8), back


def _trace_ridges(
    ink: UInt8Image,
    columns: list[tuple[int, int]],
    spacing: float,
    settings: SegmentationSettings,
) -> list[_Ridge]:
    """Finds line centres as the horizontal ridges of the smeared ink map, column by column."""
    smear = np.zeros(ink.shape, dtype=np.float32)
    # The column with the most ink carries the main text; its glyphs are the reference.
    main = max(columns, key=lambda c: int(ink[:, c[0] : c[1]].sum()))
    main_glyph = median_glyph_height(ink[:, main[0] : main[1]])
    scales = [_column_spacing(ink[:, x0:x1], spacing, main_glyph, settings) for x0, x1 in columns]
    for (x0, x1), local in zip(columns, scales, strict=True):
        smear[:, x0:x1] = cv2.GaussianBlur(
            ink[:, x0:x1].astype(np.float32),
            (0, 0),
            sigmaX=settings.smear_sigma_x * local,
            sigmaY=settings.smear_sigma_y * local,
            borderType=cv2.BORDER_CONSTANT,
        )
    visible = smear[smear > 0.01]
    strong = float(np.percentile(visible, 95)) if visible.size else 0.0
    if strong <= 0:
        return []
    up = np.empty_like(smear)
    down = np.empty_like(smear)
    up[1:] = smear[:-1]
    up[0] = -1
    down[:-1] = smear[1:]
    down[-1] = -1
    ridge = (smear > up) & (smear >= down) & (smear > settings.ridge_threshold * strong)
    ridge_u8 = ridge.astype(np.uint8)
    count, labels = cv2.connectedComponents(ridge_u8, connectivity=8)
    ys_all, xs_all = np.nonzero(ridge)
    owner = labels[ys_all, xs_all]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(1, count + 1))
    pieces: list[_Ridge] = []
    for label in range(1, count):
        members = order[bounds[label - 1] : bounds[label]]
        xs, ys = xs_all[members], ys_all[members]
        if len(xs) == 0:
            continue
        x0, x1 = int(xs.min()), int(xs.max()) + 1
        sums = np.bincount(xs - x0, weights=ys, minlength=x1 - x0)
        counts = np.bincount(xs - x0, minlength=x1 - x0)
        filled = np.nonzero(counts)[0]
        line_ys = np.interp(np.arange(x1 - x0), filled, sums[filled] / counts[filled])
        pieces.append(_Ridge(x0, line_ys))
    ridges: list[_Ridge] = []
    for column, ((x0, x1), local) in enumerate(zip(columns, scales, strict=True)):
        inside = [piece for piece in pieces if x0 <= piece.x0 < x1]
        for joined in _join_ridges(inside, local, settings):
            joined.column = column
            joined.spacing = local
            ridges.append(joined)
    return ridges


def _column_spacing(
    ink: UInt8Image, spacing: float, main_glyph: float, settings: SegmentationSettings
) -> float:
    """The line spacing of one column: the page's, unless the column holds clearly finer text.

    Glosses and commentary written around the main text in a smaller hand have their own,
    finer line period. A column gets its own spacing when both its line period and the median
    height of its glyphs are below `fine_text_ratio` of the page's (`main_glyph`: that of the
    column with the most ink).
    """
    if ink.shape[1] < 2 or ink.sum() < 20:
        return spacing
    glyph = median_glyph_height(ink)
    if glyph <= 0 or glyph >= settings.fine_text_ratio * main_glyph:
        return spacing
    local = estimate_spacing(ink, max(2.0, 0.8 * glyph))
    if local is None or local >= settings.fine_text_ratio * spacing:
        return spacing
    return max(local, settings.min_fine_spacing * spacing)


def _text_columns(
    ink: UInt8Image, spacing: float, settings: SegmentationSettings
) -> list[tuple[int, int]]:
    """Splits the page at vertical gutters.

    A gutter is a run of pixel columns whose ink count is a small fraction of the ink count of
    the text on both sides of it (within `gutter_reach` spacings), so that lines that stray
    into a narrow gutter do not hide it.
    """
    width = ink.shape[1]
    profile = ink.sum(axis=0).astype(np.float32).reshape(1, -1)
    profile = cv2.blur(profile, (max(1, round(0.5 * spacing)), 1)).ravel()
    if not np.any(profile > 0):
        return [(0, width)]
    reach = max(3, round(settings.gutter_reach * spacing))
    kernel = np.ones((1, reach), dtype=np.uint8)
    # Running maximum over the `reach` columns left of x (dilation with an anchored kernel).
    left = cv2.dilate(profile.reshape(1, -1), kernel, anchor=(reach - 1, 0)).ravel()
    right = cv2.dilate(profile.reshape(1, -1), kernel, anchor=(0, 0)).ravel()
    level = np.minimum(left, right)
    empty = (profile <= settings.gutter_ink * level) | (profile <= 1e-3)
    min_run = max(1, round(settings.gutter_width * spacing))
    columns: list[tuple[int, int]] = []
    start = 0
    x = 0
    while x < width:
        if not empty[x]:
            x += 1
            continue
        run_end = x
        while run_end < width and empty[run_end]:
            run_end += 1
        if run_end - x >= min_run or x == 0 or run_end == width:
            if x > start:
                columns.append((start, x))
            start = run_end
        x = run_end
    if start < width:
        columns.append((start, width))
    return columns or [(0, width)]


def _join_ridges(
    pieces: list[_Ridge], spacing: float, settings: SegmentationSettings
) -> list[_Ridge]:
    """Joins ridge pieces that continue each other (left to right, small gap, small drift)."""
    pieces = sorted(pieces, key=lambda r: r.x0)
    max_gap = settings.join_gap * spacing
    max_drift = settings.join_drift * spacing
    joined: list[_Ridge] = []
    for piece in pieces:
        best: _Ridge | None = None
        best_cost = math.inf
        for line in joined:
            gap = piece.x0 - line.x1
            if gap > max_gap:
                continue
            drift = abs(float(piece.ys[0]) - _ridge_y_at(line, piece.x0, spacing))
            if drift > max_drift:
                continue
            cost = drift + 0.1 * max(gap, 0)
            if cost < best_cost:
                best, best_cost = line, cost
        if best is None:
            joined.append(_Ridge(piece.x0, piece.ys.copy()))
        else:
            _merge_into(best, piece)
    return _merge_parallel(joined, spacing, settings)


def _ridge_y_at(ridge: _Ridge, x: int, spacing: float) -> float:
    """The ridge's y at `x`, extrapolated along its last stretch beyond its right end."""
    if x < ridge.x1:
        return float(ridge.ys[max(0, x - ridge.x0)])
    tail = ridge.ys[-max(2, round(2 * spacing)) :]
    slope = float(tail[-1] - tail[0]) / max(len(tail) - 1, 1) if len(tail) > 1 else 0.0
    slope = max(-0.15, min(0.15, slope))
    return float(ridge.ys[-1]) + slope * (x - ridge.x1 + 1)


def _merge_into(line: _Ridge, piece: _Ridge) -> None:
    """Extends `line` with `piece`, averaging where they overlap and bridging a gap."""
    x0, x1 = min(line.x0, piece.x0), max(line.x1, piece.x1)
    total = np.zeros(x1 - x0)
    weight = np.zeros(x1 - x0)
    for ridge in (line, piece):
        total[ridge.x0 - x0 : ridge.x1 - x0] += ridge.ys
        weight[ridge.x0 - x0 : ridge.x1 - x0] += 1
    known = np.nonzero(weight)[0]
    ys = np.interp(np.arange(x1 - x0), known, total[known] / weight[known])
    line.x0, line.ys = x0, ys


def _merge_parallel(
    ridges: list[_Ridge], spacing: float, settings: SegmentationSettings
) -> list[_Ridge]:
    """Merges ridges that run along each other closer than `join_drift` (split lines)."""
    ridges = sorted(ridges, key=lambda r: -len(r.ys))
    kept: list[_Ridge] = []
    for ridge in ridges:
        for other in kept:
            lo, hi = max(ridge.x0, other.x0), min(ridge.x1, other.x1)
            if hi <= lo:
                continue
            a = ridge.ys[lo - ridge.x0 : hi - ridge.x0]
            b = other.ys[lo - other.x0 : hi - other.x0]
            if float(np.mean(np.abs(a - b))) < settings.join_drift * spacing:
                _merge_into(other, ridge)
                break
        else:
            kept.append(ridge)
    return kept


def _build_lines(
    ridges: list[_Ridge],
    ink: UInt8Image,
    page_spacing: float,
    scale: float,
    size: tuple[int, int],
    settings: SegmentationSettings,
    to_work: npt.NDArray[np.float64] | None = None,
) -> list[tuple[int, float, Line]]:
    """Turns ridges into lines in full-resolution coordinates (ids are set later).

    Returns:
        (column index, mean centre height, line) for each line long and inked enough.
    """
    height = ink.shape[0]
    full_w, full_h = size
    lines: list[tuple[int, float, Line]] = []
    for ridge in ridges:
        spacing = ridge.spacing or page_spacing
        band = max(1, round(0.35 * spacing))
        min_length = settings.min_line_length * spacing
        xs = np.arange(ridge.x0, ridge.x1)
        rows = np.clip(np.round(ridge.ys).astype(np.intp), 0, height - 1)
        has_ink = np.zeros(len(xs), dtype=bool)
        for dy in range(-band, band + 1):
            has_ink |= ink[np.clip(rows + dy, 0, height - 1), xs] > 0
        inked = np.nonzero(has_ink)[0]
        if len(inked) == 0:
            continue
        lo, hi = int(inked[0]), int(inked[-1]) + 1
        if hi - lo < min_length or has_ink[lo:hi].mean() < settings.min_ink_cover:
            continue
        if _stroke_rate(ink, xs[lo:hi], rows[lo:hi], spacing) < settings.min_stroke_rate:
            continue
        seg_x = xs[lo:hi].astype(np.float64)
        seg_y = ridge.ys[lo:hi]
        pad = settings.box_pad_x * spacing
        seg_x = np.concatenate([[seg_x[0] - pad], seg_x, [seg_x[-1] + pad]])
        seg_y = np.concatenate([[seg_y[0]], seg_y, [seg_y[-1]]])
        line = _line_from_centre(seg_x, seg_y, spacing, scale, (full_w, full_h), settings, to_work)
        lines.append((ridge.column, float(np.mean(seg_y)), line))
    return lines


def _stroke_rate(
    ink: UInt8Image, xs: npt.NDArray[np.intp], rows: npt.NDArray[np.intp], spacing: float
) -> float:
    """Ink runs met per line spacing of length, along the rows within 0.3 spacing of a ridge.

    Writing crosses several strokes per spacing; the shaded edge of a page, a stain or a
    ruled band is one long run.
    """
    height = ink.shape[0]
    half = max(1, round(0.3 * spacing))
    runs = 0
    for dy in range(-half, half + 1):
        row = ink[np.clip(rows + dy, 0, height - 1), xs] > 0
        runs += int(row[0]) + int(np.count_nonzero(row[1:] & ~row[:-1]))
    return runs / (2 * half + 1) / max(len(xs) / spacing, 1e-6)


def _line_from_centre(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    spacing: float,
    scale: float,
    size: tuple[int, int],
    settings: SegmentationSettings,
    to_work: npt.NDArray[np.float64] | None = None,
) -> Line:
    """Builds a line from its centre curve; `to_work` maps deskewed to working coordinates."""
    full_w, full_h = size

    def full(x: float, y: float) -> Point:
        if to_work is not None:
            x, y = (
                float(to_work[0, 0] * x + to_work[0, 1] * y + to_work[0, 2]),
                float(to_work[1, 0] * x + to_work[1, 1] * y + to_work[1, 2]),
            )
        fx = min(max(round((x + 0.5) / scale - 0.5), 0), full_w - 1)
        fy = min(max(round((y + 0.5) / scale - 0.5), 0), full_h - 1)
        return (int(fx), int(fy))

    def sample(n: int) -> list[tuple[float, float]]:
        idx = np.unique(np.linspace(0, len(xs) - 1, max(2, n)).round().astype(int))
        return [(float(xs[i]), float(ys[i])) for i in idx]

    top = [full(x, y - settings.box_above * spacing) for x, y in sample(settings.outline_points)]
    bottom = [full(x, y + settings.box_below * spacing) for x, y in sample(settings.outline_points)]
    polygon: Polygon = tuple(top + bottom[::-1])
    baseline = tuple(
        full(x, y + settings.baseline_below * spacing) for x, y in sample(settings.baseline_points)
    )
    px = [p[0] for p in polygon]
    py = [p[1] for p in polygon]
    bbox: BBox = (min(px), min(py), max(px) + 1, max(py) + 1)
    return Line(id="", bbox=bbox, polygon=polygon, baseline=baseline)


def _reading_order(lines: list[tuple[int, float, Line]]) -> list[Line]:
    """Orders lines by column (left to right), then top to bottom, and numbers them."""
    ordered = sorted(lines, key=lambda item: (item[0], item[1]))
    return [
        Line(id=f"l{i}", bbox=line.bbox, polygon=line.polygon, baseline=line.baseline)
        for i, (_, _, line) in enumerate(ordered)
    ]
