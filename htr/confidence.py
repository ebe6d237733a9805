"""Word and line confidence from token log-probabilities — the one place they are computed.

The aggregate: a word's confidence is the model's probability of the word's tokens given the
line image and the reading so far, i.e. ``exp(sum of the log-probabilities of the tokens that
make up the word)``. It is the probability that the word is read exactly right, so it can be
calibrated and read as "right 9 times in 10" at 0.9. Tokens that carry only whitespace (the
word separator of a character tokenizer) and the end token belong to no word. A token that
spans two words (rare with BPE) counts for both.

When a checkpoint carries a fitted calibration (`htr.calibration`), it is applied to each
word's confidence here, so that a calibrated 0.9 means right 9 times in 10; the raw value is
the probability above.

A line's confidence is the mean of its word confidences: the expected share of its words that
are read right. A line without words has confidence 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WordReading:
    """A word of a recognised line, before it has a box.

    Attributes:
        text: The word.
        confidence: Probability in [0, 1] that the word is right (see the module docstring).
        start: Offset of the word's first character in the line text.
        end: Offset just after its last character.
    """

    text: str
    confidence: float
    start: int
    end: int


def word_spans(text: str) -> list[tuple[int, int]]:
    """Returns the (start, end) character offsets of the whitespace-separated words of `text`."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, char in enumerate(text):
        if char.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text)))
    return spans


def word_confidences(
    text: str,
    token_spans: Sequence[tuple[int, int]],
    token_logprobs: Sequence[float],
    calibrate: Callable[[float, int], float] | None = None,
) -> list[WordReading]:
    """Aggregates token log-probabilities into word confidences.

    Args:
        text: The decoded line text.
        token_spans: For each generated token, the (start, end) character span it produced in
            `text` (empty spans for special tokens).
        token_logprobs: For each generated token, its log-probability.
        calibrate: A map applied to each word's raw confidence and length in characters
            (monotone in the confidence), if any.

    Returns:
        The words of `text` in order, each with its confidence.

    Raises:
        ValueError: If the two token sequences differ in length.
    """
    if len(token_spans) != len(token_logprobs):
        raise ValueError(
            f"{len(token_spans)} token spans but {len(token_logprobs)} token log-probabilities"
        )
    words = []
    for start, end in word_spans(text):
        total = 0.0
        for (t_start, t_end), logprob in zip(token_spans, token_logprobs, strict=True):
            if t_start < end and t_end > start:
                total += logprob
        confidence = _probability(total)
        if calibrate is not None:
            confidence = calibrate(confidence, end - start)
        words.append(WordReading(text[start:end], confidence, start, end))
    return words


def line_confidence(words: Sequence[WordReading]) -> float:
    """Returns the mean word confidence, 0 for a line without words."""
    if not words:
        return 0.0
    return sum(w.confidence for w in words) / len(words)


def normalised_probabilities(logprobs: Sequence[float]) -> list[float]:
    """Turns sequence log-probabilities into probabilities that sum to 1 (a stable softmax).

    Args:
        logprobs: Log-probabilities of the n-best readings of one line.

    Returns:
        Their probabilities relative to each other; empty for empty input.
    """
    finite = [lp for lp in logprobs if math.isfinite(lp)]
    if not finite:
        return [1.0 / len(logprobs)] * len(logprobs) if logprobs else []
    top = max(finite)
    weights = [math.exp(lp - top) if math.isfinite(lp) else 0.0 for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def beam_log_weights(beam_scores: Sequence[float], best_length: int) -> list[float]:
    """Log-weights of n-best readings that rank them as beam search does.

    Beam search ranks finished readings by their length-normalised score, the mean token
    log-probability (``sum / length`` with transformers' default ``length_penalty=1``), not
    by their probability, which favours short readings that drop characters (on the
    validation manuscripts, ranking by probability reads 0.2 points of CER worse). Each
    reading gets ``score * best_length``: its probability if it had the best reading's
    length. The best reading's weight is its own log-probability, and the order is beam
    search's.

    Args:
        beam_scores: Beam search's length-normalised score of each reading.
        best_length: Tokens of the best-scored reading (end token included).

    Returns:
        One log-weight per reading, for `normalised_probabilities`.
    """
    return [score * max(1, best_length) for score in beam_scores]


def _probability(logprob: float) -> float:
    if math.isnan(logprob):
        return 0.0
    return min(1.0, max(0.0, math.exp(min(logprob, 0.0))))
