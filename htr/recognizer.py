"""The `Recognizer` protocol: line images in, one reading per line out, in the same order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from htr.document import ProcessingStep
from htr.reading import DEVICES, EMPTY_READING, Device, LineReading, RecognizerSettings

__all__ = [
    "DEVICES",
    "EMPTY_READING",
    "Device",
    "LineReading",
    "Recognizer",
    "RecognizerSettings",
    "load_recognizer",
]

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image


class Recognizer(Protocol):
    """Reads text line images."""

    @property
    def model_id(self) -> str:
        """Name or path the model was loaded from."""
        ...

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        """Reads each line image.

        Args:
            images: Line images (any size, RGB).

        Returns:
            Exactly one reading per image, in input order; a line that fails gets
            `EMPTY_READING` and a logged warning.
        """
        ...

    def processing_step(self) -> ProcessingStep:
        """Returns the provenance record of this recognizer (model, revision, settings)."""
        ...


def load_recognizer(
    name_or_path: str | Path, settings: RecognizerSettings | None = None
) -> Recognizer:
    """Loads a TrOCR (VisionEncoderDecoder) checkpoint by local path or Hugging Face hub name.

    Args:
        name_or_path: A checkpoint directory, or a hub name such as
            ``microsoft/trocr-base-handwritten`` (needs a network or the local hub cache).
        settings: Decoding and device settings.

    Returns:
        A ready recognizer.

    Raises:
        ModelLoadError: If the model or its processor cannot be loaded.
    """
    from htr.trocr import TrOCRRecognizer

    return TrOCRRecognizer.load(name_or_path, settings or RecognizerSettings())
