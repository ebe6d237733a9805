import math

import pytest

from htr.confidence import (
    line_confidence,
    normalised_probabilities,
    word_confidences,
    word_spans,
)


def test_word_spans_split_on_any_whitespace() -> None:
    assert word_spans("  en el\tnonbre ") == [(2, 4), (5, 7), (8, 14)]
    assert word_spans("") == []
    assert word_spans("   ") == []


def test_word_confidence_is_product_of_its_token_probabilities() -> None:
    text = "ab c"
    spans = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 4)]  # a, b, space, c, end token
    logprobs = [math.log(0.5), math.log(0.8), math.log(0.1), math.log(0.9), math.log(0.7)]
    words = word_confidences(text, spans, logprobs)
    assert [w.text for w in words] == ["ab", "c"]
    assert words[0].confidence == pytest.approx(0.4)  # separator and end token excluded
    assert words[1].confidence == pytest.approx(0.9)
    assert (words[0].start, words[0].end) == (0, 2)


def test_token_spanning_two_words_counts_for_both() -> None:
    words = word_confidences("de la", [(0, 5)], [math.log(0.6)])
    assert [w.confidence for w in words] == pytest.approx([0.6, 0.6])


def test_confidences_stay_in_unit_interval() -> None:
    words = word_confidences("x y", [(0, 1), (2, 3)], [float("-inf"), 0.3])
    assert words[0].confidence == 0.0
    assert words[1].confidence == 1.0  # a positive log-probability is clipped
    assert word_confidences("x", [(0, 1)], [float("nan")])[0].confidence == 0.0


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError):
        word_confidences("x", [(0, 1)], [])


def test_line_confidence_is_mean_of_words() -> None:
    words = word_confidences("a b", [(0, 1), (2, 3)], [math.log(0.2), math.log(0.6)])
    assert line_confidence(words) == pytest.approx(0.4)
    assert line_confidence([]) == 0.0


def test_normalised_probabilities() -> None:
    probs = normalised_probabilities([math.log(0.2), math.log(0.1), math.log(0.1)])
    assert probs == pytest.approx([0.5, 0.25, 0.25])
    assert sum(normalised_probabilities([-1000.0, -1001.0])) == pytest.approx(1.0)
    assert normalised_probabilities([float("-inf"), -2.0]) == pytest.approx([0.0, 1.0])
    assert normalised_probabilities([float("-inf")] * 2) == pytest.approx([0.5, 0.5])
    assert normalised_probabilities([]) == []
