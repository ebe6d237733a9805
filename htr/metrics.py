"""Recognition and calibration metrics: edit distance, CER, WER, word alignment, ECE.

Pure functions, no model. Definitions used throughout legajo:

- **Characters** are Unicode code points of NFC text (`nfc`), so a precomposed ``ñ`` and
  ``n`` + combining tilde count the same, while an abbreviation such as ``q̃`` (no precomposed
  form) is two characters. Whitespace runs are collapsed to one space and the ends stripped
  (`clean_text`) before counting: the scribe's spacing is kept, its width is not.
- **Edit distance** is the Levenshtein distance (computed by `rapidfuzz`): insertions,
  deletions and substitutions all cost 1.
- **CER** is edit distance / reference characters, **WER** the same over whitespace-separated
  words. Over a corpus both are *total* edits / *total* reference length (long lines weigh
  more), never the mean of the per-line rates (`corpus_cer` for lines in NFC alone).
- **Normalised text** (`normalise_for_cer`) removes the spelling differences that do not
  change a reading: diacritics and combining abbreviation marks, letter case, u/v and i/j.
- **Expected calibration error** (ECE) sorts confidences into equal-width bins over [0, 1]
  and sums, over the bins, the share of items in the bin times the gap between their mean
  confidence and their accuracy.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

DEFAULT_BINS = 15
"""Bins of `expected_calibration_error` and `reliability_bins` unless told otherwise."""

_LETTER_MERGES = str.maketrans({"v": "u", "j": "i"})


def nfc(text: str) -> str:
    """Returns `text` in Unicode normal form C (composed)."""
    return unicodedata.normalize("NFC", text)


def clean_text(text: str) -> str:
    """Returns `text` in NFC with whitespace runs collapsed to one space and the ends stripped.

    This is the text CER and WER are computed on.
    """
    return " ".join(nfc(text).split())


def normalise_for_cer(text: str) -> str:
    """Returns the normalised form of a text, for a CER that ignores spelling conventions.

    The steps, in order: decompose (NFD); drop every combining mark (accents, the tilde of
    ``ñ`` and of abbreviations such as ``q̃``, combining superscript letters); lower-case; merge
    ``v`` into ``u`` and ``j`` into ``i``; recompose (NFC); collapse whitespace as
    `clean_text` does. Spacing letters that are abbreviation signs (``ꝑ``, ``ꝓ``, ``⁊``) are
    kept as they are.

    Args:
        text: Any text.

    Returns:
        The normalised text, e.g. ``"Jesu Xp̃o vino"`` -> ``"iesu xpo uino"``.
    """
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return clean_text(bare.lower().translate(_LETTER_MERGES))


def edit_distance(reference: Sequence[Hashable], hypothesis: Sequence[Hashable]) -> int:
    """Returns the Levenshtein distance between two sequences (strings or lists of words).

    Computed by `rapidfuzz.distance.Levenshtein` (unit costs); items are compared by
    equality, so strings compare code point by code point and word lists word by word.

    Args:
        reference: The reference sequence.
        hypothesis: The hypothesis sequence.

    Returns:
        The least number of insertions, deletions and substitutions that turn `reference`
        into `hypothesis`.
    """
    return int(Levenshtein.distance(reference, hypothesis))


def cer(reference: str, hypothesis: str) -> float:
    """Returns the character error rate of one line, on the texts exactly as given.

    Callers choose the text form (`clean_text`, `normalise_for_cer`) beforehand.

    Args:
        reference: The ground truth.
        hypothesis: The recognised text.

    Returns:
        Edit distance / reference length. With an empty reference: 0.0 for an empty
        hypothesis, else 1.0 (everything read is wrong, and the rate has no denominator).
    """
    return _rate(edit_distance(reference, hypothesis), len(reference), len(hypothesis))


def corpus_cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Returns the character error rate of many lines, on their NFC text.

    Total edits / total reference characters over all lines (long lines weigh more), after
    `nfc` only: whitespace is kept as it is. This is the CER training validates with.

    Args:
        references: The ground truth of each line.
        hypotheses: The recognised text of each line, in the same order.

    Returns:
        The rate; with no reference characters at all, the number of edits (so 0.0 when
        every hypothesis is empty too).

    Raises:
        ValueError: The sequences differ in length.
    """
    edits = sum(
        edit_distance(nfc(reference), nfc(hypothesis))
        for reference, hypothesis in zip(references, hypotheses, strict=True)
    )
    chars = sum(len(nfc(reference)) for reference in references)
    return edits / max(chars, 1)


def wer(reference: str, hypothesis: str) -> float:
    """Returns the word error rate of one line: word edit distance / reference words.

    Words are the whitespace-separated tokens; an empty reference gives 0.0 for an empty
    hypothesis, else 1.0.
    """
    ref_words, hyp_words = reference.split(), hypothesis.split()
    return _rate(edit_distance(ref_words, hyp_words), len(ref_words), len(hyp_words))


def _rate(edits: int, reference_length: int, hypothesis_length: int) -> float:
    if reference_length == 0:
        return 0.0 if hypothesis_length == 0 else 1.0
    return edits / reference_length


@dataclass(frozen=True, slots=True)
class WordMatch:
    """Where one hypothesis word landed in the alignment with the reference words.

    Attributes:
        hypothesis_index: Position of the word among the hypothesis words.
        reference_index: Position of the reference word it is aligned to (a match or a
            substitution), or None when the word is an insertion.
        correct: Whether it equals its aligned reference word.
    """

    hypothesis_index: int
    reference_index: int | None
    correct: bool


def align_words(reference: Sequence[str], hypothesis: Sequence[str]) -> list[WordMatch]:
    """Aligns hypothesis words to reference words by edit distance, with a backtrace.

    The alignment has the least number of word edits; among those, the most exact matches
    (so ``a b`` against ``b a`` keeps one word right rather than two substitutions). Words
    are compared exactly: normalise them beforehand if needed.

    Args:
        reference: The reference words, in order.
        hypothesis: The hypothesis words, in order.

    Returns:
        One `WordMatch` per hypothesis word, in hypothesis order.
    """
    n, m = len(reference), len(hypothesis)
    # Cost = edits * weight - matches: fewest edits first, then most matches.
    weight = n + m + 1
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[:, 0] = np.arange(n + 1) * weight
    cost[0, :] = np.arange(m + 1) * weight
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = reference[i - 1] == hypothesis[j - 1]
            diagonal = cost[i - 1, j - 1] + (-1 if same else weight)
            cost[i, j] = min(diagonal, cost[i - 1, j] + weight, cost[i, j - 1] + weight)
    matches: list[WordMatch] = []
    i, j = n, m
    while j > 0:
        if i > 0:
            same = reference[i - 1] == hypothesis[j - 1]
            if cost[i, j] == cost[i - 1, j - 1] + (-1 if same else weight):
                matches.append(WordMatch(j - 1, i - 1, same))
                i, j = i - 1, j - 1
                continue
            if cost[i, j] == cost[i - 1, j] + weight:
                i -= 1  # a reference word the hypothesis missed
                continue
        matches.append(WordMatch(j - 1, None, False))  # an inserted hypothesis word
        j -= 1
    matches.reverse()
    return matches


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One confidence bin of a reliability diagram.

    Attributes:
        lower: Lowest confidence of the bin (included).
        upper: Highest confidence of the bin (excluded, except 1.0 in the last bin).
        count: Items whose confidence falls in the bin.
        mean_confidence: Their mean confidence (0 for an empty bin).
        accuracy: The share of them that are correct (0 for an empty bin).
    """

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float

    @property
    def gap(self) -> float:
        """Mean confidence minus accuracy: positive when overconfident."""
        return self.mean_confidence - self.accuracy

    def to_dict(self) -> dict[str, float | int]:
        """Returns the bin as JSON-ready data."""
        return {
            "lower": self.lower,
            "upper": self.upper,
            "count": self.count,
            "mean_confidence": self.mean_confidence,
            "accuracy": self.accuracy,
        }


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = DEFAULT_BINS
) -> list[ReliabilityBin]:
    """Sorts confidences into equal-width bins and measures each bin's accuracy.

    Args:
        confidences: Confidences in [0, 1] (values outside are clipped).
        correct: For each confidence, whether its item is right.
        bins: Number of bins over [0, 1]; bin ``k`` holds ``[k/bins, (k+1)/bins)`` and the
            last one also 1.0.

    Returns:
        All `bins` bins in order, empty ones included.

    Raises:
        ValueError: The sequences differ in length or `bins` is below 1.
    """
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    values = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    outcomes = np.asarray(correct, dtype=np.float64)
    index = np.minimum((values * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    confidence_sums = np.bincount(index, weights=values, minlength=bins)
    correct_sums = np.bincount(index, weights=outcomes, minlength=bins)
    table = []
    for k in range(bins):
        count = int(counts[k])
        table.append(
            ReliabilityBin(
                lower=k / bins,
                upper=(k + 1) / bins,
                count=count,
                mean_confidence=float(confidence_sums[k] / count) if count else 0.0,
                accuracy=float(correct_sums[k] / count) if count else 0.0,
            )
        )
    return table


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = DEFAULT_BINS
) -> float:
    """Returns the expected calibration error of some confidences.

    ``ECE = sum over bins of (count / total) * |mean confidence - accuracy|``, with the bins
    of `reliability_bins`. 0 means that within every bin, the confidence says how often the
    items are right.

    Args:
        confidences: Confidences in [0, 1].
        correct: For each confidence, whether its item is right.
        bins: Number of equal-width bins.

    Returns:
        The ECE in [0, 1]; 0.0 when there are no items.

    Raises:
        ValueError: The sequences differ in length or `bins` is below 1.
    """
    return ece_of_bins(reliability_bins(confidences, correct, bins))


def ece_of_bins(table: Sequence[ReliabilityBin]) -> float:
    """Returns the ECE of a reliability table (see `expected_calibration_error`)."""
    total = sum(b.count for b in table)
    if total == 0:
        return 0.0
    return math.fsum(b.count * abs(b.gap) for b in table) / total
