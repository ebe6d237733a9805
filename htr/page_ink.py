"""Preparing a page image for line segmentation, and measuring it.

The steps of `htr.segmentation.segment_page` that work on the page image as a whole, before
any line is traced: conversion to 8-bit grey, resizing, finding the dark surroundings of the
scanned page, dividing out the background and thresholding the ink, cleaning the ink of ruled
lines, specks and oversized blobs (and recovering text that stains glued into such blobs), and
measuring the writing: the median glyph height and the line spacing.

Sizes passed in as ``spacing`` are line spacings in pixels of the image at hand; the
thresholds and proportions come from an `InkSettings`, which `SegmentationSettings` is.
"""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from htr.types import FloatImage, UInt8Image


class InkSettings(Protocol):
    """The parameters that page preparation reads (`htr.segmentation.SegmentationSettings`).

    Sizes are fractions of the line spacing unless their name ends in ``_px``;
    `SegmentationSettings` documents each one in full.
    """

    @property
    def coarse_long_side_px(self) -> int:
        """Long side of the thumbnail on which the line spacing is estimated."""

    @property
    def min_line_spacing_px(self) -> float:
        """Smallest line spacing, in pixels of the thumbnail, taken for text."""

    @property
    def ink_threshold_cap(self) -> float:
        """Highest threshold on the normalised image (1 = paper)."""

    @property
    def min_ink_contrast(self) -> float:
        """Smallest gap between paper and ink, as a fraction of the paper level."""

    @property
    def rule_length(self) -> float:
        """Length of the opening that finds ruled lines."""

    @property
    def max_component_height(self) -> float:
        """Components taller than this are decoration or initials."""

    @property
    def max_component_width(self) -> float:
        """Components wider than this are rulings or borders."""

    @property
    def min_component_size(self) -> float:
        """Components whose width and height are both below this are noise."""

    @property
    def resplit_passes(self) -> int:
        """Rounds in which ink discarded as oversized is thresholded again."""

    @property
    def resplit_factor(self) -> float:
        """Each such round's threshold is at most this fraction of the last."""


def as_grey(image: np.ndarray) -> UInt8Image:
    """Converts a page image to a contiguous 8-bit greyscale array.

    Args:
        image: A 2-D image, or a 3- or 4-channel one (BGR or BGRA, as OpenCV reads it); values
            of another dtype are clipped to 0-255.

    Returns:
        The page as an H x W ``uint8`` array.

    Raises:
        ValueError: If `image` is neither 2-D nor 3- or 4-channel.
    """
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D greyscale image, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def resize(image: UInt8Image, scale: float) -> UInt8Image:
    """Shrinks an image by `scale` (area interpolation); never enlarges it.

    Args:
        image: The greyscale image.
        scale: The factor on both sides; from 0.999 up, `image` itself is returned.

    Returns:
        The resized image, at least 1 x 1.
    """
    if scale >= 0.999:
        return image
    height, width = image.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def odd_size(value: float) -> int:
    """Rounds a size to an odd kernel size of at least 3 pixels.

    Args:
        value: The wanted size, in pixels.

    Returns:
        `value` rounded, at least 3, plus one if it is even.
    """
    size = max(3, round(value))
    return size if size % 2 else size + 1


def scan_border(grey: UInt8Image, spacing: float) -> UInt8Image:
    """Marks the dark surroundings of the page (scanner bed, neighbouring page, book edge).

    They are the large dark regions connected to the image border, grown by one line spacing
    so that the page edge next to them goes too.

    Args:
        grey: The greyscale page.
        spacing: The line spacing (or a stand-in for it), in pixels of `grey`.

    Returns:
        1 where `grey` shows the surroundings of the page, 0 elsewhere.
    """
    size = odd_size(spacing)
    blurred = cv2.blur(grey, (size, size))
    paper = float(np.percentile(blurred, 75))
    dark = np.asarray(blurred < 0.5 * paper, dtype=np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=4)
    height, width = grey.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    touches = (x == 0) | (y == 0)
    touches |= x + stats[:, cv2.CC_STAT_WIDTH] == width
    touches |= y + stats[:, cv2.CC_STAT_HEIGHT] == height
    border = touches & (stats[:, cv2.CC_STAT_AREA] >= spacing * spacing)
    border[0] = False
    mask = np.asarray(border[labels], dtype=np.uint8)
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return np.asarray(cv2.dilate(mask, grow), dtype=np.uint8)


def normalise_and_threshold(
    grey: UInt8Image, window: int, border: UInt8Image, settings: InkSettings
) -> tuple[UInt8Image, FloatImage, float]:
    """Divides out the background of a page and thresholds its ink.

    The background is a grey closing of `window` pixels, blurred; the quotient (1 = paper) is
    thresholded with Otsu's method over the pixels outside `border`, capped at
    `ink_threshold_cap` and at ``1 - min_ink_contrast``.

    Args:
        grey: The greyscale page.
        window: Side of the closing and blur that estimate the background, in pixels (odd).
        border: 1 where the surroundings of the page are (see `scan_border`); never ink.
        settings: The thresholds.

    Returns:
        The ink (1 for ink, 0 for paper and for `border`), the normalised image (1 = paper)
        and the threshold on it.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    background = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, kernel)
    background = cv2.blur(background, (window, window))
    ratio = grey.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    norm: FloatImage = np.asarray(np.clip(ratio, 0.0, 1.0), dtype=np.float32)
    norm8 = np.asarray(norm * 255.0, dtype=np.uint8)
    inside = norm8[border == 0]
    if inside.size == 0:
        return np.zeros_like(grey), norm, 0.0
    otsu, _ = cv2.threshold(inside.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold = min(float(otsu) / 255.0, settings.ink_threshold_cap)
    if threshold > 1.0 - settings.min_ink_contrast:
        threshold = 1.0 - settings.min_ink_contrast
    return np.asarray((norm < threshold) & (border == 0), dtype=np.uint8), norm, threshold


def _binarise(
    grey: UInt8Image, window: int, border: UInt8Image, settings: InkSettings
) -> UInt8Image:
    """Returns 1 for ink, 0 for paper (and for `border`), after dividing out the background."""
    return normalise_and_threshold(grey, window, border, settings)[0]


def clean_ink(ink: UInt8Image, spacing: float, settings: InkSettings) -> UInt8Image:
    """Removes ruled lines, specks, borders and oversized components.

    Args:
        ink: 1 for ink, 0 for paper.
        spacing: The line spacing, in pixels of `ink`.
        settings: The lengths of ruled lines and the sizes of components kept.

    Returns:
        The ink that is left, 1 for ink, 0 for paper.
    """
    rule = max(3, round(settings.rule_length * spacing))
    horizontal = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (rule, 1))
    )
    vertical = cv2.morphologyEx(
        ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, rule))
    )
    rules = np.maximum(np.asarray(horizontal, dtype=np.uint8), np.asarray(vertical, dtype=np.uint8))
    ink = np.asarray((ink > 0) & (rules == 0), dtype=np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count <= 1:
        return ink
    w = stats[:, cv2.CC_STAT_WIDTH]
    h = stats[:, cv2.CC_STAT_HEIGHT]
    small = settings.min_component_size * spacing
    keep = (
        ((w >= small) | (h >= small))
        & (h <= settings.max_component_height * spacing)
        & (w <= settings.max_component_width * spacing)
    )
    keep[0] = False
    return np.asarray(keep[labels], dtype=np.uint8)


def split_oversized(
    raw: npt.NDArray[np.bool_],
    kept: npt.NDArray[np.bool_],
    norm: FloatImage,
    threshold: float,
    spacing: float,
    settings: InkSettings,
) -> UInt8Image:
    """Recovers text from ink that stains or faded parchment glued into oversized blobs.

    Pixels that were ink at `threshold` (`raw`) but did not survive `clean_ink` (too tall or
    wide) are thresholded again, darker (Otsu among them, at most `resplit_factor` times
    `threshold`), and what then forms components of normal size is kept. Up to
    `resplit_passes` rounds.

    Args:
        raw: The ink as thresholded (see `normalise_and_threshold`).
        kept: The ink that `clean_ink` kept of it.
        norm: The normalised image (1 = paper).
        threshold: The threshold on `norm` that gave `raw`.
        spacing: The line spacing, in pixels of the image.
        settings: The rounds, the darkening factor and the component sizes.

    Returns:
        The recovered ink, 1 for ink, 0 elsewhere (not including `kept`).
    """
    recovered = np.zeros(norm.shape, dtype=np.uint8)
    rest = raw & ~kept
    for _ in range(settings.resplit_passes):
        values = norm[rest]
        if values.size < spacing * spacing:
            break
        otsu, _ = cv2.threshold(
            np.asarray(values * 255.0, dtype=np.uint8).reshape(1, -1),
            0,
            255,
            cv2.THRESH_BINARY + cv2.THRESH_OTSU,
        )
        threshold = min(otsu / 255.0, settings.resplit_factor * threshold)
        candidate = np.asarray(rest & (norm < threshold), dtype=np.uint8)
        cleaned = clean_ink(candidate, spacing, settings)
        recovered |= cleaned
        rest = (candidate > 0) & (cleaned == 0)
    return recovered


def median_glyph_height(ink: UInt8Image) -> float:
    """Median height of the connected components that are neither specks nor huge.

    Args:
        ink: 1 for ink, 0 for paper.

    Returns:
        The median height in pixels of the components at least 3 pixels tall and smaller
        than a tenth of the image's long side in both directions; 0 if there are none.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    if count <= 1:
        return 0.0
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    limit = max(ink.shape) / 10
    usable = heights[(heights >= 3) & (heights < limit) & (widths < limit)]
    return float(np.median(usable)) if usable.size else 0.0


def estimate_spacing(ink: UInt8Image, min_spacing: float) -> float | None:
    """Estimates the line period from the autocorrelation of row profiles of vertical strips.

    Strips weigh by their ink; a clear peak near half the chosen period wins over it (lines
    that alternate in length or ink); the peak is refined to a fraction of a pixel.

    Args:
        ink: 1 for ink, 0 for paper.
        min_spacing: The shortest period taken, in pixels.

    Returns:
        The line spacing in pixels of `ink`, or None if there is too little ink or no clear
        period.
    """
    height, width = ink.shape
    if ink.sum() < 20:
        return None
    strips = 8
    max_lag = height // 3
    lo = max(2, math.floor(min_spacing))
    if max_lag <= lo + 2:
        return None
    total = np.zeros(max_lag, dtype=np.float64)
    for i in range(strips):
        strip = ink[:, i * width // strips : (i + 1) * width // strips]
        profile = strip.sum(axis=1).astype(np.float64)
        profile_ink = profile.sum()
        if profile_ink == 0:
            continue
        profile = profile - cv2.blur(profile.reshape(-1, 1), (1, max(3, height // 10))).ravel()
        spectrum = np.fft.rfft(profile, n=2 * height)
        corr = np.fft.irfft(spectrum * np.conj(spectrum))[:max_lag]
        if corr[0] > 0:
            # Strips weigh by their ink, so that a blank half of a spread adds no noise.
            total += corr / corr[0] * float(profile_ink)
    if total[0] <= 0:
        return None
    peaks = [
        lag
        for lag in range(lo, max_lag - 1)
        if total[lag] > total[lag - 1] and total[lag] >= total[lag + 1] and total[lag] > 0
    ]
    if not peaks:
        return None
    best = max(total[p] for p in peaks)
    if best < 0.05 * total[0]:
        return None
    lag = next(p for p in peaks if total[p] >= 0.6 * best)
    # Octave check: a clear peak near half the chosen lag means the lag is a multiple of the
    # period (lines that alternate in length or ink make the second harmonic the stronger).
    while True:
        halves = [p for p in peaks if 0.4 * lag <= p <= 0.6 * lag and total[p] >= 0.2 * total[lag]]
        if not halves:
            break
        lag = max(halves, key=lambda p: total[p])
    # Parabolic refinement of the peak position.
    a, b, c = total[lag - 1], total[lag], total[lag + 1]
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float(lag + offset)


def estimate_page_spacing(page: UInt8Image, settings: InkSettings) -> float | None:
    """Estimates the line spacing of a page on a thumbnail.

    The thumbnail's long side is `coarse_long_side_px`; its ink is thresholded, and periods
    below `min_line_spacing_px` or 0.8 of the median glyph height are not taken.

    Args:
        page: The greyscale page at full resolution.
        settings: The thumbnail size, the smallest spacing and the thresholds.

    Returns:
        The line spacing in pixels of `page`, or None if none is found (a blank page).
    """
    height, width = page.shape
    coarse_scale = min(1.0, settings.coarse_long_side_px / max(height, width))
    coarse = resize(page, coarse_scale)
    border = scan_border(coarse, max(coarse.shape) / 100)
    coarse_ink = _binarise(coarse, max(15, min(coarse.shape) // 12), border, settings)
    min_spacing = max(settings.min_line_spacing_px, 0.8 * median_glyph_height(coarse_ink))
    coarse_spacing = estimate_spacing(coarse_ink, min_spacing)
    return None if coarse_spacing is None else coarse_spacing / coarse_scale
