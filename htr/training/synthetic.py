"""Synthetic handwritten-looking text lines with known word boxes.

Lines are drawn with handwriting fonts through Pillow, then slanted, blurred, shaded and
noised, with bits of the neighbouring lines cut at the top and bottom like a real line crop.
Each word's true box is the ink of that word alone, carried through the same slant. Used by
the word-box tests and benchmark, and meant to be reusable for training data later.

Only numpy, Pillow and OpenCV are imported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htr.types import BBox

logger = logging.getLogger(__name__)

HANDWRITING_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",  # fonts-dkg-handwriting
    "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf",  # fonts-dkg-handwriting
    "/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf",  # fonts-dancingscript
    "/usr/share/fonts/truetype/breip/Breip.ttf",  # fonts-breip
    "/usr/share/fonts/opentype/joscelyn/Joscelyn-Regular.otf",  # fonts-joscelyn
    "/usr/share/fonts/truetype/femkeklaver/femkeklaver.ttf",  # fonts-femkeklaver
    "/usr/share/fonts/truetype/rufscript/Rufscript010.ttf",  # fonts-rufscript
)
"""Handwriting fonts from Debian packages (named in the comments), used when installed."""

FALLBACK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf",  # fonts-dejavu-extra
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core
)
"""Fonts used when no handwriting font is installed."""

_TEXT = """
en el nonbre de dios amen sepan quantos esta carta vieren como yo juan de la fuente
vezino de la villa de madrid otorgo e conozco por esta presente carta que vendo a vos
pedro martinez escriuano publico del numero desta dicha villa vna casa con su corral que
es en la collacion de san miguel que ha por linderos de la vna parte casas de alonso
gomez e de la otra la calle publica la qual vos vendo con todas sus entradas e salidas
vsos e costumbres derechos e seruidunbres por precio e quantia de quinientos marauedis
de la moneda vsual los quales otorgo que recibi de vos en dineros contados e renuncio la
exencion de la pecunia non vista ni contada e las leyes del derecho e me obligo con mi
persona e bienes muebles e rayzes auidos e por auer de vos fazer sana esta dicha venta
fecha la carta en la dicha villa a doze dias del mes de henero anno del nascimiento de
nuestro senor ihesu christo de mill e quinientos e treynta annos testigos que fueron
presentes diego de herrera e francisco lopez e yo el dicho escriuano doy fee que conozco
al otorgante el qual lo firmo de su nonbre in dei nomine amen noverint universi
presentes litteras inspecturi quod ego dominus episcopus ecclesie civitatis regni
castelle dedit concessit confirmavit ad perpetuam rei memoriam datum anno domini
millesimo quingentesimo tricesimo sancta maria virgo gloriosa testes rogati et vocati
notarius publicus apostolica auctoritate scripsi signavi requisitus fidem facio hoy
dicho dia mes e anno parescio presente ante mi el dicho alcalde ordinario e dixo que por
quanto el senor corregidor mando pregonar que ninguna persona sea osada de sacar trigo
ni cevada fuera desta cibdad so pena de dos mill maravedis para la camara de su magestad
e que lo cunpliesen so la dicha pena e lo firmaron de sus nonbres Juan Pedro Alonso
Diego Francisco Maria Sevilla Toledo Burgos Valladolid Granada
"""

WORDS: tuple[str, ...] = tuple(_TEXT.split())
"""A few hundred early-modern Spanish and Latin notarial words (with repeats), in order."""


@dataclass(frozen=True, slots=True)
class SyntheticLine:
    """One rendered line crop and the truth about it.

    Attributes:
        image: The line crop, uint8 greyscale, dark ink on a light background.
        words: The words drawn, left to right.
        boxes: Each word's true box (its ink), in crop coordinates, x1 and y1 exclusive.
        font: The file name of the font used.
    """

    image: np.ndarray
    words: tuple[str, ...]
    boxes: tuple[BBox, ...]
    font: str


def available_fonts() -> list[Path]:
    """Returns the installed handwriting fonts, or the DejaVu fallback if there are none."""
    fonts = [Path(p) for p in HANDWRITING_FONTS if Path(p).is_file()]
    if not fonts:
        logger.warning("no handwriting font installed, falling back to DejaVu")
        fonts = [Path(p) for p in FALLBACK_FONTS if Path(p).is_file()][:1]
    return fonts


def random_words(rng: np.random.Generator, count: int) -> list[str]:
    """Returns `count` consecutive words of `WORDS`, from a random start."""
    start = int(rng.integers(0, len(WORDS)))
    return [WORDS[(start + i) % len(WORDS)] for i in range(count)]


def _word_mask(font: ImageFont.FreeTypeFont, word: str) -> tuple[np.ndarray, int, int]:
    """Draws one word alone; returns its coverage and its offset from the pen (left, baseline)."""
    left, top, right, bottom = (int(v) for v in font.getbbox(word, anchor="ls"))
    pad = 2
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), word, font=font, fill=255, anchor="ls")
    return np.asarray(image, dtype=np.uint8), left - pad, top - pad


def _draw_words(
    canvas: np.ndarray,
    font: ImageFont.FreeTypeFont,
    words: Sequence[str],
    x: float,
    baseline: int,
    spacing: float,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Draws words onto `canvas` (coverage, max-composited); returns each word's ink points."""
    space = font.getlength(" ")
    points: list[np.ndarray] = []
    for word in words:
        mask, dx, dy = _word_mask(font, word)
        x0, y0 = round(x) + dx, baseline + dy + int(rng.integers(-1, 2))
        h, w = mask.shape
        cy0, cx0 = max(y0, 0), max(x0, 0)
        cy1, cx1 = min(y0 + h, canvas.shape[0]), min(x0 + w, canvas.shape[1])
        if cy1 > cy0 and cx1 > cx0:
            part = mask[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            np.maximum(canvas[cy0:cy1, cx0:cx1], part, out=canvas[cy0:cy1, cx0:cx1])
        ys, xs = np.nonzero(mask > 96)
        points.append(np.stack([xs + x0, ys + y0], axis=1).astype(np.float64))
        x += font.getlength(word) + space * spacing * float(rng.uniform(0.7, 1.3))
    return points


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Paper: a base tone, a linear shading and a few soft stains."""
    base = float(rng.uniform(175, 240))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-40, 40, size=2) / np.float32(max(w, h))
    paper = base + gx * (xx - w / 2) + gy * (yy - h / 2)
    blobs = rng.normal(0, 1, size=(max(2, h // 16), max(2, w // 16))).astype(np.float32)
    smooth: np.ndarray = cv2.resize(blobs, (w, h), interpolation=cv2.INTER_CUBIC)
    paper += smooth * float(rng.uniform(0, 12))
    return paper


def render_line(
    rng: np.random.Generator,
    font_path: Path | str,
    words: Sequence[str] | None = None,
    *,
    size: int | None = None,
    spacing: float | None = None,
    slant: float | None = None,
    neighbours: bool | None = None,
) -> SyntheticLine:
    """Renders one degraded line crop with known word boxes.

    Args:
        rng: Source of every random choice (same seed, same line).
        font_path: The TTF/OTF font to write with.
        words: The words to write; 3 to 11 random words of `WORDS` when None.
        size: Font size in pixels; random in [22, 44] when None.
        spacing: Word spacing as a multiple of the font's space width; random in
            [0.35, 1.8] (tight to loose) when None.
        slant: Horizontal shear (x shift per pixel of height, positive leans right);
            random in [-0.1, 0.4] when None.
        neighbours: Whether to draw the lines above and below so that their descenders and
            ascenders enter the crop; random (70 %) when None.

    Returns:
        The line crop and each word's true box.
    """
    if words is None:
        words = random_words(rng, int(rng.integers(3, 12)))
    words = list(words)
    size = int(rng.integers(22, 45)) if size is None else size
    spacing = float(rng.uniform(0.35, 1.8)) if spacing is None else spacing
    slant = float(rng.uniform(-0.1, 0.4)) if slant is None else slant
    neighbours = bool(rng.random() < 0.7) if neighbours is None else neighbours
    font = ImageFont.truetype(str(font_path), size)

    width = int(sum(font.getlength(w) for w in words) * 1.1 + size * (len(words) * 2 + 4))
    height = 6 * size
    baseline = 3 * size
    canvas = np.zeros((height, width), dtype=np.uint8)
    margin_x = size
    points = _draw_words(canvas, font, words, margin_x, baseline, spacing, rng)
    if neighbours:
        # Line pitch a little under the line's own ink height: the neighbours' descenders and
        # ascenders reach into the crop, their bodies do not.
        ink_rows = np.concatenate([p[:, 1] for p in points if len(p)] or [np.zeros(1)])
        pitch = int((ink_rows.max() - ink_rows.min() + 1) * rng.uniform(0.75, 1.0))
        for b in (baseline - pitch, baseline + pitch):
            others = random_words(rng, len(words) + 3)
            start = margin_x - float(rng.uniform(0, size * 2))
            _draw_words(canvas, font, others, start, b, float(rng.uniform(0.5, 1.5)), rng)

    # Slant: x' = x + slant * (baseline - y), applied to the drawing and to each word's ink.
    shear = np.array([[1.0, -slant, slant * baseline], [0.0, 1.0, 0.0]], dtype=np.float64)
    slanted: np.ndarray = cv2.warpAffine(canvas, shear, (width, height), flags=cv2.INTER_LINEAR)
    boxes: list[tuple[float, float, float, float]] = []
    for pts in points:
        if len(pts) == 0:
            boxes.append((0.0, 0.0, 0.0, 0.0))
            continue
        xs = pts[:, 0] + slant * (baseline - pts[:, 1])
        ys = pts[:, 1]
        boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))

    # Crop around the line's own ink, with random margins.
    inked = [b for b, pts in zip(boxes, points, strict=True) if len(pts)] or [(0, 0, 1, 1)]
    lx0 = min(b[0] for b in inked)
    lx1 = max(b[2] for b in inked)
    ly0 = min(b[1] for b in inked)
    ly1 = max(b[3] for b in inked)
    cx0 = max(0, int(lx0 - rng.integers(2, size)))
    cx1 = min(width, int(lx1 + rng.integers(2, size)))
    cy0 = max(0, int(ly0 - rng.integers(0, max(2, size // 4))))
    cy1 = min(height, int(ly1 + rng.integers(0, max(2, size // 4))))
    coverage: np.ndarray = slanted[cy0:cy1, cx0:cx1].astype(np.float32) / 255.0
    h, w = coverage.shape

    ksize = float(rng.uniform(0.0, 1.2))
    if ksize > 0.3:
        coverage = cv2.GaussianBlur(coverage, (0, 0), ksize)
    paper = _background(rng, h, w)
    ink = float(rng.uniform(15, 100))
    strength = float(rng.uniform(0.7, 1.0))
    image = paper * (1 - strength * coverage) + ink * strength * coverage
    image += rng.normal(0, float(rng.uniform(0, 12)), size=image.shape).astype(np.float32)
    specks = rng.random(size=image.shape) < float(rng.uniform(0, 0.002))
    image[specks] = ink
    line = np.clip(image, 0, 255).astype(np.uint8)

    crop_boxes = tuple(
        (
            int(np.clip(np.floor(x0 - cx0), 0, w)),
            int(np.clip(np.floor(y0 - cy0), 0, h)),
            int(np.clip(np.ceil(x1 - cx0), 0, w)),
            int(np.clip(np.ceil(y1 - cy0), 0, h)),
        )
        for x0, y0, x1, y1 in boxes
    )
    return SyntheticLine(line, tuple(words), crop_boxes, Path(font_path).name)


def iou(a: BBox, b: BBox) -> float:
    """Returns the intersection over union of two boxes (0 when both are empty)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
