"""Validation during and after training: the CER of a model on held-out lines.

`validate_recognizer` reads the lines with a recognizer's default decoding, as at inference;
`validate` does the same for a model being trained (greedy by default) and also measures its
CTC head. Both report `htr.metrics.corpus_cer` on NFC text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from htr.metrics import corpus_cer
from htr.training.config import MAIN_ZONE, ValidationResult

if TYPE_CHECKING:
    from htr.training.data import LineSample


def validate_recognizer(recognizer: Any, lines: Sequence[LineSample]) -> ValidationResult:
    """CER of a recognizer's default decoding on validation lines (all, and main zone).

    Args:
        recognizer: Anything with `recognize(images) -> readings` (see `htr.recognizer`).
        lines: Validation lines (their arrays are re-read as images, as at inference).

    Returns:
        The CERs on NFC text.
    """
    from PIL import Image

    readings = recognizer.recognize([Image.fromarray(s.image).convert("RGB") for s in lines])
    predictions = [r.text for r in readings]
    references = [s.text for s in lines]
    main = [i for i, s in enumerate(lines) if s.zone == MAIN_ZONE]
    return ValidationResult(
        cer=corpus_cer(references, predictions),
        cer_main=corpus_cer([references[i] for i in main], [predictions[i] for i in main])
        if main
        else None,
        lines=len(lines),
    )


def validate(
    model: Any, processor: Any, lines: Sequence[LineSample], beams: int = 1
) -> ValidationResult:
    """CER of an in-memory model through the recognizer's decoding (greedy by default).

    Also reports the CER of the CTC head's greedy reading when the model has one. The model
    is read in eval mode and put back in training mode if it was in it.

    Args:
        model: A VisionEncoderDecoder model, on its device.
        processor: Its processor.
        lines: Validation lines.
        beams: Beam width of the decoder's reading (1: greedy).

    Returns:
        The CERs on NFC text, with `ValidationResult.ctc_cer` when there is a CTC head.
    """
    import torch

    from htr.line_model import has_ctc_head
    from htr.recognizer import RecognizerSettings
    from htr.trocr import TrOCRRecognizer, ctc_greedy_texts

    was_training = model.training
    model.eval()
    settings = RecognizerSettings(beams=beams, n_best=beams)
    device = next(model.parameters()).device
    recognizer = TrOCRRecognizer(model, processor, "in-training", None, settings, device)
    result = validate_recognizer(recognizer, lines)
    ctc_cer = None
    if has_ctc_head(model):
        from htr.line_processor import pad_lines

        texts: list[str] = []
        ordered = sorted(range(len(lines)), key=lambda i: lines[i].image.shape[1])
        by_index: dict[int, str] = {}
        with torch.inference_mode():
            for start in range(0, len(ordered), 16):
                chunk = ordered[start : start + 16]
                pixels = torch.from_numpy(pad_lines([lines[i].image for i in chunk]))
                encoded = model.encoder(pixel_values=pixels.to(device))
                for i, text in zip(chunk, ctc_greedy_texts(encoded, model, processor), strict=True):
                    by_index[i] = text
        texts = [by_index[i] for i in range(len(lines))]
        ctc_cer = corpus_cer([s.text for s in lines], texts)
    if was_training:
        model.train()
    return replace(result, ctc_cer=ctc_cer)
