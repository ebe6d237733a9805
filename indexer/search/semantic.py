"""Search by meaning: sentence embeddings of passages in a FAISS index keyed by passage id.

A passage is a line or a window of consecutive lines. The search service gives each one an
int64 id (a line id, or minus the first line id of a window; see `indexer.search.service`); this
module only ever sees ids and texts. Embeddings are normalised when they are made, so the
inner product the index computes is the cosine similarity.

**Model.** See `indexer.search.sentence_model`: the packaged all-MiniLM-L6-v2 by default,
any sentence-transformers model by directory or hub name, loaded once per model and device.

**Index kinds.** A collection built with fewer than `IVF_THRESHOLD` passages gets an exact
index (``IndexIDMap2`` over ``IndexFlatIP``). From that size on, `build` trains an inverted
file (``IndexIVFFlat``, inner product) on a sample of the collection, with about
``4 * sqrt(n)`` lists and `nprobe` set so that a query scans about `IVF_SCANNED_VECTORS`
vectors, so that an IVF query costs about what an exact one costs at the threshold. HNSW was
measured and not chosen although its recall per query time was better on real embeddings
(10,700 passages of the shared manuscripts: recall@10 0.98 at efSearch 32, IVF 0.96 when it
probes a quarter of its lists): FAISS's HNSW cannot remove vectors, and every correction
replaces one. `upsert` and `remove` never change the kind; a rebuild (``legajo reindex``)
retrains.

**GPU.** With the GPU build of FAISS and a GPU (and ``device`` not ``"cpu"``), the k-means
training of an IVF index runs on the GPU. Searches stay on the CPU: they take milliseconds
there at every size this module builds (see the figures), and a CPU index can remove and
replace vectors in place, which GPU indexes cannot.

**Files.** One file per index: a magic line, one JSON header line (format version, model id,
dimension, kind, count), then the FAISS index as ``faiss.write_index`` writes it. Files are
written atomically. `SemanticIndex.load` refuses a model other than the one the index was
built with: vectors of different models are not comparable.

Figures on the development machine (2 cores shared with a training run, one thread, 384
dimensions, so upper bounds): all-MiniLM-L6-v2 embeds about 190 manuscript lines/s in batches
of 64 (60 passages/s for lines mixed with 3-line windows); an exact query takes 0.2 ms over
10,000 passages and 6 ms over 100,000. Over 1,000,000, in a run on a busier machine, an exact
query took 124 ms and an IVF query (4,000 lists, 800 probed) 25 ms; an upsert took 5 ms and
training the IVF index 140 s.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from htr.atomic_files import write_atomically
from indexer.errors import IndexFileError, SemanticModelError

# The model names are re-exported (``name as name``): callers import them from here too.
from indexer.search.sentence_model import DEFAULT_MODEL_ID as DEFAULT_MODEL_ID
from indexer.search.sentence_model import ModelSource as ModelSource
from indexer.search.sentence_model import load_sentence_model as load_sentence_model
from indexer.search.sentence_model import resolve_model, shared_model

logger = logging.getLogger(__name__)

IVF_THRESHOLD = 200_000
"""Passages from which `SemanticIndex.build` makes an IVF index instead of an exact one.

An exact query over 200,000 passages takes about 12 ms on one core; exact search grows
linearly with the collection (ten times that for the 2,000,000 passages of a million lines).
"""

IVF_SCANNED_VECTORS = 200_000
"""Vectors an IVF query should scan, which sets ``nprobe``: as many as an exact query at the
threshold scans, so IVF answers as fast, whatever the collection's size."""

IVF_LISTS_PER_SQRT_N = 4
"""Inverted lists per square root of the collection size."""

IVF_TRAINING_POINTS_PER_LIST = 64
"""Training sample size per list (FAISS wants at least 39)."""

CPU_BATCH_SIZE = 64
CUDA_BATCH_SIZE = 256

ENCODE_CHUNK = 4096
"""Passages per call to the model: bounds memory and paces the progress callback."""

FILE_MAGIC = b"legajo-semantic-index\n"
FILE_FORMAT = 1
HEADER_MAX_BYTES = 1 << 16

# A window starting at line 1 has passage id -1, which FAISS also uses for "no result";
# a missing result is told apart by its score, which is -FLT_MAX instead of a cosine.
_NO_RESULT_SCORE = -2.0

IndexKind = Literal["exact", "ivf"]
ProgressCallback = Callable[[int, int], None]
"""Called with (passages embedded so far, passages in all) while an index is built."""


@dataclass(frozen=True, slots=True)
class IndexFileHeader:
    """What a semantic index file says about itself, readable without loading the index.

    Attributes:
        model_id: The model the vectors were made with (see `ModelSource.model_id`).
        dimension: Vector dimension; None for an empty index.
        kind: ``"exact"`` or ``"ivf"``; None for an empty index.
        count: Passages in the index.
    """

    model_id: str
    dimension: int | None
    kind: IndexKind | None
    count: int


class SemanticIndex:
    """Passages by meaning: ``search`` returns the passages closest to a query, by cosine.

    Safe to share between threads: searches and changes are serialised by a lock, and the
    slow parts (embedding, building) run outside it.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        ivf_threshold: int = IVF_THRESHOLD,
    ) -> None:
        """Makes an empty index; the model is loaded on first use.

        Args:
            model: See `resolve_model`.
            device: Where the model runs; see `load_sentence_model`. ``"cpu"`` also keeps
                FAISS off the GPU.
            ivf_threshold: Passages from which `build` makes an IVF index.

        Raises:
            SemanticModelError: If `model` names no model directory.
            ValueError: If `ivf_threshold` is below 1.
        """
        if ivf_threshold < 1:
            raise ValueError(f"ivf_threshold must be at least 1, not {ivf_threshold}")
        self._source = resolve_model(model)
        self._device = device
        self._ivf_threshold = ivf_threshold
        self._index: Any = None
        self._lock = threading.RLock()
        self._warned_oversize = False

    @property
    def model_id(self) -> str:
        """The id of the model this index embeds with (stored in its file)."""
        return self._source.model_id

    @property
    def kind(self) -> IndexKind | None:
        """``"exact"`` or ``"ivf"``; None while the index is empty and has never held vectors."""
        with self._lock:
            return _kind_of(self._index)

    @property
    def dimension(self) -> int | None:
        """Vector dimension; None until the index first holds vectors."""
        with self._lock:
            return None if self._index is None else int(self._index.d)

    def __len__(self) -> int:
        with self._lock:
            return 0 if self._index is None else int(self._index.ntotal)

    def build(
        self, passages: Iterable[tuple[int, str]], *, on_progress: ProgressCallback | None = None
    ) -> None:
        """Replaces the whole index with these passages.

        Searches keep using the previous contents until the new index is ready. A passage
        whose text is blank is left out; when an id comes twice, the last text counts.

        Args:
            passages: (passage id, text) pairs.
            on_progress: Called after each chunk of passages is embedded.

        Raises:
            SemanticModelError: If the model cannot be loaded.
        """
        texts, _ = _split_blank(passages)
        ids = np.fromiter(texts, dtype=np.int64, count=len(texts))
        self.build_from_vectors(ids, self._embed_chunks(list(texts.values()), on_progress))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors this index stores for passages with these texts.

        Args:
            texts: Passage texts (not blank).

        Returns:
            float32 array of shape (len(texts), dimension), rows of unit length.

        Raises:
            SemanticModelError: If the model cannot be loaded.
        """
        return self._embed(texts)

    def build_from_vectors(self, ids: np.ndarray, chunks: Iterable[np.ndarray]) -> None:
        """Replaces the whole index with vectors already embedded by this index's model.

        For vectors made elsewhere (`embed` in another process, or on another machine);
        `build` embeds and then calls this. From `ivf_threshold` vectors on, the index is
        an IVF index, trained on a sample of them.

        Args:
            ids: The passage ids, in the order of the vectors.
            chunks: float32 arrays of unit rows, one row per id, in order.

        Raises:
            ValueError: If there are not as many vectors as ids.
        """
        started = time.perf_counter()
        index: Any = None
        added = 0
        if len(ids) >= self._ivf_threshold:
            vectors = list(chunks)
            added = sum(len(chunk) for chunk in vectors)
            if added == len(ids):
                index = _new_ivf_index(vectors, self._faiss_gpu())
                _add_chunks(index, vectors, ids)
        else:
            for chunk in chunks:
                if added + len(chunk) > len(ids):
                    raise ValueError(f"more vectors than the {len(ids)} passage ids")
                if index is None:
                    index = _new_exact_index(chunk.shape[1])
                index.add_with_ids(chunk, ids[added : added + len(chunk)])
                added += len(chunk)
        if added != len(ids):
            raise ValueError(f"{added} vectors for {len(ids)} passage ids")
        with self._lock:
            self._index = index
            self._warned_oversize = False
        logger.info(
            "built a semantic index of %d passages (%s) in %.1f s",
            len(ids),
            _kind_of(index) or "empty",
            time.perf_counter() - started,
        )

    def upsert(self, passages: Iterable[tuple[int, str]]) -> None:
        """Adds passages, replacing those whose ids the index already holds.

        A passage whose text is now blank is removed.

        Args:
            passages: (passage id, text) pairs.

        Raises:
            SemanticModelError: If the model cannot be loaded, or its vectors do not have
                this index's dimension.
        """
        texts, blank = _split_blank(passages)
        if not texts and not blank:
            return
        ids = np.fromiter(texts, dtype=np.int64, count=len(texts))
        vectors = self._embed(list(texts.values())) if texts else None
        with self._lock:
            if vectors is not None:
                self._check_dimension(vectors)
            if self._index is not None:
                self._index.remove_ids(np.concatenate([ids, np.asarray(blank, dtype=np.int64)]))
            if vectors is not None:
                if self._index is None:
                    self._index = _new_exact_index(vectors.shape[1])
                self._index.add_with_ids(vectors, ids)
                self._warn_if_oversize()

    def remove(self, ids: Iterable[int]) -> None:
        """Removes passages by id; ids the index does not hold are ignored.

        Args:
            ids: Passage ids.
        """
        array = np.fromiter(ids, dtype=np.int64)
        with self._lock:
            if self._index is not None and len(array):
                self._index.remove_ids(array)

    def load_model(self) -> None:
        """Loads the sentence model now, if this process has not loaded it yet.

        Otherwise the first `search` (or `upsert`) loads it, which takes seconds: callers with
        a time limit per query load it first (`indexer.search.service`).

        Raises:
            SemanticModelError: If the model cannot be loaded.
        """
        shared_model(self._source, self._device)

    def search(self, query: str, *, k: int = 20) -> list[tuple[int, float]]:
        """Finds the passages closest in meaning to a query.

        Args:
            query: Free text; a blank query finds nothing.
            k: Most passages to return.

        Returns:
            (passage id, cosine similarity) pairs, best first; empty when the index is.

        Raises:
            SemanticModelError: If the model cannot be loaded.
            ValueError: If `k` is below 1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not query.strip() or len(self) == 0:
            return []
        return self.search_vector(self.embed_query(query), k=k)

    def embed_query(self, query: str) -> np.ndarray:
        """The vector `search` looks for: a query embedded as a query (shape ``(1, d)``).

        Raises:
            SemanticModelError: If the model cannot be loaded.
        """
        return self._embed([query], as_query=True)

    def search_vector(self, vector: np.ndarray, *, k: int = 20) -> list[tuple[int, float]]:
        """The passages closest to an embedded query (`embed_query`), as `search` returns them.

        An index cut into shards (`indexer.search.sharded.ShardedSemanticIndex`) embeds the
        query once and asks every shard with this.

        Raises:
            SemanticModelError: If the vector's dimension is not this index's.
        """
        with self._lock:
            if self._index is None or self._index.ntotal == 0:
                return []
            self._check_dimension(vector)
            scores, labels = self._index.search(vector, min(k, int(self._index.ntotal)))
        return [
            (int(label), min(1.0, max(-1.0, float(score))))
            for score, label in zip(scores[0], labels[0], strict=True)
            if score > _NO_RESULT_SCORE
        ]

    def save(self, path: Path) -> None:
        """Writes the index and its model id to one file, atomically.

        Args:
            path: The file; its directory must exist.

        Raises:
            OSError: If the file cannot be written (the previous file, if any, is intact).
        """
        with self._lock:
            header = {
                "format": FILE_FORMAT,
                "model_id": self.model_id,
                "dimension": None if self._index is None else int(self._index.d),
                "kind": _kind_of(self._index),
                "count": len(self),
            }
            index = self._index

            def write(stream: IO[bytes]) -> None:
                faiss = _faiss()
                stream.write(FILE_MAGIC)
                stream.write(json.dumps(header).encode() + b"\n")
                if index is not None:
                    faiss.write_index(index, faiss.PyCallbackIOWriter(stream.write))

            write_atomically(path, write)
        logger.debug("saved semantic index of %d passages to %s", header["count"], path)

    @classmethod
    def load(
        cls,
        path: Path,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        ivf_threshold: int = IVF_THRESHOLD,
    ) -> SemanticIndex:
        """Reads an index written by `save`.

        Args:
            path: The file.
            model: The model queries and new passages will be embedded with; it must be the
                one the index was built with (see `resolve_model`; None is the default model).
            device: See `SemanticIndex`.
            ivf_threshold: See `SemanticIndex`.

        Returns:
            The index, its model not loaded yet.

        Raises:
            SemanticModelError: If the index was built with another model.
            IndexFileError: If the file is missing, unreadable or not a semantic index.
        """
        faiss = _faiss()
        semantic = cls(model, device=device, ivf_threshold=ivf_threshold)
        try:
            with path.open("rb") as stream:
                header = _read_header(stream, path)
                if header.model_id != semantic.model_id:
                    raise SemanticModelError(
                        f"{path} was built with the sentence model {header.model_id!r}, not "
                        f"{semantic.model_id!r}: load it with that model, or rebuild it "
                        "(legajo reindex --only semantic)"
                    )
                index = None
                if header.count or header.kind is not None:
                    index = faiss.read_index(faiss.PyCallbackIOReader(stream.read))
        except OSError as error:
            raise IndexFileError(f"cannot read semantic index {path}: {error}") from error
        except RuntimeError as error:  # FAISS reports a truncated or garbled index this way
            raise IndexFileError(f"{path}: corrupt semantic index ({error})") from error
        if index is not None and (index.ntotal != header.count or index.d != header.dimension):
            raise IndexFileError(
                f"{path}: corrupt semantic index (header says {header.count} vectors of "
                f"{header.dimension} dimensions, file holds {index.ntotal} of {index.d})"
            )
        semantic._index = index
        return semantic

    @staticmethod
    def read_header(path: Path) -> IndexFileHeader:
        """Reads what an index file says about itself, without loading the index.

        Args:
            path: A file written by `save`.

        Returns:
            The header.

        Raises:
            IndexFileError: If the file is missing, unreadable or not a semantic index.
        """
        try:
            with path.open("rb") as stream:
                return _read_header(stream, path)
        except OSError as error:
            raise IndexFileError(f"cannot read semantic index {path}: {error}") from error

    def _embed(self, texts: Sequence[str], *, as_query: bool = False) -> np.ndarray:
        model = shared_model(self._source, self._device)
        # Models with query/document prompts (e5, bge...) need the right one on each side.
        encode = getattr(model, "encode_query" if as_query else "encode_document", model.encode)
        prompt = None if as_query else _document_prompt(model)
        batch_size = CUDA_BATCH_SIZE if model.device.type == "cuda" else CPU_BATCH_SIZE
        vectors = encode(
            list(texts),
            prompt_name=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _embed_chunks(
        self, texts: Sequence[str], on_progress: ProgressCallback | None
    ) -> Iterator[np.ndarray]:
        for start in range(0, len(texts), ENCODE_CHUNK):
            chunk = texts[start : start + ENCODE_CHUNK]
            yield self._embed(chunk)
            if on_progress is not None:
                on_progress(start + len(chunk), len(texts))

    def _check_dimension(self, vectors: np.ndarray) -> None:
        if self._index is not None and vectors.shape[1] != self._index.d:
            raise SemanticModelError(
                f"the sentence model {self.model_id!r} makes vectors of {vectors.shape[1]} "
                f"dimensions, but this index holds vectors of {self._index.d}: rebuild it"
            )

    def _warn_if_oversize(self) -> None:
        if (
            not self._warned_oversize
            and _kind_of(self._index) == "exact"
            and self._index.ntotal >= 2 * self._ivf_threshold
        ):
            self._warned_oversize = True
            logger.warning(
                "the exact semantic index has grown to %d passages and searches slow down; "
                "a rebuild (legajo reindex --only semantic) makes it an IVF index",
                self._index.ntotal,
            )

    def _faiss_gpu(self) -> tuple[Any, int] | None:
        """GPU resources and device number for FAISS, or None to stay on the CPU."""
        faiss = _faiss()
        if self._device == "cpu" or self._device.startswith(("mps", "xpu")):
            return None
        if not hasattr(faiss, "StandardGpuResources"):
            logger.info("FAISS runs on the CPU: the installed FAISS has no GPU support")
            return None
        if faiss.get_num_gpus() == 0:
            logger.info("FAISS runs on the CPU: it sees no GPU")
            return None
        number = int(self._device.split(":", 1)[1]) if ":" in self._device else 0
        logger.info("FAISS trains on GPU %d", number)
        return faiss.StandardGpuResources(), number


def ivf_list_count(count: int) -> int:
    """Inverted lists for an IVF index over `count` vectors (at least 39 training points each)."""
    return max(1, min(int(IVF_LISTS_PER_SQRT_N * math.sqrt(count)), count // 39))


def ivf_probe_count(count: int, lists: int) -> int:
    """Lists an IVF query visits so that it scans about `IVF_SCANNED_VECTORS` vectors."""
    return max(1, min(lists, math.ceil(IVF_SCANNED_VECTORS * lists / max(count, 1))))


def _new_exact_index(dimension: int) -> Any:
    faiss = _faiss()
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _new_ivf_index(chunks: Sequence[np.ndarray], gpu: tuple[Any, int] | None) -> Any:
    """An empty IVF index trained on a sample of the vectors in `chunks`."""
    faiss = _faiss()
    count = sum(len(chunk) for chunk in chunks)
    dimension = chunks[0].shape[1]
    lists = ivf_list_count(count)
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
    )
    sample = _sample_rows(chunks, count, IVF_TRAINING_POINTS_PER_LIST * lists)
    clustering = None
    if gpu is not None:
        resources, number = gpu
        # Kept in a local: FAISS does not own it, and Python would free it before training.
        clustering = faiss.index_cpu_to_gpu(resources, number, faiss.IndexFlatIP(dimension))
        index.clustering_index = clustering
    index.train(sample)
    index.clustering_index = None
    del clustering
    index.nprobe = ivf_probe_count(count, lists)
    # A hash table from id to list entry makes removal by id cheap instead of a full scan.
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


def _add_chunks(index: Any, chunks: list[np.ndarray], ids: np.ndarray) -> None:
    """Adds the chunks in order, releasing each once it is in the index."""
    start = 0
    while chunks:
        chunk = chunks.pop(0)
        index.add_with_ids(chunk, ids[start : start + len(chunk)])
        start += len(chunk)


def _sample_rows(chunks: Sequence[np.ndarray], count: int, size: int) -> np.ndarray:
    """A reproducible random sample of rows across the chunks, without joining them."""
    if size >= count:
        return np.concatenate(chunks)
    wanted = np.sort(np.random.default_rng(0).choice(count, size, replace=False))
    parts, start = [], 0
    for chunk in chunks:
        inside = wanted[(wanted >= start) & (wanted < start + len(chunk))] - start
        parts.append(chunk[inside])
        start += len(chunk)
    return np.ascontiguousarray(np.concatenate(parts))


def _faiss() -> Any:
    """The faiss module, imported on first use; typed loosely as its own stubs lag behind it."""
    import faiss

    return faiss


DOCUMENT_PROMPTS = ("document", "passage", "corpus")
"""Names of a model's passage prompt, in the order ``encode_document`` tries them."""


def _document_prompt(model: Any) -> str | None:
    """The name of the model's first passage prompt that is not empty, if any.

    ``encode_document`` takes the first of `DOCUMENT_PROMPTS` the model has, and
    sentence-transformers gives every model an empty ``document`` prompt: a model whose
    configuration declares only ``passage`` (as the E5 models' prefixes are often written)
    would get no prefix.
    """
    prompts = getattr(model, "prompts", None) or {}
    return next((name for name in DOCUMENT_PROMPTS if prompts.get(name)), None)


def _kind_of(index: Any) -> IndexKind | None:
    if index is None:
        return None
    faiss = _faiss()
    return "exact" if isinstance(index, faiss.IndexIDMap2) else "ivf"


def _split_blank(passages: Iterable[tuple[int, str]]) -> tuple[dict[int, str], list[int]]:
    """Passages with text (last text per id), and the ids whose text is blank."""
    texts: dict[int, str] = {}
    blank: dict[int, None] = {}
    for passage_id, text in passages:
        key = int(passage_id)
        if text.strip():
            texts[key] = text
            blank.pop(key, None)
        else:
            blank[key] = None
            texts.pop(key, None)
    return texts, list(blank)


def _read_header(stream: IO[bytes], path: Path) -> IndexFileHeader:
    if stream.readline(len(FILE_MAGIC)) != FILE_MAGIC:
        raise IndexFileError(f"{path}: not a legajo semantic index")
    line = stream.readline(HEADER_MAX_BYTES)
    try:
        fields = json.loads(line)
        header = IndexFileHeader(
            model_id=str(fields["model_id"]),
            dimension=fields["dimension"],
            kind=fields["kind"],
            count=int(fields["count"]),
        )
        version = fields["format"]
    except (ValueError, KeyError, TypeError) as error:
        raise IndexFileError(f"{path}: corrupt semantic index header ({error})") from error
    if version != FILE_FORMAT:
        raise IndexFileError(
            f"{path}: semantic index format {version}, this legajo reads {FILE_FORMAT}: "
            "rebuild it (legajo reindex --only semantic)"
        )
    if header.kind not in (None, "exact", "ivf"):
        raise IndexFileError(f"{path}: unknown semantic index kind {header.kind!r}")
    return header
