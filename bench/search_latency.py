"""Search latency on a synthetic collection, with SQLite FTS5 (trigram tokenizer) as baseline.

    .venv/bin/python bench/search_latency.py                    # 1,000,000 lines
    .venv/bin/python bench/search_latency.py --lines 20000      # a quick run
    .venv/bin/python bench/search_latency.py --semantic-lines 0 # no semantic index
    .venv/bin/python bench/search_latency.py --workdir W        # keep the collection in W
    .venv/bin/python bench/search_latency.py --workdir W --reuse  # measure it again
    .venv/bin/python bench/search_latency.py --backend sqlite,postgresql  # side by side

**Collection.** `TextGenerator` writes early-modern-Spanish-like lines (period function words
and a 20,000-word Zipf-distributed lexicon of generated words, with period spelling
variation), and simulates a recognizer: the best reading gets about one word in ten wrong
(confusions such as ``u``/``n``, long ``s``/``f``, else random edits) and each of the other
four readings changes one word of it. No HTR runs: pages of 30 lines are written straight
into a fresh legajo database (SQLite, through bulk inserts into the ORM's tables), with the
probabilistic word index computed by `indexer.store.word_index.line_forms`, as ingest does.

**Semantic index.** It covers the passages (lines and 3-line windows, `indexer.search.passages`)
of the first ``--semantic-lines`` lines (default: all). all-MiniLM-L6-v2 embeds about 250
lines and 90 windows a second on 2 CPU cores, so a million lines take about 3 hours: only
the passages of the first ``--embedded-lines`` lines (default 50,000) are embedded by the
model. Every other passage gets a stand-in vector: the vector of a randomly chosen embedded
passage of the same kind (line or window), moved by Gaussian noise to a cosine of about
`STAND_IN_COSINE` from it and scaled back to unit length. The index thus has the real size
and a clustering like real embeddings (which decides how evenly IVF lists fill, hence the
query cost); the query embedding, the FAISS search and the loading of the hits are all
real. ``--embedded-lines`` equal to ``--semantic-lines`` embeds everything.

**Measured.** Build time and file size of each index: legajo's lexical index, FTS5 trigram
over the best reading of every line (rowid = line id, the baseline), and the semantic index.
Then p50/p95 latency of `SearchService.search` (limit 20) per mode, of the lexical index
alone, and of two FTS5 baselines on the same query words: the word as a substring (FTS5
``MATCH '"word"'``), and the usual trigram fuzzy search (any trigram of the word, ranked
by bm25), which is what legajo's fuzzy mode replaces. Query words are drawn uniformly from
the lexicon among words of four letters or more ("typical": most are rare, as names and
places are), from the 50 most frequent words ("frequent"), and pairs of frequent words
("pairs", both required; FTS5 gets the two words joined by AND). The lexical index's recall
of near misses is measured on the typical words, each misread once.

With ``--workdir`` the collection is kept (with ``collection.json``: its size, write time
and the counts of the true words, from which the query words are drawn); ``--reuse`` measures
a kept collection again instead of writing a new one. The lexical index is rebuilt; the
semantic index is kept when it was built for the same ``--semantic-lines`` and
``--embedded-lines`` and `legajo check` finds it sound (its build figures are then those of
the earlier run, marked "kept").

Each query set is asked of every mode twice: the first pass reads the database pages from
disk as a first visitor would, the second ("again") finds them in the page cache.

**PostgreSQL.** With ``--backend postgresql`` (or ``sqlite,postgresql``) the bench starts a
throwaway PostgreSQL server of its own (`tests.postgres_server`, as the tests do; settings
`POSTGRES_SETTINGS`), creates the schema through the migrations, copies every table of the
SQLite collection into it with ``COPY``, runs ANALYZE (`Database.refresh_statistics`) and
times the service modes on it, with a lexical index built from PostgreSQL. The FTS5
baselines and the semantic mode run on SQLite only. With both backends a last table puts
SQLite and PostgreSQL side by side.

The service part runs when `indexer.search.service` is importable; otherwise the table says so.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

_FUNCTION_WORDS = (
    "que de la el en y a los las se por con su sus del al lo no para como mas le les este "
    "esta dicho dicha dichos otro otra todo toda qual quien dios senor rey fray don dona dia "
    "ano anos mes carta merced villa ciudad yglesia vezino vezinos escrivano testigos fecho "
    "fecha hazer dezir aver tener dar mandar pagar maravedis ducados reales alcalde justicia "
    "señor magestad provincia tierra casa casas hijo hija padre madre muger hermano notario "
    "publico presente presentes sobredicho otrosi assi ansi mismo cosa cosas tiempo parte "
    "partes nuestro nuestra vuestra vuestro muy gracia real consejo cedula provision sevilla "
    "yndias nueva españa puerto navio nao galeon flota mercaderias plata oro pesos"
)
FUNCTION_WORDS = tuple(_FUNCTION_WORDS.split())
"""Frequent words of early-modern Spanish documents, in their period spellings."""

_ONSETS = (
    "",
    "b",
    "c",
    "ch",
    "d",
    "f",
    "g",
    "h",
    "j",
    "l",
    "ll",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "t",
    "v",
    "x",
    "y",
    "z",
    "br",
    "cr",
    "pr",
    "tr",
    "pl",
    "gr",
    "ç",
    "ñ",
)
_NUCLEI = ("a", "a", "e", "e", "i", "o", "o", "u", "ie", "ue", "ia", "io")
_CODAS = ("", "", "", "", "n", "s", "r", "l", "d", "z")
_ENDINGS = ("", "", "", "", "cion", "mente", "ado", "ada", "ido", "ança", "dad", "es", "os", "as")

VARIANT_RULES = (("u", "v"), ("v", "u"), ("i", "y"), ("y", "i"), ("ç", "z"), ("ss", "s"))
"""Spelling variation of the period: a scribe writes ``vezino`` or ``uezino``."""

CONFUSIONS = (
    ("u", "n"),
    ("n", "u"),
    ("e", "c"),
    ("c", "e"),
    ("r", "v"),
    ("s", "f"),
    ("f", "s"),
    ("l", "i"),
    ("i", "l"),
    ("a", "o"),
    ("o", "a"),
    ("t", "c"),
    ("m", "rn"),
    ("rn", "m"),
    ("h", "b"),
    ("d", "cl"),
)
"""Characters a recognizer mixes up in old hands (``u``/``n``, long ``s``/``f``...)."""


@dataclass(frozen=True, slots=True)
class SyntheticLine:
    """A generated line: its true text and the recognizer's n-best readings.

    Attributes:
        truth: What the scribe wrote.
        readings: (text, probability) best first; probabilities sum to 1.
    """

    truth: str
    readings: tuple[tuple[str, float], ...]


class TextGenerator:
    """Early-modern-Spanish-like lines with simulated recognizer n-best lists.

    Args:
        seed: Random seed; the same seed gives the same collection.
        lexicon_size: Distinct words besides `FUNCTION_WORDS` (drawn Zipf-like).
        word_error_rate: Share of the best reading's words the recognizer gets wrong.
        alternatives: Readings per line (the best one included).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        lexicon_size: int = 20_000,
        word_error_rate: float = 0.1,
        alternatives: int = 5,
    ) -> None:
        self._rng = random.Random(seed)
        self.lexicon = self._lexicon(lexicon_size)
        weights = [1.0 / (rank + 2) ** 1.05 for rank in range(len(self.lexicon))]
        self._cumulative = _cumulative(weights)
        self._word_error_rate = word_error_rate
        self._alternatives = alternatives

    def word(self) -> str:
        """One word of running text, with period spelling variation."""
        word = self._rng.choices(self.lexicon, cum_weights=self._cumulative)[0]
        if self._rng.random() < 0.15:
            word = self.variant(word)
        return word

    def variant(self, word: str) -> str:
        """The word as another scribe might spell it (unchanged when no rule applies)."""
        rules = [rule for rule in VARIANT_RULES if rule[0] in word]
        if not rules:
            return word
        old, new = self._rng.choice(rules)
        return word.replace(old, new, 1)

    def misread(self, word: str, edits: int = 1) -> str:
        """The word with `edits` recognizer errors (confusions, else random edits)."""
        for _ in range(edits):
            word = self._misread_once(word)
        return word

    def line(self) -> SyntheticLine:
        """A line of 6 to 12 words with its n-best readings."""
        truth = [self.word() for _ in range(self._rng.randint(6, 12))]
        best = [self.misread(w) if self._rng.random() < self._word_error_rate else w for w in truth]
        readings = [best]
        for _ in range(self._alternatives - 1):
            other = list(best)
            position = self._rng.randrange(len(other))
            wrong = other[position] != truth[position]
            other[position] = truth[position] if wrong else self.misread(truth[position])
            readings.append(other)
        weights = [self._rng.uniform(0.4, 0.8)]
        for _ in readings[1:]:
            weights.append(weights[-1] * self._rng.uniform(0.3, 0.7))
        total = sum(weights)
        return SyntheticLine(
            " ".join(truth),
            tuple((" ".join(r), w / total) for r, w in zip(readings, weights, strict=True)),
        )

    def lines(self, count: int) -> Iterator[SyntheticLine]:
        """`count` lines."""
        for _ in range(count):
            yield self.line()

    def _misread_once(self, word: str) -> str:
        rng = self._rng
        confusions = [pair for pair in CONFUSIONS if pair[0] in word]
        if confusions and rng.random() < 0.7:
            old, new = rng.choice(confusions)
            starts = [i for i in range(len(word)) if word.startswith(old, i)]
            i = rng.choice(starts)
            return word[:i] + new + word[i + len(old) :]
        i = rng.randrange(len(word) + 1)
        letter = rng.choice("abcdefghilmnopqrstuvxyz")
        kind = rng.randrange(3) if len(word) > 2 else 0
        if kind == 0:
            return word[:i] + letter + word[i:]
        i = min(i, len(word) - 1)
        if kind == 1:
            return word[:i] + word[i + 1 :]
        return word[:i] + letter + word[i + 1 :]

    def _lexicon(self, size: int) -> list[str]:
        words = dict.fromkeys(FUNCTION_WORDS)
        while len(words) < len(FUNCTION_WORDS) + size:
            syllables = self._rng.choice((1, 2, 2, 3, 3, 3, 4))
            word = "".join(
                self._rng.choice(_ONSETS) + self._rng.choice(_NUCLEI) + self._rng.choice(_CODAS)
                for _ in range(syllables)
            )
            word += self._rng.choice(_ENDINGS)
            if len(word) >= 3:
                words.setdefault(word)
        return list(words)


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return cumulative


# -- the benchmark ---------------------------------------------------------------------------

LINES_PER_PAGE = 30
LIMIT = 20
INSERT_BATCH = 5_000
MODES = ("exact", "prob", "fuzzy", "auto", "semantic")
STAND_IN_COSINE = 0.85
"""About how close a stand-in vector lies to the embedded vector it is drawn from."""
BACKENDS = ("sqlite", "postgresql")
POSTGRES_SETTINGS = ("shared_buffers=512MB", "work_mem=16MB", "max_wal_size=4GB")
"""Server settings of the bench's PostgreSQL: buffers for the hot indexes, fewer checkpoints
while loading (the defaults, 128 MB and 1 GB, are made for tiny machines)."""
COLLECTION_FILE = "collection.json"
SEMANTIC_FILE = "semantic-bench.json"


@dataclass(frozen=True, slots=True)
class Collection:
    """The synthetic collection as written: where, how big, how long it took."""

    home: Path
    lines: int
    pages: int
    forms: int
    seconds: float
    database_bytes: int
    truth_counts: Counter[str]


@dataclass(frozen=True, slots=True)
class Latency:
    """Latencies of one kind of query, in seconds."""

    name: str
    query_set: str
    seconds: list[float]
    hits: list[int]
    note: str = ""
    backend: str = "sqlite"

    @property
    def p50(self) -> float:
        return _percentile(self.seconds, 0.50)

    @property
    def p95(self) -> float:
        return _percentile(self.seconds, 0.95)


def write_collection(home: Path, lines: int, generator: TextGenerator) -> Collection:
    """Writes `lines` generated lines into a fresh legajo database in `home`."""
    from sqlalchemy import insert

    from htr.document import Alternative, Word
    from indexer.settings import sqlite_url
    from indexer.store.db import open_database
    from indexer.store.orm import (
        CHANGE_UPSERT,
        PAGE_INDEXED,
        AlternativeRow,
        CollectionRow,
        LineRow,
        LineWordRow,
        PageRow,
        SearchChangeRow,
        WordFormRow,
        WordRow,
    )
    from indexer.store.word_index import line_forms, variant_key

    started = time.perf_counter()
    database = open_database(sqlite_url(home / "legajo.db"))
    form_ids: dict[str, int] = {}
    truth_counts: Counter[str] = Counter()
    line_id = 0
    pages = math.ceil(lines / LINES_PER_PAGE)
    with database.engine.begin() as connection:
        connection.execute(insert(CollectionRow), [{"id": 1, "name": "synthetic"}])
    for first_page in range(0, pages, INSERT_BATCH // LINES_PER_PAGE):
        batch_pages = range(first_page, min(pages, first_page + INSERT_BATCH // LINES_PER_PAGE))
        rows: dict[str, list[dict[str, object]]] = {
            name: [] for name in ("pages", "lines", "words", "alts", "forms", "lw", "changes")
        }
        for page in batch_pages:
            page_id = page + 1
            rows["pages"].append(_page_row(page_id, PAGE_INDEXED))
            count = min(LINES_PER_PAGE, lines - page * LINES_PER_PAGE)
            for position, line in enumerate(generator.lines(count)):
                line_id += 1
                truth_counts.update(line.truth.split())
                best, _ = line.readings[0]
                top = 40 + 60 * position
                words = [
                    Word(text, 0.9, (40 + 90 * i, top, 120 + 90 * i, top + 50))
                    for i, text in enumerate(best.split())
                ]
                alternatives = [Alternative(text, prob) for text, prob in line.readings]
                rows["lines"].append(_line_row(line_id, page_id, position, best, top))
                rows["words"].extend(
                    {
                        "line_id": line_id,
                        "position": i,
                        "text": w.text,
                        "confidence": w.confidence,
                        "x0": w.bbox[0],
                        "y0": w.bbox[1],
                        "x1": w.bbox[2],
                        "y1": w.bbox[3],
                    }
                    for i, w in enumerate(words)
                )
                rows["alts"].extend(
                    {"line_id": line_id, "rank": rank, "text": a.text, "prob": a.prob}
                    for rank, a in enumerate(alternatives)
                )
                stats = line_forms(best, alternatives, words, 0.9, verified=False)
                for form, stat in stats.items():
                    form_id = form_ids.get(form)
                    if form_id is None:
                        form_id = form_ids[form] = len(form_ids) + 1
                        rows["forms"].append(
                            {"id": form_id, "form": form, "variant_key": variant_key(form)}
                        )
                    rows["lw"].append(
                        {
                            "line_id": line_id,
                            "form_id": form_id,
                            "probability": stat.probability,
                            "text_confidence": stat.text_confidence,
                        }
                    )
                rows["changes"].append({"line_id": line_id, "kind": CHANGE_UPSERT})
        with database.engine.begin() as connection:
            for table, key in (
                (PageRow, "pages"),
                (LineRow, "lines"),
                (WordRow, "words"),
                (AlternativeRow, "alts"),
                (WordFormRow, "forms"),
                (LineWordRow, "lw"),
                (SearchChangeRow, "changes"),
            ):
                if rows[key]:
                    connection.execute(insert(table), rows[key])
        print(f"\r  wrote {line_id:,} of {lines:,} lines", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    database.close()
    return Collection(
        home=home,
        lines=line_id,
        pages=pages,
        forms=len(form_ids),
        seconds=time.perf_counter() - started,
        database_bytes=(home / "legajo.db").stat().st_size,
        truth_counts=truth_counts,
    )


def save_collection(collection: Collection) -> None:
    """Writes the collection's figures next to its database, for `load_collection`."""
    data = {
        "lines": collection.lines,
        "pages": collection.pages,
        "forms": collection.forms,
        "seconds": collection.seconds,
        "truth_counts": dict(collection.truth_counts),
    }
    (collection.home / COLLECTION_FILE).write_text(json.dumps(data), encoding="utf-8")


def load_collection(home: Path, seed: int) -> Collection:
    """A collection written earlier into `home`.

    Without its ``collection.json`` (written by older versions of this script), the counts
    come from the database and the true words are generated again from `seed`.
    """
    database = home / "legajo.db"
    if not database.is_file():
        raise SystemExit(f"--reuse: there is no {database}")
    saved = home / COLLECTION_FILE
    if saved.is_file():
        data = json.loads(saved.read_text(encoding="utf-8"))
        return Collection(
            home=home,
            lines=int(data["lines"]),
            pages=int(data["pages"]),
            forms=int(data["forms"]),
            seconds=float(data["seconds"]),
            database_bytes=database.stat().st_size,
            truth_counts=Counter(data["truth_counts"]),
        )
    connection = sqlite3.connect(database)
    try:
        lines, pages, forms = (
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("lines", "pages", "word_forms")
        )
    finally:
        connection.close()
    print(f"generating the true text of {lines:,} lines again", file=sys.stderr)
    truth_counts: Counter[str] = Counter()
    for line in TextGenerator(seed).lines(lines):
        truth_counts.update(line.truth.split())
    collection = Collection(
        home, lines, pages, forms, float("nan"), database.stat().st_size, truth_counts
    )
    save_collection(collection)
    return collection


def _page_row(page_id: int, status: str) -> dict[str, object]:
    return {
        "id": page_id,
        "collection_id": 1,
        "source_path": f"synthetic/folio_{page_id:06d}.jpg",
        "frame": 0,
        "sha256": f"{page_id:064x}",
        "size_bytes": 1,
        "width": 2000,
        "height": 40 + 60 * LINES_PER_PAGE,
        "model_id": "synthetic",
        "model_revision": "",
        "status": status,
        "steps": [],
    }


def _line_row(line_id: int, page_id: int, position: int, text: str, top: int) -> dict[str, object]:
    return {
        "id": line_id,
        "page_id": page_id,
        "position": position,
        "line_key": f"l{position}",
        "x0": 40,
        "y0": top,
        "x1": 1960,
        "y1": top + 50,
        "polygon": [[40, top], [1960, top], [1960, top + 50], [40, top + 50]],
        "baseline": [[40, top + 40], [1960, top + 40]],
        "zone": None,
        "text": text,
        "machine_text": text,
        "confidence": 0.9,
        "version": 1,
    }


def build_fts(home: Path) -> tuple[Path, float]:
    """The baseline: an FTS5 trigram index of every line's best reading, in its own file."""
    path = home / "fts5_trigram.db"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    source = sqlite3.connect(home / "legajo.db")
    target = sqlite3.connect(path)
    target.execute("CREATE VIRTUAL TABLE lines_fts USING fts5(text, tokenize='trigram')")
    cursor = source.execute("SELECT id, text FROM lines ORDER BY id")
    while batch := cursor.fetchmany(50_000):
        target.executemany("INSERT INTO lines_fts(rowid, text) VALUES (?, ?)", batch)
    target.commit()
    target.execute("INSERT INTO lines_fts(lines_fts) VALUES ('optimize')")
    target.commit()
    target.close()
    source.close()
    return path, time.perf_counter() - started


def fts_phrase(word: str) -> str:
    """An FTS5 query for a word as a substring (escaped: quotes doubled)."""
    return '"' + word.replace('"', '""') + '"'


def fts_trigrams(word: str) -> str:
    """An FTS5 query matching lines with any trigram of the word (ranked by bm25)."""
    grams = dict.fromkeys(word[i : i + 3] for i in range(max(1, len(word) - 2)))
    return " OR ".join(fts_phrase(gram) for gram in grams)


def query_sets(truth_counts: Counter[str], count: int, seed: int) -> dict[str, list[str]]:
    """Queries, normalised as legajo stores forms.

    "typical": words drawn uniformly from the distinct words of four letters or more that
    the scribes wrote (the true text), so most are rare, as names and places are;
    "frequent": the 50 most frequent words of three letters or more; "pairs": 50 queries of
    two of those frequent words (both must match: the costliest two-word queries).
    """
    from indexer.spelling.normalize import word_keys
    from indexer.store.word_index import FORM_SETTINGS

    def key(word: str) -> str:
        keys = word_keys(word, FORM_SETTINGS)
        return keys[0] if keys else word

    rng = random.Random(seed)
    words = sorted(w for w in truth_counts if len(w) >= 4)
    typical = rng.sample(words, min(count, len(words)))
    frequent = [key(w) for w, _ in truth_counts.most_common() if len(w) >= 3][:50]
    pairs = [" ".join(rng.sample(frequent, 2)) for _ in range(50)] if len(frequent) > 1 else []
    return {"typical": [key(w) for w in typical], "frequent": frequent, "pairs": pairs}


def time_queries(
    name: str,
    query_set: str,
    queries: list[str],
    run: Callable[[str], int],
    note: str = "",
    backend: str = "sqlite",
) -> Latency:
    seconds, hits = [], []
    for query in queries:
        started = time.perf_counter()
        found = run(query)
        seconds.append(time.perf_counter() - started)
        hits.append(found)
    return Latency(name, query_set, seconds, hits, note, backend)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=200, help="typical query words")
    parser.add_argument(
        "--semantic-lines",
        type=int,
        help="lines the semantic index covers (default: all; 0: no semantic index)",
    )
    parser.add_argument(
        "--embedded-lines",
        type=int,
        default=50_000,
        help="of those, lines whose passages the model embeds; the others get stand-in "
        "vectors (default 50,000)",
    )
    parser.add_argument("--workdir", type=Path, help="keep the collection here (default: temp)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the collection kept in --workdir again"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--backend",
        default="sqlite",
        help="databases to measure, comma-separated: sqlite, postgresql (default sqlite); "
        "PostgreSQL runs in a throwaway server the bench starts, loaded from the SQLite copy",
    )
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    args.backends = [name.strip() for name in args.backend.split(",") if name.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or not args.backends:
        parser.error(f"--backend: choose among {', '.join(BACKENDS)} (got {args.backend!r})")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="legajo-latency-"))
    home = workdir / "home"
    if args.reuse:
        collection = load_collection(home, args.seed)
    else:
        if (home / "legajo.db").exists():
            raise SystemExit(f"{home / 'legajo.db'} exists: give an empty --workdir, or --reuse")
        home.mkdir(parents=True)
        print(f"writing {args.lines:,} lines to {home}", file=sys.stderr)
        collection = write_collection(home, args.lines, TextGenerator(args.seed))
        save_collection(collection)
    if args.semantic_lines is None:
        args.semantic_lines = collection.lines
    args.embedded_lines = min(args.embedded_lines, args.semantic_lines)
    queries = query_sets(collection.truth_counts, args.queries, args.seed + 1)
    builds: list[tuple[str, float, int, str]] = []
    latencies: list[Latency] = []
    try:
        if "sqlite" in args.backends:
            _run(args, collection, queries, builds, latencies)
        if "postgresql" in args.backends:
            _run_postgresql(args, collection, queries, builds, latencies)
    finally:
        _print_report(args, collection, builds, latencies)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    collection: Collection,
    queries: dict[str, list[str]],
    builds: list[tuple[str, float, int, str]],
    latencies: list[Latency],
) -> None:
    from indexer.search.index_files import LEXICAL, load_lexical, rebuild
    from indexer.settings import sqlite_url
    from indexer.store.db import open_database
    from indexer.store.repository import Repository

    home = collection.home
    repository = Repository(open_database(sqlite_url(home / "legajo.db")))
    print("building the lexical index", file=sys.stderr)
    manifest = rebuild(repository, home, LEXICAL)
    lexical = load_lexical(repository, home)
    assert lexical is not None
    builds.append(
        (
            f"lexical ({lexical.kind})",
            manifest.build_seconds,
            manifest.size_bytes,
            f"{manifest.entries:,} forms",
        )
    )
    print("building the FTS5 trigram baseline", file=sys.stderr)
    fts_path, fts_seconds = build_fts(home)
    builds.append(
        ("FTS5 trigram", fts_seconds, fts_path.stat().st_size, f"{collection.lines:,} lines")
    )

    if args.semantic_lines > 0:
        kept = kept_semantic(repository, home, args) if args.reuse else None
        if kept is None:
            kept = build_semantic(repository, home, args.semantic_lines, args.embedded_lines)
            (home / SEMANTIC_FILE).write_text(
                json.dumps(
                    {
                        "semantic_lines": args.semantic_lines,
                        "embedded_lines": args.embedded_lines,
                        "rows": kept,
                    }
                ),
                encoding="utf-8",
            )
        builds.extend(tuple(row) for row in kept)

    fts = sqlite3.connect(home / "fts5_trigram.db")
    misread = random.Random(args.seed + 2)
    generator = TextGenerator(args.seed + 3)
    for set_name, words in queries.items():
        latencies.append(
            time_queries(
                "FTS5 word (substring)",
                set_name,
                words,
                lambda w: len(
                    fts.execute(
                        "SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? ORDER BY rank LIMIT ?",
                        (" AND ".join(fts_phrase(part) for part in w.split()), LIMIT),
                    ).fetchall()
                ),
            )
        )
        if set_name == "pairs":
            continue
        latencies.append(
            time_queries(
                "lexical index alone", set_name, words, lambda w: len(lexical.search(w, k=50))
            )
        )
        latencies.append(
            time_queries(
                "FTS5 trigram OR (fuzzy)",
                set_name,
                words,
                lambda w: len(
                    fts.execute(
                        "SELECT rowid FROM lines_fts WHERE lines_fts MATCH ? ORDER BY rank LIMIT ?",
                        (fts_trigrams(w), LIMIT),
                    ).fetchall()
                ),
            )
        )
    recall = _lexical_recall(lexical, queries["typical"], generator, misread)
    builds.append(("lexical recall@50, 1-edit misreads", 0.0, 0, f"{recall:.3f}"))
    _time_service(args, repository, home, queries, latencies)
    fts.close()
    repository.database.close()


def _run_postgresql(
    args: argparse.Namespace,
    collection: Collection,
    queries: dict[str, list[str]],
    builds: list[tuple[str, float, int, str]],
    latencies: list[Latency],
) -> None:
    """The service modes on PostgreSQL, loaded with the collection's SQLite database."""
    from indexer.search.index_files import LEXICAL, rebuild
    from indexer.settings import sqlite_url
    from indexer.store.db import open_database
    from indexer.store.repository import Repository
    from tests.postgres_server import postgres_bin_dir, start_server

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("--backend postgresql: PostgreSQL is not installed (initdb not found)")
    server = start_server(bin_dir, *POSTGRES_SETTINGS)
    try:
        database = open_database(server.create_database("legajo_bench"))
        source = open_database(sqlite_url(collection.home / "legajo.db"), migrate=False)
        print("loading the collection into PostgreSQL", file=sys.stderr)
        started = time.perf_counter()
        copy_database(source, database)
        source.close()
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        database.refresh_statistics()
        analyze_seconds = time.perf_counter() - started
        size = database_bytes(database)
        builds.append(
            (
                "PostgreSQL: COPY from SQLite",
                load_seconds,
                size,
                f"ANALYZE {analyze_seconds:.1f} s; PostgreSQL {bin_dir.parent.name}",
            )
        )
        home = collection.home / "postgresql"
        home.mkdir(exist_ok=True)
        repository = Repository(database)
        print("building the lexical index (PostgreSQL)", file=sys.stderr)
        manifest = rebuild(repository, home, LEXICAL)
        builds.append(
            (
                "lexical, from PostgreSQL",
                manifest.build_seconds,
                manifest.size_bytes,
                f"{manifest.entries:,} forms",
            )
        )
        _time_service(args, repository, home, queries, latencies, "postgresql", semantic=False)
        database.close()
    finally:
        server.stop()


def copy_database(source: Any, target: Any) -> None:
    """Copies every table of the schema from `source` into the empty `target` (PostgreSQL).

    Rows are read through SQLAlchemy (so JSON and dates come back as Python values) and
    written with ``COPY ... FROM STDIN``; the id sequences then continue after the copied ids.
    """
    from sqlalchemy import JSON, select, text

    from indexer.store.db import Database
    from indexer.store.orm import Base

    assert isinstance(source, Database) and isinstance(target, Database)
    raw = target.engine.raw_connection()
    try:
        connection = raw.driver_connection
        assert connection is not None
        with source.engine.connect() as reader:
            for table in Base.metadata.sorted_tables:
                names = [column.name for column in table.columns]
                as_json = [isinstance(column.type, JSON) for column in table.columns]
                statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
                result = reader.execution_options(yield_per=50_000).execute(select(table))
                with connection.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in result:
                        copy.write_row(
                            [
                                json.dumps(value) if encode and value is not None else value
                                for value, encode in zip(row, as_json, strict=True)
                            ]
                        )
                print(f"  copied {table.name}", file=sys.stderr)
        connection.commit()
    finally:
        raw.close()
    with target.engine.begin() as writer:
        for table in Base.metadata.sorted_tables:
            if "id" not in table.columns:
                continue
            sequence = writer.execute(
                text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
            ).scalar()
            if sequence:
                writer.execute(
                    text(f"SELECT setval(:sequence, (SELECT max(id) FROM {table.name}))"),
                    {"sequence": sequence},
                )


def database_bytes(database: Any) -> int:
    """The size of the database on disk (PostgreSQL)."""
    from sqlalchemy import text

    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_database_size(current_database())")).one()[0])


def kept_semantic(
    repository: object, home: Path, args: argparse.Namespace
) -> list[tuple[str, float, int, str]] | None:
    """The build rows of a semantic index kept from an earlier run with the same coverage.

    None when there is none, or `legajo check` finds it unsound or out of date.
    """
    from indexer.search.index_files import SEMANTIC, check
    from indexer.store.repository import Repository

    assert isinstance(repository, Repository)
    saved = home / SEMANTIC_FILE
    if not saved.is_file():
        return None
    data = json.loads(saved.read_text(encoding="utf-8"))
    if (data["semantic_lines"], data["embedded_lines"]) != (
        args.semantic_lines,
        args.embedded_lines,
    ):
        return None
    [status] = check(repository, home, [SEMANTIC])
    if not status.ok:
        return None
    print("keeping the semantic index of an earlier run (sound and up to date)", file=sys.stderr)
    return [(f"{name} (kept)", seconds, size, note) for name, seconds, size, note in data["rows"]]


def build_semantic(
    repository: object, home: Path, covered: int, embedded: int
) -> list[tuple[str, float, int, str]]:
    """Builds and saves the semantic index over the first `covered` lines (module docstring).

    Returns:
        Rows of the build table: embedding, index building, and the whole index.
    """
    import numpy as np

    from indexer.search.index_files import database_state, save_index
    from indexer.search.passages import collection_passages, first_line_of, is_window
    from indexer.search.semantic import SemanticIndex
    from indexer.store.repository import Repository

    assert isinstance(repository, Repository)
    state = database_state(repository)
    rows = (row for row in repository.line_texts() if row[0] <= covered)
    passages = [(pid, text) for pid, text in collection_passages(rows) if text.strip()]
    real = [(pid, text) for pid, text in passages if first_line_of(pid) <= embedded]
    stand_ins = [pid for pid, _ in passages if first_line_of(pid) > embedded]
    print(
        f"embedding the {len(real):,} passages of the first {embedded:,} lines; "
        f"{len(stand_ins):,} stand-in vectors",
        file=sys.stderr,
    )
    semantic = SemanticIndex()
    semantic.embed(["warm-up"])
    started = time.perf_counter()
    parts = []
    for start in range(0, len(real), 4096):
        parts.append(semantic.embed([text for _, text in real[start : start + 4096]]))
        done = min(len(real), start + 4096)
        print(f"\r  embedded {done:,} of {len(real):,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    vectors = np.concatenate(parts)
    embed_seconds = time.perf_counter() - started
    kinds = np.array([is_window(pid) for pid, _ in real])
    ids = np.array([pid for pid, _ in real] + stand_ins, dtype=np.int64)
    chunks = [vectors]
    rng = np.random.default_rng(0)
    for start in range(0, len(stand_ins), 100_000):
        part = np.array(stand_ins[start : start + 100_000], dtype=np.int64)
        chunks.append(_stand_in_vectors(vectors, kinds, part < 0, rng))
    started = time.perf_counter()
    semantic.build_from_vectors(ids, chunks)
    index_seconds = time.perf_counter() - started
    manifest = save_index(repository, home, semantic, state=state, build_seconds=index_seconds)
    rate = len(real) / max(embed_seconds, 1e-9)
    return [
        (
            "semantic: embedding (model, CPU)",
            embed_seconds,
            0,
            f"{len(real):,} passages, {rate:.0f}/s; all {len(passages):,} would take "
            f"{len(passages) / rate / 3600:.1f} h",
        ),
        (
            f"semantic ({semantic.kind}): training + adding",
            index_seconds,
            manifest.size_bytes,
            f"{len(semantic):,} passages of {covered:,} lines ({len(stand_ins):,} stand-ins)",
        ),
    ]


def _stand_in_vectors(
    vectors: Any, kinds: Any, windows: Any, rng: Any, cosine: float = STAND_IN_COSINE
) -> Any:
    """Unit vectors about `cosine` from embedded vectors of the same kind (line or window)."""
    import numpy as np

    pools = {kind: np.flatnonzero(kinds == kind) for kind in (False, True)}
    pools = {kind: pool if len(pool) else np.arange(len(vectors)) for kind, pool in pools.items()}
    chosen = np.empty(len(windows), dtype=np.int64)
    for kind, pool in pools.items():
        mask = windows == kind
        chosen[mask] = rng.choice(pool, int(mask.sum()))
    dimension = vectors.shape[1]
    # For a unit vector v and noise of per-axis deviation s, cos(v, v + noise) is about
    # 1 / sqrt(1 + d s^2).
    deviation = math.sqrt((1 / cosine**2 - 1) / dimension)
    moved = vectors[chosen] + rng.normal(0.0, deviation, (len(chosen), dimension))
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return np.ascontiguousarray(moved, dtype=np.float32)


def _lexical_recall(
    lexical: object, words: list[str], generator: TextGenerator, rng: random.Random
) -> float:
    from indexer.search.lexical import LexicalIndex, similarity

    assert isinstance(lexical, LexicalIndex)
    asked = found = 0
    for word in words:
        query = generator.misread(word)
        if query == word or similarity(query, word) < 0.6:
            continue
        asked += 1
        found += any(hit.form == word for hit in lexical.search(query, k=50))
    return found / max(1, asked)


def _time_service(
    args: argparse.Namespace,
    repository: object,
    home: Path,
    queries: dict[str, list[str]],
    latencies: list[Latency],
    backend: str = "sqlite",
    *,
    semantic: bool = True,
) -> None:
    try:
        from indexer.errors import SearchTimeoutError
        from indexer.search.service import SearchService
    except ImportError as error:
        print(
            f"indexer.search.service is not usable yet ({error}): service modes skipped",
            file=sys.stderr,
        )
        return
    service = SearchService(repository, home)  # type: ignore[arg-type]
    for mode in MODES:
        if mode == "semantic" and (args.semantic_lines <= 0 or not semantic):
            continue
        started = time.perf_counter()
        service.search(queries["typical"][0], mode=mode, limit=LIMIT)
        first = time.perf_counter() - started
        for set_name, words in queries.items():

            def run(word: str, mode: str = mode) -> int:
                nonlocal timeouts
                try:
                    return len(service.search(word, mode=mode, limit=LIMIT, timeout_s=5.0).hits)
                except SearchTimeoutError:
                    timeouts += 1
                    return 0

            notes = {
                f"legajo {mode}": f"first query {first * 1000:.0f} ms (loads indexes)",
                f"legajo {mode} again": "the same queries again",
            }
            for name, note in notes.items():
                timeouts = 0
                latency = time_queries(name, set_name, words, run, note, backend)
                if timeouts:
                    latency = Latency(
                        name,
                        set_name,
                        latency.seconds,
                        latency.hits,
                        f"{note}; {timeouts} timed out",
                        backend,
                    )
                latencies.append(latency)
                print(
                    f"  {backend} {name} {set_name}: p95 {latency.p95 * 1000:.1f} ms",
                    file=sys.stderr,
                )


def _print_report(
    args: argparse.Namespace,
    collection: Collection,
    builds: list[tuple[str, float, int, str]],
    latencies: list[Latency],
) -> None:
    written = (
        "kept from an earlier run"
        if math.isnan(collection.seconds)
        else f"written in {collection.seconds:.0f} s"
    )
    print(
        f"\ncollection: {collection.lines:,} lines on {collection.pages:,} pages, 5 readings "
        f"per line, {collection.forms:,} distinct word forms; database "
        f"{collection.database_bytes / 1e6:,.0f} MB {written}"
    )
    print(f"\n{'index':<44} {'build s':>9} {'size MB':>9}  contents")
    for name, seconds, size, contents in builds:
        build = f"{seconds:9.1f}" if seconds else f"{'':9}"
        megabytes = f"{size / 1e6:9.1f}" if size else f"{'':9}"
        print(f"{name:<44} {build} {megabytes}  {contents}")
    print(
        f"\n{'search (limit 20)':<30} {'backend':<10} {'queries':<9} {'n':>4} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'hits':>6}  note"
    )
    for latency in latencies:
        mean_hits = statistics.fmean(latency.hits) if latency.hits else 0.0
        print(
            f"{latency.name:<30} {latency.backend:<10} {latency.query_set:<9} "
            f"{len(latency.seconds):>4} {latency.p50 * 1000:8.1f} {latency.p95 * 1000:8.1f} "
            f"{mean_hits:6.1f}  {latency.note}"
        )
    _print_side_by_side(latencies)
    fuzzy = {
        x.query_set: x for x in latencies if x.name == "legajo fuzzy" and x.backend == "sqlite"
    }
    baseline = {x.query_set: x for x in latencies if x.name == "FTS5 trigram OR (fuzzy)"}
    for set_name in fuzzy.keys() & baseline.keys():
        faster = fuzzy[set_name].p95 < baseline[set_name].p95
        print(
            f"{set_name}: legajo fuzzy p95 {fuzzy[set_name].p95 * 1000:.1f} ms vs FTS5 trigram "
            f"{baseline[set_name].p95 * 1000:.1f} ms: {'faster' if faster else 'SLOWER'}"
        )
    print(
        f"(--lines {args.lines}, --queries {args.queries}, --semantic-lines {args.semantic_lines}, "
        f"--embedded-lines {args.embedded_lines}, --backend {args.backend}"
        f"{', --reuse' if args.reuse else ''})"
    )


def _print_side_by_side(latencies: list[Latency]) -> None:
    """The service's p95 per mode and query set, SQLite beside PostgreSQL (first pass / again)."""
    service = [x for x in latencies if x.name.startswith("legajo ")]
    if len({x.backend for x in service}) < 2:
        return
    sets = list(dict.fromkeys(x.query_set for x in service))
    modes = list(dict.fromkeys(x.name.split()[1] for x in service))
    for percentile in ("p50", "p95"):
        ms = {(x.name, x.backend, x.query_set): getattr(x, percentile) * 1000 for x in service}
        print(f"\n{percentile} ms, first pass / the same queries again")
        print("| mode | " + " | ".join(f"{s} SQLite | {s} PostgreSQL" for s in sets) + " |")
        print("| --- " * (1 + 2 * len(sets)) + "|")
        for mode in modes:
            cells = []
            for set_name in sets:
                for backend in BACKENDS:
                    keys = [
                        (f"legajo {mode}{again}", backend, set_name) for again in ("", " again")
                    ]
                    found = all(key in ms for key in keys)
                    cells.append(" / ".join(f"{ms[key]:.1f}" for key in keys) if found else "—")
            print(f"| {mode} | " + " | ".join(cells) + " |")


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


if __name__ == "__main__":
    main()
