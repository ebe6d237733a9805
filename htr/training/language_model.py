"""A checkpoint's character language model, counted from its training transcriptions.

`legajo train` writes one next to the weights it publishes (from the lines it trained on),
and `legajo lm` writes one for any checkpoint from ground-truth folders. Either way the
validation folders' lines are left out, so that the figures measured on them stay fair.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from htr.char_lm import DEFAULT_ORDER, DEFAULT_WEIGHT, CharLanguageModel
from htr.layout.files import find_layout_file, read_layout_file
from htr.training.data import page_images

logger = logging.getLogger(__name__)


def ground_truth_texts(
    folders: Iterable[Path],
    excluded: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """The transcriptions of the ground-truth lines under `folders`, in NFD.

    Reads only the PAGE/ALTO files (not the images). Lines without text are skipped.

    Args:
        folders: Folders of page images with their PAGE/ALTO files.
        excluded: Folders whose pages are left out (e.g. the validation manuscripts).
        progress: Called with (pages done, pages in all) after each page.

    Returns:
        One text per line.
    """
    left_out = [Path(folder).resolve() for folder in excluded]
    pages = [
        image
        for folder in folders
        for image in page_images(Path(folder))
        if not any(image.resolve().is_relative_to(root) for root in left_out)
    ]
    texts = []
    for done, image in enumerate(pages, start=1):
        layout_path = find_layout_file(image)
        if layout_path is not None:
            for line in read_layout_file(layout_path).lines:
                text = unicodedata.normalize("NFD", line.text or "").strip()
                if text:
                    texts.append(text)
        if progress is not None:
            progress(done, len(pages))
    return texts


def build_language_model(
    texts: Sequence[str],
    model: Any,
    tokenizer: Any,
    *,
    order: int = DEFAULT_ORDER,
    weight: float = DEFAULT_WEIGHT,
) -> CharLanguageModel:
    """Counts the n-grams of `texts` in the tokens of a checkpoint.

    Args:
        texts: Line transcriptions.
        model: The checkpoint's `VisionEncoderDecoderModel` (its decoder's vocabulary size).
        tokenizer: Its tokenizer.
        order: The n of the n-grams.
        weight: The fusion weight to store with the model.

    Returns:
        The language model (not yet saved).

    Raises:
        LanguageModelError: No texts, or an order below 1.
    """
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    language_model = CharLanguageModel.train(
        ids,
        int(model.config.decoder.vocab_size),
        int(tokenizer.bos_token_id),
        int(tokenizer.eos_token_id),
        order=order,
        weight=weight,
    )
    logger.info("character language model: %s, %d lines", language_model.describe(), len(ids))
    return language_model
