"""Load page images: JPEG, PNG, TIFF (one page per frame), PDF (one page per PDF page).

Every page comes back as a `PageImage` whose image is 8-bit ``"RGB"`` with its EXIF
orientation applied, whatever the file held (1-bit, grey, 16-bit, palette, CMYK, alpha).
A PDF page is rendered at the native resolution of the scan it holds (its largest embedded
image), at most `DEFAULT_PDF_DPI` and at most what fits ``max_pixels``; a page without a
scan at the highest resolution up to `DEFAULT_PDF_DPI` that fits. `PageImage.pdf_dpi` says
which resolution was used.
The file type is decided by the file's content, not its suffix; the suffix only has to be
one of `SUPPORTED_SUFFIXES`.

Every failure on bad input raises `htr.errors.ImageLoadError` naming the file (and the frame
when one is concerned) and the reason, chained to the underlying error. Image sizes are
checked against ``max_pixels`` from the header, before any pixel is decoded, and PDF pages
from their computed render size, before rendering. Pillow's global state
(``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) is never changed, so a
truncated file is an error, and Pillow's own decompression-bomb limit (about 179 million
pixels by default) still applies on top of ``max_pixels``.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import struct
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, features

from htr.errors import ImageLoadError

logger = logging.getLogger(__name__)

StrPath: TypeAlias = str | os.PathLike[str]
"""A file path as a string or a path object."""

_BASE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".pdf"})
_HAS_JPEG2000 = bool(features.check("jpg_2000"))
_HAS_WEBP = bool(features.check("webp"))

SUPPORTED_SUFFIXES: frozenset[str] = (
    _BASE_SUFFIXES | ({".jp2"} if _HAS_JPEG2000 else set()) | ({".webp"} if _HAS_WEBP else set())
)
"""File suffixes accepted, lower case; the match is case-insensitive."""

DEFAULT_MAX_PIXELS: int = 178_000_000
"""Largest frame accepted, in pixels (width x height).

Just under Pillow's own hard decompression-bomb limit (2 x ``Image.MAX_IMAGE_PIXELS``, about
178.9 million), so by default the limit that triggers is this one. An A3 page scanned at
600 dpi is about 70 million pixels.
"""

DEFAULT_PDF_DPI: int = 300
"""Highest resolution at which PDF pages are rendered when no resolution is asked for."""

MIN_SCAN_COVER: float = 0.25
"""Share of a PDF page that its largest embedded image must cover to count as the page's
scan and set the resolution of the page: a logo or a stamp on a typed page does not."""

_PDF_FORM_DEPTH = 2
"""How deep image objects are looked for inside form XObjects (scans are sometimes wrapped
in one)."""

_PILLOW_FORMATS: tuple[str, ...] = (
    ("JPEG", "PNG", "TIFF", "BMP")
    + (("JPEG2000",) if _HAS_JPEG2000 else ())
    + (("WEBP",) if _HAS_WEBP else ())
)
"""Pillow formats tried on raster files. JPEG files with MPO data open through "JPEG"."""

_MULTI_FRAME_FORMATS = frozenset({"TIFF"})
"""Formats whose frames are separate pages. Other formats give their first frame only:
the extra frames of an MPO JPEG are previews or stereo views, not pages."""

_PDF_MAGIC = b"%PDF-"
_HEADER_BYTES = 1024

_HIGH_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255, 255)
_SCALE_CHUNK_PIXELS = 1 << 22
"""Pixels converted at a time when scaling 16-bit data, to bound temporary memory."""

# Exceptions Pillow and pypdfium2 raise on malformed input. Pillow's plugins are known to
# raise IndexError, KeyError, TypeError or ZeroDivisionError on some corrupt headers, as
# well as the documented OSError / SyntaxError / EOFError / struct.error.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    MemoryError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page of an input file.

    Attributes:
        source: The file the page comes from.
        frame: 0-based index of the page in its file: TIFF frame or PDF page.
        image: The page, 8-bit mode ``"RGB"``, EXIF orientation applied.
        pdf_dpi: The resolution a PDF page was rendered at (pixels per inch of the PDF
            page); None for raster images, whose pixels are the file's own.
    """

    source: Path
    frame: int
    image: Image.Image
    pdf_dpi: int | None = None


def is_supported(path: StrPath) -> bool:
    """Tells whether a file name has a suffix this module loads.

    Args:
        path: The file name; only its suffix is looked at, case-insensitively.

    Returns:
        True for the suffixes in `SUPPORTED_SUFFIXES` (``.JPEG`` and ``.Tif`` included).
    """
    return Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def count_frames(path: StrPath, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """Counts the pages of a file without decoding any pixel.

    Args:
        path: The image or PDF file.
        max_pixels: Largest frame accepted, in pixels, checked on each raster frame's
            header. PDF pages are not checked here: their size depends on the render
            resolution, which `iter_page_images` checks.

    Returns:
        The number of pages: TIFF frames, PDF pages, or 1 for other formats.

    Raises:
        ImageLoadError: If the file is missing, unreadable, of an unsupported type, corrupt
            in its headers, or has a frame over ``max_pixels``.
        ValueError: If ``max_pixels`` is not positive.
    """
    _check_limits(max_pixels, DEFAULT_PDF_DPI)
    source = Path(path)
    _check_file(source)
    with _open_binary(source) as stream:
        if _is_pdf(source, stream):
            pdf = _open_pdf(source, stream)
            try:
                return len(pdf)
            finally:
                pdf.close()
        with _open_raster(source, stream, max_pixels) as image:
            return sum(1 for _ in _seek_frames(source, image, max_pixels))


def iter_page_images(
    path: StrPath,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pdf_dpi: int | None = None,
) -> Generator[PageImage, None, None]:
    """Yields the pages of an image or PDF file, one at a time.

    The file stays open until the generator is exhausted or closed (``close()``, or
    garbage collection). If a frame fails to
    decode, the frames before it are yielded first, then the error is raised.

    Args:
        path: The image or PDF file.
        max_pixels: Largest page accepted, in pixels: checked on each raster frame's header
            before decoding and on each PDF page's render size before rendering.
        pdf_dpi: Resolution at which PDF pages are rendered. None (the default) renders
            each page at the native resolution of its scan (`pdf_page_dpi`).

    Yields:
        Each page, in file order, as 8-bit ``"RGB"`` with EXIF orientation applied; PDF
        pages with the resolution they were rendered at (`PageImage.pdf_dpi`).

    Raises:
        ImageLoadError: If the file is missing, a directory, unreadable, empty, of an
            unsupported type, truncated or corrupt, or has a page over ``max_pixels`` (for
            a PDF page without `pdf_dpi`: over ``max_pixels`` even at 1 dpi).
        ValueError: If ``max_pixels`` or ``pdf_dpi`` is not positive.
    """
    _check_limits(max_pixels, pdf_dpi)
    source = Path(path)
    _check_file(source)
    with _open_binary(source) as stream:
        if _is_pdf(source, stream):
            yield from _iter_pdf_pages(source, stream, max_pixels, pdf_dpi)
        else:
            yield from _iter_raster_pages(source, stream, max_pixels)


def load_page_images(
    path: StrPath,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    pdf_dpi: int | None = None,
) -> list[PageImage]:
    """Loads all pages of an image or PDF file.

    Args:
        path: The image or PDF file.
        max_pixels: Largest page accepted, in pixels (see `iter_page_images`).
        pdf_dpi: Resolution at which PDF pages are rendered; None for each page's native
            resolution (see `iter_page_images`).

    Returns:
        The pages in file order (see `iter_page_images`).

    Raises:
        ImageLoadError: As `iter_page_images`; no page is returned if any page fails.
        ValueError: If ``max_pixels`` or ``pdf_dpi`` is not positive.
    """
    return list(iter_page_images(path, max_pixels=max_pixels, pdf_dpi=pdf_dpi))


def to_grey(image: Image.Image) -> npt.NDArray[np.uint8]:
    """Converts a page image to 8-bit grey levels, for segmentation.

    Args:
        image: A page image in any Pillow mode (normally ``"RGB"`` from this module);
            alpha is composited over white and 16-bit data scaled by its range.

    Returns:
        A new C-contiguous ``uint8`` array of shape (height, width), 0 black, 255 white.
    """
    grey = image if image.mode == "L" else _to_rgb(image).convert("L")
    return np.array(grey, dtype=np.uint8, order="C")


def _check_limits(max_pixels: int, pdf_dpi: int | None) -> None:
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if pdf_dpi is not None and pdf_dpi <= 0:
        raise ValueError(f"pdf_dpi must be positive, got {pdf_dpi}")


def _error(path: Path, reason: str, frame: int | None = None) -> ImageLoadError:
    where = str(path) if frame is None else f"{path} (frame {frame})"
    return ImageLoadError(f"cannot load {where}: {reason}")


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _check_file(path: Path) -> None:
    """Checks suffix, existence and kind of file before anything is opened."""
    if not is_supported(path):
        suffix = path.suffix or "(none)"
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise _error(path, f"unsupported file type {suffix!r} (supported: {supported})")
    try:
        info = path.stat()
    except FileNotFoundError as error:
        raise _error(path, "no such file") from error
    except OSError as error:
        raise _error(path, f"cannot access file: {_describe(error)}") from error
    if stat.S_ISDIR(info.st_mode):
        raise _error(path, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _error(path, "not a regular file")
    if info.st_size == 0:
        raise _error(path, "empty file (0 bytes)")


def _open_binary(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except PermissionError as error:
        raise _error(path, "permission denied") from error
    except OSError as error:
        raise _error(path, f"cannot open file: {_describe(error)}") from error


def _is_pdf(path: Path, stream: IO[bytes]) -> bool:
    """Tells from the first bytes whether a file is a PDF; rewinds the stream."""
    try:
        head = stream.read(_HEADER_BYTES)
        stream.seek(0)
    except OSError as error:
        raise _error(path, f"cannot read file: {_describe(error)}") from error
    return head.lstrip(b"\x00\t\n\f\r ").startswith(_PDF_MAGIC)


# --- raster images ----------------------------------------------------------------------


def _open_raster(path: Path, stream: IO[bytes], max_pixels: int) -> Image.Image:
    """Opens a raster image from its header, without decoding pixels."""
    try:
        with warnings.catch_warnings():
            # The size is compared with max_pixels below; Pillow's warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=_PILLOW_FORMATS)
    except Image.UnidentifiedImageError as error:
        raise _error(path, "not a supported image or PDF (content not recognised)") from error
    except Image.DecompressionBombError as error:
        raise _error(path, f"image too large: {error}") from error
    except _DECODE_ERRORS as error:
        raise _error(path, f"corrupt image header: {_describe(error)}") from error
    try:
        _check_size(path, image.size, max_pixels, frame=None)
    except ImageLoadError:
        image.close()
        raise
    logger.debug("opened %s as %s %s %s", path, image.format, image.mode, image.size)
    return image


def _check_size(
    path: Path, size: tuple[int, int], max_pixels: int, frame: int | None, what: str = "image"
) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _error(path, f"{what} has no pixels ({width}x{height})", frame)
    if width * height > max_pixels:
        raise _error(
            path,
            f"{what} too large: {width}x{height} = {width * height} pixels "
            f"exceeds the limit of {max_pixels} pixels",
            frame,
        )


def _seek_frames(path: Path, image: Image.Image, max_pixels: int) -> Iterator[int]:
    """Moves ``image`` to each of its pages in turn, checking each header's size.

    Yields:
        The index of the frame ``image`` is now on.
    """
    yield 0
    if image.format not in _MULTI_FRAME_FORMATS:
        return
    frame = 1
    while True:
        try:
            image.seek(frame)
        except EOFError:
            return
        except _DECODE_ERRORS as error:
            raise _error(path, f"corrupt frame header: {_describe(error)}", frame) from error
        _check_size(path, image.size, max_pixels, frame)
        yield frame
        frame += 1


def _iter_raster_pages(path: Path, stream: IO[bytes], max_pixels: int) -> Iterator[PageImage]:
    with _open_raster(path, stream, max_pixels) as image:
        for frame in _seek_frames(path, image, max_pixels):
            page = _decode_frame(path, image, frame)
            yield PageImage(source=path, frame=frame, image=page)


def _decode_frame(path: Path, image: Image.Image, frame: int) -> Image.Image:
    """Decodes the current frame fully and returns it as an independent RGB image."""
    try:
        image.load()
    except _DECODE_ERRORS as error:
        raise _error(path, f"truncated or corrupt image data: {_describe(error)}", frame) from error
    try:
        oriented = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS as error:
        logger.warning("%s (frame %d): EXIF orientation ignored: %s", path, frame, error)
        oriented = image.copy()
    try:
        return _to_rgb(oriented)
    except _DECODE_ERRORS as error:
        raise _error(
            path, f"cannot convert mode {image.mode!r}: {_describe(error)}", frame
        ) from error


def _to_rgb(image: Image.Image) -> Image.Image:
    """Returns an 8-bit RGB copy of ``image``: alpha over white, high depth scaled by range."""
    if image.mode in _HIGH_DEPTH_MODES or image.mode.startswith("I;16"):
        return _scale_to_8bit(image).convert("RGB")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "RGB":
        return image.copy()
    return image.convert("RGB")


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Maps a 16-bit, 32-bit or float grey image to ``"L"``, stretching its value range.

    The darkest value present becomes 0 and the brightest 255, so an image that uses only
    part of its bit depth keeps its contrast. A constant image keeps its level relative to
    the full range of its type. Non-finite floats become 0.
    """
    values = np.asarray(image)
    if values.ndim != 2:
        values = np.asarray(image.convert("I"))
    finite = values if values.dtype.kind in "iu" else values[np.isfinite(values)]
    if finite.size == 0:
        return Image.new("L", image.size, 0)
    low = float(finite.min())
    high = float(finite.max())
    if high <= low:
        full = 65535.0 if image.mode.startswith("I;16") else 255.0
        level = round(min(max(low / full * 255.0, 0.0), 255.0))
        return Image.new("L", image.size, level)
    scale = 255.0 / (high - low)
    out = np.empty(values.shape, dtype=np.uint8)
    rows = max(1, _SCALE_CHUNK_PIXELS // max(1, values.shape[1]))
    for start in range(0, values.shape[0], rows):
        chunk = values[start : start + rows].astype(np.float64)
        scaled = np.nan_to_num((chunk - low) * scale, nan=0.0, posinf=255.0, neginf=0.0)
        out[start : start + rows] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(out)


# --- PDF ----------------------------------------------------------------------------------


def _open_pdf(path: Path, stream: IO[bytes]) -> Any:
    """Opens a PDF (a ``pypdfium2.PdfDocument``, closed on error) with at least one page."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(stream)
    except pdfium.PdfiumError as error:
        raise _error(path, f"corrupt or encrypted PDF: {error}") from error
    except _DECODE_ERRORS as error:
        raise _error(path, f"cannot read PDF: {_describe(error)}") from error
    try:
        pages = len(pdf)
    except (pdfium.PdfiumError, *_DECODE_ERRORS) as error:
        pdf.close()
        raise _error(path, f"corrupt PDF: {_describe(error)}") from error
    if pages == 0:
        pdf.close()
        raise _error(path, "PDF has no pages")
    return pdf


def _iter_pdf_pages(
    path: Path, stream: IO[bytes], max_pixels: int, pdf_dpi: int | None
) -> Iterator[PageImage]:
    pdf = _open_pdf(path, stream)
    try:
        for index in range(len(pdf)):
            image, dpi = _render_pdf_page(path, pdf, index, max_pixels, pdf_dpi)
            yield PageImage(source=path, frame=index, image=image, pdf_dpi=dpi)
    finally:
        pdf.close()


def _render_pdf_page(
    path: Path,
    pdf: Any,
    index: int,
    max_pixels: int,
    pdf_dpi: int | None,
) -> tuple[Image.Image, int]:
    """Renders one PDF page after checking its pixel size; closes what it opens.

    Returns:
        The page and the resolution it was rendered at.
    """
    import pypdfium2 as pdfium

    errors = (pdfium.PdfiumError, *_DECODE_ERRORS)
    try:
        page = pdf[index]
    except errors as error:
        raise _error(path, f"corrupt PDF page: {_describe(error)}", index) from error
    try:
        page_width, page_height = page.get_size()
        dpi = pdf_dpi if pdf_dpi is not None else pdf_page_dpi(page, max_pixels)
        scale = dpi / 72.0  # PDF canvas units are 1/72 inch
        width = math.ceil(page_width * scale)
        height = math.ceil(page_height * scale)
        _check_size(path, (width, height), max_pixels, index, f"PDF page at {dpi} dpi")
        bitmap = page.render(scale=scale)
        try:
            rendered = bitmap.to_pil()
            image = rendered.convert("RGB") if rendered.mode != "RGB" else rendered.copy()
        finally:
            bitmap.close()
    except errors as error:
        raise _error(path, f"cannot render PDF page: {_describe(error)}", index) from error
    finally:
        page.close()
    logger.debug("%s (frame %d) rendered at %d dpi: %dx%d", path, index, dpi, *image.size)
    return image, dpi


def pdf_page_dpi(page: Any, max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The resolution at which a PDF page is rendered when none is asked for.

    The native resolution of the page's scan, its largest embedded image (by the area it
    covers, which must be at least `MIN_SCAN_COVER` of the page): its pixels over the
    inches it spans on the page, rounded, at most `DEFAULT_PDF_DPI`. A page without such an
    image gets `DEFAULT_PDF_DPI`. Either way the result is lowered to the highest resolution
    at which the page fits ``max_pixels`` (at least 1 dpi).

    Args:
        page: A ``pypdfium2.PdfPage``.
        max_pixels: Largest page accepted, in pixels.

    Returns:
        The resolution in dots per inch.
    """
    width, height = page.get_size()
    native = _scan_dpi(page, width, height)
    wanted = DEFAULT_PDF_DPI if native is None else max(1, min(DEFAULT_PDF_DPI, round(native)))
    fitting = _largest_fitting_dpi(width, height, max_pixels)
    if fitting < wanted:
        logger.info(
            "PDF page of %.0fx%.0f pt rendered at %d dpi, not %d: the largest that fits %d pixels",
            width,
            height,
            fitting,
            wanted,
            max_pixels,
        )
    return max(1, min(wanted, fitting))


def _scan_dpi(page: Any, width: float, height: float) -> float | None:
    """The native resolution of the largest image on a PDF page, if it is the page's scan."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    best_area = 0.0
    best_dpi: float | None = None
    try:
        images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=_PDF_FORM_DEPTH)
        for image in images:
            pixels_x, pixels_y = image.get_px_size()
            (x1, y1), (x2, y2), (x3, y3), _ = image.get_quad_points()
            span_x = math.hypot(x2 - x1, y2 - y1)  # along the image's own rows, in points
            span_y = math.hypot(x3 - x2, y3 - y2)  # along its columns
            if min(pixels_x, pixels_y) <= 0 or min(span_x, span_y) <= 0:
                continue
            area = span_x * span_y
            if area > best_area:
                best_area = area
                best_dpi = max(pixels_x / span_x, pixels_y / span_y) * 72.0
    except (pdfium.PdfiumError, *_DECODE_ERRORS) as error:
        logger.debug("cannot measure the images of a PDF page: %s", _describe(error))
        return None
    if best_dpi is None or best_area < MIN_SCAN_COVER * width * height:
        return None
    return best_dpi


def _largest_fitting_dpi(width: float, height: float, max_pixels: int) -> int:
    """The highest whole resolution at which a page of `width` x `height` points fits."""
    if width <= 0 or height <= 0:
        return DEFAULT_PDF_DPI
    dpi = math.floor(72.0 * math.sqrt(max_pixels / (width * height)))
    while dpi > 1 and math.ceil(width * dpi / 72) * math.ceil(height * dpi / 72) > max_pixels:
        dpi -= 1
    return max(1, dpi)
