"""The probabilistic word index: how likely each word form is to occur in a line.

Recognition of old hands is often wrong, so a line is indexed by every plausible reading,
not only by the best one. For each line:

- Its **readings** are its n-best alternatives with their probabilities divided by their
  sum (the recognizer already normalises them over the n-best list; dividing again keeps
  the numbers meaningful for lines stored by other tools, and a list whose probabilities
  sum to zero or less counts every reading as equally likely). A **verified** line, one
  corrected by a person, and a line without alternatives (an imported transcription) have
  one reading, its current text, with probability 1.
- ``P(w in line)``, the probability that word form ``w`` occurs in the line, is the sum of
  the probabilities of the readings that contain ``w`` at least once::

      P(w in line) = sum(p_r for reading r if w in words(r)) / sum(p_r for every reading r)

  Words are the keys of `indexer.spelling.normalize.word_keys` without spelling-variant folding
  (case, diacritics and abbreviations are normalised, ``vn`` and ``un`` stay apart); variants
  are matched at query time through `variant_key`.
- The **text confidence** of ``w`` is how sure the recognizer is of ``w`` where it stands in
  the line's current text: the highest confidence of the line's words that normalise to
  ``w``, the line confidence when no stored word does (words and text disagree), and 1 for
  a verified line. It is None when the current text does not contain ``w``; exact search
  on the best reading ranks by it.

A page's relevance for a word combines its lines by noisy-OR, as if each line independently
held the word with its probability::

    relevance(page, w) = 1 - prod(1 - P(w in line) for line in page)

so a page with one certain line scores 1, and several doubtful lines add up without ever
passing 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from htr.document import Alternative, Word
from indexer.spelling.normalize import (
    DEFAULT_VARIANTS,
    NormalizationSettings,
    apply_variants,
    word_keys,
)

FORM_SETTINGS = NormalizationSettings(variants=None)
"""Normalisation of the stored word forms: everything but spelling-variant folding."""


@dataclass(frozen=True, slots=True)
class FormStats:
    """One word form of one line.

    Attributes:
        probability: P(form occurs in the line), in [0, 1].
        text_confidence: Confidence of the form in the current text, None when absent.
    """

    probability: float
    text_confidence: float | None


def line_readings(
    text: str, alternatives: Sequence[Alternative], *, verified: bool
) -> list[tuple[str, float]]:
    """The readings of a line with probabilities summing to 1 (module docstring).

    Args:
        text: The line's current text.
        alternatives: Its n-best machine readings.
        verified: True when a person corrected the line.

    Returns:
        (reading, probability) pairs, in the order of `alternatives`.
    """
    if verified or not alternatives:
        return [(text, 1.0)]
    probs = [a.prob if math.isfinite(a.prob) and a.prob > 0 else 0.0 for a in alternatives]
    total = sum(probs)
    if total <= 0:
        return [(a.text, 1.0 / len(alternatives)) for a in alternatives]
    return [(a.text, p / total) for a, p in zip(alternatives, probs, strict=True)]


def line_forms(
    text: str,
    alternatives: Sequence[Alternative],
    words: Sequence[Word],
    line_confidence: float,
    *,
    verified: bool,
) -> dict[str, FormStats]:
    """The word forms of a line with their probabilities and text confidences.

    Args:
        text: The line's current text (the correction, if any).
        alternatives: Its n-best machine readings.
        words: The machine words of the best reading, with confidences.
        line_confidence: The line's confidence, for forms no stored word explains.
        verified: True when a person corrected the line.

    Returns:
        Form -> stats, for every form with a positive probability or in the current text.
    """
    probability: dict[str, float] = {}
    for reading, prob in line_readings(text, alternatives, verified=verified):
        for form in set(word_keys(reading, FORM_SETTINGS)):
            probability[form] = probability.get(form, 0.0) + prob
    confidence: dict[str, float] = {}
    if verified:
        confidence = dict.fromkeys(word_keys(text, FORM_SETTINGS), 1.0)
    else:
        by_word: dict[str, float] = {}
        for word in words:
            for form in word_keys(word.text, FORM_SETTINGS):
                by_word[form] = max(by_word.get(form, 0.0), _unit(word.confidence))
        for form in word_keys(text, FORM_SETTINGS):
            confidence[form] = by_word.get(form, _unit(line_confidence))
    return {
        form: FormStats(min(1.0, probability.get(form, 0.0)), confidence.get(form))
        for form in probability.keys() | confidence.keys()
    }


def variant_key(form: str) -> str:
    """The form with the default spelling-variant table applied (``vn`` -> ``un``...).

    Two forms with the same key are spelling variants of each other.
    """
    return apply_variants(form, DEFAULT_VARIANTS)


def page_relevance(probabilities: Iterable[float]) -> float:
    """A page's relevance for a word from its lines' probabilities (noisy-OR, module doc)."""
    miss = 1.0
    for p in probabilities:
        miss *= 1.0 - _unit(p)
    return 1.0 - miss


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0
