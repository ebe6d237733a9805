"""Training lines: cut from PAGE/ALTO ground-truth folders, or rendered synthetically.

Ground-truth lines are cut from their page with `htr.line_images.crop_line` (the polygon, as
at inference) and turned into fixed-height greyscale arrays with
`htr.line_processor.line_array`, the function the line image processor uses. Decoding a
7,000-px JPEG takes a second, so each page's lines are cached as one compressed ``.npz`` file,
keyed by the image, the XML file (paths, sizes and modification times) and the line height.

Splits are by manuscript folder (the folder a page image lies in), never by line.

Lines from elsewhere than PAGE/ALTO folders (corrections stored in the database, read by
`indexer.transfer.training_lines`) come in as a `LineSet` from a `LineSetReader`; they are cut with
`line_samples`, the same function the folder lines go through, and name the folder of their
page image as their source, so that they split with the folder lines.

Synthetic lines come from `htr.training.synthetic.render_line`: real transcriptions' words
(those the font can draw) and the built-in notarial words, in handwriting fonts, degraded.

Only numpy, Pillow and OpenCV are imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFont

from htr.document import Line
from htr.images import is_supported, load_page_images
from htr.layout.files import find_layout_file, read_layout_file
from htr.line_images import crop_line
from htr.line_processor import DEFAULT_HEIGHT, DEFAULT_MAX_WIDTH, line_array
from htr.training.synthetic import WORDS, available_fonts, render_line

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
SYNTHETIC_SOURCE = "synthetic"


@dataclass(frozen=True, slots=True)
class LineSample:
    """One training or validation line.

    Attributes:
        image: The line as `line_array` makes it: (height, width) uint8, ink dark.
        text: The transcription, Unicode NFD.
        source: The manuscript folder the line comes from (``"synthetic"`` for rendered lines).
        zone: The zone type of the line's region, when known.
    """

    image: npt.NDArray[np.uint8]
    text: str
    source: str
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class LineSet:
    """Ground-truth lines from a source other than PAGE/ALTO folders (e.g. the database).

    Attributes:
        lines: The lines (cut with `line_samples`); each one's `source` is the folder of its
            page image, so that the split keeps a manuscript on one side.
        description: What the lines are and where they come from, for the model card, e.g.
            ``"12 corrected lines from database sqlite:///legajo.db, collection actas"``.
    """

    lines: tuple[LineSample, ...]
    description: str


LineSetReader: TypeAlias = Callable[[int], LineSet]
"""Reads a `LineSet` at the given line height (known once the model to train is loaded)."""


def page_images(folder: Path) -> list[Path]:
    """Returns the page images under `folder` (recursively) that have a PAGE/ALTO file."""
    images = sorted(p for p in folder.rglob("*") if p.is_file() and is_supported(p))
    return [p for p in images if find_layout_file(p) is not None]


def gt_lines(
    folders: Iterable[Path],
    cache_dir: Path | None,
    *,
    height: int = DEFAULT_HEIGHT,
    max_width: int = DEFAULT_MAX_WIDTH,
    progress: Callable[[int, int], None] | None = None,
) -> list[LineSample]:
    """Reads every non-empty ground-truth line of the pages under `folders`.

    Args:
        folders: Folders of page images with PAGE XML or ALTO files next to them.
        cache_dir: Where per-page line caches live; None disables the cache.
        height: Line height (the model's input height).
        max_width: Widest line (see `line_array`).
        progress: Called with (pages done, pages in all) after each page.

    Returns:
        The lines, page by page in reading order; text in NFD.
    """
    pages = [p for folder in folders for p in page_images(Path(folder))]
    samples: list[LineSample] = []
    for done, image_path in enumerate(pages, start=1):
        samples.extend(_page_lines(image_path, cache_dir, height, max_width))
        if progress is not None:
            progress(done, len(pages))
    logger.info("%d ground-truth lines from %d pages", len(samples), len(pages))
    return samples


def _page_lines(
    image_path: Path, cache_dir: Path | None, height: int, max_width: int
) -> list[LineSample]:
    layout_path = find_layout_file(image_path)
    if layout_path is None:
        return []
    source = str(image_path.parent.resolve())
    cache = None
    if cache_dir is not None:
        key = hashlib.sha1(
            json.dumps(
                [
                    CACHE_VERSION,
                    height,
                    max_width,
                    *(str(p.resolve()) for p in (image_path, layout_path)),
                    *((p.stat().st_size, p.stat().st_mtime_ns) for p in (image_path, layout_path)),
                ]
            ).encode()
        ).hexdigest()[:20]
        cache = cache_dir / f"{key}.npz"
        if cache.is_file():
            return _read_cache(cache, source)
    layout = read_layout_file(layout_path)
    page = load_page_images(image_path)[0].image
    samples = line_samples(page, layout.lines, source, height=height, max_width=max_width)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(
            cache,
            [s.image for s in samples],
            [s.text for s in samples],
            [s.zone or "" for s in samples],
            height,
        )
    return samples


def line_samples(
    page: Image.Image,
    lines: Iterable[Line],
    source: str,
    *,
    height: int = DEFAULT_HEIGHT,
    max_width: int = DEFAULT_MAX_WIDTH,
) -> list[LineSample]:
    """Cuts the transcribed lines of a page into training lines.

    Args:
        page: The page image, RGB.
        lines: Its lines, polygons in the image's pixels, `Line.text` the transcription.
        source: The manuscript folder to name as the lines' source.
        height: Line height (the model's input height).
        max_width: Widest line (see `line_array`).

    Returns:
        One sample per line with text (NFD, stripped) whose cut is at least 2 px each way,
        in the order given.
    """
    samples: list[LineSample] = []
    for line in lines:
        text = unicodedata.normalize("NFD", line.text).strip()
        if not text:
            continue
        crop = crop_line(page, line)
        if min(crop.size) < 2:
            continue
        image = line_array(crop, height, max_width)
        samples.append(LineSample(image, text, source, line.zone or None))
    return samples


def _write_cache(
    path: Path,
    arrays: Sequence[npt.NDArray[np.uint8]],
    texts: Sequence[str],
    zones: Sequence[str],
    height: int,
) -> None:
    pixels = np.concatenate(arrays, axis=1) if arrays else np.zeros((height, 0), dtype=np.uint8)
    temporary = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        temporary,
        pixels=pixels,
        widths=np.array([a.shape[1] for a in arrays], dtype=np.int64),
        texts=np.array(json.dumps(list(texts))),
        zones=np.array(json.dumps(list(zones))),
    )
    temporary.replace(path)


def _read_cache(path: Path, source: str) -> list[LineSample]:
    with np.load(path) as data:
        pixels = data["pixels"]
        widths = data["widths"].tolist()
        texts = json.loads(str(data["texts"]))
        zones = json.loads(str(data["zones"]))
    edges = np.cumsum([0, *widths])
    return [
        LineSample(np.ascontiguousarray(pixels[:, a:b]), t, source, z or None)
        for a, b, t, z in zip(edges[:-1], edges[1:], texts, zones, strict=True)
    ]


def split_by_manuscript(
    samples: Sequence[LineSample],
    val_folders: Sequence[Path],
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> tuple[list[LineSample], list[LineSample]]:
    """Splits lines into training and validation by manuscript folder, never by line.

    Args:
        samples: Ground-truth lines.
        val_folders: Lines under any of these folders are validation lines. When empty, a
            random `val_fraction` of the manuscript folders (at least one, when there are two
            or more) is held out instead.
        val_fraction: Share of folders held out when `val_folders` is empty.
        seed: Seed of that random choice.

    Returns:
        (training lines, validation lines).
    """
    sources = sorted({s.source for s in samples})
    if val_folders:
        roots = [Path(f).resolve() for f in val_folders]
        held = {s for s in sources if any(Path(s).is_relative_to(root) for root in roots)}
    elif len(sources) > 1:
        rng = np.random.default_rng(seed)
        count = max(1, round(val_fraction * len(sources)))
        held = {str(s) for s in rng.choice(sources, size=count, replace=False)}
    else:
        held = set()
    train = [s for s in samples if s.source not in held]
    val = [s for s in samples if s.source in held]
    return train, val


def _font_alphabet(font_path: Path, chars: Iterable[str]) -> set[str]:
    """The characters of `chars` that the font draws (not as its missing-glyph box)."""
    font = ImageFont.truetype(str(font_path), 32)

    def ink(text: str) -> bytes:
        mask = font.getmask(text)
        return bytes(mask) + repr(mask.size).encode()

    missing = ink("\U0010fffd")
    known = set()
    for char in chars:
        if unicodedata.category(char).startswith("M"):
            drawn = ink("o" + char) != ink("o")
        else:
            drawn = not char.isspace() and ink(char) != missing and any(ink(char))
        if drawn:
            known.add(char)
    return known


def synthetic_lines(
    count: int,
    texts: Sequence[str],
    *,
    seed: int = 0,
    height: int = DEFAULT_HEIGHT,
    max_width: int = DEFAULT_MAX_WIDTH,
    cache_dir: Path | None = None,
) -> list[LineSample]:
    """Renders `count` synthetic lines with the installed handwriting fonts.

    Each line takes 2 to 10 consecutive words from a random transcription of `texts` (or,
    one time in four or when `texts` is empty, from `htr.training.synthetic.WORDS`), keeping
    only words the chosen font can draw.

    Args:
        count: Number of lines.
        texts: Real transcriptions to borrow words from (NFD or NFC).
        seed: Seed of every random choice.
        height: Line height.
        max_width: Widest line.
        cache_dir: Where to cache the rendered lines; None disables the cache.

    Returns:
        The lines, text in NFD, source ``"synthetic"``.
    """
    if count <= 0:
        return []
    nfc_texts = [unicodedata.normalize("NFC", t) for t in texts if t.strip()]
    cache = None
    if cache_dir is not None:
        key = hashlib.sha1(
            json.dumps(
                [CACHE_VERSION, "synthetic", count, seed, height, max_width, nfc_texts]
            ).encode()
        ).hexdigest()[:20]
        cache = cache_dir / f"synthetic-{key}.npz"
        if cache.is_file():
            return _read_cache(cache, SYNTHETIC_SOURCE)
    rng = np.random.default_rng(seed)
    fonts = available_fonts()
    chars = {c for t in nfc_texts for c in t} | {c for w in WORDS for c in w}
    alphabets = {font: _font_alphabet(font, chars) for font in fonts}
    samples: list[LineSample] = []
    while len(samples) < count:
        font = fonts[int(rng.integers(len(fonts)))]
        alphabet = alphabets[font]
        if nfc_texts and rng.random() < 0.75:
            words = nfc_texts[int(rng.integers(len(nfc_texts)))].split()
            start = int(rng.integers(len(words)))
            words = words[start : start + int(rng.integers(2, 11))]
        else:
            words = list(WORDS[int(rng.integers(len(WORDS))) :][: int(rng.integers(2, 11))])
        words = [w for w in words if all(c in alphabet for c in w)]
        if not words:
            continue
        line = render_line(rng, font, words)
        image = line_array(line.image, height, max_width)
        text = unicodedata.normalize("NFD", " ".join(words))
        samples.append(LineSample(image, text, SYNTHETIC_SOURCE))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(
            cache, [s.image for s in samples], [s.text for s in samples], [""] * count, height
        )
    return samples


def augment(image: npt.NDArray[np.uint8], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Randomly degrades one line array: width scale, slant, stroke width, blur, contrast, noise.

    Args:
        image: A `line_array` output.
        rng: Source of the random choices.

    Returns:
        An array of the same height (the width may change by up to 25 %).
    """
    h, w = image.shape
    out: Any = image
    if rng.random() < 0.5:
        new_w = max(16, int(w * rng.uniform(0.8, 1.25)))
        out = cv2.resize(out, (new_w, h), interpolation=cv2.INTER_LINEAR)
        w = new_w
    if rng.random() < 0.5:
        slant = float(rng.uniform(-0.25, 0.25))
        dy = float(rng.uniform(-2, 2))
        scale = float(rng.uniform(0.9, 1.05))
        matrix = np.array(
            [[1.0, slant, -slant * h / 2], [0.0, scale, dy + (1 - scale) * h / 2]],
            dtype=np.float64,
        )
        out = cv2.warpAffine(out, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255,))
    roll = rng.random()
    if roll < 0.15:
        out = cv2.erode(out, np.ones((2, 2), np.uint8))  # thicker ink
    elif roll < 0.3:
        out = cv2.dilate(out, np.ones((2, 2), np.uint8))  # thinner ink
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        low, high = float(rng.uniform(0, 70)), float(rng.uniform(190, 255))
        noisy = low + out.astype(np.float32) * ((high - low) / 255.0)
        noisy += rng.normal(0, float(rng.uniform(0, 10)), size=noisy.shape).astype(np.float32)
        out = np.clip(noisy, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out, dtype=np.uint8)
