"""Tests for htr.images: every format and mode to 8-bit RGB, and every bad input to one error."""

from __future__ import annotations

import os
import re
import struct
import sys
import unicodedata
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile, TiffImagePlugin

from htr import images
from htr.errors import ImageLoadError
from htr.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_SUFFIXES,
    PageImage,
    count_frames,
    is_supported,
    iter_page_images,
    load_page_images,
    to_grey,
)

WIDTH, HEIGHT = 37, 23  # odd and not square, so a swapped or rounded size shows


def _gradient(mode: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A horizontal grey ramp in `mode`, so conversions have real content to keep."""
    ramp = np.tile(np.linspace(0, 255, size[0], dtype=np.uint8), (size[1], 1))
    return Image.fromarray(ramp).convert(mode)


def _png_header(path: Path, width: int, height: int) -> Path:
    """Writes a 1-bit PNG whose header claims width x height but holds one row of data."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (1 + (width + 7) // 8))
    signature = b"\x89PNG\r\n\x1a\n"
    path.write_bytes(signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _load_one(path: Path, **kwargs: int) -> PageImage:
    pages = load_page_images(path, **kwargs)
    assert len(pages) == 1
    page = pages[0]
    assert page.source == path
    assert page.frame == 0
    assert page.image.mode == "RGB"
    return page


# --- formats and modes ----------------------------------------------------------------------

FORMAT_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("jpg", "L", {}),
    ("jpg", "RGB", {}),
    ("jpeg", "CMYK", {}),
    ("png", "1", {}),
    ("png", "L", {}),
    ("png", "RGB", {}),
    ("png", "RGBA", {}),
    ("png", "LA", {}),
    ("png", "P", {}),
    ("tif", "1", {}),
    ("tif", "1", {"compression": "group4"}),
    ("tif", "L", {}),
    ("tiff", "RGB", {"compression": "tiff_lzw"}),
    ("tif", "RGBA", {}),
    ("tif", "CMYK", {}),
    ("tif", "P", {}),
    ("bmp", "RGB", {}),
]
if ".webp" in SUPPORTED_SUFFIXES:
    FORMAT_CASES.append(("webp", "RGB", {"lossless": True}))
if ".jp2" in SUPPORTED_SUFFIXES:
    FORMAT_CASES.append(("jp2", "RGB", {}))


@pytest.mark.parametrize(("suffix", "mode", "options"), FORMAT_CASES)
def test_every_format_and_mode_loads_as_rgb(
    tmp_path: Path, suffix: str, mode: str, options: dict[str, Any]
) -> None:
    path = tmp_path / f"page-{mode}.{suffix}"
    _gradient(mode).save(path, **options)
    page = _load_one(path)
    assert page.image.size == (WIDTH, HEIGHT)
    grey = to_grey(page.image)
    assert grey[:, 0].mean() < 60  # dark on the left
    assert grey[:, -1].mean() > 190  # light on the right


def test_grey_levels_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "grey.png"
    Image.new("L", (WIDTH, HEIGHT), 100).save(path)
    page = _load_one(path)
    assert page.image.getpixel((3, 3)) == (100, 100, 100)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_over_white(tmp_path: Path, mode: str) -> None:
    rgba = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))  # transparent black
    rgba.paste((0, 0, 0, 255), (0, 0, 10, 10))  # opaque black square
    path = tmp_path / f"alpha-{mode}.png"
    (rgba if mode == "RGBA" else rgba.convert(mode)).save(path)
    image = _load_one(path).image
    assert image.getpixel((20, 20)) == (255, 255, 255)
    assert image.getpixel((5, 5)) == (0, 0, 0)


def test_palette_transparency_becomes_white(tmp_path: Path) -> None:
    image = Image.new("P", (WIDTH, HEIGHT), 1)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * (256 * 3 - 6))
    image.paste(0, (0, 0, 10, 10))
    path = tmp_path / "palette.png"
    image.save(path, transparency=1)
    loaded = _load_one(path).image
    assert loaded.getpixel((20, 20)) == (255, 255, 255)
    assert loaded.getpixel((5, 5)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("suffix", "dtype", "expected_mode"),
    [
        ("png", "<u2", "I;16"),
        ("tif", "<u2", "I;16"),
        ("tif", ">u2", "I;16B"),
        ("tif", "<i4", "I"),
        ("tif", "<f4", "F"),
    ],
)
def test_high_bit_depth_is_scaled_by_its_range(
    tmp_path: Path, suffix: str, dtype: str, expected_mode: str
) -> None:
    # Values 1000..3000: clipping to 8 bits would make all white, dividing by 256 near black.
    values = np.tile(np.linspace(1000, 3000, WIDTH), (HEIGHT, 1)).astype(dtype)
    source = Image.fromarray(values)
    assert source.mode == expected_mode
    path = tmp_path / f"deep-{expected_mode.replace(';', '')}.{suffix}"
    source.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == expected_mode
    grey = to_grey(_load_one(path).image)
    assert grey.shape == (HEIGHT, WIDTH)
    assert grey.min() == 0
    assert grey.max() == 255
    assert np.all(np.diff(grey[0].astype(int)) >= 0)  # order of levels kept


def test_constant_16_bit_image_keeps_its_level(tmp_path: Path) -> None:
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((HEIGHT, WIDTH), 65535, dtype=np.uint16)).save(path)
    assert to_grey(_load_one(path).image).min() == 255


def test_exif_orientation_6_rotates(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 8, 8))  # black mark top left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be turned 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    loaded = _load_one(path).image
    assert loaded.size == (20, 40)
    grey = to_grey(loaded)
    assert grey[:8, -8:].mean() < 40  # the mark is now top right
    assert grey[:8, :8].mean() > 200


def test_png_content_named_jpg_is_read_by_content(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    _gradient("L").save(path, format="PNG")
    assert _load_one(path).image.size == (WIDTH, HEIGHT)


def test_pdf_content_named_png_is_rendered_as_pdf(tmp_path: Path) -> None:
    path = tmp_path / "really-a-pdf.png"
    _gradient("RGB").save(path, format="PDF", resolution=72.0)
    page = _load_one(path, pdf_dpi=72)
    assert abs(page.image.width - WIDTH) <= 1
    assert count_frames(path) == 1


def test_single_frame_formats_count_one(tmp_path: Path) -> None:
    path = tmp_path / "single.jpg"
    _gradient("RGB").save(path)
    assert count_frames(path) == 1


# --- multi-page files -----------------------------------------------------------------------


def _frames(count: int) -> list[Image.Image]:
    return [_gradient("RGB", (WIDTH + 10 * i, HEIGHT + 5 * i)) for i in range(count)]


def test_multi_page_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    frames = _frames(3)
    frames[1] = frames[1].convert("L")  # frames may differ in mode
    path = tmp_path / "bundle.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = load_page_images(path)
    assert [p.frame for p in pages] == [0, 1, 2]
    assert [p.image.size for p in pages] == [f.size for f in frames]
    assert all(p.image.mode == "RGB" and p.source == path for p in pages)
    assert count_frames(path) == 3


def test_pdf_gives_one_page_per_pdf_page_at_the_given_dpi(tmp_path: Path) -> None:
    frames = _frames(3)
    path = tmp_path / "bundle.pdf"
    # At 100 dpi a frame of w pixels is w * 0.72 pt wide; rendered at 200 dpi, 2 w pixels.
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=100.0)
    pages = load_page_images(path, pdf_dpi=200)
    assert [p.frame for p in pages] == [0, 1, 2]
    for page, frame in zip(pages, frames, strict=True):
        assert page.image.mode == "RGB"
        assert abs(page.image.width - 2 * frame.width) <= 1
        assert abs(page.image.height - 2 * frame.height) <= 1
    assert count_frames(path) == 3


def test_iter_page_images_is_lazy_and_closable(tmp_path: Path) -> None:
    path = tmp_path / "bundle.pdf"
    frames = _frames(2)
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = iter_page_images(path)
    assert next(pages).frame == 0
    pages.close()  # closes the PDF document and the file


def test_corrupt_tiff_frame_yields_earlier_frames_then_fails(tmp_path: Path) -> None:
    frames = _frames(3)
    good = tmp_path / "good.tif"
    frames[0].save(good, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    with Image.open(good) as tiff:
        assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
        tiff.seek(2)
        offset, length = tiff.tag_v2[273][0], tiff.tag_v2[279][0]  # strip of frame 2
    data = bytearray(good.read_bytes())
    data[offset : offset + length] = b"\xff" * length
    path = tmp_path / "damaged scan.tif"
    path.write_bytes(bytes(data))
    seen = []
    with pytest.raises(ImageLoadError, match=re.escape(f"{path.name} (frame 2)")) as caught:
        for page in iter_page_images(path):
            seen.append(page.frame)
    assert seen == [0, 1]
    assert caught.value.__cause__ is not None


# --- file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "scan with spaces 01.png",
        "UPPER.JPEG",
        "Mixed.Tif",
        unicodedata.normalize("NFC", "página señor café.png"),
        unicodedata.normalize("NFD", "página señor café.png"),
    ],
)
def test_odd_file_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    fmt = {".png": "PNG", ".jpeg": "JPEG", ".tif": "TIFF"}[path.suffix.lower()]
    _gradient("RGB").save(path, format=fmt)
    assert _load_one(path).image.size == (WIDTH, HEIGHT)
    assert _load_one(Path(str(path))).source.name == name


def test_nfc_and_nfd_names_are_distinct_files(tmp_path: Path) -> None:
    nfc = tmp_path / unicodedata.normalize("NFC", "ñandú.png")
    nfd = tmp_path / unicodedata.normalize("NFD", "ñandú.png")
    Image.new("L", (5, 5), 10).save(nfc)
    Image.new("L", (7, 7), 10).save(nfd)
    if len(list(tmp_path.iterdir())) != 2:
        pytest.skip("this file system normalises Unicode file names")
    assert _load_one(nfc).image.size == (5, 5)
    assert _load_one(nfd).image.size == (7, 7)


def test_is_supported_by_suffix_case_insensitively() -> None:
    for name in ["a.jpg", "a.JPEG", "a.Tif", "a.TIFF", "a.png", "a.PDF"]:
        assert is_supported(Path(name)), name
    for name in ["a.gif", "a.txt", "a", ".png", "a.png.bak"]:
        assert not is_supported(Path(name)), name
    assert all(s == s.lower() and s.startswith(".") for s in SUPPORTED_SUFFIXES)


# --- bad input ------------------------------------------------------------------------------


def _assert_load_error(path: Path, reason: str, **kwargs: int) -> ImageLoadError:
    with pytest.raises(ImageLoadError, match=re.escape(path.name)) as caught:
        load_page_images(path, **kwargs)
    assert re.search(reason, str(caught.value)), str(caught.value)
    return caught.value


def test_missing_file(tmp_path: Path) -> None:
    _assert_load_error(tmp_path / "missing.png", "no such file")
    with pytest.raises(ImageLoadError, match=re.escape("missing.tif")):
        count_frames(tmp_path / "missing.tif")


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "folder.png"
    path.mkdir()
    _assert_load_error(path, "directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    _assert_load_error(path, "not a regular file")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files without permission"
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    Image.new("L", (5, 5)).save(path)
    path.chmod(0)
    try:
        _assert_load_error(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_permission_error_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.tif"
    Image.new("L", (5, 5)).save(path)
    real_open = Path.open

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    error = _assert_load_error(path, "permission denied")
    assert isinstance(error.__cause__, PermissionError)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    _assert_load_error(path, "empty")


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    whole = tmp_path / f"whole.{suffix}"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(whole)
    path = tmp_path / f"cut short.{suffix}"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    error = _assert_load_error(path, "truncated")
    assert error.__cause__ is not None
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image at all\n", encoding="utf-8")
    _assert_load_error(path, "not recognised")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "animation.gif"
    Image.new("P", (5, 5)).save(path)
    _assert_load_error(path, "unsupported file type")


def test_unsupported_content_behind_supported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "gif inside.png"
    Image.new("P", (5, 5)).save(path, format="GIF")
    _assert_load_error(path, "not recognised")


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is no PDF body\n")
    error = _assert_load_error(path, "PDF")
    assert error.__cause__ is not None
    with pytest.raises(ImageLoadError, match=re.escape(path.name)):
        count_frames(path)


def test_truncated_pdf(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pdf"
    _gradient("RGB").save(whole)
    path = tmp_path / "half.pdf"
    path.write_bytes(whole.read_bytes()[:200])
    _assert_load_error(path, "PDF")


def test_pdf_page_over_pixel_limit_is_refused_before_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big page.pdf"
    _gradient("RGB", (100, 100)).save(path, resolution=72.0)  # 100 x 100 pt

    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered a page over the limit")

    import pypdfium2

    monkeypatch.setattr(pypdfium2.PdfPage, "render", no_render)
    error = _assert_load_error(path, "too large", pdf_dpi=720, max_pixels=999_999)
    assert "(frame 0)" in str(error)
    assert "1000x1000" in str(error)


def test_image_over_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("L", (WIDTH, HEIGHT)).save(path)
    _assert_load_error(path, "too large", max_pixels=WIDTH * HEIGHT - 1)
    assert _load_one(path, max_pixels=WIDTH * HEIGHT).image.size == (WIDTH, HEIGHT)
    with pytest.raises(ImageLoadError, match="too large"):
        count_frames(path, max_pixels=100)


def test_tiff_frame_over_pixel_limit_names_the_frame(tmp_path: Path) -> None:
    path = tmp_path / "growing.tif"
    frames = _frames(2)
    frames[0].save(path, save_all=True, append_images=frames[1:])
    limit = frames[0].width * frames[0].height
    seen = []
    with pytest.raises(ImageLoadError, match=re.escape(f"{path.name} (frame 1)")):
        for page in iter_page_images(path, max_pixels=limit):
            seen.append(page.frame)
    assert seen == [0]


@pytest.mark.parametrize(
    ("width", "height", "max_pixels"),
    [
        (30_000, 30_000, DEFAULT_MAX_PIXELS),  # over Pillow's own bomb limit too
        (12_000, 12_000, 100_000_000),  # only over ours; Pillow just warns
    ],
)
def test_pixel_limit_is_checked_from_the_header_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, height: int, max_pixels: int
) -> None:
    path = _png_header(tmp_path / "bomb.png", width, height)
    assert path.stat().st_size < 1000

    def no_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("decoded an image over the limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    limit_before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning escapes
        error = _assert_load_error(path, "too large", max_pixels=max_pixels)
        with pytest.raises(ImageLoadError, match="too large"):
            count_frames(path, max_pixels=max_pixels)
    assert str(width * height) in str(error)
    assert limit_before == Image.MAX_IMAGE_PIXELS


def test_invalid_limits_are_programming_errors(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    Image.new("L", (5, 5)).save(path)
    with pytest.raises(ValueError, match="max_pixels"):
        load_page_images(path, max_pixels=0)
    with pytest.raises(ValueError, match="pdf_dpi"):
        load_page_images(path, pdf_dpi=0)


def test_str_paths_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (5, 4)).save(path)
    pages = images.load_page_images(str(path))
    assert pages[0].source == path
    assert count_frames(str(path)) == 1


# --- to_grey --------------------------------------------------------------------------------


def test_to_grey_gives_uint8_height_by_width() -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 5, 5))
    grey = to_grey(image)
    assert grey.dtype == np.uint8
    assert grey.shape == (HEIGHT, WIDTH)
    assert grey.flags.c_contiguous and grey.flags.writeable
    assert grey[0, 0] == 0 and grey[-1, -1] == 255


@pytest.mark.parametrize("mode", ["L", "1", "RGBA", "LA", "PA", "P", "CMYK", "I;16", "I", "F"])
def test_to_grey_accepts_any_mode(mode: str) -> None:
    grey = to_grey(_gradient("L").convert(mode) if mode != "I;16" else _gradient("I;16"))
    assert grey.dtype == np.uint8
    assert grey.shape == (HEIGHT, WIDTH)
    assert grey[:, 0].mean() < 60 and grey[:, -1].mean() > 190
