"""The lexical index: every distinct word form of a collection, found by spelling similarity.

The recognizer's mistakes are mostly one or two characters: ``qve`` for ``que``, ``dcho``
for ``dicho``, ``fenor`` for ``senor``. To find them, each normalised word form (the
``word_forms`` table, see `indexer.store.word_index`) becomes a vector of character features — the
characters, bigrams and trigrams of the form padded with the boundary markers ``^`` and
``$``, and its skip-bigrams (two characters with one between) — each hashed to one of
`DIMENSIONS` columns with a sign, weighted by `FEATURE_WEIGHTS` and L2-normalised, in a FAISS
inner-product index keyed by the form's database id. Forms that share most of their features
have a high cosine, so the index proposes the near misses of a query word as candidates
(`candidate_count` of them), and each candidate is then scored on its string with the
normalised Levenshtein similarity::

    similarity(a, b) = 1 - levenshtein(a, b) / max(len(a), len(b))

which is 1 for identical forms, 0.75 for two edits in an 8-letter word and 0.67 for one edit
in a 3-letter word. Only candidates at or above ``min_similarity`` are returned, best first,
so the threshold means what it says whatever FAISS does; FAISS only decides which forms are
looked at.

**Index kinds.** Up to `EXACT_LIMIT` forms the index is exact (``IndexIDMap`` over
``IndexFlatIP``). Above, `build` makes an HNSW graph over 8-bit scalar-quantised vectors
(``IndexHNSWSQ``, about 400 bytes per form), searched with ``efSearch`` equal to the number
of candidates. An inverted file (IVF) was measured and not chosen: a near miss and its true
form have a cosine of 0.2 to 0.9 (0.7 typically), so they often fall in different IVF
cells, and an IVF index had to scan a quarter of the vocabulary to propose as many true
forms as the exact index, where HNSW proposes as many in a millisecond or two. HNSW cannot
remove vectors, but forms are never deleted. `add` never changes the kind; a rebuild
(``legajo reindex``) does.

**Recall.** On synthetic vocabularies (``bench/search_latency.py``'s generator: every
distinct form of five readings per line) and 600 query words with one or two
recognizer-like edits each, the true form is among the 50 hits of ``search`` for 99.5 % of
the queries at 59,522 forms (20,000 lines; exact and HNSW alike) and 97.8 % (one edit) and
97.4 % (two edits) at 175,814 forms (100,000 lines, HNSW); among the 10 best for 95 % and
91 %. A true form is missed when other forms are at least as similar to the query (the
more forms, the more near misses compete), or, rarely, when FAISS does not propose it.

**Files.** `save` writes one ``.npz`` file (NumPy's zip container, read back without pickles):
the FAISS index as bytes, the ids, the forms as UTF-8, and a JSON header with `FILE_FORMAT`
and the vectoriser's parameters. A truncated or garbled file fails the zip's own checks or
FAISS's, and `load` raises `IndexFileError`.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from htr.atomic_files import write_atomically
from htr.metrics import edit_distance as levenshtein
from indexer.errors import IndexFileError

logger = logging.getLogger(__name__)

DIMENSIONS = 256
"""Hash columns, hence vector dimensions: 512 and 1,024 proposed no more true forms."""

FEATURE_WEIGHTS = {"1": 0.25, "2": 1.0, "3": 0.25, "s": 1.0}
"""Weight of each kind of feature: characters (``1``), bigrams (``2``), trigrams (``3``) and
skip-bigrams (``s``, which survive a substitution of the character between). Chosen on the
candidate recall of 1- and 2-edit misreadings: with equal weights and no skip-bigrams, FAISS
failed to propose twice as many true forms."""

EXACT_LIMIT = 100_000
"""Most forms for which `build` makes an exact index; an HNSW index from there on."""

HNSW_NEIGHBOURS = 16
"""HNSW ``M``: graph links per form (32 was three times slower to build for no recall)."""

HNSW_EF_CONSTRUCTION = 40
"""HNSW ``efConstruction``."""

SQ_TRAINING_FORMS = 100_000
"""Forms sampled to train the scalar quantiser of an HNSW index."""

MIN_CANDIDATES = 1_000
"""Fewest FAISS candidates re-scored per query, whatever ``k``: a short query word has many
forms that share a few features with it, so its true form may rank in the hundreds."""

CANDIDATE_FACTOR = 4
"""FAISS candidates per wanted hit, when that is more than `MIN_CANDIDATES`."""

FILE_FORMAT = 1
"""Version of the `save` file layout and of the vectoriser; other versions are refused."""

_VECTOR_BATCH = 65_536
_SLACK = 1e-9
"""Added to ``1 - min_similarity`` so that rounding never drops a form at the threshold."""
_SAMPLE_SEED = 20_260_127


@dataclass(frozen=True, slots=True)
class FormHit:
    """A word form near a query word.

    Attributes:
        form_id: The form's database id (``word_forms.id``).
        form: The normalised form.
        similarity: Normalised Levenshtein similarity to the query word, in [0, 1]; 1 means
            identical.
    """

    form_id: int
    form: str
    similarity: float


class LexicalIndex:
    """Word forms by spelling: `search` returns the stored forms nearest to a word.

    Safe to share between threads: searches and additions are serialised by a lock.
    """

    def __init__(self, index: Any, forms: dict[int, str]) -> None:
        """Wraps a FAISS index and the forms it holds; use `build` or `load` instead."""
        self._index = index
        self._forms = forms
        self._max_id = max(forms, default=0)
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, forms: Iterable[tuple[int, str]], *, exact_limit: int = EXACT_LIMIT
    ) -> LexicalIndex:
        """Indexes word forms.

        Args:
            forms: (form id, normalised form) pairs; ids must be distinct and positive.
            exact_limit: Most forms for an exact index; more get an HNSW index.

        Returns:
            The index.

        Raises:
            ValueError: If an id is repeated or not positive.
        """
        by_id = _checked_forms(forms, {})
        ids = np.fromiter(by_id.keys(), dtype=np.int64, count=len(by_id))
        texts = list(by_id.values())
        index = _new_exact_index() if len(texts) <= exact_limit else _new_hnsw_index(texts)
        _add_vectors(index, ids, texts)
        logger.info("built an %s lexical index of %d forms", _kind_of(index), len(texts))
        return cls(index, by_id)

    @property
    def max_id(self) -> int:
        """The highest form id held (0 when empty): `add` the forms stored after it."""
        return self._max_id

    @property
    def kind(self) -> str:
        """``"exact"`` or ``"hnsw"``."""
        return _kind_of(self._index)

    def __len__(self) -> int:
        return len(self._forms)

    def form(self, form_id: int) -> str | None:
        """The form with this id, None when the index does not hold it."""
        return self._forms.get(form_id)

    def add(self, forms: Iterable[tuple[int, str]]) -> None:
        """Adds forms the index does not hold yet.

        Args:
            forms: (form id, normalised form) pairs with new ids.

        Raises:
            ValueError: If an id is already held, repeated, or not positive.
        """
        with self._lock:
            added = _checked_forms(forms, self._forms)
            if not added:
                return
            ids = np.fromiter(added.keys(), dtype=np.int64, count=len(added))
            _add_vectors(self._index, ids, list(added.values()))
            self._forms.update(added)
            self._max_id = max(self._max_id, int(ids.max()))
        logger.debug("added %d forms to the lexical index", len(added))

    def search(self, word: str, *, k: int = 50, min_similarity: float = 0.6) -> list[FormHit]:
        """The stored forms most similar to a word.

        Args:
            word: A normalised word (as `indexer.spelling.normalize.word_keys` gives it).
            k: Most hits returned.
            min_similarity: Lowest similarity returned, in [0, 1].

        Returns:
            At most `k` hits, most similar first (ties by id: forms met earlier first).
        """
        if not word or k <= 0:
            return []
        _, ids = self.nearest(vectorize([word]), candidate_count(k))
        found = ((form_id, self._forms.get(form_id)) for form_id in ids.tolist())
        candidates = [(form_id, form) for form_id, form in found if form is not None]
        return rank_candidates(word, candidates, k=k, min_similarity=min_similarity)

    def nearest(self, query: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        """The forms whose vectors are nearest to a query vector, as FAISS finds them.

        `search` re-scores these on their strings; an index cut into shards
        (`indexer.search.sharded.ShardedLexicalIndex`) merges them over its shards first.

        Args:
            query: `vectorize` of one word, shape ``(1, DIMENSIONS)``.
            wanted: Most forms returned (`candidate_count` of the hits wanted).

        Returns:
            The inner products (float32) and the form ids (int64) of at most `wanted`
            forms, nearest first; every id is held (`form` finds it).
        """
        with self._lock:
            wanted = min(wanted, len(self._forms))
            if wanted <= 0:
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            _set_search_breadth(self._index, wanted)
            scores, labels = self._index.search(query, wanted)
        # HNSW may find fewer than asked and pads with -1.
        found = labels[0] >= 0
        return scores[0][found], labels[0][found].astype(np.int64)

    def save(self, path: Path) -> None:
        """Writes the index to one file, atomically (readers see the old or the new file).

        Args:
            path: The file (conventionally ``.npz``); its directory must exist.

        Raises:
            OSError: If the file cannot be written; a previous file is left intact.
        """
        import faiss

        with self._lock:
            ids = np.fromiter(self._forms.keys(), dtype=np.int64, count=len(self._forms))
            encoded = [form.encode() for form in self._forms.values()]
            serialized = faiss.serialize_index(self._index)
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        header = {"format": FILE_FORMAT, **_vectorizer_parameters(), "count": len(encoded)}
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            "ids": ids,
            "lengths": lengths,
            "forms": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "faiss": serialized,
        }
        write_atomically(path, lambda stream: np.savez(stream, allow_pickle=False, **arrays))
        logger.debug("saved lexical index of %d forms to %s", len(encoded), path)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        """Reads an index written by `save`.

        Args:
            path: The file.

        Returns:
            The index.

        Raises:
            IndexFileError: If the file is missing, unreadable, corrupt, or was written by
                another version of the vectoriser.
        """
        import faiss

        try:
            with np.load(path, allow_pickle=False) as stored:
                header = json.loads(stored["header"].tobytes())
                _check_header(header, path)
                ids = stored["ids"]
                lengths = stored["lengths"]
                blob = stored["forms"].tobytes()
                serialized = stored["faiss"]
        except IndexFileError:
            raise
        except FileNotFoundError as error:
            raise IndexFileError(f"no lexical index at {path}") from error
        # np.load raises all of these for truncated, garbled or foreign files.
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise IndexFileError(f"{path}: unreadable lexical index ({error})") from error
        count = int(header["count"])
        if not (
            ids.dtype == np.int64
            and lengths.dtype == np.int64
            and serialized.dtype == np.uint8
            and len(ids) == len(lengths) == count
            and int(lengths.sum()) == len(blob)
            and (lengths >= 0).all()
        ):
            raise IndexFileError(f"{path}: corrupt lexical index (inconsistent arrays)")
        try:
            index = faiss.deserialize_index(serialized)
        except RuntimeError as error:  # FAISS reports a garbled index this way
            raise IndexFileError(f"{path}: corrupt lexical index ({error})") from error
        if index.ntotal != count or index.d != DIMENSIONS:
            raise IndexFileError(
                f"{path}: corrupt lexical index (header says {count} forms, the FAISS index "
                f"holds {index.ntotal} vectors of {index.d} dimensions)"
            )
        try:
            forms = _decode_forms(ids, lengths, blob)
        except UnicodeDecodeError as error:
            raise IndexFileError(f"{path}: corrupt lexical index ({error})") from error
        if len(forms) != count:
            raise IndexFileError(f"{path}: corrupt lexical index (repeated form ids)")
        return cls(index, forms)


def rank_candidates(
    word: str, candidates: Sequence[tuple[int, str]], *, k: int, min_similarity: float
) -> list[FormHit]:
    """Scores FAISS's candidate forms on their strings and keeps the best (`LexicalIndex.search`).

    Args:
        word: The query word, normalised.
        candidates: (form id, form) pairs, in any order.
        k: Most hits returned.
        min_similarity: Lowest similarity returned, in [0, 1].

    Returns:
        At most `k` hits, most similar first, ties by form id.
    """
    # The distance is at least the difference in length: forms too long or too short
    # to reach the threshold are not compared.
    budget = 1.0 - min_similarity + _SLACK
    kept = [
        (form_id, form)
        for form_id, form in candidates
        if abs(len(form) - len(word)) <= budget * max(len(form), len(word))
    ]
    scores = similarities(word, [form for _, form in kept], min_similarity=min_similarity)
    hits = [
        FormHit(form_id, form, float(score))
        for (form_id, form), score in zip(kept, scores.tolist(), strict=True)
        if score >= min_similarity
    ]
    hits.sort(key=lambda hit: (-hit.similarity, hit.form_id))
    return hits[:k]


def candidate_count(k: int) -> int:
    """How many FAISS candidates `LexicalIndex.search` re-scores to return `k` hits."""
    return max(MIN_CANDIDATES, CANDIDATE_FACTOR * k)


def similarity(a: str, b: str) -> float:
    """Normalised Levenshtein similarity: ``1 - levenshtein(a, b) / max(len(a), len(b))``.

    Returns:
        A value in [0, 1]; 1 when the strings are equal (two empty strings included).
    """
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def similarities(word: str, forms: Sequence[str], *, min_similarity: float = 0.0) -> np.ndarray:
    """`similarity` of a word to each of many forms at once.

    Args:
        word: The word.
        forms: The forms.
        min_similarity: Similarities below this need not be exact: the edit distance is
            only computed up to the bound it implies, and a form beyond the bound gets a
            similarity that is below `min_similarity` but not its own. The default, 0,
            computes every similarity exactly.

    Returns:
        A float64 array, one similarity per form.
    """
    if not forms:
        return np.zeros(0)
    lengths = np.fromiter(map(len, forms), dtype=np.int64, count=len(forms))
    longest = np.maximum(lengths, len(word))
    # A distance above this leaves every form below `min_similarity`: rapidfuzz then stops
    # early and reports the bound plus one, which keeps the form below the threshold.
    bound = max(0, math.floor((1.0 - min_similarity + _SLACK) * int(longest.max())))
    distances = levenshtein_many(word, forms, score_cutoff=bound)
    return 1.0 - distances / np.maximum(longest, 1)


def levenshtein_many(
    word: str, forms: Sequence[str], *, score_cutoff: int | None = None
) -> np.ndarray:
    """`levenshtein` (`htr.metrics.edit_distance`) from a word to many forms, in one call.

    Args:
        word: The word.
        forms: The forms.
        score_cutoff: Largest distance of interest: a form further away gets
            ``score_cutoff + 1`` instead of its distance. None computes every distance.

    Returns:
        An int64 array, one distance per form.
    """
    if not forms:
        return np.zeros(0, dtype=np.int64)
    distances = process.cdist(
        [word], forms, scorer=Levenshtein.distance, score_cutoff=score_cutoff, dtype=np.int64
    )
    return np.asarray(distances[0], dtype=np.int64)


def vectorize(forms: Sequence[str]) -> np.ndarray:
    """The feature vectors of word forms (module docstring).

    Args:
        forms: Normalised word forms.

    Returns:
        A float32 array of shape ``(len(forms), DIMENSIONS)``, rows of unit norm.
    """
    rows: list[int] = []
    columns: list[int] = []
    weights: list[float] = []
    cache = _BUCKETS
    for row, form in enumerate(forms):
        for feature in _features(form):
            column, weight = cache.get(feature) or _bucket(feature)
            rows.append(row)
            columns.append(column)
            weights.append(weight)
    vectors = np.zeros((len(forms), DIMENSIONS), dtype=np.float32)
    np.add.at(vectors, (np.asarray(rows, dtype=np.int64), np.asarray(columns)), weights)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


def _features(form: str) -> list[str]:
    """A form's features, each prefixed by its kind (a key of `FEATURE_WEIGHTS`)."""
    padded = f"^{form}$"
    features = [f"1{char}" for char in form]
    features.extend(f"2{padded[i : i + 2]}" for i in range(len(padded) - 1))
    features.extend(f"3{padded[i : i + 3]}" for i in range(len(padded) - 2))
    features.extend(f"s{padded[i]}{padded[i + 2]}" for i in range(len(padded) - 2))
    return features


_BUCKETS: dict[str, tuple[int, float]] = {}


def _bucket(feature: str) -> tuple[int, float]:
    """The column and signed weight of a feature (a stable hash: the same in every process).

    The hash's top bit gives the sign, so features that collide in a column cancel out on
    average instead of adding up.
    """
    digest = zlib.crc32(feature.encode())
    sign = -1.0 if digest >> 31 else 1.0
    # A few thousand distinct features in practice, so the cache stays small.
    found = _BUCKETS[feature] = (digest % DIMENSIONS, sign * FEATURE_WEIGHTS[feature[0]])
    return found


def _vectorizer_parameters() -> dict[str, Any]:
    return {
        "dimensions": DIMENSIONS,
        "feature_weights": dict(sorted(FEATURE_WEIGHTS.items())),
        "hash": "crc32-signed",
    }


def _check_header(header: Any, path: Path) -> None:
    if not isinstance(header, dict) or not isinstance(header.get("count"), int):
        raise IndexFileError(f"{path}: corrupt lexical index header")
    if header.get("format") != FILE_FORMAT:
        raise IndexFileError(
            f"{path}: lexical index format {header.get('format')}, this legajo reads "
            f"{FILE_FORMAT}: rebuild it (legajo reindex --only lexical)"
        )
    expected = _vectorizer_parameters()
    if any(header.get(key) != value for key, value in expected.items()):
        raise IndexFileError(
            f"{path}: lexical index built with other vectoriser parameters: rebuild it "
            "(legajo reindex --only lexical)"
        )


def _checked_forms(forms: Iterable[tuple[int, str]], held: dict[int, str]) -> dict[int, str]:
    checked: dict[int, str] = {}
    for form_id, form in forms:
        key = int(form_id)
        if key <= 0:
            raise ValueError(f"form ids must be positive, not {key}")
        if key in checked or key in held:
            raise ValueError(f"form id {key} is already in the lexical index")
        checked[key] = form
    return checked


def _decode_forms(ids: np.ndarray, lengths: np.ndarray, blob: bytes) -> dict[int, str]:
    forms: dict[int, str] = {}
    start = 0
    for form_id, length in zip(ids.tolist(), lengths.tolist(), strict=True):
        forms[form_id] = blob[start : start + length].decode()
        start += length
    return forms


def _new_exact_index() -> Any:
    import faiss

    return faiss.index_factory(DIMENSIONS, "IDMap,Flat", faiss.METRIC_INNER_PRODUCT)


def _new_hnsw_index(forms: Sequence[str]) -> Any:
    """An HNSW index whose scalar quantiser is trained on a sample of the forms."""
    import faiss

    index: Any = faiss.index_factory(
        DIMENSIONS, f"IDMap,HNSW{HNSW_NEIGHBOURS},SQ8", faiss.METRIC_INNER_PRODUCT
    )
    hnsw: Any = faiss.downcast_index(index.index)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    rng = np.random.default_rng(_SAMPLE_SEED)
    sample = rng.choice(len(forms), size=min(len(forms), SQ_TRAINING_FORMS), replace=False)
    index.train(vectorize([forms[i] for i in sample.tolist()]))
    return index


def _set_search_breadth(index: Any, candidates: int) -> None:
    """Makes an HNSW index explore at least as many forms as are asked of it."""
    import faiss

    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = candidates


def _add_vectors(index: Any, ids: np.ndarray, forms: Sequence[str]) -> None:
    for start in range(0, len(forms), _VECTOR_BATCH):
        stop = start + _VECTOR_BATCH
        index.add_with_ids(vectorize(forms[start:stop]), ids[start:stop])


def _kind_of(index: Any) -> str:
    import faiss

    return "hnsw" if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSW) else "exact"
