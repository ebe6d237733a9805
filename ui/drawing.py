"""Outlines drawn on page images on the server (PIL): the browser only ever gets pixels.

Pure functions: they never change the image they are given, and take coordinates in the
stored page image's pixels (`htr.types`).
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from htr.types import BBox, Polygon

MATCH_COLOUR = (214, 39, 40)
"""Words that matched the query."""
DOUBT_COLOUR = (255, 140, 0)
"""Words read with low confidence."""
LINE_COLOUR = (31, 119, 180)
"""Line outlines on a page."""
SELECTED_COLOUR = (214, 39, 40)
"""The chosen line on a page."""


def line_crop(
    page: Image.Image,
    line_box: BBox,
    *,
    matched: Sequence[BBox] = (),
    doubtful: Sequence[BBox] = (),
    margin: int = 12,
    max_width: int = 1400,
) -> Image.Image:
    """Cuts a line out of its page, matched words outlined, doubtful words underlined.

    Args:
        page: The page image.
        line_box: The line's box.
        matched: Boxes of the words to outline.
        doubtful: Boxes of the words to underline as doubtful.
        margin: Pixels of page kept around the line.
        max_width: Wider crops are scaled down to this width.
    """
    box = _clip(_grow(line_box, margin), page.size)
    crop = page.crop(box).convert("RGB")
    scale = min(1.0, max_width / max(1, crop.width))
    if scale < 1.0:
        crop = crop.resize((round(crop.width * scale), round(crop.height * scale)))
    draw = ImageDraw.Draw(crop)
    width = max(2, round(3 * scale))
    for word in doubtful:
        x0, _, x1, y1 = _to_view(word, box, scale)
        draw.line([(x0, y1 + width), (x1, y1 + width)], fill=DOUBT_COLOUR, width=width)
    for word in matched:
        draw.rectangle(_grow(_to_view(word, box, scale), 2), outline=MATCH_COLOUR, width=width)
    return crop


def page_view(
    page: Image.Image,
    lines: Sequence[Polygon],
    *,
    selected: int | None = None,
    zoom: float = 1.0,
    max_width: int = 1600,
) -> Image.Image:
    """The page (or, zoomed in, the part of it around the chosen line) with line outlines.

    Args:
        page: The page image.
        lines: The outline of every line.
        selected: Index in `lines` of the chosen line, drawn thicker in another colour.
        zoom: 1 shows the whole page; 2 shows half its width and height around the chosen
            line (or the page's centre), and so on.
        max_width: The result is as wide as the page, or this width if the page is wider,
            at every zoom.
    """
    box = _viewport(page.size, lines[selected] if selected is not None else None, zoom)
    x0, y0, x1, _ = box
    scale = min(max_width, page.width) / max(1, x1 - x0)
    view = page.crop(box).convert("RGB")
    view = view.resize((round(view.width * scale), round(view.height * scale)))
    draw = ImageDraw.Draw(view)
    for index, polygon in enumerate(lines):
        if index == selected or len(polygon) < 2:
            continue
        draw.polygon(_points(polygon, (x0, y0), scale), outline=LINE_COLOUR, width=2)
    if selected is not None and len(lines[selected]) >= 2:
        draw.polygon(_points(lines[selected], (x0, y0), scale), outline=SELECTED_COLOUR, width=4)
    return view


def _viewport(size: tuple[int, int], focus: Polygon | None, zoom: float) -> BBox:
    width, height = size
    zoom = max(1.0, zoom)
    view_w, view_h = round(width / zoom), round(height / zoom)
    if focus:
        xs, ys = [p[0] for p in focus], [p[1] for p in focus]
        cx, cy = (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2
    else:
        cx, cy = width // 2, height // 2
    x0 = min(max(0, cx - view_w // 2), width - view_w)
    y0 = min(max(0, cy - view_h // 2), height - view_h)
    return (x0, y0, x0 + view_w, y0 + view_h)


def _grow(box: BBox, pixels: int) -> BBox:
    x0, y0, x1, y1 = box
    return (x0 - pixels, y0 - pixels, x1 + pixels, y1 + pixels)


def _clip(box: BBox, size: tuple[int, int]) -> BBox:
    x0, y0, x1, y1 = box
    width, height = size
    x0, y0 = max(0, min(x0, width - 1)), max(0, min(y0, height - 1))
    return (x0, y0, max(x0 + 1, min(x1, width)), max(y0 + 1, min(y1, height)))


def _to_view(box: BBox, origin: BBox, scale: float) -> BBox:
    x0, y0, x1, y1 = box
    return (
        round((x0 - origin[0]) * scale),
        round((y0 - origin[1]) * scale),
        round((x1 - origin[0]) * scale),
        round((y1 - origin[1]) * scale),
    )


def _points(polygon: Polygon, origin: tuple[int, int], scale: float) -> list[tuple[int, int]]:
    return [(round((x - origin[0]) * scale), round((y - origin[1]) * scale)) for x, y in polygon]
