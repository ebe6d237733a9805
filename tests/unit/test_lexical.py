"""Lexical index: similarity, fuzzy recall of near misses, incremental adds, index files."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import IndexFileError
from indexer.search.lexical import (
    FormHit,
    LexicalIndex,
    levenshtein,
    levenshtein_many,
    similarities,
    similarity,
    vectorize,
)

FORMS = [
    (1, "que"),
    (2, "qve"),
    (3, "dicho"),
    (4, "dicha"),
    (5, "senor"),
    (6, "fenor"),
    (7, "magestad"),
    (8, "yglesia"),
    (9, "iglesia"),
    (10, "vezino"),
    (11, "de"),
]

# Letters a recognizer confuses in old hands, as in bench/search_latency.py.
CONFUSIONS = [("u", "n"), ("n", "u"), ("e", "c"), ("c", "e"), ("s", "f"), ("l", "i"), ("r", "v")]
KINDS = ["exact", "hnsw"]


def _build(forms: list[tuple[int, str]], kind: str) -> LexicalIndex:
    index = LexicalIndex.build(forms, exact_limit=10**9 if kind == "exact" else 0)
    assert index.kind == kind
    return index


def _misread(word: str, rng: random.Random) -> str:
    """One recognizer-like edit: a confusion when one applies, else a random edit."""
    pairs = [pair for pair in CONFUSIONS if pair[0] in word]
    if pairs and rng.random() < 0.6:
        old, new = rng.choice(pairs)
        return word.replace(old, new, 1)
    i = rng.randrange(len(word))
    letter = rng.choice("abcdefghilmnopqrstuvxyz")
    return rng.choice(
        [word[:i] + letter + word[i:], word[:i] + word[i + 1 :], word[:i] + letter + word[i + 1 :]]
    )


def _vocabulary(rng: random.Random, words: int) -> list[str]:
    syllables = ["ba", "de", "fi", "go", "lu", "ma", "ne", "pi", "ro", "sa", "te", "vi", "qua"]
    codas = ["", "", "n", "s", "r", "l"]
    found: dict[str, None] = {}
    while len(found) < words:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        found.setdefault(word + rng.choice(codas))
    return list(found)


@pytest.fixture(scope="module")
def noisy_collection() -> tuple[list[tuple[int, str]], list[tuple[str, str, int]]]:
    """3,000 words plus up to four misreadings of each (12,220 forms), and 300 query words.

    Each query is a word with one or two recognizer-like edits that keep it within
    similarity 0.6 of the word; the word is the form a search must find.
    """
    rng = random.Random(7)
    words = _vocabulary(rng, 3_000)
    forms = dict.fromkeys(words)
    for word in words:
        for _ in range(4):
            forms.setdefault(_misread(word, rng))
    pairs = [(i, form) for i, form in enumerate(forms, start=1) if form]
    queries: list[tuple[str, str, int]] = []
    while len(queries) < 300:
        word = rng.choice(words)
        edits = rng.choice([1, 1, 2])
        query = word
        for _ in range(edits):
            query = _misread(query, rng)
        if query != word and similarity(query, word) >= 0.6:
            queries.append((query, word, edits))
    return pairs, queries


# -- similarity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("que", "qve", 1),
        ("dicho", "dcho", 1),
        ("kitten", "sitting", 3),
    ],
)
def test_levenshtein_counts_edits(a: str, b: str, distance: int) -> None:
    assert levenshtein(a, b) == distance == levenshtein(b, a)
    assert levenshtein_many(a, [b]).tolist() == [distance]


def test_similarity_is_one_minus_normalised_distance() -> None:
    assert similarity("que", "que") == 1.0
    assert similarity("", "") == 1.0
    assert similarity("que", "qve") == pytest.approx(2 / 3)
    assert similarity("magestad", "magcftad") == pytest.approx(0.75)
    assert similarity("abc", "xyz") == 0.0


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abcñç^$ü", max_size=12),
    st.lists(st.text(alphabet="abcñç^$ü", max_size=12), max_size=20),
)
def test_vectorised_distances_equal_the_plain_ones(word: str, forms: list[str]) -> None:
    assert levenshtein_many(word, forms).tolist() == [levenshtein(word, f) for f in forms]
    scores = similarities(word, forms)
    assert scores.tolist() == pytest.approx([similarity(word, f) for f in forms])
    assert ((scores >= 0) & (scores <= 1)).all()


def test_vectors_have_unit_norm_and_are_stable() -> None:
    vectors = vectorize(["que", "magestad", ""])
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    # The hash is fixed (not Python's per-process one): saved indexes stay valid.
    assert np.array_equal(vectorize(["que"]), vectorize(["que"]))
    assert float(vectors[0] @ vectorize(["qve"])[0]) > float(vectors[0] @ vectors[1])


# -- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_identical_form_comes_first_with_similarity_one(kind: str) -> None:
    index = _build(FORMS, kind)
    for form_id, form in FORMS:
        hits = index.search(form, k=3)
        assert hits[0] == FormHit(form_id, form, 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_near_misses_are_found_and_ranked_by_similarity(kind: str) -> None:
    index = _build(FORMS, kind)
    hits = index.search("yglefia", k=5, min_similarity=0.6)
    assert [hit.form for hit in hits] == ["yglesia", "iglesia"]
    assert hits[0].similarity == pytest.approx(6 / 7)
    assert [hit.form for hit in index.search("fenor")][:2] == ["fenor", "senor"]


def test_min_similarity_and_k_bound_the_hits() -> None:
    index = _build(FORMS, "exact")
    assert [hit.form for hit in index.search("qve", min_similarity=1.0)] == ["qve"]
    assert [hit.form for hit in index.search("qve", min_similarity=0.6)] == ["qve", "que"]
    everything = index.search("dicho", k=100, min_similarity=0.0)
    assert len(everything) == len(FORMS)
    assert [h.similarity for h in everything] == sorted(
        (h.similarity for h in everything), reverse=True
    )
    assert len(index.search("dicho", k=1, min_similarity=0.0)) == 1
    assert index.search("dicho", k=0) == []
    assert index.search("") == []


def test_an_empty_index_finds_nothing() -> None:
    index = LexicalIndex.build([])
    assert (len(index), index.max_id, index.search("que")) == (0, 0, [])


@pytest.mark.parametrize("kind", KINDS)
def test_fuzzy_recall_of_near_misses(
    kind: str, noisy_collection: tuple[list[tuple[int, str]], list[tuple[str, str, int]]]
) -> None:
    # Measured: the true word is among the 50 hits of every query, one edit or two, with
    # either kind of index (among the 10 best of all one-edit queries and 92 % of two-edit
    # ones). On the larger, noisier vocabularies of bench/search_latency.py, recall@50 is
    # 97 to 99 %; the bound leaves room for that.
    forms, queries = noisy_collection
    index = _build(forms, kind)
    for edits in (1, 2):
        asked = [(q, w) for q, w, e in queries if e == edits]
        found = sum(any(h.form == w for h in index.search(q, k=50)) for q, w in asked)
        assert found / len(asked) >= 0.95, (edits, found, len(asked))


def test_a_missed_word_loses_only_to_forms_at_least_as_similar(
    noisy_collection: tuple[list[tuple[int, str]], list[tuple[str, str, int]]],
) -> None:
    forms, queries = noisy_collection
    index = _build(forms, "exact")
    for query, word, _ in queries:
        hits = index.search(query, k=10)
        if all(hit.form != word for hit in hits):
            assert len(hits) == 10
            assert hits[-1].similarity >= similarity(query, word)


# -- adding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_added_forms_are_found_at_once(kind: str) -> None:
    index = _build(FORMS, kind)
    index.add([(20, "escrivano"), (15, "maravedis")])
    assert (len(index), index.max_id) == (len(FORMS) + 2, 20)
    [hit] = index.search("escriuano", k=1)
    assert (hit.form_id, hit.form, hit.similarity) == (20, "escrivano", pytest.approx(8 / 9))
    assert index.form(15) == "maravedis"
    index.add([])
    assert len(index) == len(FORMS) + 2


def test_ids_must_be_new_and_positive() -> None:
    index = _build(FORMS, "exact")
    with pytest.raises(ValueError, match="already"):
        index.add([(3, "otra")])
    with pytest.raises(ValueError, match="already"):
        index.add([(30, "a"), (30, "b")])
    with pytest.raises(ValueError, match="positive"):
        LexicalIndex.build([(0, "a")])
    assert len(index) == len(FORMS)


# -- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_round_trip(kind: str, tmp_path: Path) -> None:
    index = _build(FORMS, kind)
    index.add([(40, "señor")])
    path = tmp_path / "lexical.npz"
    index.save(path)
    loaded = LexicalIndex.load(path)
    assert (loaded.kind, len(loaded), loaded.max_id) == (kind, len(index), 40)
    for word in ("que", "yglefia", "senor", "dcho"):
        assert loaded.search(word) == index.search(word)
    loaded.add([(41, "otrosi")])
    assert loaded.search("otrosi", k=1)[0].form_id == 41
    assert [p.name for p in tmp_path.iterdir()] == ["lexical.npz"]  # no temporary left


def test_an_empty_index_round_trips(tmp_path: Path) -> None:
    LexicalIndex.build([]).save(tmp_path / "empty.npz")
    assert len(LexicalIndex.load(tmp_path / "empty.npz")) == 0


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        _garble,
        lambda path: path.write_bytes(b"garbage" * 100),
        lambda path: path.write_bytes(b""),
        lambda path: np.savez(path, header=np.frombuffer(b'{"format": 99}', dtype=np.uint8)),
        lambda path: np.savez(path, something=np.arange(3)),
    ],
    ids=["truncated", "garbled", "garbage", "empty", "other-format", "foreign-npz"],
)
def test_a_damaged_file_is_an_index_file_error(damage: object, tmp_path: Path) -> None:
    path = tmp_path / "lexical.npz"
    _build(FORMS, "hnsw").save(path)
    damage(path)  # type: ignore[operator]
    with pytest.raises(IndexFileError):
        LexicalIndex.load(path)


def test_a_missing_file_is_an_index_file_error(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="no lexical index"):
        LexicalIndex.load(tmp_path / "nothing.npz")
