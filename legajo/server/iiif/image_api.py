"""IIIF Image API 3, compliance level 1, over the stored page images.

A request ``{region}/{size}/{rotation}/{quality}.{format}`` is parsed strictly into an
`ImageRequest` (anything else is `ImageRequestError`, a 400), then `render` crops and scales
the page image with Pillow. Supported, as ``info.json`` says:

- region: ``full``, ``square``, ``x,y,w,h`` (level 1) and ``pct:x,y,w,h``; a region reaching
  past the image is cut at its edge, one wholly outside it is an error;
- size: ``max``, ``w,``, ``,h``, ``w,h`` (level 1), ``pct:n`` and ``!w,h``; never larger than
  the region (``^`` upscaling is refused) nor than `MAX_PIXELS`;
- rotation ``0`` only; quality ``default``, ``color`` or ``gray``; format ``jpg`` or ``png``.

The identifier is a page's database id; the image is the file recorded for that page
(`ui.images.load_page_image`), never a path from the request.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

from PIL import Image

from htr.errors import LegajoError

IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
MAX_PIXELS = 40_000_000
"""The largest image (width x height) one request may ask for."""
JPEG_QUALITY = 85
TILE_SIZE = 512
"""The tiles ``info.json`` offers viewers (deep zoom), in pixels of the result."""
FORMATS = {"jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
"""Output formats: Pillow's name and the media type."""
QUALITIES = ("default", "color", "gray")
EXTRA_FEATURES = ("regionByPct", "regionSquare", "sizeByConfinedWh", "sizeByPct")
"""Features beyond level 1 (``regionSquare`` is level 1 in 3.0, listed for older clients)."""

_NUMBER = r"\d+(?:\.\d+)?"
_REGION_PIXELS = re.compile(r"(\d+),(\d+),(\d+),(\d+)")
_REGION_PCT = re.compile(rf"pct:({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})")
_SIZE_W = re.compile(r"(\d+),")
_SIZE_H = re.compile(r",(\d+)")
_SIZE_WH = re.compile(r"(!?)(\d+),(\d+)")
_SIZE_PCT = re.compile(rf"pct:({_NUMBER})")
_ROTATION = re.compile(_NUMBER)
_IDENTIFIER = re.compile(r"[1-9]\d{0,17}")


class ImageRequestError(LegajoError):
    """An Image API request that is malformed, unsupported, or outside the image (a 400)."""


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """One parsed Image API request, in pixels of the source image.

    Attributes:
        region: The box (x, y, w, h) cut from the source image.
        size: The (width, height) of the result.
        quality: ``default``, ``color`` or ``gray``.
        format: ``jpg`` or ``png``.
    """

    region: tuple[int, int, int, int]
    size: tuple[int, int]
    quality: str
    format: str

    @property
    def canonical(self) -> str:
        """The request's canonical form, the cache's key (``default`` and ``color`` agree)."""
        x, y, w, h = self.region
        quality = "gray" if self.quality == "gray" else "default"
        return f"{x},{y},{w},{h}/{self.size[0]},{self.size[1]}/0/{quality}.{self.format}"

    @property
    def media_type(self) -> str:
        """The media type of the result."""
        return FORMATS[self.format][1]


def page_identifier(identifier: str) -> int | None:
    """The page id an identifier names, or None when it is not a page id at all."""
    return int(identifier) if _IDENTIFIER.fullmatch(identifier) else None


def parse_region(region: str, width: int, height: int) -> tuple[int, int, int, int]:
    """The region as a box (x, y, w, h) inside a `width` x `height` image.

    Raises:
        ImageRequestError: If it is malformed, empty, or wholly outside the image.
    """
    if region == "full":
        return 0, 0, width, height
    if region == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if match := _REGION_PIXELS.fullmatch(region):
        x, y, w, h = (int(value) for value in match.groups())
    elif match := _REGION_PCT.fullmatch(region):
        px, py, pw, ph = (float(value) for value in match.groups())
        x, y = round(px * width / 100), round(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
    else:
        raise ImageRequestError(f"invalid region {region!r}")
    if w <= 0 or h <= 0:
        raise ImageRequestError(f"region {region!r} is empty")
    if x >= width or y >= height:
        raise ImageRequestError(f"region {region!r} lies outside the {width}x{height} image")
    return x, y, min(w, width - x), min(h, height - y)


def parse_size(size: str, region_width: int, region_height: int) -> tuple[int, int]:
    """The size of the result of scaling a `region_width` x `region_height` region.

    Raises:
        ImageRequestError: If it is malformed, zero, asks for upscaling, or is too large.
    """
    if size.startswith("^"):
        raise ImageRequestError("upscaling (^) is not supported")
    aspect = region_width / region_height
    if size == "max":
        width, height = region_width, region_height
        if width * height > MAX_PIXELS:  # the largest size of the same aspect within the limit
            scale = math.sqrt(MAX_PIXELS / (width * height))
            width, height = max(1, int(width * scale)), max(1, int(height * scale))
    elif match := _SIZE_W.fullmatch(size):
        width = int(match.group(1))
        height = max(1, round(width / aspect))
    elif match := _SIZE_H.fullmatch(size):
        height = int(match.group(1))
        width = max(1, round(height * aspect))
    elif match := _SIZE_PCT.fullmatch(size):
        percent = float(match.group(1))
        width = round(region_width * percent / 100)
        height = round(region_height * percent / 100)
    elif match := _SIZE_WH.fullmatch(size):
        confined, width, height = match.group(1) == "!", int(match.group(2)), int(match.group(3))
        if confined:
            scale = min(width / region_width, height / region_height)
            width = max(1, min(width, round(region_width * scale)))
            height = max(1, min(height, round(region_height * scale)))
    else:
        raise ImageRequestError(f"invalid size {size!r}")
    if width <= 0 or height <= 0:
        raise ImageRequestError(f"size {size!r} is empty")
    if width > region_width or height > region_height:
        raise ImageRequestError(
            f"size {size!r} is larger than the {region_width}x{region_height} region "
            "(upscaling is not supported)"
        )
    if width * height > MAX_PIXELS:
        raise ImageRequestError(f"size {size!r} is larger than {MAX_PIXELS} pixels")
    return width, height


def parse_request(
    region: str, size: str, rotation: str, quality_format: str, width: int, height: int
) -> ImageRequest:
    """Parses the path of an image request against a `width` x `height` image.

    Raises:
        ImageRequestError: If any parameter is malformed or unsupported.
    """
    quality, dot, image_format = quality_format.rpartition(".")
    if not dot or image_format not in FORMATS:
        raise ImageRequestError(f"unsupported format in {quality_format!r}; use jpg or png")
    if quality not in QUALITIES:
        raise ImageRequestError(f"unsupported quality {quality!r}; use {', '.join(QUALITIES)}")
    if not _ROTATION.fullmatch(rotation) or float(rotation) != 0:
        raise ImageRequestError(f"unsupported rotation {rotation!r}; only 0 is")
    box = parse_region(region, width, height)
    return ImageRequest(box, parse_size(size, box[2], box[3]), quality, image_format)


def render(image: Image.Image, request: ImageRequest) -> bytes:
    """The bytes of the image that answers `request`."""
    x, y, w, h = request.region
    result = image.crop((x, y, x + w, y + h)) if (x, y, w, h) != (0, 0, *image.size) else image
    if result.size != request.size:
        result = result.resize(request.size, Image.Resampling.LANCZOS)
    mode = "L" if request.quality == "gray" else "RGB"
    if result.mode != mode:
        result = result.convert(mode)
    buffer = io.BytesIO()
    pillow_format = FORMATS[request.format][0]
    options: dict[str, Any] = {"quality": JPEG_QUALITY} if pillow_format == "JPEG" else {}
    result.save(buffer, format=pillow_format, **options)
    return buffer.getvalue()


def scale_factors(width: int, height: int) -> list[int]:
    """Powers of two, up to the one at which the whole image fits one tile."""
    factors = [1]
    while max(width, height) / factors[-1] > TILE_SIZE:
        factors.append(factors[-1] * 2)
    return factors


def image_info(service_id: str, width: int, height: int) -> dict[str, Any]:
    """The ``info.json`` of a page image's service."""
    sizes = []
    side = max(width, height)
    scale = 1
    while side // scale >= 96 and scale <= 32:  # a few sizes for thumbnails
        sizes.append({"width": max(1, width // scale), "height": max(1, height // scale)})
        scale *= 2
    return {
        "@context": IMAGE_CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": "level1",
        "width": width,
        "height": height,
        "maxArea": MAX_PIXELS,
        "sizes": sorted(sizes, key=lambda size: size["width"]),
        "tiles": [{"width": TILE_SIZE, "scaleFactors": scale_factors(width, height)}],
        "extraQualities": ["color", "gray"],
        "extraFormats": ["png"],
        "extraFeatures": list(EXTRA_FEATURES),
    }
