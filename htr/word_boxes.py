"""Word boxes inside a recognised text line, from the line image and its words.

A line recogniser gives the text of a line crop but not where each word is. `word_boxes`
places the words: it binarises the crop after flattening the background, drops ink that
belongs to the neighbouring lines, projects the ink of the line's core band onto the x axis
and picks, by dynamic programming, the blank gaps that best separate the words, weighing each
gap's width against where the words' character counts say the word boundaries should fall.
Where the line has too few gaps (words written together), it splits at the faintest columns
near the expected positions instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from htr.types import BBox

logger = logging.getLogger(__name__)

_NARROW = frozenset("iljtfrI!.,;:'·|()[]-")
_WIDE = frozenset("mwMWæœ")
_SPACE_UNITS = 0.8
"""Expected width of the blank between two words, in character units."""

_PAPER_RATIO = 0.88
"""Pixels lighter than this fraction of the local paper tone are never ink."""

_THIN = 0.15
"""Core-band columns with at most this fraction of the band's height in ink count as blank,
so that a hairline joining two words does not close the gap between them."""

_GAP_WEIGHT = 1.0
"""Score of a blank gap per character unit of its width (capped at `_GAP_CAP`)."""
_GAP_CAP = 2.0
_MINIMUM_PENALTY = 1.5
"""Score lost by a split through ink, per core-band height of ink in the split column."""
_POSITION_SIGMA = 1.5
"""Tolerated distance (in character units) between a split and its expected position."""
_POSITION_SIGMA_PER_CHAR = 0.12
"""Extra tolerance per character between the split and the nearer end of the line."""


def _char_units(char: str) -> float:
    """Width of one character in units of an average lowercase letter."""
    if char in _NARROW:
        return 0.5
    if char in _WIDE:
        return 1.5
    if char.isupper():
        return 1.3
    return 1.0


def _word_units(word: str) -> float:
    """Expected width of a word in character units (never zero)."""
    return max(0.5, sum(_char_units(c) for c in word))


def _as_grey(line_image: np.ndarray) -> np.ndarray:
    """Returns the crop as a contiguous 2-D uint8 array, whatever it came as."""
    image = np.asarray(line_image)
    if image.ndim == 3:
        image = image[:, :, :3].mean(axis=2) if image.shape[2] else image.sum(axis=2)
    if image.ndim != 2:
        return np.zeros((0, 0), dtype=np.uint8)
    if image.dtype == np.bool_:
        return np.ascontiguousarray(np.where(image, 255, 0).astype(np.uint8))
    if image.dtype != np.uint8:
        image = np.nan_to_num(image.astype(np.float64), nan=255.0, posinf=255.0, neginf=0.0)
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def _binarise(grey: np.ndarray) -> np.ndarray:
    """Ink mask (uint8 0/1): Otsu on the crop divided by its estimated paper background."""
    h, w = grey.shape
    k = max(3, min(h // 3, 61)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    grey = cv2.GaussianBlur(grey, (3, 3), 0) if h >= 3 and w >= 3 else grey
    paper = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    paper = cv2.blur(paper, (k, k))
    flat = cv2.divide(grey, np.maximum(paper, 1), scale=255)
    otsu, _ = cv2.threshold(flat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper-only crops: Otsu splits the noise; keep only clearly darker-than-paper pixels.
    threshold = min(float(otsu), _PAPER_RATIO * 255)
    return (flat < threshold).astype(np.uint8)


def _components(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components (8-connected) of the ink: label image and per-label stats."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return labels, stats


def _core_band(ink: np.ndarray, labels: np.ndarray, stats: np.ndarray) -> tuple[int, int]:
    """Rows [top, bottom) of the line's core (x-height) band, from the row ink profile.

    Components touching the top or bottom edge are left out when there is other ink: they are
    mostly the neighbouring lines' strokes, cut by the crop.
    """
    h = ink.shape[0]
    y0 = stats[:, cv2.CC_STAT_TOP]
    y1 = y0 + stats[:, cv2.CC_STAT_HEIGHT]
    inner = (y0 > 0) & (y1 < h)
    inner[0] = False
    if inner.any():
        ink = inner[labels]
    rows = ink.sum(axis=1).astype(np.float64)
    if h >= 3:
        rows = np.convolve(rows, np.ones(3) / 3, mode="same")
    peak = int(np.argmax(rows))
    if rows[peak] <= 0:
        return 0, h
    dense = rows >= 0.45 * rows[peak]
    top = peak
    while top > 0 and dense[top - 1]:
        top -= 1
    bottom = peak + 1
    while bottom < h and dense[bottom]:
        bottom += 1
    return top, bottom


def _line_ink(labels: np.ndarray, stats: np.ndarray, top: int, bottom: int) -> np.ndarray:
    """Keeps the ink of the line itself: drops specks and neighbours' strokes cut at the edges.

    A component touching the top edge is kept only if it reaches down through the core band
    (an ascender of this line, not a descender of the line above), and likewise at the bottom
    edge. Other components are kept when they reach the core band or are big enough to be
    more than noise (dots, accents, detached strokes).
    """
    h = labels.shape[0]
    band_h = bottom - top
    ext = max(1, band_h // 4)
    y0 = stats[:, cv2.CC_STAT_TOP]
    y1 = y0 + stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    min_area = max(3.0, 0.02 * band_h * band_h)
    in_band = (y1 > top + ext // 2) & (y0 < bottom - ext // 2) & (area >= 2)
    keep = in_band | (area >= min_area)
    keep &= (y0 > 0) | (y1 >= bottom - ext)
    keep &= (y1 < h) | (y0 <= top + ext)
    keep[0] = False
    return keep[labels].astype(np.uint8)


def _runs(blank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of True in a 1-D boolean array."""
    padded = np.concatenate(([False], blank, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _candidates(
    profile: np.ndarray, x0: int, x1: int, band_h: int, unit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split candidates inside [x0, x1): blank gaps and, between them, the profile's minima.

    Returns:
        Each candidate's first and end column (end exclusive; equal for a split through ink)
        and its score (positive for gaps, by width; negative for splits through ink).
    """
    inner = profile[x0:x1]
    starts, ends = _runs(inner <= int(_THIN * band_h))
    interior = (starts > 0) & (ends < len(inner))
    starts, ends = starts[interior] + x0, ends[interior] + x0
    gap_scores = _GAP_WEIGHT * np.minimum((ends - starts) / unit, _GAP_CAP)

    smooth = inner.astype(np.float64)
    win = max(1, int(unit * 0.3))
    if win > 1 and len(smooth) >= win:
        smooth = np.convolve(smooth, np.ones(win) / win, mode="same")
    if len(smooth) >= 3:
        is_min = np.zeros(len(smooth), dtype=bool)
        is_min[1:-1] = (smooth[1:-1] <= smooth[:-2]) & (smooth[1:-1] < smooth[2:])
        is_min &= inner > 0
        cols = np.flatnonzero(is_min)
    else:
        cols = np.zeros(0, dtype=np.int64)
    min_scores = -_MINIMUM_PENALTY * (smooth[cols] / max(band_h, 1)) - 0.5
    cols = cols + x0

    first = np.concatenate((starts, cols))
    end = np.concatenate((ends, cols))
    score = np.concatenate((gap_scores, min_scores))
    order = np.argsort((first + end) / 2, kind="stable")
    return first[order], end[order], score[order]


def _choose_splits(
    centres: np.ndarray, scores: np.ndarray, expected: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """Indices (increasing) of the candidates that best serve as the expected splits.

    Dynamic programming over candidates sorted by position: split k takes a candidate to the
    right of split k-1's, and earns the candidate's score minus a squared-distance penalty
    from the k-th expected position.
    """
    splits, m = len(expected), len(centres)
    best = np.empty((splits, m))
    back = np.zeros((splits, m), dtype=np.int64)
    for k in range(splits):
        gain = scores - ((centres - expected[k]) / sigma[k]) ** 2
        if k == 0:
            best[0] = gain
            continue
        prev = np.full(m, -np.inf)
        prev[1:] = np.maximum.accumulate(best[k - 1][:-1])
        arg = np.zeros(m, dtype=np.int64)
        arg[1:] = _running_argmax(best[k - 1][:-1])
        best[k] = gain + prev
        back[k] = arg
    chosen = np.empty(splits, dtype=np.int64)
    chosen[-1] = int(np.argmax(best[-1]))
    for k in range(splits - 1, 0, -1):
        chosen[k - 1] = back[k][chosen[k]]
    return chosen


def _running_argmax(values: np.ndarray) -> np.ndarray:
    """For each i, the index of the (first) maximum of values[: i + 1]."""
    running = np.maximum.accumulate(values)
    is_new = np.concatenate(([True], running[1:] > running[:-1]))
    idx = np.where(is_new, np.arange(len(values)), 0)
    return np.maximum.accumulate(idx)


def _box(ink: np.ndarray, x0: int, x1: int, margin: int) -> BBox:
    """Tightens the column range [x0, x1) to its ink; full height if it has none."""
    h = ink.shape[0]
    part = ink[:, x0:x1]
    cols = np.flatnonzero(part.any(axis=0))
    if len(cols) == 0:
        return (x0, 0, x1, h)
    rows = np.flatnonzero(part[:, cols[0] : cols[-1] + 1].any(axis=1))
    return (
        x0 + int(cols[0]),
        max(0, int(rows[0]) - margin),
        x0 + int(cols[-1]) + 1,
        min(h, int(rows[-1]) + 1 + margin),
    )


def word_boxes(line_image: np.ndarray, words: Sequence[str]) -> list[BBox]:
    """Places the recognised words of a line crop, one box per word.

    Args:
        line_image: Greyscale crop of one text line (dark ink on light paper), uint8;
            other dtypes and colour crops are converted.
        words: The words of the recognised text, in reading order (the text split on
            whitespace).

    Returns:
        One box (x0, y0, x1, y1) per word, x1 and y1 exclusive, in crop coordinates, left to
        right, not overlapping in x, each inside the crop. Words that cannot be told apart
        (blank or solid crop, more words than columns) get boxes at their expected positions,
        possibly empty. Never raises on odd images.
    """
    words = list(words)
    n = len(words)
    if n == 0:
        return []
    grey = _as_grey(line_image)
    h, w = grey.shape
    if h == 0 or w == 0:
        return [(0, 0, 0, 0)] * n

    ink = _binarise(grey)
    labels, stats = _components(ink)
    top, bottom = _core_band(ink, labels, stats)
    ink = _line_ink(labels, stats, top, bottom)
    margin = 1 if h > 4 else 0
    cols = np.flatnonzero(ink.any(axis=0))
    if len(cols) == 0:
        x0, x1 = 0, w
    else:
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
    if n == 1:
        return [_box(ink, x0, x1, margin)]

    units = np.array([_word_units(word) for word in words])
    total = units.sum() + _SPACE_UNITS * (n - 1)
    unit = (x1 - x0) / total
    # Expected split k (after word k) and how far from it a split may plausibly fall.
    before = np.cumsum(units)[:-1] + _SPACE_UNITS * (np.arange(n - 1) + 0.5)
    expected = x0 + unit * before
    chars_to_end = np.minimum(before, total - before)
    sigma = np.maximum(unit, 1e-6) * (_POSITION_SIGMA + _POSITION_SIGMA_PER_CHAR * chars_to_end)

    band = ink[max(0, top - 1) : min(h, bottom + 1)]
    profile = band.sum(axis=0).astype(np.int64)
    first, end, score = _candidates(profile, x0, x1, bottom - top, max(unit, 1e-6))
    if len(first) >= n - 1:
        chosen = _choose_splits((first + end) / 2, score, expected, sigma)
        cuts = ((first[chosen] + end[chosen]) // 2).tolist()
    else:
        logger.debug(
            "%d split candidates for %d words: splitting at expected positions", len(first), n
        )
        cuts = np.clip(np.round(expected), x0, x1).astype(np.int64).tolist()

    edges = [x0, *(int(c) for c in cuts), x1]
    for i in range(1, len(edges)):
        edges[i] = max(edges[i], edges[i - 1])
    return [_box(ink, edges[k], edges[k + 1], margin) for k in range(n)]


def proportional_word_boxes(line_image: np.ndarray, words: Sequence[str]) -> list[BBox]:
    """The naive method `word_boxes` is measured against: no gap search.

    The line's Otsu ink extent is split in proportion to the words' character counts (a space
    counts as one character); each box's height is the ink inside its columns.

    Args:
        line_image: Greyscale line crop, uint8.
        words: The words of the line, in order.

    Returns:
        One box per word, in crop coordinates.
    """
    n = len(words)
    if n == 0:
        return []
    h, w = line_image.shape
    _, binary = cv2.threshold(line_image, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    cols = np.flatnonzero(binary.any(axis=0))
    x0, x1 = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, w)
    lengths = np.array([len(word) for word in words], dtype=np.float64)
    ends = np.cumsum(lengths + 1) - 1
    total = ends[-1]
    starts = ends - lengths
    boxes: list[BBox] = []
    for s, e in zip(starts, ends, strict=True):
        bx0 = x0 + round((x1 - x0) * s / total)
        bx1 = x0 + round((x1 - x0) * e / total)
        rows = np.flatnonzero(binary[:, bx0:bx1].any(axis=1))
        by0, by1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, h)
        boxes.append((bx0, by0, bx1, by1))
    return boxes
