"""TrOCR backend: any Hugging Face VisionEncoderDecoder checkpoint, batched, with n-best readings.

Lines of similar length are read in batches under `torch.inference_mode`; beam search returns
the `n_best` finished hypotheses of each line, ranked by its length-normalised score. The best
reading is the one beam search ranks first (what `generate` returns), and the readings'
probabilities, normalised over that list, keep that order (`htr.confidence.beam_log_weights`).
Token log-probabilities of the best reading (from `compute_transition_scores`, or as
`htr.beam_search` keeps them) become word confidences in `htr.confidence`.

Models whose encoder has a CTC head (legajo's line models, `htr.line_model`) are decoded
jointly: the encoder runs once per line, on that line alone, and lines are batched for the
decoder with their padding masked (`htr.line_batches`), so a line reads the same in any batch
and as in transformers' own one-line loop; the CTC head's greedy reading bounds the number of
new tokens (each line's own bound; lines are batched by that length),
and every decoding step scores the decoder's candidates with ``CTC_WEIGHT`` times their CTC
prefix score plus the rest times their decoder log-probability (`CTCPrefixScorer`), so token
scores, n-best probabilities and word confidences are joint scores. Such a batch is decoded by
`htr.beam_search` (TrOCR decoders): the beam search of `generate`, step for step, in which
each line leaves the batch when its search is over and stops at its own token bound, so the
batch's late steps run on the few lines still going. Other checkpoints decode with `generate`
(plain beam search without a CTC head; greedy search with one beam).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from htr import SOFTWARE
from htr.calibration import Calibration, load_calibration
from htr.char_lm import LM_FILE, CharLanguageModel, load_language_model
from htr.confidence import (
    WordReading,
    beam_log_weights,
    line_confidence,
    normalised_probabilities,
    word_confidences,
)
from htr.document import Alternative, ProcessingStep
from htr.errors import ModelLoadError
from htr.reading import EMPTY_READING, LineReading, RecognizerSettings
from htr.runtime import apply_torch_threads, no_progress_bars

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from htr.line_batches import EncodedLine, LineCrossAttention
    from htr.line_groups import PrefixScorer
    from htr.line_model import CTCPrefixScorer

logger = logging.getLogger(__name__)

CTC_WEIGHT = 0.5
"""Weight of the CTC log-likelihood in joint rescoring (the decoder's gets the rest)."""
CTC_PREFIX_SCORING = True
"""With a CTC head, score every decoding step jointly (`htr.line_model.CTCPrefixScorer`);
when False, only the finished n-best are rescored with their CTC likelihood."""
CTC_LENGTH_FACTOR, CTC_LENGTH_MARGIN = 1.25, 8
"""With a CTC head, at most ``factor * CTC greedy length + margin`` new tokens are generated."""
CPU_BATCH_SIZE = 64
"""Lines per batch on CPU: with lines decoded in groups of similar length (`htr.line_groups`),
64 reads about 3 % more lines per second than 32 on the bench's synthetic lines and the
validation pages (one thread); a line reads the same in any batch."""
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
        calibration: Calibration | None = None,
        language_model: CharLanguageModel | None = None,
    ) -> None:
        """Wraps a loaded model; use `TrOCRRecognizer.load` to load one by name or path.

        `language_model` is fused into beam search with `settings.lm_weight`, or else with
        its own weight.
        """
        self._model = model
        self._processor = processor
        self._model_id = model_id
        self._revision = revision
        self._settings = settings
        self._device = device
        self._calibration = calibration
        weight = settings.lm_weight
        if language_model is not None and weight is None:
            weight = language_model.weight
        self._language_model = language_model if weight else None
        self._lm_weight = weight or 0.0
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
            ModelLoadError: If the checkpoint, its processor or the device is unavailable. A
                hub name fails at once, without retries, when it is not in the local cache
                and the hub is out of reach (offline mode, ``HF_HUB_OFFLINE=1``, or no
                network; see `_hub_cache_only`).
        """
        model_id = str(name_or_path)
        local = Path(name_or_path).expanduser()
        if local.exists():
            if not (local / "config.json").is_file():
                raise ModelLoadError(f"{local}: not a model directory (no config.json)")
            source, local_only = str(local), True
        elif _looks_like_path(model_id):
            raise ModelLoadError(f"{model_id}: no such model directory")
        else:
            source, local_only = model_id, _hub_cache_only(model_id)

        import torch

        device = _resolve_device(settings.device)
        model, processor = _load_model_and_processor(source, local_only)
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            model = model.to(device=device, dtype=dtype)
        else:
            apply_torch_threads()
            model = model.to(device)
        model.eval()
        revision = getattr(model.config, "_commit_hash", None)
        if revision is None and local.exists():
            revision = _weights_digest(local)
        calibration = load_calibration(local) if local.exists() and settings.calibrated else None
        language_model = None
        if local.exists() and settings.lm_weight != 0:
            language_model = load_language_model(local, int(model.config.decoder.vocab_size))
            if language_model is not None and not (_has_ctc_head(model) and settings.beams > 1):
                # Only the joint CTC/attention beam search (`htr.beam_search`) fuses one.
                logger.info("%s: language model not used (greedy, or no CTC head)", model_id)
                language_model = None
        logger.info("loaded %s (revision %s) on %s", model_id, revision, device)
        return cls(
            model, processor, model_id, revision, settings, device, calibration, language_model
        )

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
                "calibration": self._calibration.describe() if self._calibration else None,
                "language_model": (
                    self._language_model.describe(self._lm_weight) if self._language_model else None
                ),
            },
        )

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        """Reads each line image; see `htr.recognizer.Recognizer.recognize`.

        With a CTC head every line is encoded first, on its own, and lines are batched for
        the decoder by the length of their CTC greedy reading (about the number of decoding
        steps they need); otherwise by aspect ratio (lines scaled to one height are as long
        as it). Either way lines of similar length share a batch.
        """
        import torch

        readings: list[LineReading] = [EMPTY_READING] * len(images)
        usable = [i for i, im in enumerate(images) if min(im.width, im.height) >= MIN_LINE_SIDE]
        read: Callable[[list[int]], list[LineReading]]
        with torch.inference_mode():
            if _has_ctc_head(self._model):
                encoded = self._encode_safely(images, usable)
                usable = sorted(encoded, key=lambda i: (encoded[i].ctc_length, encoded[i].steps))

                def read(batch: list[int]) -> list[LineReading]:
                    return self._read_encoded([encoded[i] for i in batch])
            else:
                usable.sort(key=lambda i: images[i].width / images[i].height)

                def read(batch: list[int]) -> list[LineReading]:
                    return self._read_batch([images[i] for i in batch])

            for start in range(0, len(usable), self._batch_size):
                batch = usable[start : start + self._batch_size]
                for index, reading in zip(batch, self._read_safely(read, batch), strict=True):
                    readings[index] = reading
        return readings

    def _encode_safely(
        self, images: Sequence[Image.Image], indices: list[int]
    ) -> dict[int, EncodedLine]:
        """Encodes each line on its own; a line that fails is logged and left out."""
        from htr.line_batches import encode_lines

        encoded = {}
        blank = _ctc_blank(self._model)
        for i in indices:
            image = images[i] if images[i].mode == "RGB" else images[i].convert("RGB")
            try:
                (encoded[i],) = encode_lines(
                    self._model, self._processor, [image], self._device, blank
                )
            except (RuntimeError, ValueError, IndexError, TypeError) as error:
                logger.warning("line %d could not be recognised: %s", i, error)
        return encoded

    def _read_safely(
        self, read: Callable[[list[int]], list[LineReading]], batch: list[int]
    ) -> list[LineReading]:
        """Reads a batch; if it fails, reads its lines one by one: a bad line costs only itself."""
        try:
            return read(batch)
        except (RuntimeError, ValueError, IndexError, TypeError) as error:
            if len(batch) == 1:
                logger.warning("line %d could not be recognised: %s", batch[0], error)
                return [EMPTY_READING]
            logger.warning(
                "batch of %d lines failed (%s); reading them one by one", len(batch), error
            )
            return [reading for i in batch for reading in self._read_safely(read, [i])]

    def _generate_options(self) -> dict[str, Any]:
        beams = self._settings.beams
        options: dict[str, Any] = {
            "num_beams": beams,
            "num_return_sequences": min(self._settings.n_best, beams),
            "do_sample": False,
            "output_scores": True,
            "return_dict_in_generate": True,
        }
        if self._settings.max_new_tokens is not None:
            options["max_new_tokens"] = self._settings.max_new_tokens
        return options

    def _read_batch(self, images: list[Image.Image]) -> list[LineReading]:
        """Reads a batch of line images (any model)."""
        from htr.line_batches import encode_lines, new_generation_cache

        model = self._model
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        if _has_ctc_head(model):
            blank = _ctc_blank(model)
            return self._read_encoded(
                encode_lines(model, self._processor, rgb, self._device, blank)
            )
        options = self._generate_options()
        if options["num_beams"] > 1:
            options["cache"] = new_generation_cache(model)
        pixels = self._processor(images=rgb, return_tensors="pt").pixel_values
        pixels = pixels.to(device=self._device, dtype=model.dtype)
        return self._readings(model.generate(pixels, **options), len(images), None)

    def _read_encoded(self, lines: list[EncodedLine]) -> list[LineReading]:
        """Joint CTC/attention decoding of encoded lines (see the module docstring).

        The decoder attends only to each line's own steps (`htr.line_batches`), so a line
        reads the same in any batch. The lines are decoded in order of length, in groups of
        similar length (`htr.line_groups`); the readings come back in the given order.
        """
        order = sorted(range(len(lines)), key=lambda i: lines[i].steps)
        readings = self._read_sorted([lines[i] for i in order])
        in_order = [EMPTY_READING] * len(lines)
        for i, reading in zip(order, readings, strict=True):
            in_order[i] = reading
        return in_order

    def _read_sorted(self, lines: list[EncodedLine]) -> list[LineReading]:
        """`_read_encoded` of lines sorted by their encoder steps."""
        from transformers.modeling_outputs import BaseModelOutput

        from htr.beam_search import applies_to
        from htr.line_batches import (
            masked_cross_attention,
            new_generation_cache,
            shared_cross_attention,
            stack_encoded,
        )
        from htr.line_groups import GroupedPrefixScorer, length_groups

        model = self._model
        options = self._generate_options()
        batch = stack_encoded(lines, _ctc_blank(model))
        groups = length_groups([line.steps for line in lines], options["num_beams"])
        if batch.ctc_log_probs is None:
            raise ValueError("joint decoding needs the CTC head's log-probabilities")
        bound = math.ceil(CTC_LENGTH_FACTOR * max(line.ctc_length for line in lines))
        bound += CTC_LENGTH_MARGIN
        # `max_length` counts the start token; setting it (not `max_new_tokens`) avoids
        # transformers' warning about the generation config's own `max_length`.
        options["max_length"] = 1 + min(bound, options.pop("max_new_tokens", bound))
        searchable = options["num_beams"] > 1 and CTC_PREFIX_SCORING and applies_to(model)
        tokenizer = self._processor.tokenizer
        encoded = BaseModelOutput(last_hidden_state=batch.hidden)
        with shared_cross_attention(model, batch.hidden, batch.mask, groups) as shared:
            if shared is not None and searchable:
                scorer = GroupedPrefixScorer.over_own_frames(
                    lambda log_probs: _new_scorer(
                        model, tokenizer, log_probs, options["num_beams"]
                    ),
                    batch.ctc_log_probs,
                    [line.steps for line in lines],
                    groups,
                )
                return self._search_encoded(lines, shared, scorer, options)
            if CTC_PREFIX_SCORING:
                options["logits_processor"] = _ctc_prefix_scorer(
                    model, tokenizer, batch.ctc_log_probs, options["num_beams"]
                )
            if shared is not None:
                options["cache"] = new_generation_cache(model)
                output = model.generate(encoder_outputs=encoded, **options)
            else:
                with masked_cross_attention(model, batch.mask):
                    output = model.generate(encoder_outputs=encoded, **options)
        return self._readings(output, len(lines), batch.ctc_log_probs)

    def _search_encoded(
        self,
        lines: list[EncodedLine],
        shared: LineCrossAttention,
        scorer: PrefixScorer,
        options: dict[str, Any],
    ) -> list[LineReading]:
        """Joint beam search with `htr.beam_search`: each line leaves the batch when done.

        Each line gets its own token bound (`generate` gives a batch its longest line's).
        """
        from htr.beam_search import beam_search

        limit = options["max_length"] - 1
        bounds = [
            1 + min(math.ceil(CTC_LENGTH_FACTOR * line.ctc_length) + CTC_LENGTH_MARGIN, limit)
            for line in lines
        ]
        found = beam_search(
            self._model,
            shared,
            scorer,
            bounds,
            options["num_beams"],
            options["num_return_sequences"],
            self._language_model,
            self._lm_weight,
        )
        return [
            self._reading(
                [h.ids for h in hypotheses],
                [h.token_scores for h in hypotheses],
                None,
                [h.score for h in hypotheses],
            )
            for hypotheses in found
        ]

    def _readings(
        self, output: Any, count: int, ctc_log_probs: torch.Tensor | None
    ) -> list[LineReading]:
        """Turns `generate`'s output for `count` lines into their readings."""
        model = self._model
        beams = self._settings.beams
        n_return = min(self._settings.n_best, beams)
        # Beam search stores log-softmaxed scores; greedy search stores raw logits.
        scores = model.compute_transition_scores(
            output.sequences,
            output.scores,
            output.beam_indices if beams > 1 else None,
            normalize_logits=beams == 1,
        )
        sequences = output.sequences[:, 1:].tolist()
        logprobs = scores.float().tolist()
        totals: list[float] | None = None
        if ctc_log_probs is not None and not CTC_PREFIX_SCORING:
            totals = _joint_scores(
                model, self._processor.tokenizer, sequences, logprobs, ctc_log_probs, n_return
            )
        beam_scores = (
            output.sequences_scores.float().tolist()
            if getattr(output, "sequences_scores", None) is not None
            else None
        )
        return [
            self._reading(
                sequences[j * n_return : (j + 1) * n_return],
                logprobs[j * n_return : (j + 1) * n_return],
                totals[j * n_return : (j + 1) * n_return] if totals is not None else None,
                beam_scores[j * n_return : (j + 1) * n_return] if beam_scores is not None else None,
            )
            for j in range(count)
        ]

    def _reading(
        self,
        sequences: list[list[int]],
        logprobs: list[list[float]],
        totals: list[float] | None = None,
        beam_scores: list[float] | None = None,
    ) -> LineReading:
        """Builds one line's reading from its returned hypotheses.

        `totals` replaces the hypotheses' summed token log-probabilities as their scores
        (joint CTC/attention scores); word confidences still come from the token scores.
        `beam_scores`, beam search's own length-normalised scores, rank the readings as
        beam search did (`htr.confidence.beam_log_weights`), so the best reading is the one
        `generate` returns first.
        """
        tokenizer = self._processor.tokenizer
        hypotheses = []
        for k, (ids, scores) in enumerate(zip(sequences, logprobs, strict=True)):
            ids, scores = _until_end(ids, scores, tokenizer.eos_token_id)
            text = tokenizer.decode(ids, skip_special_tokens=True).strip()
            total = totals[k] if totals is not None else sum(scores)
            hypotheses.append((text, total, ids, scores))
        weights = [h[1] for h in hypotheses]
        if beam_scores is not None and totals is None:
            best = max(range(len(hypotheses)), key=lambda k: beam_scores[k])
            weights = beam_log_weights(beam_scores, len(hypotheses[best][2]))
        probs = normalised_probabilities(weights)
        by_text: dict[str, float] = {}
        for (text, *_), prob in zip(hypotheses, probs, strict=True):
            by_text[text] = by_text.get(text, 0.0) + prob
        alternatives = tuple(
            Alternative(text, prob)
            for text, prob in sorted(by_text.items(), key=lambda item: -item[1])
        )
        best_text = alternatives[0].text
        same_text = [(w, h) for w, h in zip(weights, hypotheses, strict=True) if h[0] == best_text]
        _, (_, _, ids, scores) = max(same_text, key=lambda pair: pair[0])
        calibrate = self._calibration.apply if self._calibration else None
        words = _words(tokenizer, ids, scores, calibrate)
        return LineReading(best_text, line_confidence(words), tuple(words), alternatives)


def _has_ctc_head(model: Any) -> bool:
    """Whether the model's encoder returns CTC logits (legajo's line encoder with a head)."""
    config = getattr(getattr(model, "encoder", None), "config", None)
    return bool(getattr(config, "ctc_vocab_size", 0))


def _ctc_prefix_scorer(model: Any, tokenizer: Any, ctc_log_probs: torch.Tensor, beams: int) -> Any:
    from transformers import LogitsProcessorList

    return LogitsProcessorList([_new_scorer(model, tokenizer, ctc_log_probs, beams)])


def _new_scorer(
    model: Any, tokenizer: Any, ctc_log_probs: torch.Tensor, beams: int
) -> CTCPrefixScorer:
    from htr.line_model import CTCPrefixScorer

    return CTCPrefixScorer(
        ctc_log_probs,
        beams,
        blank_id=_ctc_blank(model),
        eos_id=tokenizer.eos_token_id,
        excluded_ids=[i for i in (tokenizer.bos_token_id, tokenizer.pad_token_id) if i is not None],
        weight=CTC_WEIGHT,
    )


def _ctc_blank(model: Any) -> int:
    return int(getattr(model.encoder.config, "ctc_blank_id", 0))


def _ctc_greedy_ids(log_probs: torch.Tensor, blank: int) -> list[list[int]]:
    """Best path of each line: argmax per step, repeats merged, blanks dropped."""
    best = log_probs.argmax(dim=-1).tolist()
    readings = []
    for path in best:
        ids, previous = [], None
        for token in path:
            if token != previous and token != blank:
                ids.append(token)
            previous = token
        readings.append(ids)
    return readings


def ctc_greedy_texts(encoded: Any, model: Any, processor: Any) -> list[str]:
    """The CTC head's greedy readings of an encoded batch (for diagnostics and training)."""
    log_probs = encoded.ctc_logits.float().log_softmax(dim=-1)
    tokenizer = processor.tokenizer
    return [
        tokenizer.decode(ids, skip_special_tokens=True).strip()
        for ids in _ctc_greedy_ids(log_probs, _ctc_blank(model))
    ]


def _joint_scores(
    model: Any,
    tokenizer: Any,
    sequences: list[list[int]],
    logprobs: list[list[float]],
    ctc_log_probs: torch.Tensor,
    n_return: int,
) -> list[float]:
    """Joint score of each hypothesis: CTC_WEIGHT * CTC log-likelihood + rest * decoder's."""
    import torch
    import torch.nn.functional as functional

    special = set(tokenizer.all_special_ids)
    targets, attention = [], []
    for ids, scores in zip(sequences, logprobs, strict=True):
        ids, scores = _until_end(ids, scores, tokenizer.eos_token_id)
        targets.append([t for t in ids if t not in special])
        attention.append(sum(scores))
    lines = torch.arange(len(sequences)) // n_return
    log_probs = ctc_log_probs[lines].transpose(0, 1)  # (steps, hypotheses, vocabulary)
    steps = log_probs.shape[0]
    flat = torch.tensor([t for target in targets for t in target], dtype=torch.long)
    ctc = -functional.ctc_loss(
        log_probs,
        flat.to(log_probs.device),
        torch.full((len(targets),), steps, dtype=torch.long),
        torch.tensor([len(t) for t in targets], dtype=torch.long),
        blank=_ctc_blank(model),
        reduction="none",
        zero_infinity=False,
    )
    likelihoods = torch.nan_to_num(ctc.float(), nan=-1e4, neginf=-1e4).clamp(min=-1e4).tolist()
    return [
        CTC_WEIGHT * c + (1 - CTC_WEIGHT) * a for c, a in zip(likelihoods, attention, strict=True)
    ]


def _words(
    tokenizer: Any,
    ids: list[int],
    scores: list[float],
    calibrate: Callable[[float, int], float] | None = None,
) -> list[WordReading]:
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
    return word_confidences(text, shifted, scores, calibrate)


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


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``owner/name``; anything else is meant as a local path."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def _hub_cache_only(name: str) -> bool:
    """Says whether a hub name is to be loaded from the local cache only, or fails at once.

    Without this, a hub name that is neither cached nor reachable costs half a minute of
    retries (huggingface_hub retries failed requests five times, 1 to 8 s apart) before the
    same error. Offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``, read from the
    environment now, not only when huggingface_hub was imported) means the cache only;
    otherwise one request to the hub, cut off after `HUB_PROBE_SECONDS`, says whether it
    can be reached. A cached model is loaded from the cache when the hub cannot be reached.

    Args:
        name: A hub name (``owner/name`` or ``name``).

    Returns:
        True to load from the local cache only, False to load from the hub (which also
        checks a cached copy for updates).

    Raises:
        ModelLoadError: The name is not a valid hub name, or the model is not cached and
            the hub cannot be used.
    """
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    _hub_logs_through_logging()
    try:
        cached = isinstance(try_to_load_from_cache(name, "config.json"), str)
    except HFValidationError as error:
        raise ModelLoadError(
            f"{name!r} is neither a model directory nor a valid hub name: {error}"
        ) from error
    if _hub_offline():
        if cached:
            return True
        raise ModelLoadError(
            f"cannot load model hub name {name!r}: it is not in the local Hugging Face cache, "
            "and offline mode is on (HF_HUB_OFFLINE); give a model directory instead"
        )
    unreachable = _hub_unreachable(constants.ENDPOINT)
    if unreachable is None:
        return False
    if cached:
        logger.warning(
            "the Hugging Face hub cannot be reached (%s); loading %s from the local cache",
            unreachable,
            name,
        )
        return True
    raise ModelLoadError(
        f"cannot load model hub name {name!r}: the Hugging Face hub ({constants.ENDPOINT}) "
        f"cannot be reached ({unreachable}) and the model is not in the local cache; "
        "give a model directory instead"
    )


HUB_PROBE_SECONDS = 3.0
"""How long `_hub_cache_only` waits for the hub to answer before taking it as unreachable."""


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    from_environment = any(
        (flag or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags
    )
    return constants.is_offline_mode() or from_environment


def _hub_unreachable(endpoint: str) -> str | None:
    """Why the hub at `endpoint` cannot be reached, or None when it answers.

    Any HTTP answer counts as reachable. The request runs in a daemon thread so that a
    name lookup that hangs is cut off too.
    """
    import threading
    import urllib.error
    import urllib.request

    outcome: list[str | None] = []

    def probe() -> None:
        request = urllib.request.Request(endpoint, method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=HUB_PROBE_SECONDS):
                outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # it answered
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            outcome.append(str(reason) or type(error).__name__)

    thread = threading.Thread(target=probe, name="legajo-hub-probe", daemon=True)
    thread.start()
    thread.join(HUB_PROBE_SECONDS + 0.5)
    if not outcome:
        return f"no answer within {HUB_PROBE_SECONDS:g} s"
    return outcome[0]


def _hub_logs_through_logging() -> None:
    """Lets huggingface_hub's log records go through the application's logging only.

    huggingface_hub gives its logger a handler of its own that writes to stderr and lets
    records propagate as well, so under an application that configures logging (the
    ``legajo`` command does) each of its warnings was printed twice. Its plain stderr
    handler is removed; records then reach the application's handlers, or Python's
    last-resort handler (warnings and errors on stderr) when there are none.
    """
    hub_logger = logging.getLogger("huggingface_hub")
    for handler in list(hub_logger.handlers):
        if type(handler) is logging.StreamHandler:
            hub_logger.removeHandler(handler)


def load_checkpoint_files(folder: Path) -> tuple[Any, Any]:
    """Loads a checkpoint folder's model and processor as they are, without a recognizer.

    Raises:
        ModelLoadError: The folder is not a checkpoint or cannot be loaded.
    """
    if not (Path(folder) / "config.json").is_file():
        raise ModelLoadError(f"{folder}: not a model directory (no config.json)")
    return _load_model_and_processor(str(folder), True)


def _load_model_and_processor(source: str, local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoProcessor, VisionEncoderDecoderModel

    import htr.line_model  # noqa: F401  (registers legajo's line encoder with the Auto classes)

    where = "directory" if Path(source).exists() else "hub name"
    try:
        with no_progress_bars():
            model = VisionEncoderDecoderModel.from_pretrained(source, local_files_only=local_only)
            processor = AutoProcessor.from_pretrained(source, local_files_only=local_only)
    except Exception as error:  # transformers raises many types; all mean "cannot load"
        hint = "" if where == "directory" else " (a hub name needs the hub or a cached copy)"
        raise ModelLoadError(f"cannot load model {where} {source!r}{hint}: {error}") from error
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise ModelLoadError(
            f"{source!r} has no image processor and tokenizer (a TrOCR processor is needed)"
        )
    return model, processor


def _weights_digest(directory: Path) -> str:
    """Returns a short SHA-256 over the checkpoint's config, weight and language model files.

    The character language model (`htr.char_lm`) is part of what a checkpoint reads: with
    another one, the same weights write other readings, which `legajo index` and `legajo
    reread` must not take for readings they already have.

    An ``auto_map`` in ``config.json`` only says where plain transformers finds the model's
    code: it is left out (the config hashed as transformers writes it, sorted with an
    indent of 2), so that adding it does not make the same weights a new model revision
    whose pages would be indexed again.
    """
    digest = hashlib.sha256()
    names = sorted(
        p
        for p in directory.iterdir()
        if p.suffix in {".safetensors", ".bin"} or p.name in {"config.json", LM_FILE}
    )
    for path in names:
        digest.update(path.name.encode())
        if path.name == "config.json":
            digest.update(_config_bytes(path))
            continue
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _config_bytes(path: Path) -> bytes:
    """The bytes of ``config.json`` as hashed by `_weights_digest`."""
    raw = path.read_bytes()
    try:
        config = json.loads(raw)
    except ValueError:
        return raw
    if not _has_auto_map(config):
        return raw
    return (json.dumps(_without_auto_map(config), indent=2, sort_keys=True) + "\n").encode()


def _has_auto_map(value: Any) -> bool:
    if isinstance(value, dict):
        return "auto_map" in value or any(_has_auto_map(v) for v in value.values())
    return False


def _without_auto_map(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_auto_map(v) for k, v in value.items() if k != "auto_map"}
    return value
