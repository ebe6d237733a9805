"""TrOCR backend: any Hugging Face VisionEncoderDecoder checkpoint, batched, with n-best readings.

Lines are sorted by width and read in batches under `torch.inference_mode`; beam search returns
the `n_best` finished hypotheses of each line, whose summed token log-probabilities are turned
into probabilities normalised over that list. Token log-probabilities of the best reading come
from `compute_transition_scores` and become word confidences in `htr.confidence`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr import SOFTWARE
from htr.confidence import (
    WordReading,
    line_confidence,
    normalised_probabilities,
    word_confidences,
)
from htr.document import Alternative, ProcessingStep
from htr.errors import ModelLoadError
from htr.recognizer import EMPTY_READING, LineReading, RecognizerSettings

if TYPE_CHECKING:
    import torch
    from PIL import Image

logger = logging.getLogger(__name__)

CPU_BATCH_SIZE = 16
CUDA_BATCH_SIZE = 64
MIN_LINE_SIDE = 2
"""Images thinner than this (in pixels) hold no readable line and are not sent to the model."""


class TrOCRRecognizer:
    """Reads line images with a VisionEncoderDecoder model and its processor."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        model_id: str,
        revision: str | None,
        settings: RecognizerSettings,
        device: torch.device,
    ) -> None:
        """Wraps a loaded model; use `TrOCRRecognizer.load` to load one by name or path."""
        self._model = model
        self._processor = processor
        self._model_id = model_id
        self._revision = revision
        self._settings = settings
        self._device = device
        default_batch = CUDA_BATCH_SIZE if device.type == "cuda" else CPU_BATCH_SIZE
        self._batch_size = settings.batch_size or default_batch

    @classmethod
    def load(cls, name_or_path: str | Path, settings: RecognizerSettings) -> TrOCRRecognizer:
        """Loads a checkpoint by local path or hub name.

        Args:
            name_or_path: A checkpoint directory or a Hugging Face hub name.
            settings: Decoding and device settings.

        Returns:
            The recognizer, on the requested device.

        Raises:
            ModelLoadError: If the checkpoint, its processor or the device is unavailable.
        """
        import torch

        device = _resolve_device(settings.device)
        model_id = str(name_or_path)
        local = Path(name_or_path).expanduser()
        if local.exists():
            if not (local / "config.json").is_file():
                raise ModelLoadError(f"{local}: not a model directory (no config.json)")
            source, local_only = str(local), True
        elif _looks_like_path(model_id):
            raise ModelLoadError(f"{model_id}: no such model directory")
        else:
            source, local_only = model_id, False
        model, processor = _load_model_and_processor(source, local_only)
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            model = model.to(device=device, dtype=dtype)
        else:
            _use_all_cores()
            model = model.to(device)
        model.eval()
        revision = getattr(model.config, "_commit_hash", None)
        if revision is None and local.exists():
            revision = _weights_digest(local)
        logger.info("loaded %s (revision %s) on %s", model_id, revision, device)
        return cls(model, processor, model_id, revision, settings, device)

    @property
    def model_id(self) -> str:
        """Name or path the model was loaded from."""
        return self._model_id

    @property
    def revision(self) -> str | None:
        """Hub commit hash, or a digest of the local weights."""
        return self._revision

    def processing_step(self) -> ProcessingStep:
        """Returns the provenance record of this recognizer."""
        s = self._settings
        return ProcessingStep(
            kind="recognition",
            software=SOFTWARE,
            model_id=self._model_id,
            model_revision=self._revision,
            settings={
                "beams": s.beams,
                "n_best": min(s.n_best, s.beams),
                "batch_size": self._batch_size,
                "device": self._device.type,
                "max_new_tokens": s.max_new_tokens,
            },
        )

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        """Reads each line image; see `htr.recognizer.Recognizer.recognize`."""
        import torch

        readings: list[LineReading] = [EMPTY_READING] * len(images)
        usable = [i for i, im in enumerate(images) if min(im.width, im.height) >= MIN_LINE_SIDE]
        usable.sort(key=lambda i: images[i].width)
        with torch.inference_mode():
            for start in range(0, len(usable), self._batch_size):
                batch = usable[start : start + self._batch_size]
                for index, reading in zip(batch, self._read_safely(images, batch), strict=True):
                    readings[index] = reading
        return readings

    def _read_safely(self, images: Sequence[Image.Image], batch: list[int]) -> list[LineReading]:
        """Reads a batch; if it fails, reads its lines one by one: a bad line costs only itself."""
        try:
            return self._read_batch([images[i] for i in batch])
        except (RuntimeError, ValueError, IndexError, TypeError) as error:
            if len(batch) == 1:
                logger.warning("line %d could not be recognised: %s", batch[0], error)
                return [EMPTY_READING]
            logger.warning(
                "batch of %d lines failed (%s); reading them one by one", len(batch), error
            )
            return [reading for i in batch for reading in self._read_safely(images, [i])]

    def _read_batch(self, images: list[Image.Image]) -> list[LineReading]:
        model = self._model
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        pixels = self._processor(images=rgb, return_tensors="pt").pixel_values
        pixels = pixels.to(device=self._device, dtype=model.dtype)
        beams = self._settings.beams
        n_return = min(self._settings.n_best, beams)
        options: dict[str, Any] = {
            "num_beams": beams,
            "num_return_sequences": n_return,
            "do_sample": False,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        if self._settings.max_new_tokens is not None:
            options["max_new_tokens"] = self._settings.max_new_tokens
        output = model.generate(pixels, **options)
        # Beam search stores log-softmaxed scores; greedy search stores raw logits.
        scores = model.compute_transition_scores(
            output.sequences,
            output.scores,
            output.beam_indices if beams > 1 else None,
            normalize_logits=beams == 1,
        )
        sequences = output.sequences[:, 1:].tolist()
        logprobs = scores.float().tolist()
        return [
            self._reading(
                sequences[j * n_return : (j + 1) * n_return],
                logprobs[j * n_return : (j + 1) * n_return],
            )
            for j in range(len(images))
        ]

    def _reading(self, sequences: list[list[int]], logprobs: list[list[float]]) -> LineReading:
        """Builds one line's reading from its returned hypotheses."""
        tokenizer = self._processor.tokenizer
        hypotheses = []
        for ids, scores in zip(sequences, logprobs, strict=True):
            ids, scores = _until_end(ids, scores, tokenizer.eos_token_id)
            text = tokenizer.decode(ids, skip_special_tokens=True).strip()
            hypotheses.append((text, sum(scores), ids, scores))
        probs = normalised_probabilities([h[1] for h in hypotheses])
        by_text: dict[str, float] = {}
        for (text, *_), prob in zip(hypotheses, probs, strict=True):
            by_text[text] = by_text.get(text, 0.0) + prob
        alternatives = tuple(
            Alternative(text, prob)
            for text, prob in sorted(by_text.items(), key=lambda item: -item[1])
        )
        best_text = alternatives[0].text
        _, _, ids, scores = max((h for h in hypotheses if h[0] == best_text), key=lambda h: h[1])
        words = _words(tokenizer, ids, scores)
        return LineReading(best_text, line_confidence(words), tuple(words), alternatives)


def _words(tokenizer: Any, ids: list[int], scores: list[float]) -> list[WordReading]:
    """Maps tokens to the characters they produced, then to words with confidences."""
    spans: list[tuple[int, int]] = []
    previous = ""
    for i in range(len(ids)):
        current = tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
        shared = _common_prefix_length(previous, current)
        spans.append((shared, len(current)))
        previous = current
    lead = len(previous) - len(previous.lstrip())
    text = previous.strip()
    shifted = [(max(0, a - lead), max(0, b - lead)) for a, b in spans]
    return word_confidences(text, shifted, scores)


def _common_prefix_length(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _until_end(
    ids: list[int], scores: list[float], eos_id: int | None
) -> tuple[list[int], list[float]]:
    """Cuts a hypothesis after its end token; the end token's score stays in the sum."""
    if eos_id is not None and eos_id in ids:
        end = ids.index(eos_id) + 1
        return ids[:end], scores[:end]
    return ids, scores


def _resolve_device(requested: str) -> torch.device:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for, but no CUDA device is available")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def _use_all_cores() -> None:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cores and torch.get_num_threads() < cores:
        torch.set_num_threads(cores)


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``owner/name``; anything else is meant as a local path."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def _load_model_and_processor(source: str, local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    where = "directory" if local_only else "hub name"
    try:
        model = VisionEncoderDecoderModel.from_pretrained(source, local_files_only=local_only)
        processor = AutoProcessor.from_pretrained(source, local_files_only=local_only)
    except Exception as error:  # transformers raises many types; all mean "cannot load"
        hint = "" if local_only else " (no network? hub names need one, or a local copy)"
        raise ModelLoadError(f"cannot load model {where} {source!r}{hint}: {error}") from error
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise ModelLoadError(
            f"{source!r} has no image processor and tokenizer (a TrOCR processor is needed)"
        )
    return model, processor


def _weights_digest(directory: Path) -> str:
    """Returns a short SHA-256 over the checkpoint's config and weight files."""
    digest = hashlib.sha256()
    names = sorted(
        p
        for p in directory.iterdir()
        if p.suffix in {".safetensors", ".bin"} or p.name == "config.json"
    )
    for path in names:
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
