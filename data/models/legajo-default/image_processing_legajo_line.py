# Generated from htr/line_processor.py by htr.remote_code (`make model-code`); do not edit here.
"""Line image processor of legajo's line models: fixed height, kept aspect, padded width.

A line image becomes greyscale, is scaled to `height` pixels keeping its aspect ratio (a long
line is never squashed, only lines wider than `max_width` after scaling are narrowed to it),
and its contrast is stretched so that ink is near black and paper white, whatever the
manuscript. A batch is padded on the right with paper to the widest line, rounded up to a
multiple of `width_multiple`. Training (`htr.training.data`) and inference use the same two
functions, `line_array` and `pad_lines`.

Only numpy, Pillow and OpenCV at import; torch is imported when tensors are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature
from transformers.processing_utils import ImagesKwargs

DEFAULT_HEIGHT = 48
DEFAULT_MAX_WIDTH = 2048
DEFAULT_WIDTH_MULTIPLE = 16
MIN_WIDTH = 16
INK_PERCENTILE = 1.0
PAPER_PERCENTILE = 90.0


def line_array(
    image: Image.Image | npt.NDArray[np.uint8],
    height: int = DEFAULT_HEIGHT,
    max_width: int = DEFAULT_MAX_WIDTH,
) -> npt.NDArray[np.uint8]:
    """Scales one line image to `height` keeping its aspect, greyscale, contrast stretched.

    Args:
        image: The line crop: a PIL image in any mode, or a uint8 array (grey or RGB).
        height: Output height in pixels.
        max_width: Widest output; wider lines are narrowed to it.

    Returns:
        A (height, width) uint8 array, ink dark on white paper.
    """
    grey: npt.NDArray[np.uint8]
    if isinstance(image, Image.Image):
        grey = np.asarray(image.convert("L"), dtype=np.uint8)
    elif image.ndim == 2:
        grey = image
    else:
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    h, w = grey.shape[:2]
    if h < 1 or w < 1:
        return np.full((height, MIN_WIDTH), 255, dtype=np.uint8)
    width = round(w * height / h)
    width = min(max(width, MIN_WIDTH), max_width)
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    scaled = cv2.resize(grey, (width, height), interpolation=interpolation).astype(np.float32)
    ink, paper = np.percentile(scaled, (INK_PERCENTILE, PAPER_PERCENTILE))
    span = max(float(paper - ink), 16.0)
    stretched = (scaled - float(ink)) * (255.0 / span)
    return np.clip(stretched, 0, 255).astype(np.uint8)


def pad_lines(
    arrays: Sequence[npt.NDArray[np.uint8]], width_multiple: int = DEFAULT_WIDTH_MULTIPLE
) -> npt.NDArray[np.float32]:
    """Stacks line arrays of one height into a (batch, 1, height, width) float batch in [-1, 1].

    Args:
        arrays: Outputs of `line_array` (same height).
        width_multiple: The batch width is rounded up to a multiple of this.

    Returns:
        The batch, padded on the right with white paper (1.0).
    """
    height = arrays[0].shape[0]
    widest = max(a.shape[1] for a in arrays)
    width = -(-widest // width_multiple) * width_multiple
    batch = np.full((len(arrays), 1, height, width), 255, dtype=np.uint8)
    for i, array in enumerate(arrays):
        batch[i, 0, :, : array.shape[1]] = array
    return batch.astype(np.float32) / 127.5 - 1.0


class LineImageKwargs(ImagesKwargs, total=False):
    """The settings of `LineImageProcessor`."""

    height: int
    max_width: int
    width_multiple: int


class LineImageProcessor(BaseImageProcessor):
    """Turns line images into the (batch, 1, height, width) `pixel_values` of a line model."""

    model_input_names = ["pixel_values"]  # noqa: RUF012 (transformers' class attribute)
    valid_kwargs = LineImageKwargs

    def __init__(
        self,
        height: int = DEFAULT_HEIGHT,
        max_width: int = DEFAULT_MAX_WIDTH,
        width_multiple: int = DEFAULT_WIDTH_MULTIPLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.height = height
        self.max_width = max_width
        self.width_multiple = width_multiple

    def preprocess(  # type: ignore[override]
        self,
        images: Any,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Processes one image or a list of images (PIL images or uint8 arrays)."""
        if isinstance(images, (Image.Image, np.ndarray)):
            images = [images]
        arrays = [line_array(image, self.height, self.max_width) for image in images]
        pixels = pad_lines(arrays, self.width_multiple)
        return BatchFeature({"pixel_values": pixels}, tensor_type=return_tensors)

    def to_dict(self) -> dict[str, Any]:
        """Only this processor's own settings (and its type) go into the saved config."""
        return {
            "image_processor_type": type(self).__name__,
            "height": self.height,
            "max_width": self.max_width,
            "width_multiple": self.width_multiple,
        }
