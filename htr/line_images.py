"""Cut text line images out of a page image, the same way for recognition and for training."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from htr.document import Line

PAPER_PERCENTILE = 90
"""Pixels outside the line polygon are painted with this percentile of the crop, per channel:
the paper's colour, so neighbouring lines' ink does not reach the recognizer."""


def crop_line(page: Image.Image, line: Line) -> Image.Image:
    """Returns the line's box cut from `page`, with everything outside its polygon blanked.

    Args:
        page: The page image, RGB.
        line: The line; its box is clipped to the page.

    Returns:
        An RGB image of the line's box (possibly 0 pixels wide when the box lies outside).
    """
    x0, y0, x1, y1 = line.bbox
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(page.width, x1), min(page.height, y1)
    if x1 <= x0 or y1 <= y0:
        return Image.new("RGB", (0, 0))
    crop = page.crop((x0, y0, x1, y1)).convert("RGB")
    if len(line.polygon) < 3:
        return crop
    mask = Image.new("L", crop.size, 0)
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in line.polygon], fill=255)
    pixels = np.asarray(crop)
    paper = np.percentile(pixels.reshape(-1, 3), PAPER_PERCENTILE, axis=0).astype(np.uint8)
    background = Image.new("RGB", crop.size, tuple(int(v) for v in paper))
    return Image.composite(crop, background, mask)
