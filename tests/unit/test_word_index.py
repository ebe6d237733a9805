"""Word probabilities from n-best readings, text confidences and page relevance."""

from __future__ import annotations

import math

import pytest

from htr.document import Alternative, Word
from indexer.store.word_index import line_forms, line_readings, page_relevance

READINGS = (
    Alternative("en el nonbre de dios", 0.5),
    Alternative("en el nombre de dios", 0.3),
    Alternative("en el nonbre de dias", 0.15),
    Alternative("en nonbre del dios", 0.05),
)


def word(text: str, confidence: float, x: int = 0) -> Word:
    return Word(text, confidence, (x, 0, x + 10, 10))


def test_probability_is_the_sum_of_the_readings_that_hold_the_word() -> None:
    forms = line_forms(READINGS[0].text, READINGS, (), 0.7, verified=False)
    probability = {form: stats.probability for form, stats in forms.items()}
    assert probability["en"] == pytest.approx(1.0)
    assert probability["el"] == pytest.approx(0.95)
    assert probability["nonbre"] == pytest.approx(0.7)
    assert probability["nombre"] == pytest.approx(0.3)
    assert probability["dios"] == pytest.approx(0.85)
    assert probability["dias"] == pytest.approx(0.15)
    assert probability["de"] == pytest.approx(0.95)
    assert probability["del"] == pytest.approx(0.05)


def test_a_word_twice_in_one_reading_counts_once() -> None:
    readings = (Alternative("dios e dios", 0.6), Alternative("dias e dios", 0.4))
    forms = line_forms("dios e dios", readings, (), 0.5, verified=False)
    assert forms["dios"].probability == pytest.approx(1.0)
    assert forms["dias"].probability == pytest.approx(0.4)


def test_probabilities_are_divided_by_their_sum() -> None:
    readings = (Alternative("que", 2.0), Alternative("qve", 6.0))
    assert line_readings("que", readings, verified=False) == [("que", 0.25), ("qve", 0.75)]
    forms = line_forms("que", readings, (), 0.5, verified=False)
    assert forms["qve"].probability == pytest.approx(0.75)


def test_readings_without_usable_probabilities_count_equally() -> None:
    readings = (Alternative("a", 0.0), Alternative("b", math.nan))
    assert line_readings("a", readings, verified=False) == [("a", 0.5), ("b", 0.5)]


def test_verified_and_imported_lines_have_probability_one() -> None:
    corrected = line_forms("en el nombre", READINGS, (), 0.2, verified=True)
    assert {f: (s.probability, s.text_confidence) for f, s in corrected.items()} == {
        "en": (1.0, 1.0),
        "el": (1.0, 1.0),
        "nombre": (1.0, 1.0),
    }
    imported = line_forms("sepan quantos", (), (), 0.9, verified=False)
    assert {f: s.probability for f, s in imported.items()} == {"sepan": 1.0, "quantos": 1.0}


def test_text_confidence_is_that_of_the_best_matching_word() -> None:
    words = (word("de", 0.4), word("Dios", 0.8, 20), word("de", 0.6, 40))
    forms = line_forms("de Dios de", (Alternative("de Dios de", 1.0),), words, 0.1, verified=False)
    assert forms["de"].text_confidence == pytest.approx(0.6)
    assert forms["dios"].text_confidence == pytest.approx(0.8)


def test_text_confidence_falls_back_to_the_line_and_is_none_outside_the_text() -> None:
    forms = line_forms(READINGS[0].text, READINGS, (), 0.7, verified=False)
    assert forms["nonbre"].text_confidence == pytest.approx(0.7)
    assert forms["nombre"].text_confidence is None


def test_page_relevance_is_noisy_or() -> None:
    assert page_relevance([]) == 0.0
    assert page_relevance([0.5, 0.5]) == pytest.approx(0.75)
    assert page_relevance([0.2, 1.0, 0.1]) == pytest.approx(1.0)
    assert page_relevance([0.1, 0.2, 0.3]) == pytest.approx(1 - 0.9 * 0.8 * 0.7)
    assert page_relevance([1.5, -1.0]) == pytest.approx(1.0)
