"""The character n-gram language model: Kneser-Ney probabilities, storage, bad files."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from htr.char_lm import LM_FILE, CharLanguageModel, LanguageModelError, load_language_model

VOCABULARY, START, END = 12, 1, 2
A, B, C, D = 4, 5, 6, 7


def model(lines: list[list[int]], order: int = 3, weight: float = 0.3) -> CharLanguageModel:
    return CharLanguageModel.train(lines, VOCABULARY, START, END, order=order, weight=weight)


LINES = [[A, B, C], [A, B, C], [A, B, D], [C, A, B, C], [D, D]]


@pytest.mark.parametrize("history", [[], [A], [A, B], [D, D, D], [9, 10], [A, B, C, A, B]])
def test_every_next_token_distribution_sums_to_one(history: list[int]) -> None:
    probs = np.exp(model(LINES).log_probs(history).astype(np.float64))
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert (probs > 0).all()


def test_order_one_is_the_discounted_unigram_mixed_with_the_uniform() -> None:
    """With one order, p(w) = max(c(w) - D, 0) / N + D * types / N / V, D = n1 / (n1 + 2 n2)."""
    lines = [[A, A, B], [A, C]]  # tokens with the end tokens: A 3, B 1, C 1, END 2
    counts = {A: 3, B: 1, C: 1, END: 2}
    total, types = sum(counts.values()), len(counts)
    n1, n2 = 2, 1
    discount = n1 / (n1 + 2 * n2)
    expected = np.full(VOCABULARY, discount * types / total / VOCABULARY)
    for token, n in counts.items():
        expected[token] += max(n - discount, 0) / total
    found = np.exp(model(lines, order=1).log_probs([B, C]).astype(np.float64))
    assert found == pytest.approx(expected, rel=1e-5)


def test_seen_continuations_are_preferred_and_lines_end_where_they_did() -> None:
    lm = model(LINES)
    after_ab = lm.log_probs([A, B])
    assert int(np.argmax(after_ab)) == C
    assert after_ab[C] > after_ab[D] > after_ab[A]
    assert int(np.argmax(lm.log_probs([A, B, C]))) == END
    assert int(np.argmax(lm.log_probs([]))) == A  # lines start with A most often
    # Only the last order - 1 tokens count.
    assert lm.log_probs([D, D, A, B]) == pytest.approx(lm.log_probs([A, B]), abs=0)


def test_lower_orders_count_distinct_predecessors() -> None:
    """Kneser-Ney: after an unseen context, B (seen after one token only: A) is less likely
    than D (seen after three: B, D and the start), though B occurs more often."""
    lm = model(LINES, order=2)
    unseen = lm.log_probs([9])
    assert unseen[D] > unseen[B]


def test_perplexity_is_lower_on_text_like_the_training_lines() -> None:
    lm = model(LINES)
    assert lm.perplexity([[A, B, C]]) < lm.perplexity([[C, D, B, A]])
    assert lm.perplexity([[A, B, C]]) > 1.0


def test_saved_and_loaded_it_gives_the_same_probabilities(tmp_path: Path) -> None:
    lm = model(LINES, order=4, weight=0.25)
    path = lm.save(tmp_path)
    assert path == tmp_path / LM_FILE
    loaded = load_language_model(tmp_path, VOCABULARY)
    assert loaded is not None
    assert (loaded.order, loaded.weight, loaded.lines) == (4, 0.25, len(LINES))
    assert loaded.describe() == "4-gram, weight 0.25"
    for history in ([], [A], [A, B, C], [D, 9, A]):
        assert loaded.log_probs(history) == pytest.approx(lm.log_probs(history), abs=1e-7)


def test_a_folder_without_one_has_none(tmp_path: Path) -> None:
    assert load_language_model(tmp_path, VOCABULARY) is None


def _rewrite(path: Path, change: Callable[[dict[str, Any], dict[str, np.ndarray]], None]) -> None:
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    with path.open("wb") as stream:
        np.savez_compressed(stream, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta, arrays: meta.update(format=99), "unknown format"),
        (lambda meta, arrays: arrays.pop("ids2"), "not a language model file"),
        (lambda meta, arrays: meta.update(vocabulary=VOCABULARY + 1), "made for 13 tokens"),
        (lambda meta, arrays: meta.update(order=5), "levels for order 5"),
        (lambda meta, arrays: meta.update(weight=-1), "weight must be"),
        (lambda meta, arrays: arrays.update(ids1=arrays["ids1"] + 100), "outside the vocabulary"),
    ],
)
def test_bad_files_are_named_in_the_error(tmp_path: Path, change, message: str) -> None:
    path = model(LINES).save(tmp_path)
    _rewrite(path, change)
    with pytest.raises(LanguageModelError, match=message) as raised:
        load_language_model(tmp_path, VOCABULARY)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_unreadable_files_are_an_error(tmp_path: Path, content: bytes) -> None:
    path = model(LINES).save(tmp_path)
    path.write_bytes(content)
    with pytest.raises(LanguageModelError, match="not a language model file"):
        load_language_model(tmp_path, VOCABULARY)


def test_no_lines_or_no_order_is_an_error() -> None:
    with pytest.raises(LanguageModelError, match="no lines"):
        model([])
    with pytest.raises(LanguageModelError, match="at least 1"):
        model(LINES, order=0)
    with pytest.raises(LanguageModelError, match="weight"):
        model(LINES, weight=-1)
    with pytest.raises(LanguageModelError, match=r"tokens \[12\] are outside"):
        model([[A, VOCABULARY]])


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("htr.char_lm.CACHE_LIMIT", 3)
    lm = model(LINES)
    first = lm.log_probs([A, B]).copy()
    for token in range(4, 12):
        lm.log_probs([token, token])
    assert len(lm._cache) <= 3
    assert lm.log_probs([A, B]) == pytest.approx(first, abs=0)
    assert math.isfinite(float(lm.log_probs([]).max()))


@pytest.mark.parametrize("weight", [-0.1, float("nan"), float("inf")])
def test_a_weight_below_zero_or_not_a_number_is_refused(weight: float) -> None:
    from htr.reading import RecognizerSettings

    with pytest.raises(ValueError, match="lm_weight"):
        RecognizerSettings(lm_weight=weight)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x"])
def test_the_command_line_refuses_a_bad_weight(value: str) -> None:
    from legajo.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["transcribe", "page.jpg", "--lm-weight", value])
    assert build_parser().parse_args(["transcribe", "p.jpg", "--lm-weight", "0"]).lm_weight == 0


def kneser_ney(lines: list[list[int]], order: int, history: list[int]) -> np.ndarray:
    """Interpolated Kneser-Ney from its definition, with dictionaries (the test's reference)."""
    counts: list[dict[tuple[int, ...], int]] = [{} for _ in range(order)]
    for line in lines:
        padded = [START] * (order - 1) + line + [END]
        for i in range(len(padded) - order + 1):
            gram = tuple(padded[i : i + order])
            counts[order - 1][gram] = counts[order - 1].get(gram, 0) + 1
    for k in range(order - 2, -1, -1):  # distinct predecessors of each shorter n-gram
        for gram in counts[k + 1]:
            counts[k][gram[1:]] = counts[k].get(gram[1:], 0) + 1
    context = tuple(([START] * order + history)[-(order - 1) :]) if order > 1 else ()
    probs = np.full(VOCABULARY, 1.0 / VOCABULARY)
    for k in range(order):
        singles = sum(1 for n in counts[k].values() if n == 1)
        doubles = sum(1 for n in counts[k].values() if n == 2)
        discount = singles / (singles + 2 * doubles) if singles else 0.5
        here = context[len(context) - k :] if k else ()
        followers = {g[-1]: n for g, n in counts[k].items() if g[:-1] == here}
        if not followers:
            continue  # an unseen context: the shorter one's distribution
        total = sum(followers.values())
        probs = probs * discount * len(followers) / total
        for token, n in followers.items():
            probs[token] += max(n - discount, 0) / total
    return probs


@pytest.mark.parametrize("history", [[], [A], [A, B], [B, A], [9, 10], [9, A], [D, D, D], [C, 9]])
def test_probabilities_are_those_of_interpolated_kneser_ney(history: list[int]) -> None:
    """Seen and unseen contexts alike (an unseen one shares its suffix's cached array).

    One order of these lines has no n-gram seen once: its discount is 0.5, not 0, so that
    no token gets probability 0.
    """
    lines = [*LINES, [B, A, D], [C, C, A]]
    lm = model(lines, order=3)
    for _ in range(2):  # computed, then from the cache
        found = np.exp(lm.log_probs(history).astype(np.float64))
        assert found == pytest.approx(kneser_ney(lines, 3, history), rel=1e-5)
        assert (found > 0).all()
