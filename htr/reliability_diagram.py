"""The reliability diagram of an evaluation's word confidences, drawn as a PNG with Pillow.

`save_reliability_diagram` draws one panel for the raw confidences of an
`htr.evaluation_report.EvaluationReport` and, when it was measured with a calibration, one for
the calibrated confidences (``legajo eval --plot``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from htr.evaluation_report import EvaluationError, EvaluationReport
from htr.metrics import ReliabilityBin

_PANEL = 440
_MARGIN = 56
_BAR = (70, 110, 190)
_GAP = (220, 80, 60)
_INK = (30, 30, 30)
_GRID = (215, 215, 215)


def save_reliability_diagram(report: EvaluationReport, path: Path) -> Path:
    """Draws the reliability diagram of a report's word confidences as a PNG.

    One panel for the raw confidences and, when the report was measured with a calibration,
    a second one for the calibrated confidences. Each bar is one confidence bin: its height
    is the share of the bin's words that are right, its number the word count; the red
    outline reaches the bin's mean confidence, so a red gap above a bar is overconfidence.
    A calibrated model has its bars on the diagonal.

    Args:
        report: An evaluation report.
        path: The PNG to write.

    Returns:
        `path`.

    Raises:
        EvaluationError: The file cannot be written.
    """
    from PIL import Image, ImageDraw

    panels = [("raw word confidence", report.confidence.reliability, report.confidence.ece)]
    confidence = report.confidence
    if confidence.calibration is not None and confidence.calibrated_ece is not None:
        panels.append(
            (
                f"calibrated ({confidence.calibration.describe()})",
                confidence.calibrated_reliability,
                confidence.calibrated_ece,
            )
        )
    image = Image.new("RGB", (_PANEL * len(panels), _PANEL + 50), "white")
    draw = ImageDraw.Draw(image)
    for k, (title, table, ece) in enumerate(panels):
        _draw_panel(draw, k * _PANEL, title, table, ece, confidence.words)
    try:
        image.save(path, format="PNG")
    except (OSError, ValueError) as error:
        raise EvaluationError(f"{path}: cannot write the reliability diagram: {error}") from error
    return path


def _draw_panel(
    draw: Any,
    left: int,
    title: str,
    table: Sequence[ReliabilityBin],
    ece: float,
    words: int,
) -> None:
    font = _font(12)
    small = _font(10)
    size = _PANEL - _MARGIN - 20
    x0, y0 = left + _MARGIN, 64
    y1 = y0 + size

    def x_at(value: float) -> float:
        return x0 + value * size

    def y_at(value: float) -> float:
        return y1 - value * size

    draw.text((left + 10, 6), title, fill=_INK, font=font)
    draw.text((left + 10, 24), f"ECE {ece:.3f} over {words} words", fill=_INK, font=font)
    for tick in range(6):
        value = tick / 5
        draw.line([(x_at(value), y0), (x_at(value), y1)], fill=_GRID)
        draw.line([(x0, y_at(value)), (x0 + size, y_at(value))], fill=_GRID)
        draw.text((x_at(value) - 8, y1 + 4), f"{value:.1f}", fill=_INK, font=small)
        draw.text((x0 - 28, y_at(value) - 6), f"{value:.1f}", fill=_INK, font=small)
    for b in table:
        if not b.count:
            continue
        left_x, right_x = x_at(b.lower) + 1, x_at(b.upper) - 1
        draw.rectangle([left_x, y_at(b.accuracy), right_x, y1], fill=_BAR)
        top, bottom = sorted((y_at(b.accuracy), y_at(b.mean_confidence)))
        draw.rectangle([left_x, top, right_x, bottom], outline=_GAP, width=2)
        label = str(b.count)
        draw.text(((left_x + right_x) / 2 - 3 * len(label), top - 13), label, fill=_INK, font=small)
    draw.line([(x0, y1), (x0 + size, y0)], fill=_INK, width=1)
    draw.rectangle([x0, y0, x0 + size, y1], outline=_INK)
    draw.text((x0 + size / 2 - 40, y1 + 18), "confidence", fill=_INK, font=font)
    draw.text((left + 10, y0 - 22), "accuracy", fill=_INK, font=font)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
